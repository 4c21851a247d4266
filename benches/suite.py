#!/usr/bin/env python3
"""The whole benchmark suite in one run: segsql against DuckDB, lifetimes and scikit-learn
at 1M, 10M and 50M order lines, plus scaling, a memory-limited run, the report and start-up.

    bash benches/suite.sh            # builds, makes the venv and the data, runs this, updates BENCHMARKS.md

Every comparison is interleaved run by run (segsql, peer, segsql, peer, ...) with medians of
--runs runs; wall time and peak memory come from wait4. The table is written between the
`<!-- suite:start -->` and `<!-- suite:end -->` markers of BENCHMARKS.md.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import cluster_data  # noqa: E402
import compare  # noqa: E402

# Order lines → customers for `segsql generate` (about 6 order lines per customer).
SIZES = {"1M": 166_667, "10M": 1_600_000, "50M": 8_333_333}
SQL_TASKS = ["rfm", "rfm_f64", "retention", "retention_f64", "summary", "summary_f64"]
# Scaling is measured on the DECIMAL file only: five alternated pairs at 50M per task.
SCALING_TASKS = ["rfm", "retention", "summary"]


# Bump when `segsql generate` writes different files (v2: 122,880-row row groups), so an old
# cached data set is not measured as the new one.
DATA_VERSION = 2


def generate(binary, customers, root):
    data = os.path.join(root, f"customers-{customers}-v{DATA_VERSION}")
    if not os.path.exists(os.path.join(data, "orders.parquet")):
        subprocess.run([binary, "generate", "--customers", str(customers), "--out", data, "--tables", "orders"], check=True)
    cluster_data.double_amounts(data, binary)
    return data


def versions(binary, python):
    """segsql's and rustc's versions and the peers' as installed in the venv."""
    segsql = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    probe = (
        "import importlib.metadata as m; "
        "print(', '.join(f'{n} {m.version(p)}' for n, p in [('DuckDB', 'duckdb'), ('scikit-learn', 'scikit-learn'), "
        "('lifetimes', 'lifetimes'), ('pandas', 'pandas'), ('numpy', 'numpy')]))"
    )
    peers = subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"{segsql} at commit {commit or 'unknown'} ({rustc or 'rustc unknown'}); {peers}"


def order_lines(binary, data):
    out, _, _, _ = compare.measured([binary, "--data", data, "--format", "csv", "-c", "SELECT count(*) FROM orders"])
    return int(out.strip().splitlines()[1])


def segsql_only(binary, data, models, task, runs, extra=()):
    """Medians of (seconds, wall, peak MB) and the first checksum of segsql alone."""
    results = []
    for _ in range(runs):
        argv = compare.segsql_argv(binary, data, models, task)
        argv[1:1] = list(extra)
        out, err, wall, rss = compare.measured(argv)
        seconds = sum(float(t) for t in compare.re.findall(r"Time: ([0-9.]+) s", err))
        header, *rows = list(compare.csv.reader(compare.io.StringIO(out.strip())))
        results.append((seconds, wall, rss, compare.SEGSQL_TASKS[task][1](header, rows)))
    return [statistics.median(r[i] for r in results) for i in range(3)], results[0][3]


def whole_process(argv, runs, cwd):
    times, peaks = [], []
    for _ in range(runs):
        _, _, wall, rss = measured_in(argv, cwd)
        times.append(wall)
        peaks.append(rss)
    return statistics.median(times), max(peaks)


def measured_in(argv, cwd):
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        return compare.measured(argv)
    finally:
        os.chdir(previous)


