#!/usr/bin/env python3
"""The whole weekly report as a job: segsql against the same analysis written as a Python
pipeline (benches/python_report.py), side by side on the same files at 1M, 10M and 50M
order lines, time and peak memory per script and for the whole report.

    bash benches/report_job.sh [RUNS]     # builds, makes the venv and the data, runs this, updates BENCHMARKS.md
    python benches/report_job.py --python PY --binary B --sizes 1M --runs 1     # one size, print only
    python benches/report_job.py --python PY --binary B --dry-run               # the commands only

For each size: every numbered script 01..08 runs as its own segsql process (`--data DIR`
and the table parameters, `--threads 2 -q`), then the same step of the Python pipeline as
its own process; then the whole report as one process on each side (segsql `-f
queries/report.sql --html report.html`, Python `--step all --html report.html`). Each run
works in fresh temporary folders (exports, models, HTML) that start with the same baseline,
last week's customers export (segsql's, as_of one week earlier, made once per size), so
08's governance tables compare something, as in a weekly run. The runs are interleaved
(segsql, Python, segsql, Python, ...), medians of --runs; wall time and peak RSS come from
wait4, as in benches/compare.py. A run that fails, runs out of memory or passes --timeout
gives a "did not finish (reason)" cell; the Python side is the first the kernel's OOM killer
takes (oom_score_adj 1000) and is stopped above --memory-cap. At 50M segsql also runs the
whole report once under --memory-limit 4G. `python_report.py --check` runs first, on the
sample; its summary heads the table.
"""

import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import compare  # noqa: E402
import suite  # noqa: E402

SIZES = suite.SIZES  # "1M" -> 166,667 customers, "10M" -> 1,600,000, "50M" -> 8,333,333
DATA_VERSION = suite.DATA_VERSION
TABLES = ["orders", "customers", "events", "marketing_spend"]
TABLE_PARAMS = ["--param", "orders=orders", "--param", "customers=customers", "--param", "events=events",
                "--param", "spend=marketing_spend"]
SCRIPTS = ["01_data_quality", "02_cohorts", "03_rfm", "04_clustering", "05_kpis", "06_exports", "07_clv", "08_governance"]
AS_OF = "2026-01-01"
# The audience export of 06 runs when a key is given; the job runs it on both sides.
BENCH_KEY = "bench-key-0123456789abcdef"
MARKERS = ("<!-- report-job:start -->", "<!-- report-job:end -->")
HEADING = "## The whole report, segsql against a Python pipeline"
TARGETS = "issue 19"


