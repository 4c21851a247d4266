#!/usr/bin/env python3
"""Writes the clustering parity fixtures in tests/fixtures/cluster/ with scikit-learn and scipy.

    bash tests/parity/make_fixtures.sh     # builds segsql, makes a venv, runs this too
    python tests/parity/make_cluster_fixtures.py [path/to/segsql]   # alone (or SEGSQL=...)

Inputs, also written out so the Rust tests load exactly the same numbers:
  iris.csv         sklearn.datasets.load_iris, id 1..150, species = target + 1
  rfm_sample.csv   segsql's rfm() over sample.orders (one row per customer with orders)
  blobs.csv        make_blobs(540, 4 centers, std 0.6, seed 7) + 60 uniform noise points
                   (default_rng(7)) over their bounding box, every coordinate rounded to 6 decimals
Input files use the shortest round-trip float text, outputs "%.17g"; the script only ever
clusters the numbers read back from the input CSVs.

Outputs: kmeans_sklearn*.csv (Lloyd from given initial rows), validation_sklearn.csv,
labels.csv, silhouette_samples.csv, dbscan_sklearn.csv (fitted on the points sorted by
their features, then id), hclust_sklearn.csv and rfm_sample_1000_zscore.csv. Labels are
1-based; DBSCAN noise is -1. CI never runs this; the Rust tests read the CSVs.
"""

import os

# One thread everywhere: sklearn's OpenMP reductions then sum in a fixed order, so reruns
# (and machines with other core counts) give byte-identical files.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
from io import StringIO  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.cluster.hierarchy import fcluster, linkage  # noqa: E402
from scipy.spatial.distance import cdist, pdist  # noqa: E402
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans  # noqa: E402
from sklearn.datasets import load_iris, make_blobs  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "cluster")

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
RFM_FEATURES = ["recency_days", "frequency", "monetary"]
BLOB_FEATURES = ["x", "y"]

RFM_SQL = (
    "SELECT customer_id, recency_days, frequency, CAST(monetary AS DOUBLE) AS monetary "
    "FROM rfm(sample.orders, customer_id, order_ts, amount) ORDER BY customer_id"
)


def write(frame, name, float_format="%.17g"):
    path = os.path.join(FIXTURES, name)
    frame.to_csv(path, index=False, float_format=float_format, lineterminator="\n")
    print(f"wrote {path} ({len(frame)} rows)")


def write_input(frame, name):
    """Writes an input data set with the shortest round-trip float text and reads it back."""
    write(frame, name, float_format=None)
    back = pd.read_csv(os.path.join(FIXTURES, name))
    assert back.shape == frame.shape and (back.to_numpy() == frame.to_numpy()).all(), name
    return back


# ---------------------------------------------------------------- input data sets


def iris():
    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_FEATURES)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["species"] = data.target + 1
    return write_input(frame, "iris.csv")


def rfm_sample(segsql):
    out = subprocess.run([segsql, "--format", "csv", "-c", RFM_SQL], check=True, capture_output=True, text=True)
    frame = pd.read_csv(StringIO(out.stdout))
    frame["monetary"] = frame["monetary"].astype(float)
    return write_input(frame[["customer_id"] + RFM_FEATURES], "rfm_sample.csv")


def blobs():
    points, truth = make_blobs(n_samples=540, centers=4, cluster_std=0.6, random_state=7)
    rng = np.random.default_rng(7)
    noise = rng.uniform(points.min(axis=0), points.max(axis=0), size=(60, 2))
    xy = np.round(np.vstack([points, noise]), 6)
    frame = pd.DataFrame(xy, columns=BLOB_FEATURES)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    back = write_input(frame, "blobs.csv")
    true_labels = np.concatenate([truth + 1, np.full(60, 5)])
    return back, true_labels


# ---------------------------------------------------------------- k-means


def init_ids_from(rng_seed, ids, k):
    return np.sort(np.random.default_rng(rng_seed).choice(ids, k, replace=False))


