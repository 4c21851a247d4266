#!/usr/bin/env python3
"""Writes the inputs of the clustering benchmarks next to orders.parquet, once.

    python benches/cluster_data.py DATA_DIR [SEGSQL]   # the peers' venv python (benches/run.sh does)

Files that already exist are left alone (delete one to make it again). Every step has a
fixed seed and runs with 2 threads, so a rerun writes byte-identical files:

  features.parquet    customer_id, r, f, m (DOUBLE): each customer's recency_days, frequency
                      and monetary from orders.parquet (computed with DuckDB, as in the RFM
                      benchmark), z-scored with the population standard deviation (ddof=0),
                      ordered by customer_id (~1.6M rows at the default size)
  sil20k.parquet      x, y, z, label (INT): the first 20,000 rows of features (by customer_id)
                      with label = 1 + KMeans(n_clusters=8, n_init=1, random_state=0) fitted
                      on those rows
  sil200k.parquet     the same for the first 200,000 rows
  sil1m.parquet       the same for the first 1,000,000 rows (also KMeans with n_init=1,
                      random_state=0, Lloyd, fitted on those rows; not MiniBatchKMeans)
  points100k.parquet  id, x, y: make_blobs(95,000 points, 10 centres, std 0.5, box (-10, 10),
                      random_state=0) then 5,000 uniform points (default_rng(0)) in the
                      blobs' bounding box; DBSCAN with DBSCAN_EPS and DBSCAN_MIN_SAMPLES
  hclust20k.parquet   x, y, z: the first 20,000 rows of features
  init8.parquet       i, r, f, m: KMEANS_K starting centres for features, scikit-learn's
                      kmeans_plusplus(random_state=0), which both tools start k-means from
  orders_f64.parquet  orders.parquet with amount cast to DOUBLE (as most CSV exports have
                      it), written by segsql as `segsql generate` writes; the suite makes it
                      at every size

  btyd.parquet        customer_id, frequency, recency, T, monetary_value: rfm_summary of
                      orders.parquet by day, written by segsql (equal to lifetimes'
                      summary_data_from_transaction_data, as the parity tests check)
  clv-models/         bench_bg (BG/NBD) and bench_gg (Gamma-Gamma, repeat buyers with a
                      positive spend) fitted by segsql on btyd.parquet, for the scoring task
  clv_params.json     those models' parameters, which the lifetimes scoring task loads, so
                      that both tools score with the same parameters

  snap_prev.parquet,  customer_id, segment, recency_days, frequency, monetary (DOUBLE): rfm()
  snap_curr.parquet   of orders.parquet as of 2025-06-30 and as of 2025-12-31, written by
                      segsql ordered by customer_id: two weekly snapshots of the same
                      customers for the governance benchmarks

  propensity.parquet  x1..x5 (DOUBLE, different scales) and y (BOOLEAN) for as many rows as
                      features.parquet: y drawn from a logistic model (default_rng(0)), for
                      the logistic_reg benchmark

When orders.parquet has fewer customers than a file asks for, the file holds all of them.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# compare.py and peer_task.py import the constants below, so this module imports nothing
# heavy at the top: numpy, pyarrow and scikit-learn are imported where they are used.

SEED = 0
KMEANS_K = 8
SILHOUETTE_SIZES = {"sil20k": 20_000, "sil200k": 200_000, "sil1m": 1_000_000}
HCLUST_ROWS = 20_000
BLOB_POINTS = 95_000
BLOB_CENTERS = 10
NOISE_POINTS = 5_000
# DBSCAN parameters for points100k (sklearn semantics: a point is core when at least
# min_samples points, itself included, lie within distance <= eps). With these, sklearn finds
# 9 clusters (two of the ten blobs overlap and merge) and 6,162 noise points; neighbourhoods
# hold 204 points on average, 456 at most.
DBSCAN_EPS = 0.15
DBSCAN_MIN_SAMPLES = 20

FEATURES_SQL = """
SELECT customer_id,
       date_diff('day', max(order_ts::DATE), (SELECT max(order_ts)::DATE + 1 FROM '{orders}')) AS recency_days,
       count(*) AS frequency,
       sum(amount)::DOUBLE AS monetary