def data_root():
    return os.environ.get("BENCH_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "segsql", "bench-data")


# ---------------------------------------------------------------- data


def parquet_complete(file):
    """A whole Parquet file: PAR1 at both ends (a file still being written has no footer)."""
    try:
        size = os.path.getsize(file)
        with open(file, "rb") as f:
            head = f.read(4)
            f.seek(max(size - 4, 0))
            return size > 8 and head == b"PAR1" and f.read(4) == b"PAR1"
    except OSError:
        return False


def complete(folder):
    return all(parquet_complete(os.path.join(folder, f"{t}.parquet")) for t in TABLES)


def settle(folder, quiet=60, poll=10):
    """Waits while a file in folder changed in the last `quiet` seconds: another process
    (the other `segsql generate` of the same set) may be writing it."""
    while os.path.isdir(folder):
        newest = max((os.path.getmtime(os.path.join(folder, f)) for f in os.listdir(folder)), default=0)
        if time.time() - newest >= quiet:
            return
        print(f"waiting for {folder}: a file changed {time.time() - newest:.0f} s ago", file=sys.stderr)
        time.sleep(poll)


def ensure_data(binary, customers, folder):
    """The four tables of `segsql generate --customers N` in folder: reused when complete."""
    if not complete(folder):
        settle(folder)
    if not complete(folder):
        print(f"generating {folder}", file=sys.stderr)
        subprocess.run([binary, "generate", "--customers", str(customers), "--out", folder], check=True,
                       stdout=subprocess.DEVNULL)
        if not complete(folder):
            raise SystemExit(f"segsql generate left an incomplete data set in {folder}")
    return folder


def equals_builtin_sample(binary, folder):
    """True when the files hold exactly the rows of segsql's built-in sample.* tables."""
    differences = " + ".join(
        f"(SELECT count(*) FROM (SELECT * FROM {t} EXCEPT ALL SELECT * FROM sample.{t}))"
        f" + (SELECT count(*) FROM (SELECT * FROM sample.{t} EXCEPT ALL SELECT * FROM {t}))"
        for t in TABLES
    )
    out, _, _, _ = compare.measured([binary, "-q", "--format", "csv", "--data", folder, "-c", f"SELECT {differences} AS n"])
    return out.strip().splitlines()[-1] == "0"


BASELINE_SQL = """\\i {setup}
CREATE OR REPLACE MODEL customer_segments
  USING kmeans (k = ${{k}}, seed = 42, standardize = 'zscore', n_init = 4)
  AS SELECT recency_days, frequency, monetary FROM customer_rfm;
COPY (SELECT *, kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster_id
      FROM customer_rfm ORDER BY customer_id)
  TO '${{out_dir}}/customers.parquet' STORED AS PARQUET;
"""


def make_baseline(binary, data, folder, as_of=AS_OF):
    """Last week's customers export (06's customers.parquet with as_of a week earlier, the
    model retrained on that week's data), which 06 keeps as previous/ and 08 compares with."""
    os.makedirs(folder, exist_ok=True)
    script = os.path.join(folder, "baseline.sql")
    with open(script, "w") as f:
        f.write(BASELINE_SQL.format(setup=os.path.join(ROOT, "queries", "_setup.sql")))
    week_before = (datetime.date.fromisoformat(as_of) - datetime.timedelta(days=7)).isoformat()
    compare.measured([binary, "-q", "--threads", "2", "--data", data, *TABLE_PARAMS, "--param", f"as_of={week_before}",
                      "--param", f"out_dir={folder}", "--models", os.path.join(folder, "models"), "-f", script])
    return os.path.join(folder, "customers.parquet")


# ---------------------------------------------------------------- runs

Run = namedtuple("Run", "wall peak_mb reason")  # reason None: finished


def memory_total_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def tree_rss_mb(pid):
    """Resident memory of a process and its children, from /proc."""
    total, pending = 0, [pid]
    while pending:
        p = pending.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as f:
                pending += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total / 1024


def measured(argv, cwd, timeout, memory_cap_mb=None, first_to_kill=False):
    """compare.measured with a timeout, a memory cap and failures as results: Run(wall, peak
    RSS MB from wait4, None or why it did not finish). Output is read and dropped."""

    def prepare():
        os.setsid()
        if first_to_kill:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")

    started = time.perf_counter()
    # Two OpenMP/BLAS threads for scikit-learn, as segsql runs with --threads 2.
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=prepare)
    stopped = []

    def watch():
        while process.poll() is None:
            elapsed = time.perf_counter() - started
            if elapsed > timeout:
                stopped.append(f"timed out after {timeout / 60:.0f} min" if timeout >= 60 else f"timed out after {timeout:.0f} s")
            elif memory_cap_mb and tree_rss_mb(process.pid) > memory_cap_mb:
                stopped.append(f"over {memory_cap_mb / 1024:.3g} GiB of memory")
            if stopped:
                os.killpg(process.pid, signal.SIGKILL)
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    err = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    watcher.join()
    peak = usage.ru_maxrss / 1024.0
    code = os.waitstatus_to_exitcode(status)
    if stopped:
        return Run(wall, peak, stopped[0])
    if code == 0:
        return Run(wall, peak, None)
    if code == -signal.SIGKILL:
        return Run(wall, peak, "killed (out of memory)")
    last = [line for line in err.strip().splitlines() if line.strip()]
    if "MemoryError" in err or "memory allocation" in err.lower():
        return Run(wall, peak, "out of memory")
    return Run(wall, peak, f"exit {code}: {last[-1][:120] if last else 'no message'}")


def segsql_argv(binary, data, script, html=None, memory_limit=None):
    argv = [binary, "--threads", "2", "-q", "--format", "csv", "--data", data, *TABLE_PARAMS, "--param", f"as_of={AS_OF}",
            "--param", "out_dir=report_out", "--param", f"pseudonym_key={BENCH_KEY}", "-f", script]
    if html:
        argv += ["--html", html]
    if memory_limit:
        argv[1:1] = ["--memory-limit", memory_limit]
    return argv


def python_argv(python, data, step, html=None):
    argv = [python, os.path.join(HERE, "python_report.py"), "--data", data, "--as-of", AS_OF, "--step", step,
            "--out", "report_out", "--pseudonym-key", BENCH_KEY]
    if html:
        argv += ["--html", html]
    return argv


def fresh(work, name, baseline):
    """A new working folder whose report_out/ holds last week's export."""
    folder = tempfile.mkdtemp(prefix=f"{name}-", dir=work)
    os.makedirs(os.path.join(folder, "report_out"))
    shutil.copy(baseline, os.path.join(folder, "report_out", "customers.parquet"))
    return folder


