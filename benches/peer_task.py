#!/usr/bin/env python3
"""Runs one peer task and prints its checksum and the seconds the work took, as JSON.

    python benches/peer_task.py duckdb_rfm DATA_DIR
    python benches/peer_task.py sklearn_kmeans_lloyd DATA_DIR   # needs benches/cluster_data.py DATA_DIR

Each task reads the same Parquet file segsql reads; the time excludes interpreter start-up
and imports but includes reading the data, as segsql's does. (The scikit-learn tasks import
their modules before the clock starts; the older tasks import inside their function.)
scikit-learn, OpenMP and BLAS get 2 threads, as segsql (--threads 2) and DuckDB do.
"""

import importlib
import json
import os
import sys
import time

# Two threads for OpenMP (scikit-learn's k-means, distances) and BLAS; must precede numpy.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "2"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_data import DBSCAN_EPS, DBSCAN_MIN_SAMPLES  # noqa: E402  (light: no numpy)

TASKS = {}
IMPORTS = {}


def task(name, imports=()):
    """Registers a task; `imports` are loaded before the clock starts."""

    def register(function):
        TASKS[name] = function
        IMPORTS[name] = imports
        return function

    return register


def duckdb_connection():
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    return connection


RFM_SQL = """
WITH customers AS (
    SELECT customer_id,
           date_diff('day', max(order_ts::DATE), (SELECT max(order_ts)::DATE + 1 FROM '{orders}')) AS recency_days,
           count(*) AS frequency,
           sum(amount) AS monetary
    FROM '{orders}'
    GROUP BY customer_id
), scored AS (
    SELECT *,
           1 + floor(5 * (rank() OVER (ORDER BY recency_days DESC) - 1) / count(*) OVER ()) AS r_score,
           1 + floor(5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ()) AS f_score,
           1 + floor(5 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER ()) AS m_score
    FROM customers
)
SELECT count(*), sum(r_score), sum(f_score), sum(m_score), sum(recency_days), sum(frequency), sum(monetary)
FROM scored
"""

RETENTION_SQL = """
WITH events AS (
    SELECT customer_id, date_trunc('month', order_ts) AS month FROM '{orders}'
), firsts AS (
    SELECT customer_id, min(month) AS cohort FROM events GROUP BY customer_id
), activity AS (
    SELECT DISTINCT e.customer_id, f.cohort, e.month FROM events e JOIN firsts f USING (customer_id)
), cells AS (
    SELECT cohort, date_diff('month', cohort, month) AS period, count(*) AS active_users
    FROM activity GROUP BY cohort, period
), sizes AS (
    SELECT cohort, active_users AS cohort_size FROM cells WHERE period = 0
)
SELECT count(*), sum(active_users), sum(active_users / cohort_size)
FROM cells JOIN sizes USING (cohort)
"""


@task("duckdb_rfm")
def duckdb_rfm(data, orders="orders"):
    return duckdb_connection().execute(RFM_SQL.format(orders=f"{data}/{orders}.parquet")).fetchall()[0]


@task("duckdb_rfm_f64")
def duckdb_rfm_f64(data):
    return duckdb_rfm(data, "orders_f64")


@task("duckdb_retention")
def duckdb_retention(data, orders="orders"):
    return duckdb_connection().execute(RETENTION_SQL.format(orders=f"{data}/{orders}.parquet")).fetchall()[0]


@task("duckdb_retention_f64")
def duckdb_retention_f64(data):
    return duckdb_retention(data, "orders_f64")


@task("lifetimes_summary_f64")
def lifetimes_summary_f64(data):
    return lifetimes_summary(data, "orders_f64")


@task("lifetimes_summary")
def lifetimes_summary(data, file="orders"):
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    orders = pd.read_parquet(f"{data}/{file}.parquet", columns=["customer_id", "order_ts", "amount"])
    orders["amount"] = orders["amount"].astype(float)
    summary = summary_data_from_transaction_data(orders, "customer_id", "order_ts", "amount")
    return (
        len(summary),
        float(summary["frequency"].sum()),
        float(summary["recency"].sum()),
        float(summary["T"].sum()),
        float(summary["monetary_value"].sum()),
    )


LIFETIMES_IMPORTS = ("numpy", "pandas", "pyarrow.parquet", "lifetimes")


def btyd(data):
    import pandas as pd

    return pd.read_parquet(f"{data}/btyd.parquet", columns=["frequency", "recency", "T", "monetary_value"])


