#!/usr/bin/env python3
"""Start-up benchmarks for segsql: `segsql -c "SELECT 1"`, and registering a --data folder
of 1,000 Parquet files.

    cargo build --release && python3 benches/startup.py [--runs 30] [--binary target/release/segsql]

Prints a Markdown table (median and max wall time, peak memory) for BENCHMARKS.md.
Standard library only; each run is a separate process timed with wait4's rusage.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time


def run_once(argv):
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024.0


def measure(argv, runs):
    run_once(argv)  # warm the page cache
    results = [run_once(argv) for _ in range(runs)]
    times = [t for t, _ in results]
    return statistics.median(times), max(times), max(m for _, m in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/segsql")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)

    with tempfile.TemporaryDirectory() as tmp:
        lake = os.path.join(tmp, "lake")
        os.makedirs(lake)
        one = os.path.join(tmp, "one.parquet")
        subprocess.run([binary, "-c", f"COPY (SELECT * FROM sample.orders LIMIT 100) TO '{one}'"], check=True)
        data = open(one, "rb").read()
        for i in range(1000):
            with open(os.path.join(lake, f"part_{i:04}.parquet"), "wb") as f:
                f.write(data)

        cases = [
            ('segsql -c "SELECT 1"', [binary, "-c", "SELECT 1"]),
            ('segsql --data <1,000 Parquet files> -c "SELECT 1"', [binary, "--data", lake, "-c", "SELECT 1"]),
            ("... and query one of them", [binary, "--data", lake, "-c", "SELECT count(*) FROM part_0500"]),
        ]
        print("| command | median wall | max wall | peak memory |")
        print("|---|---|---|---|")
        for label, argv in cases:
            median, worst, rss = measure(argv, args.runs)
            print(f"| `{label}` | {median * 1000:.1f} ms | {worst * 1000:.1f} ms | {rss:.1f} MB |")


if __name__ == "__main__":
    main()
