-- 3. RFM table, segment distribution and revenue share per segment.

\i _setup.sql

-- @section metrics
-- RFM segments: customers, revenue and revenue share
-- @chart bar x=segment y=revenue format=currency title="Revenue by RFM segment"
-- @finding "{segment} are the top RFM segment by revenue: {revenue_share:percent} of revenue from {customer_share:percent} of customers"
SELECT segment,
       count(*) AS customers,
       round(CAST(count(*) AS DOUBLE) / (SELECT count(*) AS all_customers FROM customer_rfm), 4) AS customer_share,
       sum(monetary) AS revenue,
       round(sum(monetary) / (SELECT sum(monetary) AS all_revenue FROM customer_rfm), 4) AS revenue_share,
       round(avg(recency_days), 1) AS avg_recency_days,
       round(avg(frequency), 2) AS avg_orders
FROM customer_rfm
GROUP BY segment
ORDER BY revenue DESC, segment;

-- Lifecycle stages on as_of (at risk after churn_days without an order, lapsed after 180 days)
-- @chart bar x=stage y=customers title="Customers by lifecycle stage"
-- @finding "On ${as_of}, {active_share:percent} of customers are active, {new_share:percent} new and {reactivated_share:percent} reactivated; {at_risk_share:percent} are at risk and {lapsed_share:percent} have lapsed"
WITH stages AS (
  SELECT l.stage, count(*) AS customers, sum(r.monetary) AS revenue
  FROM lifecycle(${orders}, customer_id, order_ts, '${as_of}', 30, ${churn_days}, 180) l
  JOIN customer_rfm r ON r.customer_id = l.customer_id
  GROUP BY l.stage
), shares AS (
  SELECT stage, customers, revenue,
         round(CAST(customers AS DOUBLE) / sum(customers) OVER (), 4) AS customer_share,
         round(revenue / sum(revenue) OVER (), 4) AS revenue_share
  FROM stages
)
SELECT stage, customers, customer_share, revenue, revenue_share,
       sum(CASE WHEN stage = 'active' THEN customer_share END) OVER () AS active_share,
       sum(CASE WHEN stage = 'new' THEN customer_share END) OVER () AS new_share,
       sum(CASE WHEN stage = 'reactivated' THEN customer_share END) OVER () AS reactivated_share,
       sum(CASE WHEN stage = 'at_risk' THEN customer_share END) OVER () AS at_risk_share,
       sum(CASE WHEN stage = 'lapsed' THEN customer_share END) OVER () AS lapsed_share
FROM shares
ORDER BY CASE stage WHEN 'new' THEN 1 WHEN 'active' THEN 2 WHEN 'reactivated' THEN 3 WHEN 'at_risk' THEN 4 ELSE 5 END;

-- Revenue of the last 12 months by month, split by the customers' RFM segment today
-- @chart stacked x=month y=revenue series=segment format=currency title="Monthly revenue by today's RFM segment (the segment mix)"
SELECT to_char(o.order_ts, '%Y-%m') AS month, r.segment, sum(o.amount) AS revenue
FROM ${orders} o JOIN customer_rfm r ON r.customer_id = o.customer_id
WHERE o.order_ts >= DATE '${as_of}' - INTERVAL '12 months' AND o.order_ts < DATE '${as_of}'
GROUP BY month, r.segment
ORDER BY month, r.segment;

-- @section methodology
-- R × F grid: customers (colour) and revenue per cell
-- @chart heatmap x=f_score y=r_score value=customers label=cell title="R × F grid: customers · revenue per cell"
SELECT r_score, f_score, count(*) AS customers, sum(monetary) AS revenue,
       concat(CAST(count(*) AS VARCHAR), ' · $', CAST(round(sum(monetary) / 1000, 1) AS VARCHAR), 'k') AS cell
FROM customer_rfm
GROUP BY r_score, f_score
ORDER BY r_score DESC, f_score;

-- @section appendix
-- The top customers by revenue
SELECT customer_id, recency_days, frequency, monetary, rfm_score, segment
FROM customer_rfm
ORDER BY monetary DESC, customer_id
LIMIT 20;
