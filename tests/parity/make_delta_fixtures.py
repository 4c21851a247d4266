#!/usr/bin/env python3
"""Writes tests/fixtures/delta/: small Delta Lake tables made by another writer than
segsql's own (delta-rs' Python package `deltalake`, pinned in benches/requirements.txt),
for segsql's Delta reader and its time travel.

    bash tests/parity/make_fixtures.sh                 # makes a venv, runs this too
    python tests/parity/make_delta_fixtures.py         # alone (needs deltalake, pyarrow)

The folder is deleted and written anew on every run. The data are fixed (no randomness),
but the Delta log is not byte-for-byte reproducible: it holds commit timestamps and data
file names with UUIDs. So only rerun this when the fixtures must change.

Tables:

  orders/     customer_id int64, order_ts timestamp (us, no time zone), order_date date32,
              amount decimal(12,2), channel string; three versions:
                v0: 40 rows, customers 1..10, dates in 2024
                v1: + 20 rows, customers 3..12, dates in 2025-01..2025-06
                    (11 and 12 are not in customers/; one row is a refund, amount < 0)
                v2: + 10 rows, customers 1..10, dates in 2025-07..2025-12
  customers/  customer_id int64, signup date32, country string; one version, 10 rows.

expected.json lists, per table and version, figures computed here with Decimal from the
rows written, and checked against what `DeltaTable(path, version=v).to_pyarrow_table()`
reads back. README.md says how the folder was made.
"""

import datetime as dt
import json
import os
import shutil
from decimal import Decimal

import deltalake
import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "delta")

ORDERS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.int64()),
        pa.field("order_ts", pa.timestamp("us")),
        pa.field("order_date", pa.date32()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("channel", pa.string()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.int64()),
        pa.field("signup", pa.date32()),
        pa.field("country", pa.string()),
    ]
)
CHANNELS = ("web", "store", "app")
COUNTRIES = ("DE", "FR", "US", "GB", "NL", "DE", "US", "FR", "ES", "US")

# One data file per commit, made small: Snappy (Delta's default codec, which every reader
# has) and no dictionary pages, the smallest of the writer's choices for data this size.
WRITER = WriterProperties(
    compression="SNAPPY",
    default_column_properties=ColumnProperties(dictionary_enabled=False),
)


def order_row(i, customer_id, day):
    """One order line; time of day and cents vary with i, microseconds included."""
    ts = dt.datetime.combine(
        day,
        dt.time((8 + i * 5) % 24, (i * 17) % 60, (i * 31) % 60, (i * 123457) % 1_000_000),
    )
    cents = (i * 37129 + customer_id * 911) % 250000 + 1
    return {
        "customer_id": customer_id,
        "order_ts": ts,
        "order_date": day,
        "amount": Decimal(cents).scaleb(-2),
        "channel": CHANNELS[(i + customer_id) % 3],
    }


def orders_batches():
    v0 = [order_row(i, i % 10 + 1, dt.date(2024, 1, 1) + dt.timedelta(days=i * 9)) for i in range(40)]
    v1 = [
        order_row(40 + i, i % 10 + 3, dt.date(2025, 1, 2) + dt.timedelta(days=i * 9))
        for i in range(20)
    ]
    v1[7]["amount"] = Decimal("-15.50")  # a refund
    v2 = [
        order_row(60 + i, i + 1, dt.date(2025, 7, 1) + dt.timedelta(days=i * 17))
        for i in range(10)
    ]
    v2[3]["amount"] = Decimal("0.01")
    return [v0, v1, v2]


def customers_rows():
    return [
        {
            "customer_id": c,
            "signup": dt.date(2023, 1, 15) + dt.timedelta(days=c * 23),
            "country": COUNTRIES[c - 1],
        }
        for c in range(1, 11)
    ]


def to_table(rows, schema):
    return pa.Table.from_pylist(rows, schema=schema)


def cents(d):
    return str(Decimal(d).quantize(Decimal("0.01")))


def orders_figures(version, rows):
    return {
        "table": "orders",
        "version": version,
        "rows": len(rows),
        "sum_amount": cents(sum((r["amount"] for r in rows), Decimal(0))),
        "min_order_date": min(r["order_date"] for r in rows).isoformat(),
        "max_order_date": max(r["order_date"] for r in rows).isoformat(),
        "distinct_customers": len({r["customer_id"] for r in rows}),
    }