@task("lifetimes_bgnbd_fit", LIFETIMES_IMPORTS)
def lifetimes_bgnbd_fit(data):
    import numpy as np
    from lifetimes import BetaGeoFitter

    summary = btyd(data)
    model = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    # The sum of log-likelihoods in days, as segsql's CREATE MODEL reports it.
    ll = -model._negative_log_likelihood_ * len(summary) - summary["frequency"].sum() * np.log(summary["T"].max())
    return (ll,)


@task("lifetimes_clv_scoring", LIFETIMES_IMPORTS)
def lifetimes_clv_scoring(data):
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    with open(f"{data}/clv_params.json") as f:
        values = json.load(f)
    # segsql's fitted parameters, so that both tools score with the same model.
    bg, gg = BetaGeoFitter(), GammaGammaFitter()
    bg.params_ = pd.Series({k: values[k] for k in ("r", "alpha", "a", "b")})
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time  # as fit() sets it
    gg.params_ = pd.Series({k: values[k] for k in ("p", "q", "v")})
    s = btyd(data)
    alive = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    expected = bg.conditional_expected_number_of_purchases_up_to_time(30, s["frequency"], s["recency"], s["T"])
    clv = gg.customer_lifetime_value(
        bg, s["frequency"], s["recency"], s["T"], s["monetary_value"], time=12, discount_rate=0.01, freq="D"
    )
    return (len(s), float(alive.sum()), float(expected.sum()), float(clv.sum()))


@task("sklearn_logistic", ("numpy", "pyarrow.parquet", "sklearn.linear_model"))
def sklearn_logistic(data):
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression

    table = pq.read_table(f"{data}/propensity.parquet")
    x = np.column_stack([table.column(f"x{i}").to_numpy() for i in range(1, 6)])
    y = table.column("y").to_numpy(zero_copy_only=False)
    model = LogisticRegression(C=1.0, tol=1e-6, max_iter=1000).fit(x, y)
    z = model.intercept_[0] + x @ model.coef_[0]
    # The penalised mean log-loss segsql's CREATE MODEL reports, at this optimum.
    objective = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(model.coef_ ** 2) / len(y)
    return (objective,)


SKLEARN_IMPORTS = ("numpy", "pyarrow.parquet", "sklearn.cluster", "sklearn.metrics")


def points(path, columns):
    """Reads columns of a Parquet file into an (n, len(columns)) float64 array."""
    import numpy as np
    import pyarrow.parquet as pq

    return points_of(pq.read_table(path, columns=list(columns)), columns)


def points_of(table, columns):
    import numpy as np

    return np.column_stack([table[c].to_numpy().astype(np.float64, copy=False) for c in columns])


def labelled(path):
    """x, y, z and the label column of a sil*.parquet file."""
    import pyarrow.parquet as pq

    return points(path, ("x", "y", "z")), pq.read_table(path, columns=["label"])["label"].to_numpy()


def same_start(data, algorithm):
    """KMeans from the centres in init8.parquet (scikit-learn's kmeans_plusplus, written by
    cluster_data.py), as segsql's `init = (SELECT ...)` starts."""
    import pyarrow.parquet as pq
    from sklearn.cluster import KMeans

    features = points(f"{data}/features.parquet", ("r", "f", "m"))
    init = pq.read_table(f"{data}/init8.parquet").sort_by("i")
    centres = points_of(init, ("r", "f", "m"))
    model = KMeans(n_clusters=len(centres), init=centres, n_init=1, algorithm=algorithm).fit(features)
    return [model.n_iter_, model.inertia_]


@task("sklearn_kmeans_lloyd", SKLEARN_IMPORTS)
def sklearn_kmeans_lloyd(data):
    return same_start(data, "lloyd")


@task("sklearn_kmeans_elkan", SKLEARN_IMPORTS)
def sklearn_kmeans_elkan(data):
    return same_start(data, "elkan")


@task("sklearn_kmeans_plusplus", SKLEARN_IMPORTS)
def sklearn_kmeans_plusplus(data):
    from sklearn.cluster import KMeans

    features = points(f"{data}/features.parquet", ("r", "f", "m"))
    model = KMeans(n_clusters=8, n_init=1, max_iter=1, random_state=0, algorithm="lloyd").fit(features)
    return [model.n_iter_, model.inertia_]


