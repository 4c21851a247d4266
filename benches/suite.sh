#!/usr/bin/env bash
# The whole benchmark suite, one command: builds segsql, creates the peers' venv, generates
# 1M, 10M and 50M order lines once (target/bench-data), runs every task side by side and
# writes the table into BENCHMARKS.md.
#
#   bash benches/suite.sh [RUNS]          # default 3 interleaved runs per task
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
python="$(bash benches/peers_venv.sh)"
cargo build --release
"$python" benches/suite.py --python "$python" --runs "$runs" --write BENCHMARKS.md
