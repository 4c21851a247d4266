#!/usr/bin/env bash
# Installs the PostgreSQL clients the `segsql serve` tests drive against a server they start
# on 127.0.0.1: psql (Debian's postgresql-client), pgjdbc (Debian's libpostgresql-jdbc-java,
# the driver inside Metabase, DBeaver and Tableau) with a JDK (the test runs a .java file
# directly, which needs the compiler), a Python venv with psycopg 3, SQLAlchemy and pandas
# (pinned in tests/serve/requirements.txt) kept in ~/.cache/segsql/serve-venv outside the
# clone, and openssl for the TLS test's certificate. Prints three lines, KEY=VALUE for
# SEGSQL_PSQL, SEGSQL_PGJDBC and SEGSQL_SERVE_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/../.."
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
missing=()
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
venv="${SEGSQL_SERVE_VENV:-$HOME/.cache/segsql/serve-venv}"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/serve/requirements.txt "$stamp"; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/serve/requirements.txt >&2
    cp tests/serve/requirements.txt "$stamp"
fi
echo "SEGSQL_PSQL=$(command -v psql)"
echo "SEGSQL_PGJDBC=/usr/share/java/postgresql.jar"
echo "SEGSQL_SERVE_PYTHON=$venv/bin/python"
