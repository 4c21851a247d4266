#!/usr/bin/env python3
"""segsql against its peers, side by side on the same data, interleaved run by run.

    bash benches/run.sh                          # builds, makes the venv and the data, then runs this
    bash benches/run.sh 1600000 3 cluster        # the clustering tasks (inputs from cluster_data.py)
    python benches/compare.py --python PY --data DIR --tasks sql,kmeans_same_start --dry-run   # argv only

For every task each tool runs `--runs` times in turn (A B A B ...), each run a fresh
process. The table gives the median seconds of the work itself (segsql's `\\timing`, the
peers' own clock around the query, both including reading the Parquet file), the median
whole-process wall time, the peak memory of the process, and the ratio segsql / peer.
Checksums of the results are compared so that a fast wrong answer cannot pass; how they
are compared is each task's check (see CHECKS).

Every ratio is like for like: both sides read the same file and compute the same thing.
k-means starts both tools from the same centres (init8.parquet, scikit-learn's
kmeans_plusplus), so both run the same Lloyd iterations; the check asserts equal iteration
counts and inertia to 1e-12, and the table gives the time per iteration. Where the two sides
cannot do the same work (a sampled silhouette draws different samples), the times are shown
and no ratio is.

`--tasks` takes a comma-separated list of groups (sql, the default; cluster; clv; governance;
all = every group) and task names (the keys of SEGSQL_TASKS; silhouette200k is in no group).
"""

import argparse
import csv
import io
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cluster_data import DBSCAN_EPS, DBSCAN_MIN_SAMPLES  # noqa: E402


def first_row(header, rows):
    """The whole first row."""
    return [float(x) for x in rows[0]]


def column(name):
    """One column of the first row, by its header name."""
    return lambda header, rows: [float(rows[0][header.index(name)])]


def first_column(header, rows):
    """The first column of every row."""
    return [float(row[0]) for row in rows]