def tasks(binary, python, data):
    """(row label, segsql argv, Python argv, Python step name), in the order they run."""
    rows = []
    for script in SCRIPTS:
        rows.append((f"{script}.sql", segsql_argv(binary, data, os.path.join(ROOT, "queries", f"{script}.sql")),
                     python_argv(python, data, script[:2]), script))
    rows.append(("whole report, one process (`report.sql --html`; Python `--step all --html`)",
                 segsql_argv(binary, data, os.path.join(ROOT, "queries", "report.sql"), html="report.html"),
                 python_argv(python, data, "all", html="report.html"), "all"))
    return rows


NOT_RUN = "not run at this size (--python-sizes)"


def run_size(binary, python, data, baseline, runs, work, timeout, memory_cap_mb, log, with_python=True):
    """{label: {"segsql": [Run], "python": [Run]}}, runs interleaved."""
    results = {}
    for r in range(runs):
        sides = {"segsql": fresh(work, "segsql-scripts", baseline), "python": fresh(work, "python-scripts", baseline)}
        for label, seg, py, step in tasks(binary, python, data):
            if step == "all":  # the whole report starts from a clean folder on each side
                for folder in sides.values():
                    shutil.rmtree(folder, ignore_errors=True)
                sides = {"segsql": fresh(work, "segsql-all", baseline), "python": fresh(work, "python-all", baseline)}
            cell = results.setdefault(label, {"segsql": [], "python": []})
            for side, argv, limits in (("segsql", seg, {}), ("python", py, {"memory_cap_mb": memory_cap_mb, "first_to_kill": True})):
                if side == "python" and not with_python:
                    cell[side].append(Run(0.0, 0.0, NOT_RUN))
                    continue
                failed = [run for run in cell[side] if run.reason]
                # A run that did not finish is not tried again (another 30 minutes to learn the same).
                cell[side].append(failed[0] if failed else measured(argv, sides[side], timeout, **limits))
                log(f"run {r + 1} {label} {side}: {shown_run(cell[side][-1])}" + (" (not tried again)" if failed else ""))
        for folder in sides.values():
            shutil.rmtree(folder, ignore_errors=True)
    return results


def limited_run(binary, data, baseline, work, timeout, log):
    """The whole report once under --memory-limit 4G."""
    folder = fresh(work, "segsql-limited", baseline)
    argv = segsql_argv(binary, data, os.path.join(ROOT, "queries", "report.sql"), html="report.html", memory_limit="4G")
    run = measured(argv, folder, timeout)
    log(f"whole report under --memory-limit 4G: {shown_run(run)}")
    return run


def shown_run(run):
    return f"{run.wall:.2f} s, {run.peak_mb:.0f} MB" + (f", did not finish ({run.reason})" if run.reason else "")


def median_of(runs):
    """(wall, peak) medians, or the reason the side did not finish."""
    failed = [run.reason for run in runs if run.reason]
    if failed:
        return None, failed[0]
    return (statistics.median(r.wall for r in runs), statistics.median(r.peak_mb for r in runs)), None


# ---------------------------------------------------------------- the table


def versions(binary, python):
    segsql = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", "src", "udfs", "algo", "queries", "Cargo.toml",
                              "Cargo.lock"]).returncode != 0
    if commit and changed:
        commit += " with uncommitted changes to src/udfs/algo/queries"
    probe = (
        "import importlib.metadata as m, platform; "
        "print(f'Python {platform.python_version()}, ' + ', '.join(f'{n} {m.version(n)}' for n in "
        "['pandas', 'numpy', 'pyarrow', 'scikit-learn', 'scipy', 'lifetimes', 'statsmodels']))"
    )
    peers = subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.strip()
    return f"{segsql} at commit {commit or 'unknown'}; {peers}"


def customers_with_orders(binary, data):
    out, _, _, _ = compare.measured([binary, "-q", "--format", "csv", "--data", data, "-c",
                                     f"SELECT count(DISTINCT customer_id) FROM orders WHERE order_ts < DATE '{AS_OF}' + INTERVAL '1 day'"])
    return int(out.strip().splitlines()[-1])


