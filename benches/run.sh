#!/usr/bin/env bash
# The side-by-side benchmark: builds segsql, creates the peers' venv, generates the data
# once, and prints the table for BENCHMARKS.md.
#
#   bash benches/run.sh [CUSTOMERS] [RUNS] [TASKS]
#
# Defaults: 1600000 customers (~9.6M orders), 3 runs, TASKS=sql (the RFM, retention and
# rfm_summary comparisons). TASKS=cluster runs the clustering comparisons against
# scikit-learn, TASKS=clv the CLV models against lifetimes and scikit-learn, TASKS=governance
# segment_transitions, psi and pseudonymize against DuckDB and Python's hmac, TASKS=all every
# group; names of single tasks work too (see compare.py --tasks).
# benches/cluster_data.py writes the clustering inputs next to orders.parquet, once.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1600000}"
runs="${2:-3}"
tasks="${3:-sql}"
python="$(bash benches/peers_venv.sh)"
cargo build --release
binary="${CARGO_TARGET_DIR:-target}/release/segsql"
# The -v2 suffix matches benches/suite.py DATA_VERSION: bump both when generate changes.
data="${BENCH_DATA:-target/bench-data}/customers-$customers-v2"
if [ ! -f "$data/orders.parquet" ]; then
    "$binary" generate --customers "$customers" --out "$data" --tables orders
fi
"$python" benches/cluster_data.py "$data" "$binary"
"$python" benches/compare.py --binary "$binary" --python "$python" --data "$data" --runs "$runs" --tasks "$tasks"
