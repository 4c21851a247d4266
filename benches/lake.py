#!/usr/bin/env python3
"""Lake benchmarks: RFM over Parquet read from a local S3 server against the same files on
disk, and what sniffing a CSV file adds to opening it.

    cargo build --release && python3 benches/lake.py [--runs 5] [--binary target/release/segsql]
        [--data ~/.cache/segsql/bench-data/report-1600000-v2] [--skip-s3] [--skip-csv] [--pin] [--csv-baseline OLD_BINARY]

The data folder is made with `segsql generate --customers 1600000` (about 10M order lines)
when missing. The S3 server is s3s-fs (tests/s3/install_s3s_fs.sh) on 127.0.0.1; the data folder's
Parquet files are uploaded to it unchanged with signed PUTs, so both sides read the same bytes
and the server keeps each object's ETag as S3 does. (Files merely placed in its folder have no
stored ETag, and s3s-fs then hashes the whole file on every HEAD and GET: about 0.5 s a request
for a 200 MB file, which measures the test server, not the reader.) Runs
alternate (disk, S3, disk, ...) and the answers are checked equal. Prints Markdown tables for
BENCHMARKS.md. Standard library only.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import os
import resource
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


def timed_cpu(argv, env, server_pid):
    """Wall seconds, stdout, the command's CPU seconds and the server's CPU seconds."""
    server_before = server_cpu(server_pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, out = timed(argv, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return elapsed, out, own, server_cpu(server_pid) - server_before


def server_cpu(pid):
    """CPU seconds (user + system) the process has used so far, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def put_object(port, bucket, key, path):
    """One AWS Signature V4 PUT of a file (unsigned payload), standard library only."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = f"127.0.0.1:{port}"
    uri = f"/{bucket}/{key}"
    headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        ["PUT", uri, ""] + [f"{k}:{headers[k]}" for k in sorted(headers)] + ["", signed, "UNSIGNED-PAYLOAD"]
    )
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key_bytes = ("AWS4" + SECRET).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    headers["content-length"] = str(os.path.getsize(path))
    conn = http.client.HTTPConnection(host, timeout=600)
    with open(path, "rb") as body:
        conn.request("PUT", uri, body=body, headers=headers)
    answer = conn.getresponse()
    text = answer.read()
    conn.close()
    if answer.status != 200:
        raise SystemExit(f"PUT {uri} failed: {answer.status} {text.decode(errors='replace')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/segsql")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", default=os.path.expanduser("~/.cache/segsql/bench-data/report-1600000-v2"))
    parser.add_argument("--skip-s3", action="store_true", help="only the CSV sniffing measurement")
    parser.add_argument("--skip-csv", action="store_true", help="only the S3 measurement")
    parser.add_argument("--pin", action="store_true",
                        help="run segsql on CPU 0 and the S3 server on CPU 1 (taskset), so they do not share cores")
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
        if not args.skip_csv:
            csv_part(args, binary, data, tmp)


def s3_part(args, binary, data, s3s, tmp):
    """RFM over the same Parquet files from disk and from s3s-fs on 127.0.0.1."""
    root = os.path.join(tmp, "s3root")
    os.makedirs(os.path.join(root, "bench"))
    port = free_port()
    pin_server, pin_segsql = (["taskset", "-c", "1"], ["taskset", "-c", "0"]) if args.pin else ([], [])
    server = subprocess.Popen(
        pin_server + [s3s, "--host", "127.0.0.1", "--port", str(port), "--access-key", ACCESS, "--secret-key", SECRET, root],
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
        for name in sorted(os.listdir(data)):
            if name.endswith(".parquet"):
                put_object(port, "bench", name, os.path.join(data, name))
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ALLOW_HTTP="true",
            AWS_REGION="us-east-1",
        )
        disk = pin_segsql + [binary, "--threads", "2", "--data", data, "--format", "csv", "-c", RFM]
        s3 = pin_segsql + [binary, "--threads", "2", "--data", "s3://bench/", "--format", "csv", "-c", RFM]
        lines = timed([binary, "--data", data, "--format", "csv", "-c", "SELECT count(*) FROM orders"])[1]
        timed(disk, env)  # warm the page cache
        times = {"disk": [], "s3": []}
        cpu = {"disk": [], "s3": []}
        served = []
        answers = set()
        for _ in range(args.runs):
            for side, argv in (("disk", disk), ("s3", s3)):
                elapsed, out, own, served_cpu = timed_cpu(argv, env, server.pid)
                times[side].append(elapsed)
                cpu[side].append(own)
                if side == "s3":
                    served.append(served_cpu)
                answers.add(out)
        if len(answers) != 1:
            raise SystemExit("the S3 and disk answers differ")
        d, s = statistics.median(times["disk"]), statistics.median(times["s3"])
        pinned = ", segsql on CPU 0 and the server on CPU 1" if args.pin else ""
        print(
            f"RFM segments over `orders` ({lines.decode().split()[-1]} lines), {args.runs} alternating runs{pinned}, "
            "answers equal\n"
        )
        print("| where the Parquet files are | median wall s | min | max | segsql CPU s | server CPU s |")
        print("|---|---|---|---|---|---|")
        print(
            f"| local disk (`--data DIR`) | {d:.3f} | {min(times['disk']):.3f} | {max(times['disk']):.3f} "
            f"| {statistics.median(cpu['disk']):.2f} | - |"
        )
        print(
            f"| s3s-fs on 127.0.0.1 (`--data s3://bench/`) | {s:.3f} | {min(times['s3']):.3f} | {max(times['s3']):.3f} "
            f"| {statistics.median(cpu['s3']):.2f} | {statistics.median(served):.2f} |"
        )
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