# name -> (SQL, how to read the checksum from the CSV result)
SEGSQL_TASKS = {
    "rfm": (
        "SELECT count(*), sum(r_score), sum(f_score), sum(m_score), sum(recency_days), sum(frequency), sum(monetary) "
        "FROM rfm(orders, customer_id, order_ts, amount)",
        first_row,
    ),
    "retention": (
        "SELECT count(active_users), sum(active_users), sum(retention) "
        "FROM cohort_retention(orders, customer_id, order_ts, 'month') WHERE active_users > 0",
        first_row,
    ),
    "rfm_f64": (
        "SELECT count(*), sum(r_score), sum(f_score), sum(m_score), sum(recency_days), sum(frequency), sum(monetary) "
        "FROM rfm(orders_f64, customer_id, order_ts, amount)",
        first_row,
    ),
    "retention_f64": (
        "SELECT count(active_users), sum(active_users), sum(retention) "
        "FROM cohort_retention(orders_f64, customer_id, order_ts, 'month') WHERE active_users > 0",
        first_row,
    ),
    "summary_f64": (
        'SELECT count(*), sum(frequency), sum(recency), sum("T"), sum(monetary_value) '
        "FROM rfm_summary(orders_f64, customer_id, order_ts, amount)",
        first_row,
    ),
    "summary": (
        'SELECT count(*), sum(frequency), sum(recency), sum("T"), sum(monetary_value) '
        "FROM rfm_summary(orders, customer_id, order_ts, amount)",
        first_row,
    ),
    # CREATE MODEL answers one row: model, rows, skipped, k, iterations, inertia, path.
    # Both tools start from the same centres (init8.parquet: scikit-learn's kmeans_plusplus),
    # so they run the same Lloyd iterations: the ratio compares speed, not starting points.
    "kmeans_same_start": (
        "CREATE OR REPLACE MODEL bench_kmeans USING kmeans (k = 8, n_init = 1, init = (SELECT r, f, m FROM init8 ORDER BY i)) "
        "AS SELECT r, f, m FROM features",
        lambda header, rows: [float(rows[0][header.index("iterations")]), float(rows[0][header.index("inertia")])],
    ),
    # k-means++ and one Lloyd iteration: the same passes over the data on both sides
    # (1 + 7 x 4 candidates, then one assignment and the final one), different random picks.
    "kmeans_plusplus": (
        "CREATE OR REPLACE MODEL bench_kmeans USING kmeans (k = 8, n_init = 1, max_iter = 1, seed = 0) AS SELECT r, f, m FROM features",
        lambda header, rows: [float(rows[0][header.index("iterations")]), float(rows[0][header.index("inertia")])],
    ),
    # CREATE MODEL answers model, algorithm, rows, skipped, iterations, converged,
    # log_likelihood, path: the optimum's log-likelihood is the checksum.
    "bgnbd_fit": (
        'CREATE OR REPLACE MODEL bench_bg_fit USING bgnbd AS SELECT frequency, recency, "T" FROM btyd',
        column("log_likelihood"),
    ),
    # Scored with the models benches/cluster_data.py fitted (clv-models/); lifetimes loads
    # the same parameters from clv_params.json.
    "clv_scoring": (
        "SELECT count(*), sum(p_alive('bench_bg', frequency, recency, \"T\")), "
        "sum(expected_purchases('bench_bg', 30, frequency, recency, \"T\")), "
        "sum(clv('bench_bg', 'bench_gg', frequency, recency, \"T\", monetary_value, 12, 0.01)) FROM btyd",
        first_row,
    ),
    # The same objective (mean log-loss + l2/2·‖w‖²/n) and stopping rule (largest gradient
    # component <= tol) on both sides; the checksum is the objective at the optimum.
    "logistic_fit": (
        "CREATE OR REPLACE MODEL bench_lr USING logistic_reg (label = 'y', l2 = 1.0, tol = 1e-6) "
        "AS SELECT x1, x2, x3, x4, x5, y FROM propensity",
        column("objective"),
    ),
    # Governance: two 1.6M-customer snapshots (benches/cluster_data.py). segment_transitions
    # also checks that each snapshot holds a customer once, which the DuckDB query does not.
    "transitions": (
        "SELECT count(*), sum(customers), sum(share_of_from) "
        "FROM segment_transitions(snap_prev, snap_curr, customer_id, segment)",
        first_row,
    ),
    "psi_segments": (
        "SELECT psi(p.n, c.n) FROM (SELECT segment, count(*) AS n FROM snap_prev GROUP BY segment) p "
        "FULL JOIN (SELECT segment, count(*) AS n FROM snap_curr GROUP BY segment) c ON p.segment = c.segment",
        first_row,
    ),
    "pseudonymize": (
        "SELECT count(*), count(*) FILTER (WHERE starts_with(p, '0')) "
        "FROM (SELECT pseudonymize(customer_id, 'bench-key-0123456789abcdef') AS p FROM snap_curr)",
        first_row,
    ),
    "silhouette20k": ("SELECT silhouette([x, y, z], label) FROM sil20k", first_row),
    "silhouette200k": ("SELECT silhouette([x, y, z], label) FROM sil200k", first_row),
    "silhouette1m_sampled": ("SELECT silhouette([x, y, z], label, 10000, 0) FROM sil1m", first_row),
    "dbscan100k": (
        "SELECT count(DISTINCT label) FILTER (WHERE label > 0), count(*) FILTER (WHERE label = -1) "
        f"FROM (SELECT dbscan([x, y], {DBSCAN_EPS}, {DBSCAN_MIN_SAMPLES}) OVER () AS label FROM points100k)",
        first_row,
    ),
    "hclust20k": (
        "SELECT count(*) AS size FROM (SELECT hclust([x, y, z], 8) OVER () AS label FROM hclust20k) "
        "GROUP BY label ORDER BY size",
        first_column,
    ),
}