def lloyd_check(x, init, tol):
    """Plain numpy Lloyd with sklearn's stopping rules, to report iterations and empty clusters."""
    centers = init.copy()
    labels = None
    tol = np.mean(np.var(x, axis=0)) * tol  # sklearn scales tol by the mean feature variance
    empties = 0
    for it in range(1, 301):
        new_labels = cdist(x, centers, "sqeuclidean").argmin(axis=1)
        counts = np.bincount(new_labels, minlength=len(centers))
        empties += int((counts == 0).sum())
        new_centers = np.array(
            [x[new_labels == c].mean(axis=0) if counts[c] else centers[c] for c in range(len(centers))]
        )
        if labels is not None and (new_labels == labels).all():
            return it, "strict", empties, new_labels
        shift = ((new_centers - centers) ** 2).sum()
        labels, centers = new_labels, new_centers
        if shift <= tol:
            return it, "tol", empties, cdist(x, centers, "sqeuclidean").argmin(axis=1)
    return 300, "max_iter", empties, labels


def kmeans_cases(iris_frame, rfm_frame):
    iris_ids = iris_frame["id"].to_numpy()
    rfm_ids = rfm_frame["customer_id"].to_numpy()
    # rfm_sample has one row per customer *with orders* (not all 5,000 customer ids), so the
    # initial customers are drawn from the ids present.
    return [
        ("iris", iris_frame, "id", IRIS_FEATURES, "none", 3, np.array([1, 51, 101])),
        ("iris", iris_frame, "id", IRIS_FEATURES, "zscore", 3, np.array([1, 51, 101])),
        ("iris", iris_frame, "id", IRIS_FEATURES, "none", 5, init_ids_from(1, iris_ids, 5)),
        ("rfm_sample", rfm_frame, "customer_id", RFM_FEATURES, "zscore", 4, init_ids_from(2, rfm_ids, 4)),
        ("rfm_sample", rfm_frame, "customer_id", RFM_FEATURES, "zscore", 8, init_ids_from(3, rfm_ids, 8)),
    ]


def kmeans(iris_frame, rfm_frame):
    summary, label_rows, center_rows, fitted = [], [], [], {}
    for dataset, frame, id_col, features, standardize, k, init_ids in kmeans_cases(iris_frame, rfm_frame):
        ids = frame[id_col].to_numpy()
        raw = frame[features].to_numpy(dtype=float)
        scaler = StandardScaler().fit(raw) if standardize == "zscore" else None
        x = scaler.transform(raw) if scaler else raw
        rows = [int(np.flatnonzero(ids == i)[0]) for i in init_ids]
        init = x[rows]
        model = KMeans(n_clusters=k, init=init, n_init=1, max_iter=300, tol=1e-4, algorithm="lloyd")
        model.fit(x)
        labels = model.labels_ + 1
        centers = scaler.inverse_transform(model.cluster_centers_) if scaler else model.cluster_centers_
        init_text = " ".join(str(i) for i in init_ids)
        summary.append(
            {
                "dataset": dataset,
                "standardize": standardize,
                "k": k,
                "init_ids": init_text,
                "inertia": model.inertia_,
                "n_iter": model.n_iter_,
            }
        )
        for i, label in zip(ids, labels):
            label_rows.append({"dataset": dataset, "standardize": standardize, "k": k, "id": i, "label": label})
        for c in range(k):
            for f, name in enumerate(features):
                center_rows.append(
                    {
                        "dataset": dataset,
                        "standardize": standardize,
                        "k": k,
                        "center": c + 1,
                        "feature": name,
                        "value": centers[c, f],
                    }
                )
        fitted[(dataset, standardize, k)] = labels
        iters, stop, empties, check_labels = lloyd_check(x, init, 1e-4)
        sizes = np.bincount(model.labels_, minlength=k)
        print(
            f"kmeans {dataset} {standardize} k={k} init=[{init_text}]: n_iter={model.n_iter_} "
            f"inertia={model.inertia_:.17g} sizes={sizes.tolist()}; numpy Lloyd: {iters} iterations, "
            f"stop={stop}, empty clusters seen={empties}, same labels={bool((check_labels == model.labels_).all())}"
        )
    write(pd.DataFrame(summary), "kmeans_sklearn.csv")
    write(pd.DataFrame(label_rows), "kmeans_sklearn_labels.csv")
    write(pd.DataFrame(center_rows), "kmeans_sklearn_centers.csv")
    return fitted


