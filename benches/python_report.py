#!/usr/bin/env python3
"""The weekly segmentation report of queries/report.sql, written as the Python pipeline an
analyst writes today: pandas for the tables, scikit-learn for standardisation, the elbow,
k-means and the validity indices, lifetimes for the buy-till-you-die summary and the CLV
models, statsmodels for the A/B test, hmac/hashlib for the pseudonymised export.

    python benches/python_report.py --data DIR --as-of 2026-01-01 --step all --out OUT
    python benches/python_report.py --data DIR --step 04 --out OUT      # one script's step alone
    python benches/python_report.py --check                              # equal to segsql on the sample?

DIR holds the Parquet files `segsql generate --out DIR` writes (orders, customers, events,
marketing_spend). There is one function per report script (step_01_data_quality ...
step_08_governance); each returns that script's result tables, in the script's order, as
DataFrames, and reads what it needs itself, so every step runs alone in its own process as
every numbered script does (each includes _setup.sql). `--step all` runs them in one process
and reads the orders, computes the RFM table and fits each model once, as a notebook would
(the events, the largest table, are read by the two steps that use them, with only the
columns each needs). Results are written as
CSV into OUT (NN_script_II_name.csv), the exports of 06 into OUT as the SQL writes them
(customers.parquet/.csv, ...; the previous customers.parquet kept in OUT/previous/ as the
baseline 08 compares with), the fitted k-means model to OUT/models (steps 05-07 read it,
as the scripts read segsql's models folder). Per-step wall time goes to stdout.

Choices where the SQL leaves Python a choice (all of them what an analyst would write):
- DECIMAL amounts are cast to float64 by Arrow while reading (pandas would otherwise make a
  Python Decimal object per order line); money sums are rounded to cents, so they equal the
  SQL's exact DECIMAL sums and customers with the same spend tie in the quantile scores.
- Events are read with only the columns a step needs, the event name as a category.
- The customer CLV table holds P(alive), expected purchases in 52 weeks and the 12-month
  CLV (lifetimes' customer_lifetime_value with freq="W": 4.345 weeks a month), as
  _clv_models.sql's customer_clv does.
- The elbow fits one k-means++ start per k (as kmeans_elbow does), the model n_init = 4
  (as CREATE MODEL ... n_init = 4), both random_state = 42; clusters are numbered by size,
  1 the largest, as segsql numbers them. The silhouette is sampled as segsql samples it:
  10,000 rows in the elbow and at most 20,000 in the validation, random_state = 42.
- The churn-propensity model is scikit-learn's LogisticRegression(C = 1 / l2) on z-scored
  features with tol = 1e-8 (CREATE MODEL ... logistic_reg's stopping rule).
- `--html FILE` writes every result table into one HTML page (no charts).
- Not implemented: --param erased (erasure), which the benchmark does not use.

Threads: OpenMP and BLAS get 2, as segsql runs with --threads 2.
"""

import argparse
import hashlib
import hmac
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The default grid of rfm_segment: (segment, R range, F range), first match wins.
SEGMENTS = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal Customers", (3, 4), (4, 5)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("New Customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About To Sleep", (3, 3), (1, 2)),
    ("At Risk", (1, 2), (3, 4)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("Hibernating", (1, 2), (1, 2)),
]
FEATURES = ["recency_days", "frequency", "monetary"]
PSI_FLOOR = 1e-4
ELBOW_SILHOUETTE_SAMPLE = 10_000


# ---------------------------------------------------------------- the job


class Job:
    """The parameters of a run (the SQL's --param values) and what a process has read or
    fitted so far, so that `--step all` reads each input once."""

    def __init__(self, data, out, as_of="2026-01-01", churn_days=90, k=4, calibration_end="2025-07-01",
                 clv_penalizer=0.0, pseudonym_key=None, min_group=10, silhouette_sample=20_000, models=None):
        self.data = data
        self.out = out
        self.models = models or os.path.join(out, "models")
        self.as_of = pd.Timestamp(as_of)
        self.churn_days = churn_days
        self.k = k
        self.calibration_end = pd.Timestamp(calibration_end)
        self.clv_penalizer = clv_penalizer
        self.pseudonym_key = pseudonym_key
        self.min_group = min_group
        self.silhouette_sample = silhouette_sample
        self.cache = {}
        # Only for --check (see check()): round nothing, so the check can compare the
        # unrounded values with the SQL's rounded ones; start k-means from segsql's centroids;
        # score the CLV models with segsql's fitted parameters.
        self.unrounded = False
        self.kmeans_init = None
        self.elbow_init = None
        self.clv_params = None

    def cached(self, name, compute):
        if name not in self.cache:
            self.cache[name] = compute()
        return self.cache[name]


def named(frame, name):
    frame.attrs["name"] = name
    return frame


def rounded(job, frame, **decimals):
    """round(column, d) as SQL rounds (half away from zero); the decimals are noted in
    frame.attrs for the check, which compares unrounded values (job.unrounded)."""
    frame.attrs.setdefault("rounded", {}).update(decimals)
    if not job.unrounded:
        for column, d in decimals.items():
            frame[column] = sql_round(frame[column], d)
    return frame


def sql_round(values, d):
    """DataFusion's round(x, d) on doubles: (x · 10^d) rounded half away from zero, / 10^d."""
    factor = 10.0 ** d
    scaled = np.asarray(values, dtype=np.float64) * factor
    whole = np.floor(np.abs(scaled))
    whole += (np.abs(scaled) - whole) >= 0.5
    result = np.copysign(whole, scaled) / factor
    return pd.Series(result, index=values.index) if isinstance(values, pd.Series) else result


def money(values):
    """A sum of amounts in cents, as the SQL's exact DECIMAL sum."""
    return values.round(2)


def path(job, name):
    return os.path.join(job.data, f"{name}.parquet")


# ---------------------------------------------------------------- inputs


def read_amounts(file, columns, amount):
    """A Parquet file with its DECIMAL money column cast to float64 by Arrow."""
    table = pq.read_table(file, columns=columns)
    index = table.schema.get_field_index(amount)
    table = table.set_column(index, amount, table.column(amount).cast(pa.float64()))
    return table.to_pandas()


def orders(job):
    return job.cached("orders", lambda: read_amounts(path(job, "orders"), ["customer_id", "order_ts", "amount"], "amount"))


def customers(job):
    return job.cached("customers", lambda: pd.read_parquet(path(job, "customers")))


def spend(job):
    return job.cached("spend", lambda: read_amounts(path(job, "marketing_spend"), ["month", "channel", "spend"], "spend"))


def events(job, columns):
    """Only the columns asked for, the event name as a category; not kept (the largest table)."""
    dictionary = ["event"] if "event" in columns else None
    return pd.read_parquet(path(job, "events"), columns=columns, read_dictionary=dictionary)


# ---------------------------------------------------------------- calendar periods


def day_number(ts):
    """Days since 1970-01-01 of each timestamp."""
    return ts.to_numpy().astype("datetime64[D]").astype(np.int64)


def period_index(ts, grain):
    """Month: months since 1970-01; week: Monday-based weeks since 1969-12-29."""
    if grain == "month":
        return ts.to_numpy().astype("datetime64[M]").astype(np.int64)
    return (day_number(ts) + 3) // 7


def period_start(index, grain):
    index = np.asarray(index, dtype=np.int64)
    if grain == "month":
        return index.astype("datetime64[M]").astype("datetime64[D]")
    return (index * 7 - 3).astype("datetime64[D]")


