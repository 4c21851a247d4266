#!/usr/bin/env bash
# Regenerates tests/fixtures/ with the real lifetimes, DuckDB, statsmodels, scikit-learn and NumPy.
# Needs network access to PyPI the first time (for the venv); CI never runs this.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="$(bash benches/peers_venv.sh)"
cargo build --release
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
target/release/segsql generate --out "$data" --tables orders
"$python" tests/parity/make_fixtures.py "$data"
"$python" tests/parity/make_cluster_fixtures.py target/release/segsql
"$python" tests/parity/make_clv_fixtures.py
"$python" tests/parity/make_governance_fixtures.py
"$python" tests/parity/make_csv_fixtures.py
"$python" tests/parity/make_excel_fixtures.py
"$python" tests/parity/make_delta_fixtures.py
