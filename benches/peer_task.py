#!/usr/bin/env python3
"""Runs one peer task and prints its checksum and the seconds the work took, as JSON.

    python benches/peer_task.py duckdb_rfm DATA_DIR

Each task reads the same Parquet file segsql reads; the time excludes interpreter start-up
and imports but includes reading the data, as segsql's does.
"""

import json
import sys
import time

TASKS = {}


def task(name):
    def register(function):
        TASKS[name] = function
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
def duckdb_rfm(data):
    return duckdb_connection().execute(RFM_SQL.format(orders=f"{data}/orders.parquet")).fetchall()[0]


@task("duckdb_retention")
def duckdb_retention(data):
    return duckdb_connection().execute(RETENTION_SQL.format(orders=f"{data}/orders.parquet")).fetchall()[0]


@task("lifetimes_summary")
def lifetimes_summary(data):
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    orders = pd.read_parquet(f"{data}/orders.parquet", columns=["customer_id", "order_ts", "amount"])
    orders["amount"] = orders["amount"].astype(float)
    summary = summary_data_from_transaction_data(orders, "customer_id", "order_ts", "amount")
    return (
        len(summary),
        float(summary["frequency"].sum()),
        float(summary["recency"].sum()),
        float(summary["T"].sum()),
        float(summary["monetary_value"].sum()),
    )


def main():
    name, data = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    checksum = TASKS[name](data)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "checksum": [float(x) for x in checksum]}))


if __name__ == "__main__":
    main()
