#!/usr/bin/env bash
# The whole report as a job, segsql against the same analysis as a Python pipeline
# (benches/python_report.py), one command: builds segsql, creates the peers' venv, generates
# the four tables at 1M, 10M and 50M order lines once (reusing complete sets), checks the
# two sides' answers on the sample, runs every script and the whole report side by side and
# writes the table into BENCHMARKS.md (between the report-job markers).
#
#   bash benches/report_job.sh [RUNS]          # default 3 interleaved runs per script
#
# CARGO_TARGET_DIR, PEERS_VENV and BENCH_DATA (default ~/.cache/segsql/bench-data) move the
# build, the venv and the data. Extra flags go to report_job.py after RUNS, e.g.
#   bash benches/report_job.sh 1 --sizes 1M            # one size, one run
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true
python="$(bash benches/peers_venv.sh)"
cargo build --release
binary="${CARGO_TARGET_DIR:-target}/release/segsql"
"$python" benches/report_job.py --binary "$binary" --python "$python" --runs "$runs" \
    --data-root "${BENCH_DATA:-$HOME/.cache/segsql/bench-data}" --write BENCHMARKS.md "$@"
