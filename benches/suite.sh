#!/usr/bin/env bash
# The whole benchmark suite, one command: builds segsql, creates the peers' venv, generates
# 1M, 10M and 50M order lines once (target/bench-data), runs every task side by side and
# writes the table into BENCHMARKS.md.
#
#   bash benches/suite.sh [RUNS]          # default 3 interleaved runs per task
#
# CARGO_TARGET_DIR, PEERS_VENV and BENCH_DATA move the build, the venv and the data.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
python="$(bash benches/peers_venv.sh)"
cargo build --release
binary="${CARGO_TARGET_DIR:-target}/release/segsql"
"$python" benches/suite.py --binary "$binary" --python "$python" --runs "$runs" \
    --data-root "${BENCH_DATA:-target/bench-data}" --write BENCHMARKS.md
