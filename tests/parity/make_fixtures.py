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
from statsmodels.stats.proportion import proportions_ztest

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


def main():
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


if __name__ == "__main__":
    main()