FROM '{orders}'
GROUP BY customer_id
ORDER BY customer_id
"""


def write(table, path):
    """Writes a Parquet file through a temporary name, so a killed run leaves no half file."""
    import pyarrow.parquet as pq

    partial = path + ".partial"
    pq.write_table(table, partial, compression="snappy")
    os.replace(partial, path)
    print(f"wrote {path} ({table.num_rows} rows)", file=sys.stderr)


def features(data):
    """The standardized RFM features, written to features.parquet unless it exists."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(data, "features.parquet")
    if os.path.exists(path):
        return pq.read_table(path)

    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    rfm = connection.sql(FEATURES_SQL.format(orders=os.path.join(data, "orders.parquet"))).to_arrow_table()
    columns = {"customer_id": rfm["customer_id"].to_numpy().astype(np.int64)}
    for name, source in (("r", "recency_days"), ("f", "frequency"), ("m", "monetary")):
        values = rfm[source].to_numpy().astype(np.float64)
        # numpy, not SQL, for the mean and deviation: its summation order is fixed, so the
        # file is the same on every run.
        columns[name] = (values - values.mean()) / values.std(ddof=0)
    table = pa.table(columns)
    write(table, path)
    return table


def double_amounts(data, binary):
    """orders.parquet with a DOUBLE amount, written to orders_f64.parquet unless it exists.

    segsql writes it, with the settings `segsql generate` writes orders.parquet with (Snappy,
    122,880-row groups, dictionaries), so the two files differ in the amount column only."""
    path = os.path.join(data, "orders_f64.parquet")
    if os.path.exists(path):
        return
    import subprocess

    partial = os.path.join(data, "orders_f64.partial.parquet")
    query = (
        "SELECT order_id, customer_id, order_ts, CAST(amount AS DOUBLE) AS amount, channel, country "
        "FROM orders ORDER BY order_id"
    )
    subprocess.run(
        [
            binary, "--data", data, "-q",
            "-c", "SET datafusion.execution.parquet.compression = 'snappy'",
            "-c", "SET datafusion.execution.parquet.max_row_group_size = 122880",
            "-c", f"COPY ({query}) TO '{partial}' STORED AS PARQUET",
        ],
        check=True,
    )
    os.replace(partial, path)
    print(f"wrote {path}", file=sys.stderr)


def clv_inputs(data, binary):
    """btyd.parquet, the CLV models fitted on it, and their parameters, unless they exist."""
    import json
    import subprocess

    path = os.path.join(data, "btyd.parquet")
    if not os.path.exists(path):
        partial = os.path.join(data, "btyd.partial.parquet")
        query = (
            'SELECT customer_id, frequency, recency, "T", monetary_value '
            "FROM rfm_summary(orders, customer_id, order_ts, amount) ORDER BY customer_id"
        )
        subprocess.run([binary, "--data", data, "-q", "-c", f"COPY ({query}) TO '{partial}' STORED AS PARQUET"], check=True)
        os.replace(partial, path)
        print(f"wrote {path}", file=sys.stderr)
    params = os.path.join(data, "clv_params.json")
    if os.path.exists(params):
        return
    models = os.path.join(data, "clv-models")
    subprocess.run(
        [
            binary, "--data", data, "--models", models, "-q",
            "-c", 'CREATE OR REPLACE MODEL bench_bg USING bgnbd AS SELECT frequency, recency, "T" FROM btyd',
            "-c", "CREATE OR REPLACE MODEL bench_gg USING gamma_gamma AS SELECT frequency, monetary_value FROM btyd "
            "WHERE frequency > 0 AND monetary_value > 0",
        ],
        check=True,
    )
    values = {}
    for name in ("bench_bg", "bench_gg"):
        with open(os.path.join(models, f"{name}.json")) as f:
            values.update({p["name"]: p["value"] for p in json.load(f)["parameters"]})
    with open(params, "w") as f:
        json.dump(values, f, indent=2)
    print(f"wrote {params}", file=sys.stderr)


