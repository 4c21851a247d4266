#!/usr/bin/env python3
"""Writes tests/fixtures/csv/duckdb_sniff.json: what the real DuckDB's CSV sniffer
(`SELECT * FROM sniff_csv(path)`, duckdb==2.0.0 from benches/requirements.txt) detects for
every file under tests/fixtures/csv/duckdb/ and tests/fixtures/csv/european/.

    bash tests/parity/make_fixtures.sh                 # makes a venv, runs this too
    python tests/parity/make_csv_fixtures.py           # alone (needs duckdb)

The output is a JSON list in sorted file order, one object per file:

    {"file": "duckdb/x.csv", "delimiter": ";", "quote": "\\"", "escape": "\\"",
     "has_header": true, "columns": [["name", "BIGINT"], ...],
     "date_format": "%Y-%m-%d" or null, "timestamp_format": ... or null}

Values are DuckDB's own, unmapped: "quote"/"escape" are "(empty)" when DuckDB found no
quoting, column names of header-less files are DuckDB's "column0", "column1", ... and the
types are DuckDB type names (TIME, TIMESTAMP WITH TIME ZONE, ...). If sniff_csv fails, the
object is {"file": ..., "error": "<first line of DuckDB's message>"}. Paths are given to
DuckDB relative to tests/fixtures/csv/, so messages do not depend on the checkout.

tests/fixtures/csv/expected.json (what segsql's own sniffer must find) is written by hand
from this file; see the "differs_from_duckdb" notes there. CI never runs this.
"""

import json
import os

import duckdb

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CSV_FIXTURES = os.path.join(ROOT, "tests", "fixtures", "csv")
SUBDIRS = ("duckdb", "european")
OUTPUT = os.path.join(CSV_FIXTURES, "duckdb_sniff.json")


def corpus_files():
    files = []
    for sub in SUBDIRS:
        base = os.path.join(CSV_FIXTURES, sub)
        for dirpath, _dirs, names in os.walk(base):
            for name in names:
                if name.endswith(".md"):  # NOTICE.md
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), CSV_FIXTURES)
                files.append(rel.replace(os.sep, "/"))
    return sorted(files)


def sniff(con, rel):
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, HasHeader, Columns, DateFormat, TimestampFormat "
            "FROM sniff_csv(?)",
            [rel],
        ).fetchone()
    except duckdb.Error as e:
        return {"file": rel, "error": str(e).splitlines()[0]}
    delimiter, quote, escape, has_header, columns, date_format, timestamp_format = row
    return {
        "file": rel,
        "delimiter": delimiter,
        "quote": quote,
        "escape": escape,
        "has_header": bool(has_header),
        "columns": [[c["name"], c["type"]] for c in columns],
        "date_format": date_format,
        "timestamp_format": timestamp_format,
    }


def main():
    os.chdir(CSV_FIXTURES)
    con = duckdb.connect()
    con.execute("SET threads = 1")
    results = [sniff(con, rel) for rel in corpus_files()]
    with open(OUTPUT, "w", encoding="utf-8", newline="\n") as f:
        json.dump(results, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    errors = sum(1 for r in results if "error" in r)
    print(f"wrote {OUTPUT} ({len(results)} files, {errors} not sniffable, duckdb {duckdb.__version__})")


if __name__ == "__main__":
    main()