def period_end_day(index, grain):
    """The last day of each period, as a day number."""
    index = np.asarray(index, dtype=np.int64)
    if grain == "month":
        return (index + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    return index * 7 - 3 + 6


def dates(values):
    """Dates as ISO text, as the SQL's DATE columns print."""
    return pd.Series(np.asarray(values, dtype="datetime64[D]")).dt.strftime("%Y-%m-%d")


def cohort_cells(frame, user, ts, grain, amount=None):
    """cohort_retention (amount None) or cohort_revenue over all rows of the source: each
    user's cohort is the period of their first row; every period up to the one holding the
    latest timestamp is shown, NULL where it ends after the latest day."""
    rows = frame.dropna(subset=[user, ts])
    latest_ts = pd.Series([rows[ts].max()])
    latest_day, latest = int(day_number(latest_ts)[0]), int(period_index(latest_ts, grain)[0])
    keys = pd.DataFrame({"user": rows[user].to_numpy(), "period": period_index(rows[ts], grain)})
    if amount is None:
        keys = keys.drop_duplicates()
    else:
        keys["amount"] = rows[amount].to_numpy()
    keys["cohort"] = keys.groupby("user")["period"].transform("min")
    keys["offset"] = keys["period"] - keys["cohort"]
    sizes = keys.groupby("cohort")["user"].nunique()
    if amount is None:
        cells = keys.groupby(["cohort", "offset"]).size()
    else:
        cells = money(keys.groupby(["cohort", "offset"])["amount"].sum())
    grid = pd.MultiIndex.from_tuples(
        [(c, o) for c in sizes.index for o in range(latest - c + 1)], names=["cohort", "offset"]
    )
    table = cells.reindex(grid, fill_value=0).rename("value").reset_index()
    table["cohort_size"] = table["cohort"].map(sizes)
    incomplete = period_end_day(table["cohort"] + table["offset"], grain) > latest_day
    out = pd.DataFrame({"cohort": dates(period_start(table["cohort"], grain)), "period": table["offset"]})
    if amount is None:
        out["cohort_size"] = table["cohort_size"]
        out["active_users"] = table["value"].astype("Int64").mask(incomplete)
        out["retention"] = (table["value"] / table["cohort_size"]).mask(incomplete)
    else:
        cumulative = table.groupby("cohort")["value"].cumsum()
        out["revenue"] = table["value"].astype(float).mask(incomplete)
        out["cumulative_revenue_per_user"] = (cumulative / table["cohort_size"]).mask(incomplete)
    return out.sort_values(["cohort", "period"]).reset_index(drop=True)


def retention(job, grain):
    return job.cached(f"retention:{grain}", lambda: cohort_cells(orders(job), "customer_id", "order_ts", grain))


def revenue_cohorts(job):
    return job.cached("revenue:month", lambda: cohort_cells(orders(job), "customer_id", "order_ts", "month", "amount"))


# ---------------------------------------------------------------- RFM (_setup.sql)


def quantile_score(values, bins, ascending=True):
    """1 + floor(bins · (rank - 1) / n), rank the smallest rank of ties (DuckDB's formula)."""
    rank = values.rank(method="min", ascending=ascending)
    return (1 + np.floor(bins * (rank - 1) / values.count())).astype(int)


def segment_names(r, f):
    grid = np.empty((6, 6), dtype=object)
    for name, (r_lo, r_hi), (f_lo, f_hi) in reversed(SEGMENTS):
        grid[r_lo:r_hi + 1, f_lo:f_hi + 1] = name
    return grid[r.to_numpy(), f.to_numpy()]


def customer_rfm(job):
    """rfm(orders, customer_id, order_ts, amount, as_of): one row per customer."""

    def compute():
        rows = orders(job).dropna(subset=["customer_id", "order_ts"])
        rows = rows[rows["order_ts"] < job.as_of + pd.Timedelta(days=1)]  # rows dated after as_of are left out
        rfm = rows.groupby("customer_id").agg(
            first_order=("order_ts", "min"),
            last_order=("order_ts", "max"),
            frequency=("order_ts", "size"),
            monetary=("amount", "sum"),
        ).reset_index()
        rfm["monetary"] = money(rfm["monetary"])
        as_of_day = job.as_of.normalize()
        rfm.insert(3, "recency_days", (as_of_day - rfm["last_order"].dt.normalize()).dt.days)
        rfm["avg_order_value"] = rfm["monetary"] / rfm["frequency"]
        rfm["tenure_days"] = (as_of_day - rfm["first_order"].dt.normalize()).dt.days
        rfm["r_score"] = quantile_score(rfm["recency_days"], 5, ascending=False)
        rfm["f_score"] = quantile_score(rfm["frequency"], 5)
        rfm["m_score"] = quantile_score(rfm["monetary"], 5)
        rfm["rfm_score"] = rfm["r_score"].astype(str) + rfm["f_score"].astype(str) + rfm["m_score"].astype(str)
        rfm["segment"] = segment_names(rfm["r_score"], rfm["f_score"])
        return rfm

    return job.cached("rfm", compute)


# ---------------------------------------------------------------- CLV models (_clv_models.sql)


def customer_btyd(job):
    """rfm_summary(orders, ..., as_of, 'week'): lifetimes' summary by week."""
    from lifetimes.utils import summary_data_from_transaction_data

    return job.cached("btyd", lambda: summary_data_from_transaction_data(
        orders(job), "customer_id", "order_ts", monetary_value_col="amount",
        observation_period_end=job.as_of, freq="W",
    ))


def fit_row(name, algorithm, model, rows, log_likelihood, model_path):
    return {"model": name, "algorithm": algorithm, "rows": rows, "skipped": 0, "iterations": None,
            "converged": True, "log_likelihood": log_likelihood, "path": model_path}


def bgnbd(job, name, frequency, recency, T):
    """BetaGeoFitter fitted and kept; returns (model, CREATE MODEL's row). Under --check the
    model then scores with segsql's parameters (its own stay in model.fitted_params_)."""
    from lifetimes import BetaGeoFitter

    model = BetaGeoFitter(penalizer_coef=job.clv_penalizer).fit(frequency, recency, T)
    # The sum of log-likelihoods in the data's time unit, as CREATE MODEL reports it.
    ll = -model._negative_log_likelihood_ * len(frequency) - frequency.sum() * np.log(T.max())
    return with_segsql_params(job, name, model), fit_row(name, "bgnbd", model, len(frequency), ll, None)


def gamma_gamma(job, name, frequency, monetary_value):
    from lifetimes import GammaGammaFitter

    model = GammaGammaFitter(penalizer_coef=job.clv_penalizer).fit(frequency, monetary_value)
    ll = -model._negative_log_likelihood_ * len(frequency)
    return with_segsql_params(job, name, model), fit_row(name, "gamma_gamma", model, len(frequency), ll, None)


def with_segsql_params(job, name, model):
    model.fitted_params_ = model.params_.copy()
    model.fitted_standard_errors_ = model.standard_errors_.copy()
    if job.clv_params is not None:
        model.params_ = pd.Series(job.clv_params[name])[model.params_.index]
    return model


def clv_models(job):
    """The BG/NBD and Gamma-Gamma models, fitted once per process; the first caller also gets
    the CREATE MODEL rows (as the first script that includes _clv_models.sql prints them)."""
    if "clv_models" in job.cache:
        return job.cache["clv_models"], []
    btyd = customer_btyd(job)
    buyers, buyers_row = bgnbd(job, "clv_buyers", btyd["frequency"], btyd["recency"], btyd["T"])
    repeat = btyd[(btyd["frequency"] > 0) & (btyd["monetary_value"] > 0)]
    spend_model, spend_row = gamma_gamma(job, "clv_spend", repeat["frequency"], repeat["monetary_value"])
    job.cache["clv_models"] = (buyers, spend_model)
    rows = [named(pd.DataFrame([row]), f"create_model_{row['model']}") for row in (buyers_row, spend_row)]
    return job.cache["clv_models"], rows


def customer_clv(job):
    """P(alive), expected purchases in 52 weeks and 12-month CLV of every customer."""

    def compute():
        (buyers, spend_model), _ = clv_models(job)
        btyd = customer_btyd(job)
        f, r, t, m = btyd["frequency"], btyd["recency"], btyd["T"], btyd["monetary_value"]
        clv = btyd.copy()
        clv["p_alive"] = buyers.conditional_probability_alive(f, r, t)
        clv["purchases_next_52w"] = buyers.conditional_expected_number_of_purchases_up_to_time(52, f, r, t)
        clv["clv_12m"] = spend_model.customer_lifetime_value(buyers, f, r, t, m, time=12, discount_rate=0.01, freq="W")
        return clv.reset_index()

    return job.cached("clv", compute)


# ---------------------------------------------------------------- k-means model (04)


class Segments:
    """CREATE MODEL customer_segments USING kmeans (k, seed = 42, standardize = 'zscore',
    n_init = 4): the scaler, the fit and the cluster numbers by size."""

    def __init__(self, scaler, kmeans, rows):
        self.scaler = scaler
        self.kmeans = kmeans
        self.rows = rows
        sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
        order = sorted(range(kmeans.n_clusters), key=lambda c: (-sizes[c], tuple(kmeans.cluster_centers_[c])))
        self.cluster_id = np.empty(kmeans.n_clusters, dtype=np.int64)
        self.cluster_id[order] = np.arange(1, kmeans.n_clusters + 1)
        self.sizes = sizes

    def assign(self, frame):
        """kmeans_assign: the nearest centroid in the scaled space, as cluster 1..k."""
        return self.cluster_id[self.kmeans.predict(self.scaler.transform(features(frame)))]

    def centroids(self):
        units = self.scaler.inverse_transform(self.kmeans.cluster_centers_)
        table = pd.DataFrame(units, columns=FEATURES)
        table.insert(0, "size", self.sizes)
        table.insert(0, "cluster_id", self.cluster_id)
        return table.sort_values("cluster_id").reset_index(drop=True)


def features(frame):
    return frame[FEATURES].astype(np.float64).to_numpy()


def model_file(job):
    return os.path.join(job.models, "customer_segments.pkl")


def segments_model(job):
    """The model 04 saved (kmeans_assign reads the models folder)."""

    def load():
        if not os.path.exists(model_file(job)):
            raise SystemExit(f"{model_file(job)}: no k-means model; run step 04 first (it trains and saves the model)")
        with open(model_file(job), "rb") as f:
            return pickle.load(f)

    return job.cached("segments", load)


def customer_clusters(job):
    def compute():
        clusters = customer_rfm(job).copy()
        clusters["cluster_id"] = segments_model(job).assign(clusters)
        return clusters

    return job.cached("clusters", compute)


def from_segsql(job, z, centres, key):
    """--check only: scikit-learn's KMeans started from segsql's centroids (standardised as
    the model standardises); what it converges to is kept for the check, and the fit then
    holds segsql's centroids as they are, each row in the nearest, as kmeans_assign puts it."""
    from sklearn.cluster import KMeans

    fit = KMeans(n_clusters=len(centres), init=centres, n_init=1).fit(z)
    job.cache.setdefault("from_segsql", {})[key] = (fit.n_iter_, fit.inertia_, fit.labels_.copy())
    squared = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    fit.cluster_centers_ = centres.copy()
    fit.labels_ = squared.argmin(axis=1).astype(np.int32)
    fit.inertia_ = float(squared[np.arange(len(z)), fit.labels_].sum())
    job.cache.setdefault("segsql_labels", {})[key] = fit.labels_
    return fit


def knee(ks, inertia):
    """The Kneedle rule: the k farthest below the chord from the first k to the last."""
    x = (ks - ks.min()) / (ks.max() - ks.min())
    y = (inertia.max() - inertia) / (inertia.max() - inertia.min())
    difference = y - x
    return int(np.argmax(difference)) if (difference > 0).any() else None


# ---------------------------------------------------------------- the steps


def step_01_data_quality(job):
    o = orders(job)
    ts = events(job, ["ts"])["ts"]
    c = customers(job)
    counts = pd.DataFrame({
        "table_name": ["customers", "events", "orders"],
        "row_count": [len(c), len(ts), len(o)],
        "first_day": [c["signup_ts"].min(), ts.min(), o["order_ts"].min()],
        "last_day": [c["signup_ts"].max(), ts.max(), o["order_ts"].max()],
    })
    counts["first_day"] = counts["first_day"].dt.strftime("%Y-%m-%d")
    counts["last_day"] = counts["last_day"].dt.strftime("%Y-%m-%d")

    quality = pd.DataFrame([{
        "null_customer_ids": int(o["customer_id"].isna().sum()),
        "null_timestamps": int(o["order_ts"].isna().sum()),
        "null_amounts": int(o["amount"].isna().sum()),
        "returns_negative_amounts": int((o["amount"] < 0).sum()),
        "zero_amounts": int((o["amount"] == 0).sum()),
        "orders_after_as_of": int((o["order_ts"] >= job.as_of).sum()),
    }])

    copies = o.groupby(["customer_id", "order_ts", "amount"], dropna=False).size()
    copies = copies[copies > 1]
    duplicates = pd.DataFrame([{"duplicate_groups": len(copies), "extra_rows": int((copies - 1).sum())}])

    before = o[o["order_ts"] < job.as_of]
    monthly = before.groupby(before["order_ts"].dt.to_period("M").dt.start_time).agg(
        orders=("amount", "size"), revenue=("amount", "sum"))
    monthly["revenue"] = money(monthly["revenue"])
    monthly = monthly.reset_index().rename(columns={"order_ts": "month"})
    monthly["month"] = monthly["month"].dt.strftime("%Y-%m-%d")
    return [named(counts, "row_counts"), named(quality, "missing_and_returns"), named(duplicates, "duplicates"),
            named(monthly, "orders_per_month")]


def step_02_cohorts(job):
    monthly = retention(job, "month").copy()
    weekly = retention(job, "week")
    recent = weekly[(pd.to_datetime(weekly["cohort"]) >= job.as_of - pd.Timedelta(days=120)) & (weekly["period"] <= 8)]
    recent = recent.reset_index(drop=True)
    ltv = revenue_cohorts(job)
    ltv = ltv[pd.to_datetime(ltv["cohort"]).dt.month.isin([1, 4, 7, 10])].reset_index(drop=True)
    ltv = ltv.rename(columns={"cumulative_revenue_per_user": "ltv_per_customer"})
    return [
        named(rounded(job, monthly, retention=4), "retention_monthly"),
        named(rounded(job, recent, retention=4), "retention_weekly_recent"),
        named(rounded(job, ltv, ltv_per_customer=2), "ltv_curves"),
    ]


def step_03_rfm(job):
    rfm = customer_rfm(job)
    total = rfm["monetary"].sum()
    segments = rfm.groupby("segment").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum"),
        avg_recency_days=("recency_days", "mean"), avg_orders=("frequency", "mean"),
    ).reset_index()
    segments["revenue"] = money(segments["revenue"])
    segments.insert(3, "revenue_share", segments["revenue"] / total)
    segments = segments.sort_values("revenue", ascending=False).reset_index(drop=True)
    rounded(job, segments, revenue_share=4, avg_recency_days=1, avg_orders=2)

    grid = rfm.groupby(["r_score", "f_score"]).agg(customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
    grid["revenue"] = money(grid["revenue"])
    grid["cell"] = [f"{n} · ${v:.1f}k" for n, v in zip(grid["customers"], sql_round(grid["revenue"] / 1000, 1))]
    grid = grid.sort_values(["r_score", "f_score"], ascending=[False, True]).reset_index(drop=True)

    top = rfm.sort_values(["monetary", "customer_id"], ascending=[False, True]).head(20)
    top = top[["customer_id", "recency_days", "frequency", "monetary", "rfm_score", "segment"]].reset_index(drop=True)
    return [named(segments, "segments"), named(grid, "rf_grid"), named(top, "top_customers")]


def step_04_clustering(job):
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
    from sklearn.preprocessing import StandardScaler

    _, model_rows = clv_models(job)
    rfm = customer_rfm(job)
    x = features(rfm)
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    n = len(z)

    elbow = []
    sample = ELBOW_SILHOUETTE_SAMPLE if n > ELBOW_SILHOUETTE_SAMPLE else None
    for k in range(2, 9):
        if job.elbow_init is None:
            fit = KMeans(n_clusters=k, n_init=1, random_state=42).fit(z)
        else:  # --check: segsql's fit for this k
            fit = from_segsql(job, z, scaler.transform(job.elbow_init[k]), f"elbow k={k}")
        elbow.append({
            "k": k, "inertia": fit.inertia_,
            "silhouette": silhouette_score(z, fit.labels_, sample_size=sample, random_state=42),
            "davies_bouldin": davies_bouldin_score(z, fit.labels_),
            "calinski_harabasz": calinski_harabasz_score(z, fit.labels_),
        })
    elbow = pd.DataFrame(elbow)
    bend = knee(elbow["k"].to_numpy(float), elbow["inertia"].to_numpy())
    elbow["is_knee"] = [i == bend for i in range(len(elbow))]
    elbow.attrs["sampled"] = {"silhouette": sample}
    rounded(job, elbow, inertia=2, silhouette=4, davies_bouldin=4, calinski_harabasz=1)

    if job.kmeans_init is None:
        kmeans = KMeans(n_clusters=job.k, n_init=4, random_state=42).fit(z)
    else:  # --check: segsql's model
        kmeans = from_segsql(job, z, scaler.transform(job.kmeans_init), "model")
    model = Segments(scaler, kmeans, n)
    os.makedirs(job.models, exist_ok=True)
    with open(model_file(job), "wb") as f:
        pickle.dump(model, f)
    job.cache["segments"] = model
    created = pd.DataFrame([{"model": "customer_segments", "rows": n, "skipped": 0, "k": job.k,
                             "iterations": kmeans.n_iter_, "inertia": kmeans.inertia_, "path": model_file(job)}])

    clusters = customer_clusters(job)
    labels = clusters["cluster_id"].to_numpy()
    sample = job.silhouette_sample if n > job.silhouette_sample else None
    validation = pd.DataFrame([{
        "silhouette": silhouette_score(z, labels, sample_size=sample, random_state=42),
        "silhouette_rows": min(n, job.silhouette_sample),
        "silhouette_sampled": n > job.silhouette_sample,
        "davies_bouldin": davies_bouldin_score(z, labels),
        "calinski_harabasz": calinski_harabasz_score(z, labels),
    }])
    validation.attrs["sampled"] = {"silhouette": sample}
    rounded(job, validation, silhouette=4, davies_bouldin=4, calinski_harabasz=1)

    centroids = rounded(job, model.centroids(), recency_days=1, frequency=2, monetary=2)

    clv = customer_clv(job)[["customer_id", "clv_12m", "p_alive"]]
    joined = clusters.merge(clv, on="customer_id", how="left")
    profiles = joined.groupby("cluster_id").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum"), orders=("frequency", "sum"),
        recency_days=("recency_days", "mean"), frequency=("frequency", "mean"),
        clv_12m=("clv_12m", "mean"), p_alive=("p_alive", "mean"),
    ).reset_index()
    profiles["revenue"] = money(profiles["revenue"])
    t_customers, t_revenue, t_frequency = len(rfm), rfm["monetary"].sum(), rfm["frequency"].mean()
    persona = np.select(
        [profiles["recency_days"] > 180, profiles["revenue"] / profiles["customers"] > 2 * t_revenue / t_customers,
         profiles["frequency"] > t_frequency],
        ["Lapsed", "VIP", "Regulars"], "Occasional",
    )
    personas = pd.DataFrame({
        "cluster_id": profiles["cluster_id"],
        "persona": profiles["cluster_id"].astype(str) + ". " + persona,
        "customers": profiles["customers"],
        "customer_share": profiles["customers"] / t_customers,
        "revenue": profiles["revenue"],
        "revenue_share": profiles["revenue"] / t_revenue,
        "avg_order_value": profiles["revenue"] / profiles["orders"],
        "avg_recency_days": profiles["recency_days"],
        "avg_orders": profiles["frequency"],
        "historical_value": profiles["revenue"] / profiles["customers"],
        "predicted_clv_12m": profiles["clv_12m"],
        "avg_p_alive": profiles["p_alive"],
    }).sort_values("cluster_id").reset_index(drop=True)
    rounded(job, personas, customer_share=4, revenue_share=4, avg_order_value=2, avg_recency_days=1, avg_orders=2,
            historical_value=2, predicted_clv_12m=2, avg_p_alive=4)

    return model_rows + [named(elbow, "elbow"), named(created, "create_model_customer_segments"),
                         named(validation, "validation"), named(centroids, "centroids"), named(personas, "personas")]