def customers_figures(version, rows):
    return {
        "table": "customers",
        "version": version,
        "rows": len(rows),
        "min_signup": min(r["signup"] for r in rows).isoformat(),
        "max_signup": max(r["signup"] for r in rows).isoformat(),
        "distinct_countries": len({r["country"] for r in rows}),
    }


def read_back(path, version, schema, figures):
    """Reads a version with deltalake and checks types, rows and figures."""
    table = DeltaTable(path, version=version).to_pyarrow_table()
    assert table.num_rows == figures["rows"], (path, version, table.num_rows)
    for field in schema:
        got = table.schema.field(field.name).type
        same = got == field.type or (pa.types.is_string(field.type) and (
            pa.types.is_large_string(got) or pa.types.is_string_view(got)))
        assert same, (path, version, field.name, got, field.type)
    rows = table.to_pylist()
    again = (orders_figures if figures["table"] == "orders" else customers_figures)(version, rows)
    assert again == figures, (path, version, again, figures)
    return rows


def write_versions(path, name, batches, schema):
    for version, rows in enumerate(batches):
        write_deltalake(
            path,
            to_table(rows, schema),
            mode="error" if version == 0 else "append",
            name=name if version == 0 else None,
            writer_properties=WRITER,
        )
        assert DeltaTable(path).version() == version


def protocol_text(path):
    p = DeltaTable(path).protocol()
    return {
        "minReaderVersion": p.min_reader_version,
        "minWriterVersion": p.min_writer_version,
        "readerFeatures": sorted(p.reader_features or []),
        "writerFeatures": sorted(p.writer_features or []),
    }


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    expected = []

    orders_path = os.path.join(OUT, "orders")
    batches = orders_batches()
    write_versions(orders_path, "orders", batches, ORDERS_SCHEMA)
    seen = []
    for version, rows in enumerate(batches):
        seen = seen + rows
        figures = orders_figures(version, seen)
        back = read_back(orders_path, version, ORDERS_SCHEMA, figures)
        key = lambda r: (r["order_ts"], r["customer_id"])
        assert sorted(back, key=key) == sorted(seen, key=key), ("orders", version)
        expected.append(figures)

    customers_path = os.path.join(OUT, "customers")
    rows = customers_rows()
    write_versions(customers_path, "customers", [rows], CUSTOMERS_SCHEMA)
    figures = customers_figures(0, rows)
    read_back(customers_path, 0, CUSTOMERS_SCHEMA, figures)
    expected.append(figures)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(e) for e in expected) + "\n]\n")

    protocols = {t: protocol_text(os.path.join(OUT, t)) for t in ("orders", "customers")}
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README.format(
            version=deltalake.__version__,
            pyarrow=pa.__version__,
            orders=json.dumps(protocols["orders"]),
            customers=json.dumps(protocols["customers"]),
        ))
    print(json.dumps(protocols, indent=2))


README = """# Delta Lake fixtures

Made by `tests/parity/make_delta_fixtures.py` (run by `tests/parity/make_fixtures.sh`) with
delta-rs' Python package `deltalake=={version}` and `pyarrow=={pyarrow}`, i.e. by a writer
other than segsql. The script deletes this folder and writes it anew; the data are fixed,
but commit timestamps and the UUIDs in data file names change on every run, so rerun it
only when the fixtures must change. Each commit writes one Snappy Parquet file (no
dictionary pages).

- `orders/`: customer_id int64, order_ts timestamp (microseconds, no time zone, so Delta
  `timestamp_ntz`), order_date date, amount decimal(12,2), channel string. Three versions:
  v0 40 rows (customers 1..10, 2024), v1 appends 20 (customers 3..12, 2025-01..06, one
  refund with a negative amount), v2 appends 10 (customers 1..10, 2025-07..12).
  Customers 11 and 12 have no row in `customers/`.
- `customers/`: customer_id int64, signup date, country string; one version, 10 rows.
- `expected.json`: per table and version, row count and aggregates computed with Python's
  Decimal from the rows written, checked against `DeltaTable(path, version=v)` read back.

Protocol as written (`DeltaTable(path).protocol()`):

- orders: `{orders}`
- customers: `{customers}`

No deletion vectors, no column mapping, no partitions, no checkpoints (log JSON only).
The timestamp min/max stats in the log are cut to milliseconds by the writer (the data keep
microseconds), so a reader's file skipping on `order_ts` must allow for that.
"""

if __name__ == "__main__":
    main()
