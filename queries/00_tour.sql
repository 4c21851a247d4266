-- A first tour of segsql on the built-in sample data.
--
--   cargo run --release -- -f queries/00_tour.sql
--   cargo run --release -- -f queries/00_tour.sql --param as_of=2025-06-30
--
-- The sample lives in the `sample` schema: customers, orders, events and
-- marketing_spend for 5,000 customers over 2024-2025 (see \sample).
-- Parameters: as_of (the day the analysis looks back from).

\default as_of 2026-01-01

-- 1. What is in the sample.
SELECT 'customers' AS table_name, count(*) AS row_count FROM sample.customers
UNION ALL SELECT 'orders', count(*) FROM sample.orders
UNION ALL SELECT 'events', count(*) FROM sample.events
UNION ALL SELECT 'marketing_spend', count(*) FROM sample.marketing_spend
ORDER BY table_name;

-- 2. Revenue by quarter: orders, buyers and average order value (refunds included).
SELECT date_trunc('quarter', order_ts)::DATE AS quarter,
       count(*) AS orders,
       count(DISTINCT customer_id) AS buyers,
       sum(amount) AS revenue,
       round(avg(amount), 2) AS avg_order_value
FROM sample.orders
WHERE order_ts < DATE '${as_of}'
GROUP BY 1
ORDER BY 1;

-- 3. How often customers come back: the share of buyers with 1, 2, 3-5 and 6+ orders.
WITH per_customer AS (
    SELECT customer_id, count(*) AS orders
    FROM sample.orders
    WHERE amount > 0 AND order_ts < DATE '${as_of}'
    GROUP BY customer_id
)
SELECT CASE WHEN orders = 1 THEN '1' WHEN orders = 2 THEN '2'
            WHEN orders <= 5 THEN '3-5' ELSE '6+' END AS orders_per_customer,
       count(*) AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
FROM per_customer
GROUP BY 1
ORDER BY 1;

-- 4. Acquisition channels: customers, revenue per customer and what they cost.
WITH revenue AS (
    SELECT c.acquisition_channel, count(DISTINCT c.customer_id) AS customers,
           coalesce(sum(o.amount), 0) AS revenue
    FROM sample.customers c
    LEFT JOIN sample.orders o ON o.customer_id = c.customer_id AND o.order_ts < DATE '${as_of}'
    GROUP BY 1
), spend AS (
    SELECT channel, sum(spend) AS spend FROM sample.marketing_spend GROUP BY 1
)
SELECT r.acquisition_channel, r.customers,
       round(r.revenue / r.customers, 2) AS revenue_per_customer,
       round(s.spend / r.customers, 2) AS cac
FROM revenue r LEFT JOIN spend s ON s.channel = r.acquisition_channel
ORDER BY revenue_per_customer DESC;

-- 5. The purchase funnel: users reaching each step.
SELECT event AS step, count(DISTINCT user_id) AS users
FROM sample.events
WHERE ts < DATE '${as_of}'
GROUP BY event
ORDER BY users DESC;

-- 6. Customers who have not ordered for 90 days, by the country they buy from.
SELECT coalesce(country, 'unknown') AS country,
       count(*) AS customers,
       count(*) FILTER (WHERE last_order < DATE '${as_of}' - INTERVAL '90 days') AS lapsed_90d
FROM (
    SELECT customer_id, max(order_ts) AS last_order, max(country) AS country
    FROM sample.orders
    WHERE order_ts < DATE '${as_of}'
    GROUP BY customer_id
)
GROUP BY 1
ORDER BY customers DESC;