def event_users(job):
    """Per user: viewed and purchased (0/1) before as_of."""

    def compute():
        e = events(job, ["user_id", "ts", "event"])
        e = e[e["ts"] < job.as_of]
        flags = pd.DataFrame({"user_id": e["user_id"], "viewed": e["event"] == "view", "purchased": e["event"] == "purchase"})
        return flags.groupby("user_id").max().astype(np.int64).reset_index()

    return job.cached("event_users", compute)


def kpis(job, frame, by):
    users = event_users(job).rename(columns={"user_id": "customer_id"})
    clv = customer_clv(job)[["customer_id", "clv_12m"]]
    joined = frame.merge(users, on="customer_id", how="left").merge(clv, on="customer_id", how="left")
    joined["churned"] = joined["recency_days"] > job.churn_days
    table = joined.groupby(by).agg(
        customers=("customer_id", "size"), purchased=("purchased", "sum"), viewed=("viewed", "sum"),
        churned=("churned", "sum"), revenue=("monetary", "sum"), clv_predicted_12m=("clv_12m", "mean"),
    ).reset_index()
    table["revenue"] = money(table["revenue"])
    out = pd.DataFrame({
        by: table[by],
        "customers": table["customers"],
        "conversion": table["purchased"] / table["viewed"].replace(0, np.nan),
        "churn_rate": table["churned"] / table["customers"],
        "revenue": table["revenue"],
        "clv_historical": table["revenue"] / table["customers"],
        "clv_predicted_12m": table["clv_predicted_12m"],
    })
    return rounded(job, out, conversion=4, churn_rate=4, clv_historical=2, clv_predicted_12m=2)


