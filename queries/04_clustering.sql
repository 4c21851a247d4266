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
SELECT round(silhouette(z, cluster_id, ${silhouette_sample}, 42), 4) AS silhouette,
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
);

-- Centroids in the features' own units
SELECT cluster_id, size, round(recency_days, 1) AS recency_days, round(frequency, 2) AS frequency,
       round(monetary, 2) AS monetary
FROM model_centroids('customer_segments')
ORDER BY cluster_id;

-- @section personas
-- Segment profiles that read as personas
-- @chart bar x=persona y=revenue format=currency title="Revenue by cluster persona"
WITH totals AS (SELECT count(*) AS customers, sum(monetary) AS revenue, avg(frequency) AS frequency FROM customer_rfm),
profiles AS (
  SELECT k.cluster_id, count(*) AS customers, sum(k.monetary) AS revenue, sum(k.monetary) / sum(k.frequency) AS aov,
         avg(k.recency_days) AS recency_days, avg(k.frequency) AS frequency, sum(CAST(c.clv_12m AS DECIMAL(38, 10))) / count(c.clv_12m) AS clv_12m,
         sum(CAST(c.p_alive AS DECIMAL(38, 10))) / count(c.p_alive) AS p_alive
  FROM customer_clusters k LEFT JOIN customer_clv c ON c.customer_id = k.customer_id
  GROUP BY k.cluster_id
)
SELECT cluster_id,
       concat(CAST(cluster_id AS VARCHAR), '. ', CASE
         WHEN p.recency_days > 180 THEN 'Lapsed'
         WHEN p.revenue / p.customers > 2 * t.revenue / t.customers THEN 'VIP'
         WHEN p.frequency > t.frequency THEN 'Regulars'
         ELSE 'Occasional'
       END) AS persona,
       p.customers,
       round(CAST(p.customers AS DOUBLE) / t.customers, 4) AS customer_share,
       p.revenue,
       round(p.revenue / t.revenue, 4) AS revenue_share,
       round(p.aov, 2) AS avg_order_value,
       round(p.recency_days, 1) AS avg_recency_days,
       round(p.frequency, 2) AS avg_orders,
       round(p.revenue / p.customers, 2) AS historical_value,
       round(p.clv_12m, 2) AS predicted_clv_12m,
       round(p.p_alive, 4) AS avg_p_alive
FROM profiles p, totals t
ORDER BY cluster_id;