def row(c, med, ratio, met, answer, size=""):
    s, p = med["segsql"], med[c.peer_name]
    target = f"<= {c.target[1]:.3g}" if c.target else "report"
    label = f"{c.label} ({size})" if size else c.label
    return (
        f"| {label} | {s[0]:.3f} | {c.peer_name} | {p[0]:.3f} | {compare.shown_ratio(ratio)} | {target} | {met} | "
        f"{answer} | {s[1]:.2f} s / {s[2]:.0f} | {p[1]:.2f} s / {p[2]:.0f} |"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/segsql"))
    parser.add_argument("--python", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1M,10M,50M")
    parser.add_argument("--data-root", default=os.path.join(ROOT, "target/bench-data"))
    parser.add_argument("--lifetimes-up-to", default="10M", help="largest size lifetimes runs at (it needs ~20 s and 2.3 GB per 10M lines)")
    parser.add_argument("--write", help="update this BENCHMARKS.md between the suite markers")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    comparisons = {c.name: c for c in compare.COMPARISONS}
    models = tempfile.mkdtemp(prefix="segsql-suite-models-")
    lines = []
    notes = []
    try:
        data_by_size = {size: generate(binary, SIZES[size], args.data_root) for size in sizes}
        counts = {size: order_lines(binary, data) for size, data in data_by_size.items()}
        sql_rows = []
        seconds = {}
        for size in sizes:
            data = data_by_size[size]
            ns = SimpleNamespace(runs=args.runs, data=data, python=args.python)
            for task in SQL_TASKS:
                c = comparisons[task]
                lifetimes_skipped = c.peer.startswith("lifetimes") and list(SIZES).index(size) > list(SIZES).index(args.lifetimes_up_to)
                if lifetimes_skipped:
                    med, _ = segsql_only(binary, data, models, task, args.runs)
                    seconds[(size, task)] = med[0]
                    sql_rows.append(
                        f"| {c.label} ({size}) | {med[0]:.3f} | {c.peer_name} | not run | - | {c.target[0]} {c.target[1]:.3g} | - | - | "
                        f"{med[1]:.2f} s / {med[2]:.0f} | - |"
                    )
                    continue
                c_, med, ratio, met, answer = compare.compare(c, binary, ns, models)
                seconds[(size, task)] = med["segsql"][0]
                sql_rows.append(row(c, med, ratio, met, answer, size))

        cluster_rows = []
        clv_rows = []
        cluster_data = data_by_size.get("10M")
        if cluster_data:
            subprocess.run([args.python, os.path.join(HERE, "cluster_data.py"), cluster_data, binary], check=True)
            ns = SimpleNamespace(runs=args.runs, data=cluster_data, python=args.python)
            for c in compare.COMPARISONS:
                if c.group == "cluster":
                    cluster_rows.append(row(*compare.compare(c, binary, ns, models)))
            clv_rows = [row(*compare.compare(c, binary, ns, models)) for c in compare.COMPARISONS if c.group == "clv"]

        scaling_rows = []
        if "10M" in sizes and "50M" in sizes:
            # segsql alone, the two sizes alternated run by run and the ratio taken pair by pair:
            # in the side-by-side runs each segsql run follows a peer process that has just
            # freed gigabytes, and on a VM that hands freed memory back to the host, re-faulting
            # it costs segsql 0.4 to 2.4 s per GB, which is the peer's doing, not segsql's scaling.
            for task in SCALING_TASKS:
                pairs = []
                for _ in range(max(args.runs, 5)):
                    small, _ = segsql_only(binary, data_by_size["10M"], models, task, 1)
                    large, _ = segsql_only(binary, data_by_size["50M"], models, task, 1)
                    pairs.append((small[0], large[0]))
                small = statistics.median(p[0] for p in pairs)
                large = statistics.median(p[1] for p in pairs)
                ratio = statistics.median(p[1] / p[0] for p in pairs)
                side_by_side = seconds[("50M", task)] / seconds[("10M", task)]
                lines_ratio = counts["50M"] / counts["10M"]
                scaling_rows.append(
                    f"| {comparisons[task].label} | {small:.3f} | {large:.3f} | {ratio:.2f} | {side_by_side:.2f} | "
                    f"{lines_ratio:.2f} | <= 5.5 | {'yes' if ratio <= 5.5 else 'NO'} |"
                )

        memory_rows = []
        if "50M" in sizes:
            for task in ["rfm", "retention"]:
                free, free_sum = segsql_only(binary, data_by_size["50M"], models, task, 1)
                limited, limited_sum = segsql_only(binary, data_by_size["50M"], models, task, 1, ["--memory-limit", "2G"])
                same = compare.CHECKS["same"](free_sum, limited_sum)
                memory_rows.append(
                    f"| {comparisons[task].label} (50M) | {free[0]:.2f} s / {free[2]:.0f} MB | {limited[0]:.2f} s / {limited[2]:.0f} MB | "
                    f"{'yes' if limited[2] < 2560 else 'NO'} | {'yes' if same else 'NO'} |"
                )

        with tempfile.TemporaryDirectory() as work:
            report = os.path.join(ROOT, "queries", "report.sql")
            report_wall, report_peak = whole_process(
                [binary, "--threads", "2", "-q", "--format", "csv", "-f", report, "--html", "report.html"], args.runs, work
            )
            startup_wall, startup_peak = whole_process([binary, "-c", "SELECT 1"], max(args.runs, 10), work)

        stamp = datetime.date.today().isoformat()
        lines.append(f"Measured {stamp} by `bash benches/suite.sh` ({args.runs} interleaved runs per task, medians).")
        lines.append(
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}; "
            "segsql --threads 2, DuckDB threads = 2, scikit-learn with 2 OpenMP/BLAS threads, lifetimes single-threaded."
        )
        lines.append(f"Versions: {versions(binary, args.python)}.")
        lines.append(
            "Data: " + ", ".join(f"{size} = {counts[size]:,} order lines (`segsql generate --customers {SIZES[size]}`)" for size in sizes) + "."
        )
        lines.append("")
        header = "| task | segsql (s) | peer | peer (s) | segsql / peer | target | met | same answer | segsql wall / peak MB | peer wall / peak MB |"
        lines += ["### SQL tasks at every size", "", header, "|---|---|---|---|---|---|---|---|---|---|", *sql_rows, ""]
        if cluster_rows:
            lines += ["### Clustering (data from the 10M run)", "", header, "|---|---|---|---|---|---|---|---|---|---|", *cluster_rows, ""]
        if clv_rows:
            lines += [
                "### Predictive CLV and propensity (the 10M run's rfm_summary, 1.28M customers)", "", header,
                "|---|---|---|---|---|---|---|---|---|---|", *clv_rows, "",
            ]
        if scaling_rows:
            lines += [
                "### Scaling, 10M → 50M order lines (segsql)", "",
                f"segsql alone, 10M and 50M alternated {max(args.runs, 5)} times; the time ratio is the median of the "
                "pairwise ratios. The side-by-side column divides the medians of the tables above, where each run follows a peer's.", "",
                "| task | 10M (s) | 50M (s) | time ratio | side-by-side ratio | rows ratio | target | met |",
                "|---|---|---|---|---|---|---|---|", *scaling_rows, "",
            ]
        if memory_rows:
            lines += [
                "### `--memory-limit 2G` at 50M order lines", "",
                "| task | no limit: time / peak | 2G limit: time / peak | peak < 2.5 GB | same answer |", "|---|---|---|---|---|", *memory_rows, "",
            ]
        lines += [
            "### The report and start-up (segsql only)", "",
            "| task | median wall (s) | peak MB |", "|---|---|---|",
            f"| `segsql -f queries/report.sql --html report.html` (sample data, every script, exports, HTML) | {report_wall:.3f} | {report_peak:.0f} |",
            f"| `segsql -c \"SELECT 1\"` (start-up) | {startup_wall:.4f} | {startup_peak:.0f} |",
            "",
        ]
    finally:
        shutil.rmtree(models, ignore_errors=True)

    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(args.write) as f:
            current = f.read()
        start, end = "<!-- suite:start -->\n", "<!-- suite:end -->"
        if start not in current or end not in current:
            raise SystemExit(f"{args.write} has no {start.strip()} / {end} markers")
        before = current[: current.index(start) + len(start)]
        after = current[current.index(end):]
        with open(args.write, "w") as f:
            f.write(before + text + "\n" + after)


if __name__ == "__main__":
    main()