def size_table(size, results, limited):
    lines = [
        "| script | segsql wall s | segsql peak MB | Python wall s | Python peak MB | segsql / Python |",
        "|---|---|---|---|---|---|",
    ]
    whole = {}
    for label, sides in results.items():
        seg, seg_failed = median_of(sides["segsql"])
        py, py_failed = median_of(sides["python"])
        cells = []
        for value, failed in ((seg, seg_failed), (py, py_failed)):
            if failed == NOT_RUN:
                cells += ["not run", "-"]
                continue
            cells += [f"did not finish ({failed})", "-"] if failed else [f"{value[0]:.2f}", f"{value[1]:.0f}"]
        ratio = f"{seg[0] / py[0]:.3f}" if seg and py else "-"
        lines.append(f"| {label} | {' | '.join(cells)} | {ratio} |")
        if label.startswith("whole report"):
            whole = {"segsql": (seg, seg_failed), "python": (py, py_failed)}
    if limited is not None:
        state = f"did not finish ({limited.reason})" if limited.reason else "completed"
        lines.append(f"| whole report under `--memory-limit 4G` (1 run): {state} | "
                     f"{limited.wall:.2f} | {limited.peak_mb:.0f} | - | - | - |")
    return lines, whole


def targets(wholes, limited, timeout):
    """issue 19's targets: 10M whole report <= 60 s and <= 4 GB; <= 0.25x Python at 10M;
    50M completes under --memory-limit 4G."""
    rows = ["| target (issue 19) | measured | met |", "|---|---|---|"]
    if "10M" not in wholes:
        rows.append("| whole report on 10M lines in at most 60 s and 4 GB, at most 0.25× the Python pipeline's time | 10M not run | - |")
    seg, seg_failed = wholes.get("10M", {}).get("segsql", (None, "not run"))
    py, py_failed = wholes.get("10M", {}).get("python", (None, "not run"))
    if "10M" not in wholes:
        pass
    elif seg:
        rows.append(f"| whole report on 10M lines in at most 60 s | {seg[0]:.1f} s | {'met' if seg[0] <= 60 else 'not met'} |")
        rows.append(f"| whole report on 10M lines in at most 4 GB (4,096 MB) | {seg[1]:.0f} MB | {'met' if seg[1] <= 4096 else 'not met'} |")
    else:
        rows.append(f"| whole report on 10M lines in at most 60 s and 4 GB | did not finish ({seg_failed}) | not met |")
    if "10M" not in wholes:
        pass
    elif seg and py:
        ratio = seg[0] / py[0]
        rows.append(f"| at most 0.25× the Python pipeline's time on 10M lines | {ratio:.3f} ({seg[0]:.1f} s / {py[0]:.1f} s) | "
                    f"{'met' if ratio <= 0.25 else 'not met'} |")
    elif seg and py_failed.startswith("timed out"):
        bound = seg[0] / timeout
        rows.append(f"| at most 0.25× the Python pipeline's time on 10M lines | below {bound:.3f} ({seg[0]:.1f} s; Python {py_failed}) | "
                    f"{'met' if bound <= 0.25 else 'not known'} |")
    elif seg:
        rows.append(f"| at most 0.25× the Python pipeline's time on 10M lines | Python did not finish ({py_failed}) | not known |")
    else:
        rows.append("| at most 0.25× the Python pipeline's time on 10M lines | - | not met |")
    if limited is None:
        rows.append("| 50M lines complete under `--memory-limit 4G` | 50M not run | - |")
    else:
        state = f"did not finish ({limited.reason})" if limited.reason else f"completed in {limited.wall:.1f} s, peak {limited.peak_mb:.0f} MB"
        rows.append(f"| 50M lines complete under `--memory-limit 4G` | {state} | {'not met' if limited.reason else 'met'} |")
    return rows


