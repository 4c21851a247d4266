-- The dashboard mix of the load test: each client runs these in turn, and every answer must
-- equal the shell's. Statements end with a line ending in ';'.
SELECT segment, count(*) AS customers, sum(monetary) AS revenue, round(avg(recency_days), 2) AS avg_recency
FROM customer_rfm GROUP BY segment ORDER BY segment;
SELECT cohort, period, cohort_size, round(retention, 3) AS retention
FROM cohort_retention(sample.orders, customer_id, order_ts, 'month') ORDER BY cohort, period;
SELECT rfm_score, count(*) AS customers FROM rfm(sample.orders, customer_id, order_ts, amount)
GROUP BY rfm_score ORDER BY rfm_score;
SELECT date_trunc('month', order_ts) AS month, count(*) AS orders, sum(amount) AS revenue
FROM sample.orders GROUP BY 1 ORDER BY 1;
SELECT customer_id, monetary, avg_order_value, last_order, segment FROM customer_rfm
ORDER BY monetary DESC, customer_id LIMIT 20;