# ---------------------------------------------------------------- validation indices


def validation(iris_frame, rfm_frame, blobs_frame, blob_truth, fitted):
    singleton = iris_frame["species"].to_numpy().copy()
    singleton[iris_frame["id"].to_numpy() == 42] = 4
    cases = [
        ("iris", iris_frame, "id", IRIS_FEATURES, "species", iris_frame["species"].to_numpy()),
        ("iris", iris_frame, "id", IRIS_FEATURES, "kmeans3", fitted[("iris", "none", 3)]),
        ("iris", iris_frame, "id", IRIS_FEATURES, "singleton", singleton),
        ("rfm_sample", rfm_frame, "customer_id", RFM_FEATURES, "kmeans4", fitted[("rfm_sample", "zscore", 4)]),
        ("blobs", blobs_frame, "id", BLOB_FEATURES, "true", blob_truth),
    ]
    scores, label_rows, sample_rows = [], [], []
    for dataset, frame, id_col, features, name, labels in cases:
        x = frame[features].to_numpy(dtype=float)
        ids = frame[id_col].to_numpy()
        s = silhouette_samples(x, labels)
        scores.append(
            {
                "dataset": dataset,
                "labels_name": name,
                "silhouette": silhouette_score(x, labels),
                "davies_bouldin": davies_bouldin_score(x, labels),
                "calinski_harabasz": calinski_harabasz_score(x, labels),
            }
        )
        for i, label, value in zip(ids, labels, s):
            label_rows.append({"dataset": dataset, "labels_name": name, "id": i, "label": label})
            sample_rows.append({"dataset": dataset, "labels_name": name, "id": i, "s": value})
        exact = exact_silhouette(x, labels)
        print(f"silhouette {dataset}/{name}: max |sklearn - exact pairwise| = {np.abs(s - exact).max():.3g}")
    write(pd.DataFrame(scores), "validation_sklearn.csv")
    write(pd.DataFrame(label_rows), "labels.csv")
    write(pd.DataFrame(sample_rows), "silhouette_samples.csv")


def exact_silhouette(x, labels):
    """Silhouette from scipy's direct distances (sklearn expands |a-b|^2 = a^2 + b^2 - 2ab)."""
    d = cdist(x, x)
    out = np.zeros(len(x))
    groups = np.unique(labels)
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() == 1:
            continue
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, labels == g].mean() for g in groups if g != labels[i])
        out[i] = (b - a) / max(a, b)
    return out


# ---------------------------------------------------------------- DBSCAN