def write_section(file, text):
    """Replaces what is between the markers, adding the heading and markers before
    '## Start-up' when they are missing."""
    with open(file) as f:
        current = f.read()
    start, end = MARKERS
    if start not in current or end not in current:
        block = f"{HEADING}\n\n{start}\n{end}\n\n"
        anchor = "## Start-up"
        current = current.replace(anchor, block + anchor, 1) if anchor in current else current + "\n" + block
    before = current[: current.index(start) + len(start)]
    after = current[current.index(end):]
    with open(file, "w") as f:
        f.write(before + "\n" + text + "\n" + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "segsql"))
    parser.add_argument("--python", required=True, help="the venv's python (benches/peers_venv.sh)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1M,10M,50M")
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--timeout", type=float, default=30, help="minutes per run before it is stopped (default 30)")
    parser.add_argument("--memory-cap", type=float, default=None,
                        help="GiB of RSS above which a Python run is stopped (default 90%% of RAM)")
    parser.add_argument("--skip-check", action="store_true", help="do not run python_report.py --check first")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--python-sizes", default=None,
                        help="sizes at which the Python side runs too (default: every size); e.g. 1M,10M keeps a 50M run "
                             "to segsql alone, whose Python steps take hours")
    parser.add_argument("--write", help="update this BENCHMARKS.md between the report-job markers")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    python = args.python
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    folders = {size: os.path.join(args.data_root, f"report-{SIZES[size]}-v{DATA_VERSION}") for size in sizes}
    timeout = args.timeout * 60
    python_sizes = None if args.python_sizes is None else {s.strip() for s in args.python_sizes.split(",") if s.strip()}
    memory_cap_mb = (args.memory_cap * 1024) if args.memory_cap else 0.9 * memory_total_mb()

    if args.dry_run:
        print(shlex.join([python, os.path.join(HERE, "python_report.py"), "--check", "--binary", binary]))
        for size in sizes:
            print(f"# {size}: {folders[size]} (segsql generate --customers {SIZES[size]})")
            for label, seg, py, _ in tasks(binary, python, folders[size]):
                print(f"# {label}\n{shlex.join(seg)}\n{shlex.join(py)}")
            if size == "50M":
                print(shlex.join(segsql_argv(binary, folders[size], os.path.join(ROOT, "queries", "report.sql"),
                                             html="report.html", memory_limit="4G")))
        return

    def log(message):
        print(message, file=sys.stderr, flush=True)

    check_lines = []
    if not args.skip_check:
        done = subprocess.run([python, os.path.join(HERE, "python_report.py"), "--check", "--binary", binary],
                              capture_output=True, text=True)
        log(done.stdout + done.stderr)
        summary = [line for line in done.stdout.splitlines() if line.startswith("Check:")]
        failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
        check_lines.append(
            f"Equal answers: `python benches/python_report.py --check` on the sample data (5,000 customers) compares every "
            f"result table and export of the two sides: **{summary[0][len('Check: '):] if summary else f'did not run (exit {done.returncode})'}**"
            + (". Failing: " + "; ".join(f"`{line[6:].split(':')[0]}`" for line in failures) if failures else "") + "."
        )

    work = tempfile.mkdtemp(prefix="segsql-report-job-")
    tables, wholes, limited, counts = [], {}, None, {}
    try:
        for size in sizes:
            data = ensure_data(binary, SIZES[size], folders[size])
            counts[size] = (suite.order_lines(binary, data), customers_with_orders(binary, data))
            log(f"{size}: {data}, {counts[size][0]:,} order lines, {counts[size][1]:,} customers with orders")
            size_work = tempfile.mkdtemp(prefix=f"{size}-", dir=work)
            baseline = make_baseline(binary, data, os.path.join(size_work, "baseline"))
            with_python = python_sizes is None or size in python_sizes
            results = run_size(binary, python, data, baseline, args.runs, size_work, timeout, memory_cap_mb, log, with_python)
            size_limited = limited_run(binary, data, baseline, size_work, timeout, log) if size == "50M" else None
            limited = size_limited or limited
            lines, whole = size_table(size, results, size_limited)
            wholes[size] = whole
            tables += [f"### {size} order lines ({counts[size][0]:,} lines, {counts[size][1]:,} customers with orders)", "", *lines, ""]
            shutil.rmtree(size_work, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    flags = [f"--sizes {args.sizes}"] if sizes != list(SIZES) else []
    flags += [f"--timeout {args.timeout:g}"] if args.timeout != 30 else []
    flags += [f"--memory-cap {args.memory_cap:g}"] if args.memory_cap else []
    flags += ["--skip-check"] if args.skip_check else []
    flags += [f"--python-sizes {args.python_sizes}"] if args.python_sizes is not None else []
    text = [
        f"Measured {datetime.date.today().isoformat()} by `{' '.join(['bash benches/report_job.sh', str(args.runs), *flags])}` "
        f"({args.runs} interleaved run{'s, medians' if args.runs > 1 else ''}; "
        f"a run is stopped after {args.timeout:.0f} min, a Python run above {memory_cap_mb / 1024:.0f} GiB of RSS).",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {memory_total_mb() / 1024:.0f} GiB, {platform.platform()}; "
        "segsql --threads 2; scikit-learn with 2 OpenMP/BLAS threads, pandas and lifetimes single-threaded.",
        f"Versions: {versions(binary, python)}.",
        "Data: " + ", ".join(f"{size} = {counts[size][0]:,} order lines (`segsql generate --customers {SIZES[size]}`, all four tables)"
                             for size in sizes) + f"; as_of {AS_OF}, the audience export on (a pseudonym key given).",
        *check_lines,
        "",
        *tables,
        "### Targets",
        "",
        *targets(wholes, limited, timeout),
    ]
    text = "\n".join(text)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
