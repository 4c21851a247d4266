"""`segsql serve` side by side with PostgreSQL 15 on this machine, through psycopg 3:

- connection set-up: connect, `SELECT 1`, close, repeated;
- a trivial query's round trip on an open connection (`SELECT 1`), in the simple and the
  extended (prepared) protocol;
- throughput of the dashboard mix (tests/serve/load.sql: segment rollup, monthly retention,
  RFM codes, monthly revenue, top customers) with 1, 8 and 32 clients, segsql only (the mix
  uses segsql's functions).

    python benches/serve.py --binary target/release/segsql [--seconds 20] [--connects 200]

Run it with the venv tests/serve/install_clients.sh makes (it has psycopg). PostgreSQL is
started from /usr/lib/postgresql/15 in a temporary folder (trust authentication, 127.0.0.1,
a free port) and stopped at the end; as root it runs as the `postgres` user. Both servers
get the same client, the same loops and 127.0.0.1 TCP without TLS."""

import argparse
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "serve"))
import clients  # noqa: E402  (the load test's statement splitter and CSV canon)

PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_segsql(binary):
    proc = subprocess.Popen([binary, "serve", "--port", "0", "-f", str(ROOT / "queries/_setup.sql")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tempfile.mkdtemp())
    line = proc.stdout.readline()
    return proc, int(line.split()[4].rsplit(":", 1)[1])


def start_postgres():
    data = tempfile.mkdtemp(prefix="segsql-bench-pg-")
    port = free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(as_user + [str(PG_BIN / "initdb"), "-D", data, "--auth=trust", "-U", "postgres"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", data, "-w", "-l", f"{data}/log", "-o",
                              f"-p {port} -h 127.0.0.1 -k {data}", "start"], check=True, stdout=subprocess.DEVNULL)
    return (as_user, data), port


def stop_postgres(handle):
    as_user, data = handle
    subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", data, "-m", "fast", "stop"],
                   check=False, stdout=subprocess.DEVNULL)
    shutil.rmtree(data, ignore_errors=True)


def dsn(port, dbname):
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname} sslmode=disable"


def connects(port, dbname, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with psycopg.connect(dsn(port, dbname), autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def round_trips(port, dbname, n, prepare):
    with psycopg.connect(dsn(port, dbname), autocommit=True) as conn:
        for _ in range(10):
            conn.execute("SELECT 1", prepare=prepare).fetchone()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            conn.execute("SELECT 1", prepare=prepare).fetchone()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(port, statements, clients_n, seconds):
    deadline = time.monotonic() + seconds
    counts = [0] * clients_n
    errors = []

    def client(n):
        try:
            with psycopg.connect(dsn(port, "segsql"), autocommit=True) as conn:
                i = n
                while time.monotonic() < deadline:
                    conn.execute(statements[i % len(statements)]).fetchall()
                    counts[n] += 1
                    i += 1
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients_n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"errors under load: {errors[:3]}")
    return sum(counts) / (time.monotonic() - start), sum(counts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connects", type=int, default=200)
    parser.add_argument("--trips", type=int, default=2000)
    args = parser.parse_args()

    segsql, segsql_port = start_segsql(args.binary)
    pg, pg_port = start_postgres()
    try:
        print("| measure | segsql serve | PostgreSQL 15 | ratio |")
        print("|---|---|---|---|")
        ours = connects(segsql_port, "segsql", args.connects)
        theirs = connects(pg_port, "postgres", args.connects)
        print(f"| connect + `SELECT 1` + close (median of {args.connects}) | {ours * 1e3:.2f} ms | "
              f"{theirs * 1e3:.2f} ms | {ours / theirs:.2f}x |")
        for prepare, name in ((False, "simple"), (True, "prepared")):
            ours = round_trips(segsql_port, "segsql", args.trips, prepare)
            theirs = round_trips(pg_port, "postgres", args.trips, prepare)
            print(f"| `SELECT 1` round trip, {name} (median of {args.trips}) | {ours * 1e6:.0f} µs | "
                  f"{theirs * 1e6:.0f} µs | {ours / theirs:.2f}x |")
        statements = clients.queries(ROOT / "tests/serve/load.sql")
        print()
        print("| clients | dashboard queries/s | queries run |")
        print("|---|---|---|")
        for n in (1, 8, 32):
            rate, total = throughput(segsql_port, statements, n, args.seconds)
            print(f"| {n} | {rate:.1f} | {total} |")
    finally:
        segsql.terminate()
        segsql.wait(timeout=30)
        stop_postgres(pg)


if __name__ == "__main__":
    main()
