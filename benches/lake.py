#!/usr/bin/env python3
"""Lake benchmarks: RFM over Parquet read from a local S3 server against the same files on
disk, and what sniffing a CSV file adds to opening it.

    cargo build --release && python3 benches/lake.py [--runs 5] [--binary target/release/segsql]
        [--data ~/.cache/segsql/bench-data/report-1600000-v2] [--skip-s3] [--csv-baseline OLD_BINARY]

The data folder is made with `segsql generate --customers 1600000` (about 10M order lines)
when missing. The S3 server is s3s-fs (tests/s3/install_s3s_fs.sh) on 127.0.0.1, serving a
folder whose bucket links to the data folder, so both sides read the same bytes. Runs
alternate (disk, S3, disk, ...) and the answers are checked equal. Prints Markdown tables for
BENCHMARKS.md. Standard library only.
"""

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time

ACCESS, SECRET = "benchkey", "bench-secret-key"
RFM = (
    "SELECT segment, count(*) AS customers, round(sum(monetary), 2) AS revenue "
    "FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') GROUP BY segment ORDER BY segment"
)


def timed(argv, env=None):
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return elapsed, done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/segsql")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", default=os.path.expanduser("~/.cache/segsql/bench-data/report-1600000-v2"))
    parser.add_argument("--skip-s3", action="store_true", help="only the CSV sniffing measurement")
    parser.add_argument("--csv-baseline", metavar="BINARY",
                        help="also time this (older) binary opening the CSV file, alternating with --binary")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    data = os.path.abspath(args.data)
    if not os.path.isdir(data):
        subprocess.run([binary, "generate", "--customers", "1600000", "--out", data], check=True)
    s3s = subprocess.run(["bash", "tests/s3/install_s3s_fs.sh"], check=True, capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_s3:
            s3_part(args, binary, data, s3s, tmp)
        csv_part(args, binary, data, tmp)


def s3_part(args, binary, data, s3s, tmp):
    """RFM over the same Parquet files from disk and from s3s-fs on 127.0.0.1."""
    root = os.path.join(tmp, "s3root")
    os.makedirs(root)
    os.symlink(data, os.path.join(root, "bench"))
    port = free_port()
    server = subprocess.Popen(
        [s3s, "--host", "127.0.0.1", "--port", str(port), "--access-key", ACCESS, "--secret-key", SECRET, root],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.025)
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ALLOW_HTTP="true",
            AWS_REGION="us-east-1",
        )
        disk = [binary, "--data", data, "--format", "csv", "-c", RFM]
        s3 = [binary, "--data", "s3://bench/", "--format", "csv", "-c", RFM]
        lines = timed([binary, "--data", data, "--format", "csv", "-c", "SELECT count(*) FROM orders"])[1]
        timed(disk, env)  # warm the page cache
        times = {"disk": [], "s3": []}
        answers = set()
        for _ in range(args.runs):
            for side, argv in (("disk", disk), ("s3", s3)):
                elapsed, out = timed(argv, env)
                times[side].append(elapsed)
                answers.add(out)
        if len(answers) != 1:
            raise SystemExit("the S3 and disk answers differ")
        d, s = statistics.median(times["disk"]), statistics.median(times["s3"])
        print(f"RFM segments over `orders` ({lines.decode().split()[-1]} lines), {args.runs} alternating runs, answers equal\n")
        print("| where the Parquet files are | median wall s | min | max |")
        print("|---|---|---|---|")
        print(f"| local disk (`--data DIR`) | {d:.3f} | {min(times['disk']):.3f} | {max(times['disk']):.3f} |")
        print(f"| s3s-fs on 127.0.0.1 (`--data s3://bench/`) | {s:.3f} | {min(times['s3']):.3f} | {max(times['s3']):.3f} |")
        print(f"\nS3 / disk: **{s / d:.2f}×** (target at most 1.3×)\n")
    finally:
        server.kill()
        server.wait()


def csv_part(args, binary, data, tmp):
    """What sniffing adds to opening a CSV file of about 1 GB."""
    # Sniffing: a CSV file of about 1 GB, opened (listed, sniffed, schema built) by `\d`.
    csv_dir = os.path.join(tmp, "csv")
    os.makedirs(csv_dir)
    big = os.path.join(csv_dir, "orders.csv")
    subprocess.run(
        [binary, "--data", data, "-c", f"COPY (SELECT * FROM orders UNION ALL SELECT * FROM orders) TO '{big}'"],
        check=True,
        capture_output=True,
    )
    size = os.path.getsize(big)
    binaries = {"segsql": binary}
    if args.csv_baseline:
        binaries = {"baseline": os.path.abspath(args.csv_baseline), "segsql": binary}
    times = {name: ([], []) for name in binaries}
    for b in binaries.values():
        timed([b, "--data", csv_dir, "-c", "\\d orders"])
    for _ in range(max(args.runs, 10)):
        for name, b in binaries.items():
            times[name][0].append(timed([b, "--data", csv_dir, "-c", "SELECT 1"])[0])
            times[name][1].append(timed([b, "--data", csv_dir, "-c", "\\d orders"])[0])
    print(f"Opening a {size / 1e9:.2f} GB CSV file ({len(times['segsql'][1])} alternating runs):\n")
    print("| binary | `SELECT 1` (registers the file, reads nothing), median ms "
          "| `\\d orders` (sniffs a 1 MiB sample, builds the table), median ms | what sniffing adds, ms |")
    print("|---|---:|---:|---:|")
    for name, (base, opened) in times.items():
        b, o = statistics.median(base), statistics.median(opened)
        print(f"| {name} | {b * 1000:.1f} | {o * 1000:.1f} | {(o - b) * 1000:.1f} |")
    b, o = (statistics.median(t) for t in times["segsql"])
    print(f"\nWhat sniffing adds: **{(o - b) * 1000:.1f} ms** (target at most 50 ms)")


if __name__ == "__main__":
    main()
