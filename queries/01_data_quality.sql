-- 1. Data pull and quality checks.
--   segsql -f queries/01_data_quality.sql [--data DIR --param orders=... --param as_of=YYYY-MM-DD]

\i _setup.sql

-- Row counts and date ranges
SELECT 'orders' AS table_name, count(*) AS row_count, min(order_ts)::DATE AS first_day, max(order_ts)::DATE AS last_day
FROM ${orders}
UNION ALL SELECT 'events', count(*), min(ts)::DATE, max(ts)::DATE FROM ${events}
UNION ALL SELECT 'customers', count(*), min(signup_ts)::DATE, max(signup_ts)::DATE FROM ${customers}
ORDER BY table_name;

-- Missing values, returns and zero amounts in orders (all are kept by the analysis)
SELECT count(*) - count(customer_id) AS null_customer_ids,
       count(*) - count(order_ts) AS null_timestamps,
       count(*) - count(amount) AS null_amounts,
       count(*) FILTER (WHERE amount < 0) AS returns_negative_amounts,
       count(*) FILTER (WHERE amount = 0) AS zero_amounts,
       count(*) FILTER (WHERE order_ts >= DATE '${as_of}') AS orders_after_as_of
FROM ${orders};

-- Duplicate orders (same customer, time and amount)
SELECT count(*) AS duplicate_groups, coalesce(sum(copies - 1), 0) AS extra_rows
FROM (SELECT customer_id, order_ts, amount, count(*) AS copies FROM ${orders} GROUP BY 1, 2, 3 HAVING count(*) > 1);

-- @section metrics
-- Orders and revenue per month
-- @chart line x=month y=revenue format=currency title="Revenue per month"
SELECT date_trunc('month', order_ts)::DATE AS month, count(*) AS orders, sum(amount) AS revenue
FROM ${orders}
WHERE order_ts < DATE '${as_of}'
GROUP BY 1
ORDER BY 1;
