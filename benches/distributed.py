"""RFM, retention and BTYD on workers: the same queries locally, with one `segsql worker` and
with two, on this machine, answers checked equal, and the bytes each plan moved between
machines (from EXPLAIN ANALYZE's `bytes_transferred` on the network boundaries).

    python3 benches/distributed.py --binary target/release/segsql --data DIR [--runs 3]

DIR holds orders.parquet (`segsql generate --customers 1600000 --tables orders` writes the
10M-line file). Workers listen on 127.0.0.1 and are stopped at the end. Every configuration
runs on the same cores: the coordinator and its workers share this machine, so the figures
are the distributed path's overhead, not a speed-up. Only the standard library is used."""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time

QUERIES = {
    "RFM": "SELECT segment, count(*) AS customers, sum(monetary) AS revenue "
           "FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') GROUP BY segment ORDER BY segment",
    "retention": "SELECT * FROM cohort_retention(orders, customer_id, order_ts, 'month') ORDER BY cohort, period",
    "BTYD": "SELECT count(*) AS customers, sum(frequency) AS repeat_purchases, round(sum(monetary_value), 2) AS m "
            "FROM rfm_summary(orders, customer_id, order_ts, amount)",
}

UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def start_worker(binary, cwd):
    proc = subprocess.Popen([binary, "worker", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=cwd)
    line = proc.stdout.readline()
    if not line.startswith("segsql worker: listening on "):
        proc.kill()
        sys.exit(f"the worker did not start: {line!r}")
    return proc, line.split()[-1]


def run(binary, data, workers, sql, cwd):
    args = [binary, "-q", "--data", data, "--format", "csv", "-c", sql]
    if workers:
        args[1:1] = ["--workers", ",".join(workers)]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"segsql failed ({' '.join(args)}):\n{done.stderr}")
    return elapsed, done.stdout


def bytes_moved(text):
    """Total and per-kind bytes_transferred of an EXPLAIN ANALYZE text."""
    totals = {"shuffle": 0.0, "gather": 0.0, "broadcast": 0.0}
    for line in text.splitlines():
        kind = ("shuffle" if "NetworkShuffleExec" in line else "gather" if "NetworkCoalesceExec" in line
                else "broadcast" if "NetworkBroadcastExec" in line else None)
        if kind is None:
            continue
        for number, unit in re.findall(r"bytes_transferred=\{?([0-9.]+) ?([KMGT]?B)", line):
            totals[kind] += float(number) * UNITS[unit]
    return totals


def peak_rss(proc):
    """A process's peak resident memory in bytes (Linux /proc)."""
    with open(f"/proc/{proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cwd = tempfile.mkdtemp(prefix="segsql-bench-dist-")
    _, rows = run(args.binary, args.data, [], "SELECT count(*) AS n FROM orders", cwd)
    input_rows = int(rows.split()[-1])
    procs = []
    try:
        addresses = []
        for _ in range(2):
            proc, address = start_worker(args.binary, cwd)
            procs.append(proc)
            addresses.append(address)
        setups = {"local": [], "1 worker": addresses[:1], "2 workers": addresses}
        print(f"{input_rows:,} order lines; {args.runs} runs each, median wall time\n")
        print("| query | local | coordinator + 1 worker | ratio | coordinator + 2 workers | ratio |"
              " stages (2 workers) | bytes moved per input row (shuffle + gather) |")
        print("|---|---:|---:|---:|---:|---:|---|---:|")
        for name, sql in QUERIES.items():
            times, answers = {}, {}
            for setup, workers in setups.items():
                samples = []
                for _ in range(args.runs):
                    elapsed, out = run(args.binary, args.data, workers, sql, cwd)
                    samples.append(elapsed)
                    answers.setdefault(setup, out)
                    if out != answers[setup]:
                        sys.exit(f"{name}: {setup} gave different answers on rerun")
                times[setup] = statistics.median(samples)
            if len(set(answers.values())) != 1:
                sys.exit(f"{name}: the answers differ between " + ", ".join(answers))
            _, explained = run(args.binary, args.data, addresses, "EXPLAIN ANALYZE " + sql, cwd)
            stages = sorted(set(re.findall(r"Stage (\d+) ── tasks=(\d+)", explained)))
            moved = bytes_moved(explained)
            _, explained_one = run(args.binary, args.data, addresses[:1], "EXPLAIN ANALYZE " + sql, cwd)
            one_local = "Stage " not in explained_one
            local = times["local"]
            print(f"| {name} | {local:.2f} s | {times['1 worker']:.2f} s"
                  f"{' (plan kept local)' if one_local else ''} | {times['1 worker'] / local:.2f}× "
                  f"| {times['2 workers']:.2f} s | {times['2 workers'] / local:.2f}× "
                  f"| {', '.join(f'{s}: {t} tasks' for s, t in stages)} "
                  f"| {(moved['shuffle'] + moved['gather']) / input_rows:.2f} "
                  f"({moved['shuffle'] / input_rows:.2f} + {moved['gather'] / input_rows:.2f}) |")
        print(f"\nworkers' peak memory over all runs: "
              + ", ".join(f"{peak_rss(p) / 1024 ** 2:.0f} MiB" for p in procs))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