def step_05_kpis(job):
    from statsmodels.stats.proportion import proportions_ztest

    _, model_rows = clv_models(job)
    by_segment = kpis(job, customer_rfm(job), "segment").sort_values("revenue", ascending=False).reset_index(drop=True)
    by_cluster = kpis(job, customer_clusters(job), "cluster_id").sort_values("cluster_id").reset_index(drop=True)

    c = customers(job)
    rfm = customer_rfm(job)
    acquired = c.merge(rfm[["customer_id", "monetary"]], on="customer_id", how="left").groupby("acquisition_channel").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
    acquired["revenue"] = money(acquired["revenue"])
    s = spend(job)
    channel_spend = money(s[s["month"] < job.as_of.date()].groupby("channel")["spend"].sum()).rename("spend")
    ltv = acquired.merge(channel_spend, left_on="acquisition_channel", right_index=True, how="left")
    ltv["ltv"] = ltv["revenue"] / ltv["customers"]
    ltv["cac"] = ltv["spend"] / ltv["customers"]
    ltv["ltv_to_cac"] = ltv["revenue"] / ltv["spend"]
    ltv = ltv.sort_values("acquisition_channel").reset_index(drop=True)
    rounded(job, ltv, ltv=2, cac=2, ltv_to_cac=2)

    users = event_users(job)
    arms = c[c["acquisition_channel"].isin(["email", "social"])].merge(users, left_on="customer_id", right_on="user_id")
    arms = arms.groupby("acquisition_channel")[["purchased", "viewed"]].sum()
    a, b = arms.loc["email"], arms.loc["social"]
    _, p_value = proportions_ztest([a["purchased"], b["purchased"]], [a["viewed"], b["viewed"]])
    ab = pd.DataFrame([{
        "email_converted": int(a["purchased"]), "email_viewers": int(a["viewed"]),
        "social_converted": int(b["purchased"]), "social_viewers": int(b["viewed"]),
        "email_rate": a["purchased"] / a["viewed"], "social_rate": b["purchased"] / b["viewed"], "p_value": p_value,
    }])
    rounded(job, ab, email_rate=4, social_rate=4, p_value=6)
    return model_rows + [named(by_segment, "kpis_by_segment"), named(by_cluster, "kpis_by_cluster"),
                         named(ltv, "ltv_to_cac"), named(ab, "ab_test")]


def export(frame, out, name, parquet=True):
    if parquet:
        frame.to_parquet(os.path.join(out, f"{name}.parquet"), index=False)
    frame.to_csv(os.path.join(out, f"{name}.csv"), index=False)


def pseudonymize(ids, key):
    """HMAC-SHA256 of each id's decimal text under the key, in lowercase hex."""
    secret = key.encode()
    return [hmac.new(secret, str(i).encode(), hashlib.sha256).hexdigest() for i in ids]


def headline(job, rfm, month1):
    """The headline tiles: this run's numbers and their change since last run's export."""
    def rates(frame):
        return (len(frame), float(frame["monetary"].astype(float).sum()), (frame["frequency"] > 1).mean(),
                (frame["recency_days"] > job.churn_days).mean())

    now = rates(rfm)
    baseline = os.path.join(job.out, "previous", "customers.parquet")
    before = rates(pd.read_parquet(baseline)) if os.path.exists(baseline) else (np.nan,) * 4
    s = spend(job)
    ltv_to_cac = float(rfm["monetary"].astype(float).sum()) / float(s[s["month"] < job.as_of.date()]["spend"].astype(float).sum())
    values = [float(now[0]), now[1], now[2], month1, now[3], ltv_to_cac]
    changes = [float(now[0] - before[0]), now[1] - before[1], now[2] - before[2], np.nan, now[3] - before[3], np.nan]
    frame = pd.DataFrame({
        "metric": ["customers", "revenue", "repeat rate", "month-1 retention", f"churn (no order in {job.churn_days} days)", "LTV:CAC"],
        "value": values, "change": changes, "unit": ["number", "currency", "percent", "percent", "percent", "number"],
    })
    return named(rounded(job, frame, value=6, change=6), "headline")


