-- 4. Clustering: choose k on standardized RFM features, train a model, validate it and
-- profile the clusters as personas, with their historical and predicted value.

\i _setup.sql
\i _clv_models.sql

-- @section methodology
-- Elbow: k-means for k = 2..8 on z-scored recency, frequency and monetary
-- @chart line x=k y=inertia title="Elbow: within-cluster sum of squares by k"
SELECT k, round(inertia, 2) AS inertia, round(silhouette, 4) AS silhouette, round(davies_bouldin, 4) AS davies_bouldin,
       round(calinski_harabasz, 1) AS calinski_harabasz, is_knee
FROM kmeans_elbow(customer_rfm, 'recency_days,frequency,monetary', 2, 8, 42)
ORDER BY k;

-- Train the model (saved in the models folder, checked in next to this script)
CREATE OR REPLACE MODEL customer_segments
  USING kmeans (k = ${k}, seed = 42, standardize = 'zscore', n_init = 4)
  AS SELECT recency_days, frequency, monetary FROM customer_rfm;

CREATE OR REPLACE TABLE customer_clusters AS
SELECT *, kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster_id
FROM customer_rfm;

\default silhouette_sample 20000

-- Cluster validation on the model's standardized features
-- The silhouette compares every pair of customers, so above ${silhouette_sample} customers
-- it is the exact silhouette of a seeded sample of that many (its spread over seeds is in
-- docs/scale.md) and silhouette_rows says how many it used; the other two use everyone.
-- Structure by Kaufman and Rousseeuw's reading of the silhouette: > 0.70 strong, > 0.50
-- reasonable, > 0.25 weak, else none.
-- @finding "k-means on recency, frequency and monetary value finds {clusters} customer clusters with a silhouette of {silhouette} ({structure} structure)"
SELECT clusters, silhouette,
       CASE WHEN silhouette > 0.7 THEN 'strong' WHEN silhouette > 0.5 THEN 'reasonable'
            WHEN silhouette > 0.25 THEN 'weak' ELSE 'no substantial' END AS structure,
       silhouette_rows, silhouette_sampled, davies_bouldin, calinski_harabasz
FROM (
SELECT count(DISTINCT cluster_id) AS clusters,
       round(silhouette(z, cluster_id, ${silhouette_sample}, 42), 4) AS silhouette,
       least(count(*), ${silhouette_sample}) AS silhouette_rows,
       count(*) > ${silhouette_sample} AS silhouette_sampled,
       round(davies_bouldin(z, cluster_id), 4) AS davies_bouldin,
       round(calinski_harabasz(z, cluster_id), 1) AS calinski_harabasz
FROM (
  SELECT cluster_id,
         [(recency_days - r_mean) / r_sd, (frequency - f_mean) / f_sd, (CAST(monetary AS DOUBLE) - m_mean) / m_sd] AS z
  FROM customer_clusters,
       (SELECT avg(recency_days) AS r_mean, stddev_pop(recency_days) AS r_sd,
               avg(frequency) AS f_mean, stddev_pop(frequency) AS f_sd,
               avg(CAST(monetary AS DOUBLE)) AS m_mean, stddev_pop(CAST(monetary AS DOUBLE)) AS m_sd
        FROM customer_rfm)
)
);

-- Centroids in the features' own units
SELECT cluster_id, size, round(recency_days, 1) AS recency_days, round(frequency, 2) AS frequency,
       round(monetary, 2) AS monetary
FROM model_centroids('customer_segments')
ORDER BY cluster_id;

-- @section personas
-- Each cluster's profile, named by the first matching rule of playbook/personas.csv
CREATE OR REPLACE TABLE customer_personas AS
WITH totals AS (SELECT count(*) AS customers, sum(monetary) AS revenue, avg(frequency) AS frequency FROM customer_rfm),
profiles AS (
  SELECT k.cluster_id, count(*) AS customers, sum(k.monetary) AS revenue, sum(k.monetary) / sum(k.frequency) AS aov,
         avg(k.recency_days) AS recency_days, avg(k.frequency) AS frequency, sum(CAST(c.clv_12m AS DECIMAL(38, 10))) / count(c.clv_12m) AS clv_12m,
         sum(CAST(c.p_alive AS DECIMAL(38, 10))) / count(c.p_alive) AS p_alive
  FROM customer_clusters k LEFT JOIN customer_clv c ON c.customer_id = k.customer_id
  GROUP BY k.cluster_id
),
indexed AS (
  SELECT p.*, CAST(p.revenue / p.customers AS DOUBLE) / CAST(t.revenue / t.customers AS DOUBLE) AS value_index,
         p.frequency / t.frequency AS frequency_index, t.customers AS all_customers, t.revenue AS all_revenue
  FROM profiles p, totals t
),
named AS (
  SELECT i.cluster_id, min(CAST(r.rank AS BIGINT)) AS rule
  FROM indexed i JOIN personas r
    ON (r.min_recency_days IS NULL OR i.recency_days >= CAST(r.min_recency_days AS DOUBLE))
   AND (r.max_recency_days IS NULL OR i.recency_days <= CAST(r.max_recency_days AS DOUBLE))
   AND (r.min_value_index IS NULL OR i.value_index >= CAST(r.min_value_index AS DOUBLE))
   AND (r.min_frequency_index IS NULL OR i.frequency_index >= CAST(r.min_frequency_index AS DOUBLE))
  GROUP BY i.cluster_id
)
SELECT i.cluster_id,
       concat(CAST(i.cluster_id AS VARCHAR), '. ', coalesce(r.persona, 'Unnamed (no rule matched)')) AS persona,
       i.customers,
       round(CAST(i.customers AS DOUBLE) / i.all_customers, 4) AS customer_share,
       i.revenue,
       round(i.revenue / i.all_revenue, 4) AS revenue_share,
       round(i.aov, 2) AS avg_order_value,
       round(i.recency_days, 1) AS avg_recency_days,
       round(i.frequency, 2) AS avg_orders,
       round(i.revenue / i.customers, 2) AS historical_value,
       round(i.clv_12m, 2) AS predicted_clv_12m,
       round(1 - i.p_alive, 4) AS churn_probability,
       r.play,
       r.description
FROM indexed i LEFT JOIN named n ON n.cluster_id = i.cluster_id LEFT JOIN personas r ON CAST(r.rank AS BIGINT) = n.rule;

-- Personas: one card per cluster (churn probability is 1 − P(alive) under BG/NBD)
-- @chart cards label=persona percent=customer_share,revenue_share,churn_probability currency=avg_order_value,predicted_clv_12m title="Segment profiles (personas)"
SELECT persona, customers, customer_share, revenue_share, avg_order_value, avg_recency_days, avg_orders,
       predicted_clv_12m, churn_probability, play, description
FROM customer_personas
ORDER BY cluster_id;

-- Revenue by persona, with the historical and predicted value per customer
-- @chart bar x=persona y=revenue format=currency title="Revenue by cluster persona"
SELECT cluster_id, persona, customers, customer_share, revenue, revenue_share, avg_order_value, avg_recency_days,
       avg_orders, historical_value, predicted_clv_12m, churn_probability
FROM customer_personas
ORDER BY cluster_id;
