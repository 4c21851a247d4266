-- One query per function family, run over the wire (psql) and by the shell; the answers
-- must be the same CSV. Statements are separated by a line ending in ';'.
CREATE OR REPLACE MODEL wire_segments USING kmeans (k = 3, seed = 7)
  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);
CREATE OR REPLACE MODEL wire_buyers USING bgnbd (time_unit = 'week')
  AS SELECT frequency, recency, "T" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');
CREATE OR REPLACE MODEL wire_spend USING gamma_gamma
  AS SELECT frequency, monetary_value FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')
  WHERE frequency > 0 AND monetary_value > 0;
SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount) ORDER BY customer_id LIMIT 25;
SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM customer_rfm GROUP BY segment ORDER BY segment;
SELECT customer_id, rfm_score(recency_days, frequency, monetary) OVER () AS code
FROM rfm(sample.orders, customer_id, order_ts, amount) ORDER BY customer_id LIMIT 25;
SELECT cohort, period, cohort_size, round(retention, 3) AS retention
FROM cohort_retention(sample.orders, customer_id, order_ts, 'quarter') ORDER BY cohort, period;
SELECT step, event, users, round(conversion_from_first, 3) AS from_first
FROM funnel(sample.events, user_id, ts, event, 'view,cart,checkout,purchase', '1 day') ORDER BY step;
SELECT cluster, count(*) AS customers, round(avg(monetary), 2) AS avg_monetary
FROM (SELECT monetary, kmeans([recency_days / 30.0, frequency, monetary / 100.0], 4) OVER () AS cluster
      FROM rfm(sample.orders, customer_id, order_ts, amount))
GROUP BY cluster ORDER BY cluster;
SELECT kmeans_assign('wire_segments', [recency_days, frequency, monetary]) AS cluster, count(*) AS customers
FROM rfm(sample.orders, customer_id, order_ts, amount) GROUP BY 1 ORDER BY 1;
SELECT * FROM model_centroids('wire_segments') ORDER BY 1;
SELECT customer_id, p_alive('wire_buyers', frequency, recency, "T") AS p_alive,
       clv('wire_buyers', 'wire_spend', frequency, recency, "T", monetary_value) AS clv_12m
FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week') ORDER BY customer_id LIMIT 25;
SELECT * FROM model_params('wire_buyers') ORDER BY 1;
SELECT prop_ztest(120, 1000, 150, 1000) AS p_value, ceil(ab_sample_size(0.10, 0.02)) AS users_per_group;
SELECT pseudonymize(customer_id, 'a-long-secret-key-from-the-env') AS pseudonym FROM sample.customers ORDER BY customer_id LIMIT 5;
CREATE VIEW wire_h1 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30');
CREATE VIEW wire_h2 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-12-31');
SELECT feature, psi FROM feature_drift(wire_h1, wire_h2, 'recency_days,frequency,monetary') ORDER BY feature;
