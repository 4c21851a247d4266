#!/usr/bin/env bash
# Regenerates tests/fixtures/ with the real lifetimes, DuckDB and statsmodels.
# Needs network access to PyPI the first time (for the venv); CI never runs this.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${PEERS_VENV:-target/peers-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r benches/requirements.txt
fi
cargo build --release
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
target/release/segsql generate --out "$data" --tables orders
"$venv/bin/python" tests/parity/make_fixtures.py "$data"
