#!/usr/bin/env bash
# The side-by-side benchmark: builds segsql, creates the peers' venv, generates the data
# once, and prints the table for BENCHMARKS.md.
#
#   bash benches/run.sh [CUSTOMERS] [RUNS]      # default 1600000 customers (~9.6M orders), 3 runs
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1600000}"
runs="${2:-3}"
python="$(bash benches/peers_venv.sh)"
cargo build --release
data="${BENCH_DATA:-target/bench-data}/customers-$customers"
if [ ! -f "$data/orders.parquet" ]; then
    target/release/segsql generate --customers "$customers" --out "$data" --tables orders
fi
"$python" benches/compare.py --python "$python" --data "$data" --runs "$runs"