def close(tolerance):
    """Equal within a relative tolerance (absolute below 1)."""
    return lambda a, b: len(a) == len(b) and all(
        abs(x - y) <= tolerance * max(1.0, abs(x), abs(y)) for x, y in zip(a, b)
    )


def relative(tolerance):
    """Equal within a relative tolerance, however small the values."""
    return lambda a, b: len(a) == len(b) and all(abs(x - y) <= tolerance * max(abs(x), abs(y)) for x, y in zip(a, b))


def same_fit(a, b):
    """The same number of iterations and the same inertia to 1e-12: the same run."""
    return len(a) == len(b) == 2 and a[0] == b[0] and relative(1e-12)(a[1:], b[1:])


def at_most(tolerance):
    """segsql's values are no larger than the peer's (k-means inertia: as good a fit or better)."""
    return lambda a, b: len(a) == len(b) and all(x <= y * (1 + tolerance) for x, y in zip(a, b))


# check kind -> function(segsql checksum, peer checksum) -> bool, or None: report only
CHECKS = {
    "same": close(1e-6),
    "exact": relative(1e-9),
    "equal": lambda a, b: a == b,
    "at_most": at_most(1e-9),
    "same_fit": same_fit,
    "report": None,
    "same_work": None,
}

# Checks under which the two sides did not reach the same answer (different samples, or
# k-means++ picks from different random streams): their times are shown, not divided.
NOT_A_RATIO = {"report", "same_work"}

Comparison = namedtuple("Comparison", "name group label peer peer_name check target")

# target: ("<=", ratio) for segsql / peer seconds, or None to report the times only.
COMPARISONS = [
    Comparison("rfm", "sql", "RFM scores, DECIMAL amounts", "duckdb_rfm", "DuckDB SQL", "same", ("<=", 0.8)),
    Comparison("rfm_f64", "sql", "RFM scores, DOUBLE amounts", "duckdb_rfm_f64", "DuckDB SQL", "same", ("<=", 0.6)),
    Comparison("retention", "sql", "monthly cohort retention", "duckdb_retention", "DuckDB SQL", "same", ("<=", 0.8)),
    # The same orders with DOUBLE amounts: retention reads no amount, so this row checks
    # that the file's other columns cost nothing.
    Comparison("retention_f64", "sql", "monthly cohort retention, DOUBLE file", "duckdb_retention_f64", "DuckDB SQL", "same", ("<=", 0.6)),
    Comparison("summary", "sql", "BTYD summary (rfm_summary), DECIMAL", "lifetimes_summary", "lifetimes", "same", ("<=", 1 / 20)),
    Comparison("summary_f64", "sql", "BTYD summary (rfm_summary), DOUBLE", "lifetimes_summary_f64", "lifetimes", "same", ("<=", 1 / 20)),
    Comparison("bgnbd_fit", "clv", "BG/NBD fit", "lifetimes_bgnbd_fit", "lifetimes", "same", ("<=", 1 / 50)),
    Comparison(
        "clv_scoring", "clv", "P(alive) + expected purchases + 12-month CLV, every customer", "lifetimes_clv_scoring",
        "lifetimes", "same", ("<=", 1 / 100),
    ),
    Comparison(
        "logistic_fit", "clv", "logistic_reg, 5 features, l2 = 1, tol 1e-6", "sklearn_logistic", "scikit-learn", "same",
        ("<=", 1.0),
    ),
    Comparison(
        "transitions", "governance", "segment_transitions, two 1.6M-customer snapshots", "duckdb_transitions",
        "DuckDB SQL (FULL JOIN + GROUP BY)", "same", ("<=", 0.8),
    ),
    Comparison("psi_segments", "governance", "psi of segment shares, two snapshots", "duckdb_psi", "DuckDB SQL", "same", ("<=", 0.8)),
    # The target is absolute (2 million ids a second per core); Python's hmac is the reference
    # for the answers and the scale.
    Comparison("pseudonymize", "governance", "pseudonymize, HMAC-SHA256 of every id", "python_hmac", "Python hmac", "same", None),
    Comparison(
        "kmeans_same_start", "cluster", "k-means k=8 from the same centres vs lloyd", "sklearn_kmeans_lloyd", "scikit-learn",
        "same_fit", ("<=", 1.0),
    ),
    Comparison(
        "kmeans_same_start", "cluster", "k-means k=8 from the same centres vs elkan", "sklearn_kmeans_elkan", "scikit-learn",
        "same_fit", ("<=", 1.0),
    ),
    # Same work (k-means++ with 2 + ln k candidates per centre, one Lloyd pass), but each
    # tool's random generator picks other centres, so the inertias only get reported.
    Comparison(
        "kmeans_plusplus", "cluster", "k-means++ start and 1 iteration", "sklearn_kmeans_plusplus", "scikit-learn",
        "same_work", ("<=", 1.0),
    ),
    Comparison("silhouette20k", "cluster", "silhouette, 20k points", "sklearn_silhouette20k", "scikit-learn", "exact", ("<=", 0.25)),
    # The two tools draw different samples of 10,000 points: different work, no ratio.
    Comparison(
        "silhouette1m_sampled", "cluster", "silhouette, 1M points sampled to 10k", "sklearn_silhouette1m_sampled",
        "scikit-learn", "report", None,
    ),
    Comparison("dbscan100k", "cluster", "DBSCAN, 100k 2-D points", "sklearn_dbscan100k", "scikit-learn", "equal", ("<=", 1.0)),
    Comparison("hclust20k", "cluster", "Ward clustering, 20k points", "sklearn_hclust20k", "scikit-learn", "equal", None),
    # Slow and memory-hungry in scikit-learn: only when asked for by name.
    Comparison("silhouette200k", "optional", "silhouette, 200k points", "sklearn_silhouette200k_mem", "scikit-learn", "exact", None),
]