def dbscan(iris_frame, blobs_frame):
    cases = [
        ("iris", iris_frame, IRIS_FEATURES, 0.5, 5),
        ("iris", iris_frame, IRIS_FEATURES, 0.4, 1),
        ("blobs", blobs_frame, BLOB_FEATURES, 0.3, 5),
        ("blobs", blobs_frame, BLOB_FEATURES, 0.5, 10),
        ("blobs", blobs_frame, BLOB_FEATURES, 0.15, 4),
    ]
    rows = []
    for dataset, frame, features, eps, min_samples in cases:
        x = frame[features].to_numpy(dtype=float)
        ids = frame["id"].to_numpy()
        # Sort by feature 1, then 2, ..., ties by id (np.lexsort's last key is the primary one).
        order = np.lexsort([ids] + [x[:, f] for f in reversed(range(x.shape[1]))])
        model = DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean").fit(x[order])
        labels = np.empty(len(x), dtype=int)
        labels[order] = np.where(model.labels_ >= 0, model.labels_ + 1, -1)
        for i, label in zip(ids, labels):
            rows.append({"dataset": dataset, "eps": eps, "min_samples": min_samples, "id": i, "label": label})
        n_clusters = int(labels.max()) if (labels > 0).any() else 0
        d = pdist(x)
        near = int((np.abs(d - eps) <= 1e-9).sum())
        # sklearn's tree search compares squared distances summed in feature order with eps^2.
        sq = pdist(x, "sqeuclidean")
        disagree = int(((sq <= eps * eps) != (d <= eps)).sum())
        print(
            f"dbscan {dataset} eps={eps} min_samples={min_samples}: {n_clusters} clusters, "
            f"{int((labels == -1).sum())} noise; pairs with |d - eps| <= 1e-9: {near}, "
            f"pairs where d^2 <= eps^2 and d <= eps disagree: {disagree}"
        )
    write(pd.DataFrame(rows), "dbscan_sklearn.csv")


# ---------------------------------------------------------------- hierarchical


def hclust(blobs_frame, rfm_frame):
    first = rfm_frame.sort_values("customer_id").head(1000)
    scaled = StandardScaler().fit_transform(first[RFM_FEATURES].to_numpy(dtype=float))
    zscore = pd.DataFrame({"customer_id": first["customer_id"].to_numpy()})
    zscore[["r", "f", "m"]] = scaled
    write(zscore, "rfm_sample_1000_zscore.csv")
    blob_x = blobs_frame[BLOB_FEATURES].to_numpy(dtype=float)
    data = [
        ("blobs", blobs_frame["id"].to_numpy(), blob_x, [4, 5]),
        ("rfm_sample_1000_zscore", zscore["customer_id"].to_numpy(), scaled, [5]),
    ]
    rows = []
    for dataset, ids, x, ks in data:
        n = len(x)
        for method in ["ward", "complete", "average", "single"]:
            tree = linkage(x, method=method)
            heights = tree[:, 2]
            for k in ks:
                labels = AgglomerativeClustering(n_clusters=k, linkage=method).fit_predict(x) + 1
                for i, label in zip(ids, labels):
                    rows.append({"dataset": dataset, "linkage": method, "k": k, "id": i, "label": label})
                below, above = heights[n - k - 1], heights[n - k]
                scipy_labels = fcluster(tree, k, criterion="maxclust")
                ari = adjusted_rand_score(labels, scipy_labels)
                print(
                    f"hclust {dataset} {method} k={k}: sizes={np.bincount(labels)[1:].tolist()}, "
                    f"cut between heights {below:.17g} and {above:.17g}, ARI vs scipy fcluster = {ari:.17g}"
                )
                if below == above:
                    print(f"WARNING: hclust {dataset} {method} k={k}: tied merge heights at the cut ({below:.17g})")
            ties = len(heights) - len(np.unique(heights))
            if ties:
                print(f"  note: {dataset} {method}: {ties} repeated merge heights somewhere in the tree")
    write(pd.DataFrame(rows), "hclust_sklearn.csv")


def main():
    default = os.path.join(ROOT, "target", "release", "segsql")
    segsql = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SEGSQL", default)
    os.makedirs(FIXTURES, exist_ok=True)
    with threadpool_limits(limits=1):
        iris_frame = iris()
        rfm_frame = rfm_sample(segsql)
        blobs_frame, blob_truth = blobs()
        fitted = kmeans(iris_frame, rfm_frame)
        validation(iris_frame, rfm_frame, blobs_frame, blob_truth, fitted)
        dbscan(iris_frame, blobs_frame)
        hclust(blobs_frame, rfm_frame)


if __name__ == "__main__":
    main()