def step_06_exports(job):
    os.makedirs(job.out, exist_ok=True)
    current = os.path.join(job.out, "customers.parquet")
    if os.path.exists(current):  # last run's export becomes 08's baseline
        os.makedirs(os.path.join(job.out, "previous"), exist_ok=True)
        pq.write_table(pq.read_table(current).sort_by("customer_id"), os.path.join(job.out, "previous", "customers.parquet"))

    clusters = customer_clusters(job).sort_values("customer_id")
    export(clusters, job.out, "customers")
    export(retention(job, "month"), job.out, "retention_monthly")
    export(revenue_cohorts(job), job.out, "revenue_cohorts")
    rfm = customer_rfm(job)
    segments = rfm.groupby("segment").agg(customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
    segments["revenue"] = money(segments["revenue"])
    export(segments.sort_values("segment"), job.out, "segments")
    export(segments_model(job).centroids(), job.out, "clusters")

    results = []
    if job.pseudonym_key is not None:
        audience = clusters[["customer_id", "segment", "cluster_id"]].merge(
            customers(job)[["customer_id", "country", "acquisition_channel"]], on="customer_id")
        audience.insert(0, "customer_pseudonym", pseudonymize(audience["customer_id"], job.pseudonym_key))
        audience = audience[["customer_pseudonym", "country", "acquisition_channel", "segment", "cluster_id"]]
        quasi = ["country", "acquisition_channel", "segment", "cluster_id"]
        group_size = audience.groupby(quasi, dropna=False)["customer_pseudonym"].transform("size")
        kept = audience[group_size >= job.min_group].sort_values("customer_pseudonym")
        kept.to_csv(os.path.join(job.out, "audience.csv"), index=False)
        results.append(named(pd.DataFrame([{"min_group": job.min_group, "exported": len(kept),
                                            "held_back": len(audience) - len(kept)}]), "audience_export"))

    monthly = retention(job, "month")
    month1 = monthly[(monthly["period"] == 1) & monthly["retention"].notna()]
    churned = (rfm["recency_days"] > job.churn_days).mean()
    by_revenue = segments.sort_values(["revenue", "segment"], ascending=[False, True])
    summary = pd.DataFrame({"metric": [
        "customers with orders", "revenue", "repeat customers", "month-1 retention (all cohorts)",
        f"churned (no order in {job.churn_days} days)", "top RFM segment by revenue", "clusters (k)", "exports",
    ], "value": [
        str(len(rfm)), f"{rfm['monetary'].sum():.2f}", text_of(job, (rfm["frequency"] > 1).mean()),
        text_of(job, month1["active_users"].sum() / month1["cohort_size"].sum()), text_of(job, churned),
        by_revenue["segment"].iloc[0], str(job.k), job.out.rstrip("/") + "/",
    ]})
    rate = month1["active_users"].sum() / month1["cohort_size"].sum()
    return results + [headline(job, rfm, rate), named(summary, "summary")]


def text_of(job, share):
    """CAST(round(share, 4) AS VARCHAR); the full value under --check."""
    return repr(float(share)) if job.unrounded else repr(float(sql_round(np.array([share]), 4)[0]))


def step_07_clv(job):
    from lifetimes.utils import calibration_and_holdout_data
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    (buyers, spend_model), model_rows = clv_models(job)
    split = calibration_and_holdout_data(
        orders(job), "customer_id", "order_ts", calibration_period_end=job.calibration_end,
        observation_period_end=job.as_of, freq="W", monetary_value_col="amount",
    ).reset_index()
    calibration, calibration_row = bgnbd(job, "clv_calibration", split["frequency_cal"], split["recency_cal"], split["T_cal"])
    model_rows = model_rows + [named(pd.DataFrame([calibration_row]), "create_model_clv_calibration")]

    predicted = calibration.conditional_expected_number_of_purchases_up_to_time(
        split["duration_holdout"], split["frequency_cal"], split["recency_cal"], split["T_cal"])
    error = predicted - split["frequency_holdout"]
    evaluation = pd.DataFrame([{
        "customers": len(split), "actual_purchases": float(split["frequency_holdout"].sum()),
        "predicted_purchases": predicted.sum(), "mae": error.abs().mean(), "rmse": math.sqrt((error ** 2).mean()),
    }])
    rounded(job, evaluation, predicted_purchases=1, mae=4, rmse=4)

    scored = pd.DataFrame({"frequency_cal": split["frequency_cal"].clip(upper=10),
                           "actual": split["frequency_holdout"], "predicted": predicted})
    means = scored.groupby("frequency_cal")[["actual", "predicted"]].mean()
    holdout = means.reset_index().melt(id_vars="frequency_cal", var_name="series", value_name="purchases")
    holdout = holdout.sort_values(["frequency_cal", "series"]).reset_index(drop=True)
    rounded(job, holdout, purchases=4)

    params = pd.concat([
        pd.DataFrame({"model": name, "parameter": model.fitted_params_.index, "value": model.fitted_params_.to_numpy(),
                      "std_error": model.fitted_standard_errors_.to_numpy()})
        for name, model in (("clv_buyers", buyers), ("clv_spend", spend_model))
    ]).sort_values(["model", "parameter"]).reset_index(drop=True)
    rounded(job, params, value=4, std_error=4)

    clv = customer_clv(job)
    bands = pd.cut(clv["p_alive"], [-np.inf, 0.2, 0.4, 0.6, 0.8, np.inf], right=False,
                   labels=["0.0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", "0.8-1.0"])
    alive = bands.value_counts().rename_axis("p_alive_band").rename("customers").reset_index()
    alive = alive[alive["customers"] > 0].sort_values("p_alive_band").reset_index(drop=True)
    alive["p_alive_band"] = alive["p_alive_band"].astype(str)

    def value_by(frame, by):
        joined = clv[["customer_id", "clv_12m", "p_alive"]].merge(frame[["customer_id", by]], on="customer_id")
        joined["at_risk"] = joined["clv_12m"] * (1 - joined["p_alive"])
        table = joined.groupby(by).agg(customers=("customer_id", "size"), clv_12m=("clv_12m", "sum"),
                                       p_alive=("p_alive", "sum"), value_at_risk=("at_risk", "sum")).reset_index()
        out = pd.DataFrame({by: table[by], "customers": table["customers"], "clv_12m": table["clv_12m"],
                            "clv_per_customer": table["clv_12m"] / table["customers"],
                            "avg_p_alive": table["p_alive"] / table["customers"], "value_at_risk": table["value_at_risk"]})
        return rounded(job, out, clv_12m=2, clv_per_customer=2, avg_p_alive=4, value_at_risk=2)

    by_segment = value_by(customer_rfm(job), "segment")
    by_segment = by_segment.sort_values(["clv_12m", "segment"], ascending=[False, True]).reset_index(drop=True)
    by_cluster = value_by(customer_clusters(job), "cluster_id").sort_values("cluster_id").reset_index(drop=True)

    churn = split[["customer_id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"]].copy()
    churn["churned"] = split["frequency_holdout"] == 0
    columns = ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"]
    train, test = churn[churn["customer_id"] % 5 != 0], churn[churn["customer_id"] % 5 == 0]
    scaler = StandardScaler().fit(train[columns])
    x_train, y_train = scaler.transform(train[columns]), train["churned"].to_numpy()
    propensity = LogisticRegression(C=1.0, tol=1e-8, max_iter=1000).fit(x_train, y_train)
    z = propensity.intercept_[0] + x_train @ propensity.coef_[0]
    objective = np.mean(np.logaddexp(0.0, z) - y_train * z) + 0.5 * np.sum(propensity.coef_ ** 2) / len(y_train)
    created = pd.DataFrame([{"model": "churn_propensity", "algorithm": "logistic_reg", "rows": len(train), "skipped": 0,
                             "positives": int(y_train.sum()), "iterations": int(propensity.n_iter_[0]),
                             "objective": objective, "path": None}])
    p = propensity.predict_proba(scaler.transform(test[columns]))[:, 1]
    y = test["churned"].to_numpy()
    guess = p > 0.5
    metrics = pd.DataFrame([{
        "rows": len(y), "roc_auc": roc_auc_score(y, p), "log_loss": log_loss(y, p), "accuracy": accuracy_score(y, guess),
        "precision": precision_score(y, guess, zero_division=0), "recall": recall_score(y, guess, zero_division=0),
        "f1_score": f1_score(y, guess, zero_division=0),
    }])
    rounded(job, metrics, roc_auc=4, log_loss=4, accuracy=4, precision=4, recall=4, f1_score=4)
    coefficients = pd.DataFrame({"parameter": ["intercept"] + columns,
                                 "coefficient": [propensity.intercept_[0], *propensity.coef_[0]]})
    rounded(job, coefficients, coefficient=4)

    return model_rows + [
        named(evaluation, "holdout_check"), named(holdout, "holdout_by_frequency"), named(params, "clv_params"),
        named(alive, "p_alive_bands"), named(by_segment, "clv_by_segment"), named(by_cluster, "clv_by_cluster"),
        named(created, "create_model_churn_propensity"), named(metrics, "propensity_holdout"),
        named(coefficients, "propensity_coefficients"),
    ]


def psi(expected, actual):
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    a = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def status(value):
    return "stable" if value < 0.1 else "watch" if value <= 0.25 else "act"


def step_08_governance(job):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.preprocessing import StandardScaler

    results = []
    baseline = os.path.join(job.out, "previous", "customers.parquet")
    if os.path.exists(baseline):
        columns = ["customer_id", "segment", "cluster_id"] + FEATURES
        previous = read_amounts(baseline, columns, "monetary")
        current = read_amounts(os.path.join(job.out, "customers.parquet"), columns, "monetary")
        both = previous.merge(current, on="customer_id", how="outer", suffixes=("_p", "_c"), indicator=True)
        results.append(named(pd.DataFrame([{
            "in_both": int((both["_merge"] == "both").sum()),
            "new_customers": int((both["_merge"] == "right_only").sum()),
            "gone_customers": int((both["_merge"] == "left_only").sum()),
        }]), "customers_compared"))

        moves = pd.DataFrame({
            "from_segment": both["segment_p"].where(both["_merge"] != "right_only", "(new)"),
            "to_segment": both["segment_c"].where(both["_merge"] != "left_only", "(gone)"),
        })
        transitions = moves.groupby(["from_segment", "to_segment"], dropna=False).size().rename("customers").reset_index()
        transitions["share_of_from"] = transitions["customers"] / transitions.groupby("from_segment", dropna=False)["customers"].transform("sum")
        transitions = transitions.sort_values(["from_segment", "to_segment"]).reset_index(drop=True)
        results.append(named(rounded(job, transitions, share_of_from=4), "segment_migration"))

        mix = pd.concat([previous["segment"].value_counts().rename("previous"),
                         current["segment"].value_counts().rename("current")], axis=1).fillna(0)
        value = psi(mix["previous"], mix["current"])
        results.append(named(rounded(job, pd.DataFrame([{"segment_mix_psi": value, "status": status(value)}]),
                                     segment_mix_psi=4), "segment_mix_psi"))

        drift = []
        for feature in FEATURES:
            p = previous[feature].dropna().to_numpy(np.float64)
            c = current[feature].dropna().to_numpy(np.float64)
            edges = np.quantile(p, np.arange(1, 10) / 10)
            bins = [np.bincount(np.searchsorted(edges, x, side="right"), minlength=10) for x in (p, c)]
            value = psi(*bins)
            drift.append({"feature": feature, "psi": value, "status": status(value),
                          "previous_mean": p.mean(), "current_mean": c.mean(),
                          "previous_median": np.median(p), "current_median": np.median(c)})
        results.append(named(rounded(job, pd.DataFrame(drift), psi=4, previous_mean=2, current_mean=2, previous_median=2,
                                     current_median=2), "feature_drift"))

        matched = both[both["_merge"] == "both"]
        labelled = matched.dropna(subset=["cluster_id_p", "cluster_id_c"])
        segmented = matched.dropna(subset=["segment_p", "segment_c"])
        agreement = pd.DataFrame([{
            "customers": len(matched),
            "without_cluster": int(len(matched) - len(labelled)),
            "adjusted_rand": adjusted_rand_score(labelled["cluster_id_p"], labelled["cluster_id_c"]),
            "mutual_info": normalized_mutual_info_score(labelled["cluster_id_p"], labelled["cluster_id_c"]),
            "segment_adjusted_rand": adjusted_rand_score(segmented["segment_p"], segmented["segment_c"]),
        }])
        results.append(named(rounded(job, agreement, adjusted_rand=4, mutual_info=4, segment_adjusted_rand=4),
                             "cluster_agreement"))
    else:
        results.append(named(pd.DataFrame({"governance": [
            f"no baseline yet: this is the first run with exports in {job.out}; the next run compares with it"]}),
            "governance"))

    # Stability: k-means on two random halves of the z-scored rows, agreement on everyone.
    z = StandardScaler().fit_transform(features(customer_rfm(job)))
    rng = np.random.default_rng(42)
    scores = []
    for _ in range(5):
        order = rng.permutation(len(z))
        half = len(z) // 2
        labels = [KMeans(n_clusters=job.k, n_init=1, random_state=int(rng.integers(2**31))).fit(z[part]).predict(z)
                  for part in (order[:half], order[half:2 * half])]
        scores.append(adjusted_rand_score(*labels))
    stability = pd.DataFrame([{"k": job.k, "resamples": len(scores), "mean_adjusted_rand": np.mean(scores),
                               "worst_adjusted_rand": np.min(scores)}])
    results.append(named(rounded(job, stability, mean_adjusted_rand=4, worst_adjusted_rand=4), "stability"))
    return results


STEPS = {
    "01_data_quality": step_01_data_quality,
    "02_cohorts": step_02_cohorts,
    "03_rfm": step_03_rfm,
    "04_clustering": step_04_clustering,
    "05_kpis": step_05_kpis,
    "06_exports": step_06_exports,
    "07_clv": step_07_clv,
    "08_governance": step_08_governance,
}


def step_names(choice):
    if choice == "all":
        return list(STEPS)
    for name in STEPS:
        if choice in (name, name[:2], name[3:], f"step_{name}", f"{name}.sql"):
            return [name]
    raise SystemExit(f"--step: unknown step '{choice}'; choose all or one of {', '.join(STEPS)}")


def write_results(job, step, tables):
    for i, table in enumerate(tables, 1):
        table.to_csv(os.path.join(job.out, f"{step}_{i:02d}_{table.attrs.get('name', 'result')}.csv"), index=False)


def write_html(file, results):
    parts = ["<!doctype html><meta charset='utf-8'><title>Segmentation report (Python)</title>",
             "<style>body{font-family:sans-serif} table{border-collapse:collapse} td,th{padding:2px 8px}</style>"]
    for step, tables in results:
        parts.append(f"<h2>{step}</h2>")
        for table in tables:
            parts.append(f"<h3>{table.attrs.get('name', '')}</h3>")
            parts.append(table.to_html(index=False, na_rep="", max_rows=200))
    with open(file, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def run(job, steps, html=None, quiet=False):
    """Runs the steps in order; returns [(step, tables)] and prints each step's wall time."""
    os.makedirs(job.out, exist_ok=True)
    results = []
    for step in steps:
        started = time.perf_counter()
        tables = STEPS[step](job)
        write_results(job, step, tables)
        results.append((step, tables))
        if not quiet:
            print(f"{step}: {time.perf_counter() - started:.3f} s ({len(tables)} tables)", flush=True)
    if html:
        write_html(html, results)
    return results


# ---------------------------------------------------------------- --check
#
# The check runs segsql script by script (each numbered script its own process, as the
# benchmark runs them) and this pipeline step by step (a fresh Job per step, so each step
# reads its inputs and refits its models as its own process would) on the same files, after
# giving both the same baseline (last week's customers export, made by segsql with as_of
# one week earlier) so that 08 compares something. It then compares every result table and
# the exports of 06 cell by cell:
#  - counts, text, dates, booleans exactly; DECIMAL sums exactly (pandas' float sums rounded
#    to cents); other floats to 1e-9 relative;
#  - a column the SQL rounds with round(x, d): this side's unrounded value rounded half away
#    from zero must give the SQL's value exactly, or the value lies within 1e-9 of a rounding
#    tie and the SQL has one of the two neighbours (counted and shown as "ties");
#  - k-means (the elbow's fits and the model): scikit-learn starts from the centroids of
#    segsql's fit (model_centroids, standardised with this side's z-scores) and must reach
#    the same labels, inertia and indices; the elbow's fits are segsql's CREATE MODEL with
#    the elbow's seed and one start per k, which the check confirms has the elbow's inertia;
#  - a silhouette on a sample (above 10,000 rows in the elbow, 20,000 in the validation): the
#    two sides draw different samples, so the values must agree within four standard
#    deviations of the difference of two estimates (the spread measured over 20 seeds here);
#  - lifetimes' fitted parameters to 1e-4 relative and their standard errors to 1e-3 (the
#    parity tests' tolerances), the log-likelihoods to 1e-6; everything scored with the CLV
#    models (P(alive), expected purchases, CLV, the holdout check) is computed with segsql's
#    fitted parameters, to 1e-9, and what lifetimes' own fit changes is printed;
#  - not compared: optimiser iteration counts and model file paths, and k-means stability
#    (different random halves and starts on each side; both values are printed).

CHECK_KEY = "check-key-0123456789abcdef"
TABLE_PARAMS = ["--param", "orders=orders", "--param", "customers=customers", "--param", "events=events",
                "--param", "spend=marketing_spend"]

# table name -> {column: rule}; rule: ("skip", why) | ("rel", tolerance) | ("text", decimals);
# "_rows": (column, value, why): a row left out
LIFETIMES_FIT = {"iterations": ("skip", "different optimisers"), "path": ("skip", "each side's own model file"),
                 "log_likelihood": ("rel", 1e-6)}
RULES = {
    "create_model_clv_buyers": LIFETIMES_FIT,
    "create_model_clv_spend": LIFETIMES_FIT,
    "create_model_clv_calibration": LIFETIMES_FIT,
    "create_model_customer_segments": {
        "iterations": ("skip", "scikit-learn starts from segsql's final centroids"),
        "path": ("skip", "each side's own model file")},
    "clv_params": {"value": ("rel", 1e-4), "std_error": ("rel", 1e-3)},
    "create_model_churn_propensity": {
        "iterations": ("skip", "different optimisers (lbfgs, BFGS)"), "path": ("skip", "each side's own model file")},
    "propensity_coefficients": {"coefficient": ("rel", 1e-5)},
    "summary": {"value": ("text", 4), "_rows": ("metric", "exports", "each side's own export folder")},
}
NOT_COMPARED = {"stability": "k-means on random halves: each side draws its own halves and k-means++ starts"}
EXPORTS = ["customers.csv", "retention_monthly.csv", "revenue_cohorts.csv", "segments.csv", "clusters.csv", "audience.csv"]


def segsql_json(binary, argv, cwd):
    """segsql's results, one JSON array per result."""
    done = subprocess.run([binary, "-q", "--threads", "2", "--format", "json", *argv], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"segsql {' '.join(argv)} failed:\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def plain(value):
    """A DataFrame cell as a plain Python value; every kind of missing as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def rounded_match(value, target, d):
    """'exact', 'tie' or None: does round(value, d) give target?"""
    if float(sql_round(np.array([value]), d)[0]) == target:
        return "exact"
    scaled = value * 10.0 ** d
    below = math.floor(scaled)
    if abs(scaled - below - 0.5) <= 1e-9 * max(1.0, abs(scaled)) and target in (below / 10.0 ** d, (below + 1) / 10.0 ** d):
        return "tie"
    return None


def same_cell(sql, py, rule, d, tolerance):
    """None when equal, else why not; 'tie' for an equal rounding tie."""
    if sql is None or py is None:
        return None if sql is None and py is None else "missing on one side"
    if isinstance(sql, bool) or isinstance(py, bool):
        return None if isinstance(sql, bool) and isinstance(py, bool) and sql == py else "differ"
    if isinstance(sql, str) or isinstance(py, str):
        if rule and rule[0] == "text":
            try:
                sql_number, py_number = float(sql), float(py)
            except (TypeError, ValueError):
                return None if str(sql) == str(py) else "differ"
            return None if rounded_match(py_number, sql_number, rule[1]) else "differ"
        return None if str(sql) == str(py) else "differ"
    sql, py = float(sql), float(py)
    if d is not None:
        match = rounded_match(py, sql, d)
        if match == "exact":
            return None
        if tolerance is not None and abs(py - sql) <= tolerance + 0.5 * 10.0 ** -d * (1 + 1e-9):
            return None
        if match == "tie" and tolerance is None:
            return "tie"
        return "differ"
    limit = tolerance if tolerance is not None else 1e-9 * max(abs(sql), abs(py))
    return None if abs(sql - py) <= limit or sql == py else "differ"


def compare_table(label, rows, frame, rules, per_row_tolerance=None):
    """(ok, detail): rows are segsql's JSON objects, frame this side's table."""
    if len(rows) != len(frame):
        return False, f"{len(rows)} rows from segsql, {len(frame)} from Python"
    columns = list(rows[0]) if rows else list(frame.columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return False, f"Python has no column {', '.join(missing)}"
    decimals = frame.attrs.get("rounded", {})
    notes, ties, problems, cells = [], 0, [], 0
    left_out = set()
    if "_rows" in rules:
        column, value, why = rules["_rows"]
        left_out = {i for i, row in enumerate(rows) if row[column] == value}
        notes.append(f"row {column} = {value!r} not compared ({why})")
    for column in columns:
        rule = rules.get(column)
        if rule and rule[0] == "skip":
            notes.append(f"{column} not compared ({rule[1]})")
            continue
        for i, row in enumerate(rows):
            if i in left_out:
                continue
            tolerance = None
            if rule and rule[0] == "rel":
                tolerance = rule[1] * max(abs(float(row[column] or 0)), 1e-300)
            if per_row_tolerance and column in per_row_tolerance:
                tolerance = per_row_tolerance[column][i]
            why = same_cell(row[column], plain(frame[column].iloc[i]), rule, decimals.get(column), tolerance)
            cells += 1
            if why == "tie":
                ties += 1
            elif why:
                problems.append(f"row {i + 1} {column}: segsql {row[column]!r}, Python {plain(frame[column].iloc[i])!r}")
    detail = f"{len(rows)} rows x {len(columns)} columns"
    if ties:
        detail += f"; {ties} rounding ties"
    tolerances = [f"{c} to {r[1]:g} relative" for c, r in rules.items() if r[0] == "rel"]
    tolerances += [f"{c} (text) after round(x, {r[1]})" for c, r in rules.items() if r[0] == "text"]
    if per_row_tolerance:
        tolerances += [f"{c} (sampled) within {max(v):.2g}" for c, v in per_row_tolerance.items()]
    if tolerances:
        detail += "; " + ", ".join(tolerances)
    if notes:
        detail += "; " + "; ".join(notes)
    if problems:
        return False, detail + "\n      " + "\n      ".join(problems[:8]) + (f"\n      ... {len(problems) - 8} more" if len(problems) > 8 else "")
    return True, detail


def compare_export(name, seg_dir, py_dir):
    """The CSV files 06 writes, column by column: text, numbers to 1e-9, times as times."""
    seg, py = pd.read_csv(os.path.join(seg_dir, name)), pd.read_csv(os.path.join(py_dir, name))
    if list(seg.columns) != list(py.columns):
        return False, f"columns {list(seg.columns)} vs {list(py.columns)}"
    if len(seg) != len(py):
        return False, f"{len(seg)} rows from segsql, {len(py)} from Python"
    problems = []
    for column in seg.columns:
        a, b = seg[column], py[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
            bad = ~((x == y) | (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 1e-9 * np.maximum(np.abs(x), np.abs(y))))
        else:
            if column.endswith(("_order", "_ts")):
                a, b = pd.to_datetime(a), pd.to_datetime(b)
            bad = ~((a == b) | (a.isna() & b.isna())).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            problems.append(f"{column}: {int(bad.sum())} rows differ, first row {i + 1}: segsql {a.iloc[i]!r}, Python {b.iloc[i]!r}")
    if problems:
        return False, "\n      ".join(problems)
    return True, f"{len(seg)} rows x {len(seg.columns)} columns"


def silhouette_spread(z, labels, size, seeds=20):
    """The standard deviation of scikit-learn's sampled silhouette over seeds."""
    from sklearn.metrics import silhouette_score

    return float(np.std([silhouette_score(z, labels, sample_size=size, random_state=s) for s in range(seeds)], ddof=1))


def model_params(models, name):
    with open(os.path.join(models, f"{name}.json")) as f:
        return {p["name"]: p["value"] for p in json.load(f)["parameters"]}


def check(args):
    import report_job

    binary = os.path.abspath(args.binary)
    if not os.path.exists(binary):
        raise SystemExit(f"--check: no segsql binary at {binary} (give --binary)")
    sample = args.sample or os.path.join(report_job.data_root(), f"report-5000-v{report_job.DATA_VERSION}")
    report_job.ensure_data(binary, 5000, sample)
    as_of = "2026-01-01"
    work = tempfile.mkdtemp(prefix="segsql-check-")
    try:
        return run_check(binary, sample, as_of, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_check(binary, sample, as_of, work):
    import report_job
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    builtin = report_job.equals_builtin_sample(binary, sample)
    print(f"Data: {sample}, {'equal to' if builtin else 'NOT the same as'} segsql's built-in sample.* "
          f"(both sides read these files: segsql with --data and the table parameters).")
    baseline = report_job.make_baseline(binary, sample, os.path.join(work, "baseline"), as_of)
    seg_cwd, py_out = os.path.join(work, "segsql"), os.path.join(work, "python")
    seg_out, seg_models = os.path.join(seg_cwd, "out"), os.path.join(seg_cwd, "models")
    for folder in (seg_out, py_out):
        os.makedirs(folder, exist_ok=True)
        shutil.copy(baseline, os.path.join(folder, "customers.parquet"))
    common = ["--data", sample, *TABLE_PARAMS, "--param", f"as_of={as_of}"]

    sql = {}
    for step in STEPS:
        sql[step] = segsql_json(binary, [*common, "--param", f"out_dir={seg_out}", "--param", f"pseudonym_key={CHECK_KEY}",
                                         "--models", seg_models, "-f", os.path.join(ROOT, "queries", f"{step}.sql")], seg_cwd)

    # segsql's fits, for scikit-learn to start from: the model, and the elbow's k-means per k
    centroids = segsql_json(binary, ["--models", seg_models, "-c",
                                     "SELECT * FROM model_centroids('customer_segments') ORDER BY cluster_id"], seg_cwd)[0]
    kmeans_init = np.array([[c[f] for f in FEATURES] for c in centroids])
    elbow_models = os.path.join(work, "elbow-models")
    statements = []
    for k in range(2, 9):
        statements += ["-c", f"CREATE OR REPLACE MODEL elbow_{k} USING kmeans (k = {k}, seed = 42, standardize = 'zscore') "
                             "AS SELECT recency_days, frequency, monetary FROM customer_rfm",
                       "-c", f"SELECT * FROM model_centroids('elbow_{k}') ORDER BY cluster_id"]
    fits = segsql_json(binary, [*common, "--models", elbow_models, "-f", os.path.join(ROOT, "queries", "_setup.sql"), *statements], seg_cwd)
    elbow_init = {k: np.array([[c[f] for f in FEATURES] for c in fits[2 * (k - 2) + 1]]) for k in range(2, 9)}
    elbow_inertia = {k: fits[2 * (k - 2)][0]["inertia"] for k in range(2, 9)}
    clv_params = {name: model_params(seg_models, name) for name in ("clv_buyers", "clv_spend", "clv_calibration")}

    python, jobs = {}, {}
    for step in STEPS:
        job = Job(sample, py_out, as_of=as_of, pseudonym_key=CHECK_KEY, models=os.path.join(py_out, "models"))
        job.unrounded, job.kmeans_init, job.elbow_init, job.clv_params = True, kmeans_init, elbow_init, clv_params
        python[step] = STEPS[step](job)
        jobs[step] = job

    verdicts = []

    def verdict(label, ok, detail):
        verdicts.append((label, ok))
        print(f"{'PASS' if ok else 'FAIL' if ok is False else '----'}  {label}: {detail}")

    print("\nResult tables (segsql script by script; Python step by step; k-means from segsql's centroids, "
          "CLV scored with segsql's parameters):")
    for step in STEPS:
        rows, frames = sql[step], python[step]
        names = [f.attrs.get("name") for f in frames]
        if len(rows) != len(frames):
            verdict(f"{step}", False, f"segsql printed {len(rows)} results, Python has {len(frames)} ({', '.join(names)})")
            continue
        for i, (result, frame) in enumerate(zip(rows, frames), 1):
            name = frame.attrs.get("name")
            label = f"{step} #{i} {name}"
            if name in NOT_COMPARED:
                shown = lambda table: ", ".join(f"{k}={v}" for k, v in table.items())
                verdict(label, None, f"not compared: {NOT_COMPARED[name]}. segsql: {shown(result[0])}; "
                                     f"Python: {shown({c: plain(frame[c].iloc[0]) for c in frame.columns})}")
                continue
            spread = None
            sampled = frame.attrs.get("sampled", {}).get("silhouette")
            if sampled:
                job = jobs[step]
                z = (features(customer_rfm(job)) - job.cache["segments"].scaler.mean_) / job.cache["segments"].scaler.scale_
                labelling = ([job.cache["segsql_labels"][f"elbow k={k}"] for k in frame["k"]] if name == "elbow"
                             else [customer_clusters(job)["cluster_id"].to_numpy()])
                spread = {"silhouette": [4 * math.sqrt(2) * silhouette_spread(z, labels, sampled) for labels in labelling]}
            ok, detail = compare_table(label, result, frame, RULES.get(name, {}), spread)
            if name == "elbow":
                premise = all(abs(elbow_inertia[k] - r["inertia"]) <= 0.005 + 1e-9 * abs(r["inertia"]) for k, r in zip(range(2, 9), result))
                detail += ("; segsql's CREATE MODEL (k, seed 42, one start) has the elbow's inertia for every k" if premise
                           else "; segsql's CREATE MODEL (k, seed 42, one start) does NOT have the elbow's inertia, so the start is not the elbow's")
                ok = ok and premise
            verdict(label, ok, detail)

    print("\nk-means: scikit-learn's KMeans started from segsql's centroids (the tables above use segsql's centroids as they are):")
    fits = jobs["04_clustering"].cache["from_segsql"]
    segsql_inertia = {f"elbow k={k}": v for k, v in elbow_inertia.items()}
    segsql_inertia["model"] = sql["04_clustering"][3][0]["inertia"]
    for key, (iterations, inertia, labels) in fits.items():
        theirs = segsql_inertia[key]
        moved = int((labels != jobs["04_clustering"].cache["segsql_labels"][key]).sum())
        change = (theirs - inertia) / theirs
        if moved == 0 and abs(change) <= 1e-9:
            verdict(f"04_clustering {key}", True, f"converges in {iterations} Lloyd pass(es) to segsql's labels and inertia "
                                                   f"({inertia:.6f}, {change:.1e} relative)")
        else:
            ok = iterations == 1 and 0 <= change <= 1e-4
            verdict(f"04_clustering {key}", ok,
                    f"segsql stopped on the tolerance (centres within 1e-4 of the variance, not yet their clusters' means); "
                    f"scikit-learn agrees they have converged ({iterations} pass) and its one more update moves {moved} of "
                    f"{len(labels)} rows, inertia {inertia:.6f} against segsql's {theirs:.6f} ({change:.1e} relative lower)")

    print("\nExports of 06:")
    for name in EXPORTS:
        ok, detail = compare_export(name, seg_out, py_out)
        verdict(f"06_exports {name}", ok, detail)

    print("\nWhat the check's shared starting points hide (information, not compared):")
    job = jobs["04_clustering"]
    z = job.cache["segments"].scaler.transform(features(customer_rfm(job)))
    own = KMeans(n_clusters=job.k, n_init=4, random_state=42).fit(z)
    seg_labels = customer_clusters(job)["cluster_id"].to_numpy()
    print(f"  scikit-learn's own k-means (n_init=4, random_state=42): inertia {own.inertia_:.6f}, segsql's "
          f"{sql['04_clustering'][3][0]['inertia']:.6f}; adjusted Rand index with segsql's clusters "
          f"{adjusted_rand_score(seg_labels, own.labels_):.6f}")
    mine = [KMeans(n_clusters=k, n_init=1, random_state=42).fit(z).inertia_ for k in range(2, 9)]
    print("  the elbow from scikit-learn's own starts (random_state=42), inertia by k: "
          + ", ".join(f"{k}: {a:.2f} (segsql {b['inertia']:.2f})" for k, a, b in zip(range(2, 9), mine, sql["04_clustering"][2])))
    own_job = Job(sample, os.path.join(work, "own-clv"), as_of=as_of)
    own_clv, shared_clv = customer_clv(own_job), customer_clv(jobs["07_clv"])
    for column in ("p_alive", "purchases_next_52w", "clv_12m"):
        a, b = own_clv[column].sum(), shared_clv[column].sum()
        print(f"  with lifetimes' own fitted parameters, the sum of {column} over customers differs from segsql's by "
              f"{abs(a - b) / abs(b):.2e} relative")

    failed = [label for label, ok in verdicts if ok is False]
    passed = sum(1 for _, ok in verdicts if ok)
    skipped = sum(1 for _, ok in verdicts if ok is None)
    print(f"\nCheck: {passed} PASS, {len(failed)} FAIL, {skipped} not compared"
          + (f" (FAIL: {'; '.join(failed)})" if failed else ""))
    return 1 if failed else 0




def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder of orders/customers/events/marketing_spend .parquet")
    parser.add_argument("--out", help="folder for the result CSVs and the exports")
    parser.add_argument("--step", default="all", help="all, or one step: 01 ... 08, or its name (03_rfm)")
    parser.add_argument("--as-of", default="2026-01-01")
    parser.add_argument("--churn-days", type=int, default=90)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--calibration-end", default="2025-07-01")
    parser.add_argument("--clv-penalizer", type=float, default=0.0)
    parser.add_argument("--min-group", type=int, default=10)
    parser.add_argument("--silhouette-sample", type=int, default=20_000)
    parser.add_argument("--pseudonym-key", default=os.environ.get("PSEUDONYM_KEY"),
                        help="the audience export's HMAC key (default $PSEUDONYM_KEY; without one it is skipped)")
    parser.add_argument("--models", help="where 04 saves the k-means model (default OUT/models)")
    parser.add_argument("--html", help="also write every result table into this HTML file")
    parser.add_argument("--check", action="store_true", help="compare every result table with segsql's on the sample data")
    parser.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "segsql"))
    parser.add_argument("--sample", help="--check: the sample-size data folder (default $BENCH_DATA/report-5000-v2)")
    parser.add_argument("--keep", action="store_true", help="--check: keep the work folder")
    args = parser.parse_args()

    if args.check:
        sys.exit(check(args))
    if not args.data or not args.out:
        parser.error("--data and --out are required (or --check)")
    job = Job(args.data, args.out, as_of=args.as_of, churn_days=args.churn_days, k=args.k,
              calibration_end=args.calibration_end, clv_penalizer=args.clv_penalizer,
              pseudonym_key=args.pseudonym_key, min_group=args.min_group, silhouette_sample=args.silhouette_sample,
              models=args.models)
    started = time.perf_counter()
    run(job, step_names(args.step), html=args.html)
    print(f"total: {time.perf_counter() - started:.3f} s", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