GROUPS = {
    "sql": ["sql"],
    "cluster": ["cluster"],
    "clv": ["clv"],
    "governance": ["governance"],
    "all": ["sql", "cluster", "clv", "governance"],
}


def selected(tasks):
    """The comparisons named by --tasks, in COMPARISONS order."""
    names = set()
    for word in filter(None, (w.strip() for w in tasks.split(","))):
        if word in GROUPS:
            names.update(c.name for c in COMPARISONS if c.group in GROUPS[word])
        elif word in {c.name for c in COMPARISONS}:
            names.add(word)
        else:
            choices = ", ".join(list(GROUPS) + [c.name for c in COMPARISONS])
            raise SystemExit(f"--tasks: unknown task or group '{word}'; choose from {choices}")
    return [c for c in COMPARISONS if c.name in names]


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


# Tasks that score with models fitted beforehand read them from this folder of the data.
TASK_MODELS = {"clv_scoring": "clv-models"}


def segsql_argv(binary, data, models, task):
    if task in TASK_MODELS:
        models = os.path.join(data, TASK_MODELS[task])
    return [
        binary, "--threads", "2", "--data", data, "--models", models, "--format", "csv",
        "-c", "\\timing on", "-c", SEGSQL_TASKS[task][0],
    ]


def segsql_run(binary, data, models, task):
    out, err, wall, rss = measured(segsql_argv(binary, data, models, task))
    seconds = sum(float(t) for t in re.findall(r"Time: ([0-9.]+) s", err))
    header, *rows = list(csv.reader(io.StringIO(out.strip())))
    checksum = SEGSQL_TASKS[task][1](header, rows)
    return seconds, wall, rss, checksum


def peer_argv(python, data, task):
    return [python, os.path.join(HERE, "peer_task.py"), task, data]


