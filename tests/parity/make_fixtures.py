#!/usr/bin/env python3
"""Writes the parity fixtures in tests/fixtures/ with the real peers.

    bash tests/parity/make_fixtures.sh     # builds segsql, makes a venv, runs this

Inputs: the built-in sample (written by `segsql generate`, identical to sample.*) and the
hand-made tests/fixtures/edge_orders.csv. Outputs: CSV files that the Rust parity tests
compare segsql against, so CI needs no Python.
"""

import os
import sys

import duckdb
import pandas as pd
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def orders(path):
    if path.endswith(".csv"):
        frame = pd.read_csv(path)
    else:
        frame = pd.read_parquet(path, columns=["customer_id", "order_ts", "amount"])
    frame["order_ts"] = pd.to_datetime(frame["order_ts"])
    frame["amount"] = frame["amount"].astype(float)
    return frame


def write(frame, name):
    path = os.path.join(FIXTURES, name)
    frame.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
    print(f"wrote {path} ({len(frame)} rows)")


def lifetimes_summary(frame, name, as_of=None, freq="D"):
    summary = summary_data_from_transaction_data(
        frame, "customer_id", "order_ts", "amount", observation_period_end=as_of, freq=freq
    )
    summary = summary.reset_index().sort_values("customer_id")
    write(summary[["customer_id", "frequency", "recency", "T", "monetary_value"]], name)


def lifetimes_calibration(frame, name, calibration_end, observation_end, freq="D"):
    split = calibration_and_holdout_data(
        frame, "customer_id", "order_ts", calibration_period_end=calibration_end,
        observation_period_end=observation_end, freq=freq, monetary_value_col="amount",
    )
    split = split.reset_index().sort_values("customer_id")
    write(split, name)


RFM_SQL = """
WITH customers AS (
    SELECT customer_id,
           date_diff('day', max(order_ts::DATE), {as_of}) AS recency_days,
           count(*) AS frequency,
           sum(amount)::DOUBLE AS monetary
    FROM {source}
    WHERE order_ts::DATE <= {as_of}
    GROUP BY customer_id
)
SELECT customer_id, recency_days, frequency, monetary,
       1 + floor({bins} * (rank() OVER (ORDER BY recency_days DESC) - 1) / count(*) OVER ())::INT AS r_score,
       1 + floor({bins} * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ())::INT AS f_score,
       1 + floor({bins} * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER ())::INT AS m_score
FROM customers
ORDER BY customer_id
"""


def duckdb_rfm(source, name, as_of=None, bins=5):
    # The default as_of: the day after the latest order.
    as_of_sql = f"DATE '{as_of}'" if as_of else f"(SELECT max(order_ts)::DATE + 1 FROM {source})"
    frame = duckdb.sql(RFM_SQL.format(source=source, as_of=as_of_sql, bins=bins)).df()
    write(frame, name)


def prop_ztests():
    cases = [
        (120, 1000, 150, 1000),
        (60, 100, 40, 100),
        (50, 100, 50, 100),
        (1, 20, 9, 25),
        (0, 50, 3, 60),
        (999, 1000, 990, 1000),
        (12345, 100000, 12800, 100000),
        (7, 9, 2, 11),
    ]
    rows = []
    for sa, na, sb, nb in cases:
        _, p_value = proportions_ztest([sa, sb], [na, nb])
        rows.append({"successes_a": sa, "n_a": na, "successes_b": sb, "n_b": nb, "p_value": p_value})
    write(pd.DataFrame(rows), "prop_ztest_statsmodels.csv")


def exact_sample_size(base, uplift, alpha, power):
    """The same power equation solved at 50 digits (mpmath) from the same doubles:
    statsmodels' root finder stops a few parts in 10⁹ short of it on some cases."""
    import mpmath as mp

    mp.mp.dps = 50
    b, u, a, p = (mp.mpf(x) for x in (base, uplift, alpha, power))
    h = abs(2 * mp.asin(mp.sqrt(mp.mpf(base + uplift))) - 2 * mp.asin(mp.sqrt(b)))
    critical = mp.sqrt(2) * mp.erfinv(1 - a)
    t = mp.findroot(lambda t: mp.ncdf(t - critical) + mp.ncdf(-critical - t) - p, critical + mp.sqrt(2) * mp.erfinv(2 * p - 1))
    return float(2 * (t / h) ** 2)


def ab_sample_sizes():
    """Users per group for ab_sample_size(base_rate, uplift, alpha, power): statsmodels'
    NormalIndPower().solve_power on Cohen's h, two-sided, equal groups."""
    cases = [
        (0.10, 0.02, 0.05, 0.8),
        (0.12, -0.02, 0.05, 0.8),
        (0.05, 0.01, 0.05, 0.8),
        (0.05, 0.005, 0.01, 0.9),
        (0.30, 0.05, 0.10, 0.7),
        (0.50, 0.20, 0.05, 0.95),
        (0.02, 0.001, 0.05, 0.8),
        (0.90, 0.05, 0.05, 0.8),
        (0.25, -0.10, 0.20, 0.6),
    ]
    rows = []
    for base, uplift, alpha, power in cases:
        h = proportion_effectsize(base + uplift, base)
        users = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
        rows.append({"base_rate": base, "uplift": uplift, "alpha": alpha, "power": power, "users_per_group": float(users),
                     "users_exact": exact_sample_size(base, uplift, alpha, power)})
    write(pd.DataFrame(rows), "ab_sample_size_statsmodels.csv")


def main():
    if sys.argv[1:] == ["--stats-only"]:
        prop_ztests()
        ab_sample_sizes()
        return
    sample_dir = sys.argv[1]
    sample = os.path.join(sample_dir, "orders.parquet")
    edge = os.path.join(FIXTURES, "edge_orders.csv")
    sample_orders = orders(sample)
    edge_orders = orders(edge)

    lifetimes_summary(sample_orders, "rfm_summary_sample_day.csv")
    lifetimes_summary(sample_orders, "rfm_summary_sample_week.csv", freq="W")
    lifetimes_summary(sample_orders, "rfm_summary_sample_asof.csv", as_of="2025-06-30")
    lifetimes_summary(edge_orders, "rfm_summary_edge_day.csv")
    lifetimes_summary(edge_orders, "rfm_summary_edge_week.csv", freq="W")
    lifetimes_summary(edge_orders, "rfm_summary_edge_asof.csv", as_of="2024-02-29")
    lifetimes_calibration(sample_orders, "calibration_sample_day.csv", "2025-03-31", "2025-06-30")
    lifetimes_calibration(sample_orders, "calibration_sample_week.csv", "2025-01-05", "2025-06-29", freq="W")
    lifetimes_calibration(edge_orders, "calibration_edge_day.csv", "2024-01-05", "2024-03-01")
    lifetimes_calibration(edge_orders, "calibration_edge_week.csv", "2024-01-31", "2024-03-01", freq="W")

    duckdb.sql(f"CREATE VIEW sample_orders AS SELECT * FROM read_parquet('{sample}')")
    duckdb.sql(f"CREATE VIEW edge_orders AS SELECT * FROM read_csv('{edge}', header = true)")
    duckdb_rfm("sample_orders", "rfm_duckdb_sample.csv")
    duckdb_rfm("sample_orders", "rfm_duckdb_sample_asof_bins4.csv", as_of="2025-06-30", bins=4)
    duckdb_rfm("edge_orders", "rfm_duckdb_edge.csv")
    duckdb_rfm("edge_orders", "rfm_duckdb_edge_bins3.csv", as_of="2024-03-01", bins=3)

    prop_ztests()
    ab_sample_sizes()


if __name__ == "__main__":
    main()
