#!/usr/bin/env bash
# Creates (once) the virtual environment with the pinned peers and prints its python.
# Used by benches/run.sh and tests/parity/make_fixtures.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PEERS_VENV:-target/peers-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet -r benches/requirements.txt >&2
fi
echo "$(cd "$venv" && pwd)/bin/python"