def peer_run(python, data, task):
    out, _, wall, rss = measured(peer_argv(python, data, task))
    result = json.loads(out)
    return result["seconds"], wall, rss, result["checksum"]


def shown_ratio(ratio):
    return "- (different work)" if ratio is None else f"{ratio:.3f}"


def shown(values):
    return "[" + ", ".join(f"{v:.10g}" for v in values) + "]"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/segsql")
    parser.add_argument("--python", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", default="sql", help="groups (sql, cluster, all) and task names, comma-separated")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    comparisons = selected(args.tasks)

    models = tempfile.mkdtemp(prefix="segsql-bench-models-")  # CREATE MODEL writes here
    try:
        if args.dry_run:
            for c in comparisons:
                print(f"# {c.name}: {c.label}; answers {c.check}, target {' '.join(map(str, c.target)) if c.target else 'report'}")
                print(shlex.join(segsql_argv(binary, args.data, models, c.name)))
                print(shlex.join(peer_argv(args.python, args.data, c.peer)))
            return
        rows = [compare(c, binary, args, models) for c in comparisons]
    finally:
        shutil.rmtree(models, ignore_errors=True)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}")
    print(
        f"Data: {args.data}; median of {args.runs} interleaved runs; segsql --threads 2, DuckDB threads = 2, "
        "scikit-learn with 2 OpenMP/BLAS threads.\n"
    )
    print("| task | segsql (s) | peer | peer (s) | segsql / peer | target | met | same answer | segsql wall / peak MB | peer wall / peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c, med, ratio, met, answer in rows:
        s, p = med["segsql"], med[c.peer_name]
        target = f"<= {c.target[1]:.3g}" if c.target else "report"
        print(
            f"| {c.label} | {s[0]:.3f} | {c.peer_name} | {p[0]:.3f} | {shown_ratio(ratio)} | {target} | {met} | "
            f"{answer} | {s[1]:.2f} s / {s[2]:.0f} | {p[1]:.2f} s / {p[2]:.0f} |"
        )


def compare(c, binary, args, models):
    """Runs one comparison; returns (comparison, medians per tool, ratio, met, answer)."""
    results = {"segsql": [], c.peer_name: []}
    for _ in range(args.runs):
        results["segsql"].append(segsql_run(binary, args.data, models, c.name))
        results[c.peer_name].append(peer_run(args.python, args.data, c.peer))
    med = {tool: [statistics.median(r[i] for r in runs) for i in range(3)] for tool, runs in results.items()}
    ours, theirs = results["segsql"][0][3], results[c.peer_name][0][3]
    check = CHECKS[c.check]
    if check is None:
        answer = f"{c.check}: {shown(ours)} vs {shown(theirs)}"
    else:
        answer = "yes" if check(ours, theirs) else "NO"
    if c.check == "same_fit":
        # [iterations, inertia] on both sides: the time per iteration of the whole task.
        per = [med[tool][0] / max(r[3][0], 1) * 1000 for tool, r in ((t, results[t][0]) for t in ("segsql", c.peer_name))]
        answer += f" ({ours[0]:.0f} vs {theirs[0]:.0f} iterations; {per[0]:.1f} vs {per[1]:.1f} ms per iteration)"
    if c.check in NOT_A_RATIO:
        ratio, met = None, "-"
    else:
        ratio = med["segsql"][0] / med[c.peer_name][0]
        if c.target is None:
            met = "-"
        else:
            direction, target = c.target
            met = "yes" if (ratio <= target if direction == "<=" else ratio >= target) else "NO"
    print(
        f"{c.label}: segsql {med['segsql'][0]:.3f} s, {c.peer_name} {med[c.peer_name][0]:.3f} s, ratio {shown_ratio(ratio)}; "
        f"answers {shown(ours)} vs {shown(theirs)} ({c.check})",
        file=sys.stderr,
    )
    return c, med, ratio, met, answer


if __name__ == "__main__":
    main()
