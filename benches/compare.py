#!/usr/bin/env python3
"""segsql against its peers, side by side on the same data, interleaved run by run.

    bash benches/run.sh            # builds, makes the venv and the data, then runs this

For every task each tool runs `--runs` times in turn (A B A B ...), each run a fresh
process. The table gives the median seconds of the work itself (segsql's `\\timing`, the
peers' own clock around the query, both including reading the Parquet file), the median
whole-process wall time, the peak memory of the process, and the ratio segsql / peer.
Checksums of the results are compared so that a fast wrong answer cannot pass.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

SEGSQL_TASKS = {
    "rfm": (
        "SELECT count(*), sum(r_score), sum(f_score), sum(m_score), sum(recency_days), sum(frequency), sum(monetary) "
        "FROM rfm(orders, customer_id, order_ts, amount)"
    ),
    "retention": (
        "SELECT count(active_users), sum(active_users), sum(retention) "
        "FROM cohort_retention(orders, customer_id, order_ts, 'month') WHERE active_users > 0"
    ),
    "summary": (
        'SELECT count(*), sum(frequency), sum(recency), sum("T"), sum(monetary_value) '
        "FROM rfm_summary(orders, customer_id, order_ts, amount)"
    ),
}

# (label, segsql task, peer task, target ratio and its direction)
COMPARISONS = [
    ("RFM scores", "rfm", "duckdb_rfm", "DuckDB SQL", ("<=", 0.8)),
    ("monthly cohort retention", "retention", "duckdb_retention", "DuckDB SQL", ("<=", 0.8)),
    ("BTYD summary (rfm_summary)", "summary", "lifetimes_summary", "lifetimes", ("<=", 1 / 20)),
]




def measured(argv):
    """Runs argv and returns (stdout, stderr, wall seconds, peak RSS in MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{err.decode()}")
    return out.decode(), err.decode(), wall, usage.ru_maxrss / 1024.0


def segsql_run(binary, data, task):
    argv = [binary, "--threads", "2", "--data", data, "--format", "csv", "-c", "\\timing on", "-c", SEGSQL_TASKS[task]]
    out, err, wall, rss = measured(argv)
    seconds = float(re.search(r"Time: ([0-9.]+) s", err).group(1))
    checksum = [float(x) for x in out.strip().splitlines()[1].split(",")]
    return seconds, wall, rss, checksum


def peer_run(python, data, task):
    out, _, wall, rss = measured([python, os.path.join(HERE, "peer_task.py"), task, data])
    result = json.loads(out)
    return result["seconds"], wall, rss, result["checksum"]


def same(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y)) for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/segsql")
    parser.add_argument("--python", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)

    rows = []
    for label, ours, peer, peer_name, (direction, target) in COMPARISONS:
        results = {"segsql": [], peer_name: []}
        for _ in range(args.runs):
            results["segsql"].append(segsql_run(binary, args.data, ours))
            results[peer_name].append(peer_run(args.python, args.data, peer))
        med = {tool: [statistics.median(r[i] for r in runs) for i in range(3)] for tool, runs in results.items()}
        checks = same(results["segsql"][0][3], results[peer_name][0][3])
        ratio = med["segsql"][0] / med[peer_name][0]
        met = ratio <= target if direction == "<=" else ratio >= target
        rows.append((label, peer_name, med, ratio, target, met, checks, results))
        print(f"{label}: segsql {med['segsql'][0]:.3f} s, {peer_name} {med[peer_name][0]:.3f} s, ratio {ratio:.3f}", file=sys.stderr)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}")
    print(f"Data: {args.data}; median of {args.runs} interleaved runs; segsql --threads 2, DuckDB threads = 2.\n")
    print("| task | segsql (s) | peer | peer (s) | segsql / peer | target | met | same answer | segsql wall / peak MB | peer wall / peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, peer_name, med, ratio, target, met, checks, _ in rows:
        s, p = med["segsql"], med[peer_name]
        print(
            f"| {label} | {s[0]:.3f} | {peer_name} | {p[0]:.3f} | {ratio:.3f} | <= {target:.3g} | {'yes' if met else 'NO'} | "
            f"{'yes' if checks else 'NO'} | {s[1]:.2f} s / {s[2]:.0f} | {p[1]:.2f} s / {p[2]:.0f} |"
        )


if __name__ == "__main__":
    main()