@task("sklearn_silhouette20k", SKLEARN_IMPORTS)
def sklearn_silhouette20k(data):
    from sklearn.metrics import silhouette_score

    return [silhouette_score(*labelled(f"{data}/sil20k.parquet"))]


@task("sklearn_silhouette200k_mem", SKLEARN_IMPORTS)
def sklearn_silhouette200k_mem(data):
    """Exact silhouette of 200,000 points: slow (n^2 distances) and memory-hungry; optional."""
    from sklearn.metrics import silhouette_score

    return [silhouette_score(*labelled(f"{data}/sil200k.parquet"))]


@task("sklearn_silhouette1m_sampled", SKLEARN_IMPORTS)
def sklearn_silhouette1m_sampled(data):
    from sklearn.metrics import silhouette_score

    x, label = labelled(f"{data}/sil1m.parquet")
    return [silhouette_score(x, label, sample_size=10000, random_state=0)]


@task("sklearn_dbscan100k", SKLEARN_IMPORTS)
def sklearn_dbscan100k(data):
    from sklearn.cluster import DBSCAN

    label = DBSCAN(eps=DBSCAN_EPS, min_samples=DBSCAN_MIN_SAMPLES).fit(points(f"{data}/points100k.parquet", ("x", "y"))).labels_
    return [len(set(label.tolist()) - {-1}), int((label == -1).sum())]


@task("sklearn_hclust20k", SKLEARN_IMPORTS)
def sklearn_hclust20k(data):
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering

    label = AgglomerativeClustering(n_clusters=8, linkage="ward").fit(points(f"{data}/hclust20k.parquet", ("x", "y", "z"))).labels_
    return sorted(np.bincount(label).tolist())


TRANSITIONS_SQL = """
WITH moves AS (
    SELECT CASE WHEN p.customer_id IS NULL THEN '(new)' ELSE p.segment END AS from_segment,
           CASE WHEN c.customer_id IS NULL THEN '(gone)' ELSE c.segment END AS to_segment
    FROM '{data}/snap_prev.parquet' p FULL JOIN '{data}/snap_curr.parquet' c ON p.customer_id = c.customer_id
), cells AS (
    SELECT from_segment, to_segment, count(*) AS customers FROM moves GROUP BY from_segment, to_segment
), shares AS (
    SELECT customers, customers / sum(customers) OVER (PARTITION BY from_segment) AS share_of_from FROM cells
)
SELECT count(*), sum(customers), sum(share_of_from) FROM shares
"""

PSI_SQL = """
WITH p AS (SELECT segment, count(*) AS n FROM '{data}/snap_prev.parquet' GROUP BY segment),
     c AS (SELECT segment, count(*) AS n FROM '{data}/snap_curr.parquet' GROUP BY segment),
     bins AS (SELECT coalesce(p.n, 0) AS e, coalesce(c.n, 0) AS a FROM p FULL JOIN c ON p.segment = c.segment),
     shares AS (SELECT greatest(e / sum(e) OVER (), 1e-4) AS e, greatest(a / sum(a) OVER (), 1e-4) AS a FROM bins)
SELECT sum((a - e) * ln(a / e)) FROM shares
"""


@task("duckdb_transitions", imports=("duckdb",))
def duckdb_transitions(data):
    return duckdb_connection().execute(TRANSITIONS_SQL.format(data=data)).fetchone()


@task("duckdb_psi", imports=("duckdb",))
def duckdb_psi(data):
    return duckdb_connection().execute(PSI_SQL.format(data=data)).fetchone()


@task("python_hmac", imports=("hmac", "hashlib", "pyarrow.parquet"))
def python_hmac(data):
    import hashlib
    import hmac

    import pyarrow.parquet as pq

    ids = pq.read_table(os.path.join(data, "snap_curr.parquet"), columns=["customer_id"]).column(0).to_pylist()
    key = b"bench-key-0123456789abcdef"
    pseudonyms = [hmac.new(key, str(i).encode(), hashlib.sha256).hexdigest() for i in ids]
    return [len(pseudonyms), sum(p.startswith("0") for p in pseudonyms)]


def main():
    name, data = sys.argv[1], sys.argv[2]
    for module in IMPORTS[name]:
        importlib.import_module(module)
    started = time.perf_counter()
    checksum = TASKS[name](data)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "checksum": [float(x) for x in checksum]}))


if __name__ == "__main__":
    main()
