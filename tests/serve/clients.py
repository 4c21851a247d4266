"""Drives a running `segsql serve` with the real Python clients: psycopg 3, SQLAlchemy and
pandas. Called by tests/all/serve.rs as `python clients.py CHECK PORT [ARGS...]`; prints
what the test compares (CSV in the shell's CSV layout, or JSON) and exits non-zero on a
failed expectation. Every loop is bounded and talks to 127.0.0.1 only."""

import csv
import datetime
import decimal
import io
import json
import sys
import threading
import time

import psycopg


def dsn(port, **extra):
    parts = {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "segsql",
             "sslmode": "disable", "connect_timeout": "10"}
    parts.update(extra)
    return " ".join(f"{k}={v}" for k, v in parts.items())


def canon(value):
    """A value as segsql's CSV output writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (datetime.date, decimal.Decimal, int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(canon(v) for v in value) + "]"
    raise TypeError(f"unexpected {type(value)}")


def as_csv(columns, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([canon(v) for v in row])
    return out.getvalue()


def fetch_csv(conn, sql, params=None, binary=False, prepare=None):
    cur = conn.cursor(binary=binary)
    cur.execute(sql, params, prepare=prepare)
    return as_csv([d.name for d in cur.description], cur.fetchall())


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def queries(path):
    """The statements of a file, split at lines ending in ';'."""
    statements, current = [], []
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("".join(current).strip().rstrip(";"))
            current = []
    return statements


def run_types(port):
    """Every type segsql returns, in text and in binary: both must read the same."""
    sql = ("SELECT cast(12.34 AS DECIMAL(10, 2)) AS d, cast(-0.5 AS DECIMAL(12, 4)) AS d4, "
           "TIMESTAMP '2025-01-02 03:04:05.123456' AS ts, "
           "arrow_cast('2025-01-02T03:04:05Z', 'Timestamp(Microsecond, Some(\"+00:00\"))') AS tz, "
           "DATE '2025-01-02' AS day, [1.5, -2.25, 1e-7] AS floats, true AS flag, false AS off, "
           "cast(NULL AS BIGINT) AS nothing, 1.0 / 3 AS third, 42 AS n, 'text, with \"quotes\"' AS s")
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        text = conn.cursor(binary=False).execute(sql).fetchone()
        binary = conn.cursor(binary=True).execute(sql).fetchone()
        check(text == binary, f"text {text!r} != binary {binary!r}")
        tz = text[3]
        check(tz.utcoffset() == datetime.timedelta(0), f"timestamptz lost its zone: {tz!r}")
        types = [d.type_code for d in conn.cursor().execute(sql).description]
        rows = {}
        for binary in (False, True):
            rows[binary] = fetch_csv(conn, "SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount) "
                                           "ORDER BY customer_id LIMIT 50", binary=binary)
        check(rows[False] == rows[True], "rfm rows differ between text and binary")
    print(json.dumps({"row": [canon(v) for v in text], "oids": types}))
    sys.stdout.write(rows[True])


def run_params(port):
    """Server-side parameters ($1) and named prepared statements, against literal SQL."""
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        literal = fetch_csv(conn, "SELECT customer_id, monetary, segment FROM customer_rfm "
                                  "WHERE monetary > 100 AND segment = 'Champions' AND last_order >= DATE '2025-06-01' "
                                  "ORDER BY customer_id")
        sql = ("SELECT customer_id, monetary, segment FROM customer_rfm "
               "WHERE monetary > %s AND segment = %s AND last_order >= %s ORDER BY customer_id")
        args = [100, "Champions", datetime.date(2025, 6, 1)]
        check(fetch_csv(conn, sql, args) == literal, "a parameterised query differs from its literal form")
        for i in range(6):  # psycopg prepares after 5 runs; prepare=True names it from the first
            check(fetch_csv(conn, sql, args, prepare=True, binary=i % 2 == 1) == literal,
                  f"prepared run {i} differs")
        float_arg = fetch_csv(conn, "SELECT count(*) AS n FROM customer_rfm WHERE avg_order_value > %s", [50.5])
        float_lit = fetch_csv(conn, "SELECT count(*) AS n FROM customer_rfm WHERE avg_order_value > 50.5")
        check(float_arg == float_lit, "a float parameter differs from its literal")
        conn.execute("SET param.min_orders = '5'")
        subst = fetch_csv(conn, "SELECT count(*) AS n FROM customer_rfm WHERE frequency >= ${min_orders}")
        lit = fetch_csv(conn, "SELECT count(*) AS n FROM customer_rfm WHERE frequency >= 5")
        check(subst == lit, "${min_orders} was not substituted")
        shown = conn.execute("SHOW param.min_orders").fetchone()[0]
        check(shown == "5", f"SHOW param.min_orders = {shown!r}")
    sys.stdout.write(literal)


def run_isolation(port):
    """One connection's SET, parameter and view are not another's."""
    with psycopg.connect(dsn(port), autocommit=True) as a, psycopg.connect(dsn(port), autocommit=True) as b:
        a.execute("SET param.region = 'EU'")
        a.execute("CREATE VIEW only_mine AS SELECT 1 AS one")
        a.execute("SET datafusion.execution.batch_size = 123")
        check(a.execute("SELECT one FROM only_mine").fetchone() == (1,), "A cannot read its own view")
        setting = "SELECT current_setting('datafusion.execution.batch_size')"
        check(a.execute(setting).fetchone()[0] == "123", "A's SET did not apply")
        shown = a.execute("SHOW datafusion.execution.batch_size").fetchone()
        check(shown == ("datafusion.execution.batch_size", "123"), f"SHOW gave {shown!r}")
        result = {}
        try:
            b.execute("SELECT one FROM only_mine").fetchall()
            result["view"] = "visible"
        except psycopg.Error as error:
            result["view"] = type(error).__name__
        try:
            b.execute("SHOW param.region").fetchall()
            result["param"] = "visible"
        except psycopg.Error as error:
            result["param"] = type(error).__name__
        result["batch_size"] = b.execute(setting).fetchone()[0]
        try:
            a.execute("DROP VIEW customer_rfm")
            result["drop_shared"] = "dropped"
        except psycopg.Error as error:
            result["drop_shared"] = str(error).splitlines()[0]
        result["shared_still_there"] = b.execute("SELECT count(*) FROM customer_rfm").fetchone()[0] > 0
    print(json.dumps(result, sort_keys=True))


def run_cancel(port):
    """A pg cancel request stops a long query in seconds; the connection stays usable."""
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        outcome = {}

        def cancel_soon():
            time.sleep(1.5)
            conn.cancel()

        timer = threading.Thread(target=cancel_soon)
        started = time.monotonic()
        timer.start()
        try:
            conn.execute("SELECT sum(value) FROM generate_series(1, 100000000000)").fetchall()
            outcome["error"] = "none"
        except psycopg.errors.QueryCanceled as error:
            outcome["error"] = "QueryCanceled"
            outcome["message"] = str(error).strip()
        timer.join()
        outcome["seconds"] = round(time.monotonic() - started, 1)
        outcome["after"] = conn.execute("SELECT 1 AS one").fetchone()[0]
    print(json.dumps(outcome, sort_keys=True))


def run_pandas(port):
    """The notebook path: SQLAlchemy's PostgreSQL dialect on psycopg, and pandas.read_sql."""
    import pandas
    import sqlalchemy
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/segsql")
    with engine.connect() as conn:
        frame = pandas.read_sql(
            sqlalchemy.text("SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM customer_rfm "
                            "WHERE frequency >= :min GROUP BY segment ORDER BY segment"),
            conn, params={"min": 2})
        version = conn.execute(sqlalchemy.text("SELECT version()")).scalar()
    engine.dispose()
    check(version.startswith("PostgreSQL "), f"version() = {version!r}")
    sys.stdout.write(as_csv(list(frame.columns), frame.itertuples(index=False, name=None)))