def propensity(rows, path):
    """Five features and a label from a known logistic model, seeded."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(SEED)
    x = np.column_stack([
        rng.normal(0.0, 1.0, rows), rng.exponential(30.0, rows), rng.poisson(4.0, rows).astype(float),
        rng.gamma(2.0, 50.0, rows), rng.uniform(0.0, 1.0, rows),
    ])
    z = -0.5 + 0.8 * x[:, 0] + 0.02 * x[:, 1] - 0.3 * x[:, 2] + 0.004 * x[:, 3] + 1.5 * x[:, 4]
    y = rng.random(rows) < 1 / (1 + np.exp(-z))
    write(pa.table({**{f"x{i + 1}": x[:, i] for i in range(5)}, "y": y}), path)


def starting_centres(table, path):
    """scikit-learn's k-means++ centres for the features, one row per centre."""
    import numpy as np
    import pyarrow as pa
    from sklearn.cluster import kmeans_plusplus

    centres, _ = kmeans_plusplus(first_rows(table, table.num_rows), KMEANS_K, random_state=SEED)
    write(pa.table({"i": np.arange(KMEANS_K, dtype=np.int64), **dict(zip("rfm", centres.T))}), path)


def first_rows(table, n):
    """The first n rows of features as an (n, 3) float64 array, with x, y, z columns."""
    import numpy as np

    head = table.slice(0, n)
    return np.column_stack([head[c].to_numpy() for c in ("r", "f", "m")])


def kmeans_labels(points):
    import numpy as np
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=KMEANS_K, n_init=1, random_state=SEED, algorithm="lloyd").fit(points)
    return (model.labels_ + 1).astype(np.int32)


def xyz(points):
    return {"x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}


def blobs_with_noise():
    import numpy as np
    import pyarrow as pa
    from sklearn.datasets import make_blobs

    blobs, _ = make_blobs(
        n_samples=BLOB_POINTS, centers=BLOB_CENTERS, cluster_std=0.5, center_box=(-10, 10), random_state=SEED
    )
    low, high = blobs.min(axis=0), blobs.max(axis=0)
    noise = np.random.default_rng(SEED).uniform(low, high, size=(NOISE_POINTS, 2))
    points = np.vstack([blobs, noise])
    return pa.table({"id": np.arange(1, len(points) + 1, dtype=np.int64), "x": points[:, 0], "y": points[:, 1]})


def governance_inputs(data, binary):
    """Two RFM snapshots of the same customers (snap_prev, snap_curr), unless they exist."""
    import subprocess

    for name, as_of in (("snap_prev", "2025-06-30"), ("snap_curr", "2025-12-31")):
        path = os.path.join(data, f"{name}.parquet")
        if os.path.exists(path):
            continue
        partial = os.path.join(data, f"{name}.partial.parquet")
        query = (
            "SELECT customer_id, segment, recency_days, frequency, CAST(monetary AS DOUBLE) AS monetary "
            f"FROM rfm(orders, customer_id, order_ts, amount, '{as_of}') ORDER BY customer_id"
        )
        subprocess.run([binary, "--data", data, "-q", "-c", f"COPY ({query}) TO '{partial}' STORED AS PARQUET"], check=True)
        os.replace(partial, path)
        print(f"wrote {path}", file=sys.stderr)


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    data = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(HERE), "target", "release", "segsql")
    # Two threads for OpenMP and BLAS, as in the benchmark (before numpy is imported).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "2"
    import pyarrow as pa

    table = features(data)
    for name, n in SILHOUETTE_SIZES.items():
        path = os.path.join(data, f"{name}.parquet")
        if not os.path.exists(path):
            points = first_rows(table, n)
            write(pa.table({**xyz(points), "label": kmeans_labels(points)}), path)
    path = os.path.join(data, "points100k.parquet")
    if not os.path.exists(path):
        write(blobs_with_noise(), path)
    path = os.path.join(data, "hclust20k.parquet")
    if not os.path.exists(path):
        write(pa.table(xyz(first_rows(table, HCLUST_ROWS))), path)
    path = os.path.join(data, "init8.parquet")
    if not os.path.exists(path):
        starting_centres(table, path)
    path = os.path.join(data, "propensity.parquet")
    if not os.path.exists(path):
        propensity(table.num_rows, path)
    double_amounts(data, binary)
    clv_inputs(data, binary)
    governance_inputs(data, binary)


if __name__ == "__main__":
    main()