def run_load(port, seconds, clients, expected_dir, *sql_files):
    """`clients` connections for `seconds` run the queries in turn; every answer must equal
    the shell's (expected_dir/N.csv for query N)."""
    statements = [q for f in sql_files for q in queries(f)]
    expected = [open(f"{expected_dir}/{i}.csv", encoding="utf-8").read() for i in range(len(statements))]
    deadline = time.monotonic() + float(seconds)
    counts, errors = [0] * int(clients), []

    def client(n):
        try:
            with psycopg.connect(dsn(port), autocommit=True) as conn:
                i = n
                while time.monotonic() < deadline and not errors:
                    q = i % len(statements)
                    got = fetch_csv(conn, statements[q], binary=(i % 2 == 0))
                    if got != expected[q]:
                        errors.append(f"client {n}, query {q}: answer differs from the shell's")
                    counts[n] += 1
                    i += 1
        except Exception as error:  # noqa: BLE001 - any failure fails the load test
            errors.append(f"client {n}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(int(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=float(seconds) + 120)
    check(not any(t.is_alive() for t in threads), "a client did not finish")
    print(json.dumps({"queries": sum(counts), "errors": errors[:5]}))


if __name__ == "__main__":
    name, port, *rest = sys.argv[1:]
    {"types": run_types, "params": run_params, "isolation": run_isolation, "cancel": run_cancel,
     "pandas": run_pandas, "load": run_load}[name](port, *rest)
