-- 6. Exports of every result as Parquet and CSV into out_dir, and a one-page summary.

\i _setup.sql

-- Last run's customers export becomes the baseline that 08_governance.sql compares with
-- (rerunning the same week makes this week's export the baseline: see docs/governance.md).
-- Erased customers leave the baseline too.
\if exists '${out_dir}/customers.parquet'
\if defined erased
COPY (SELECT * FROM '${out_dir}/customers.parquet'
      WHERE customer_id NOT IN (SELECT customer_id FROM ${erased} WHERE customer_id IS NOT NULL) ORDER BY customer_id)
  TO '${out_dir}/previous/customers.parquet' STORED AS PARQUET;
\else
COPY (SELECT * FROM '${out_dir}/customers.parquet' ORDER BY customer_id)
  TO '${out_dir}/previous/customers.parquet' STORED AS PARQUET;
\endif
\endif

CREATE OR REPLACE TABLE customer_clusters AS
SELECT *, kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster_id
FROM customer_rfm;

COPY (SELECT * FROM customer_clusters ORDER BY customer_id) TO '${out_dir}/customers.parquet' STORED AS PARQUET;
COPY (SELECT * FROM customer_clusters ORDER BY customer_id) TO '${out_dir}/customers.csv' STORED AS CSV;
COPY (SELECT * FROM cohort_retention(${orders}, customer_id, order_ts, 'month') ORDER BY cohort, period)
  TO '${out_dir}/retention_monthly.parquet' STORED AS PARQUET;
COPY (SELECT * FROM cohort_retention(${orders}, customer_id, order_ts, 'month') ORDER BY cohort, period)
  TO '${out_dir}/retention_monthly.csv' STORED AS CSV;
COPY (SELECT * FROM cohort_revenue(${orders}, customer_id, order_ts, amount, 'month') ORDER BY cohort, period)
  TO '${out_dir}/revenue_cohorts.parquet' STORED AS PARQUET;
COPY (SELECT * FROM cohort_revenue(${orders}, customer_id, order_ts, amount, 'month') ORDER BY cohort, period)
  TO '${out_dir}/revenue_cohorts.csv' STORED AS CSV;
COPY (SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM customer_rfm GROUP BY segment ORDER BY segment)
  TO '${out_dir}/segments.parquet' STORED AS PARQUET;
COPY (SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM customer_rfm GROUP BY segment ORDER BY segment)
  TO '${out_dir}/segments.csv' STORED AS CSV;
COPY (SELECT * FROM model_centroids('customer_segments') ORDER BY cluster_id) TO '${out_dir}/clusters.parquet' STORED AS PARQUET;
COPY (SELECT * FROM model_centroids('customer_segments') ORDER BY cluster_id) TO '${out_dir}/clusters.csv' STORED AS CSV;

-- Audience export for activation: pseudonymised ids (HMAC-SHA256 under pseudonym_key, so the
-- same customer gets the same id every week and nobody without the key can reverse it) and
-- only rows whose country, channel, segment and cluster are shared by at least min_group
-- customers. Without a key it is skipped: there is no default key.
\if defined pseudonym_key
CREATE OR REPLACE VIEW audience AS
SELECT pseudonymize(k.customer_id, '${pseudonym_key}') AS customer_pseudonym,
       c.country, c.acquisition_channel, k.segment, k.cluster_id
FROM customer_clusters k JOIN ${customers} c ON c.customer_id = k.customer_id;
COPY (SELECT * EXCLUDE (rows_dropped) FROM k_anonymous(audience, 'country,acquisition_channel,segment,cluster_id', ${min_group})
      ORDER BY customer_pseudonym)
  TO '${out_dir}/audience.csv' STORED AS CSV;
-- @section governance
-- Audience export: customers kept and held back by the k-anonymity rule
SELECT ${min_group} AS min_group, count(*) AS exported,
       coalesce(max(rows_dropped), (SELECT count(*) AS audience_rows FROM audience)) AS held_back
FROM k_anonymous(audience, 'country,acquisition_channel,segment,cluster_id', ${min_group});
\else
\warn notice: no pseudonym_key, so the pseudonymised audience export (audience.csv) is skipped; pass --param pseudonym_key="$KEY" (a secret of at least 16 bytes) to write it
\endif

-- Headline numbers, with the change since the last run's customers export
\if exists '${out_dir}/previous/customers.parquet'
CREATE OR REPLACE VIEW kpi_previous AS
SELECT count(*) AS customers, CAST(sum(monetary) AS DOUBLE) AS revenue,
       avg(CASE WHEN frequency > 1 THEN 1.0 ELSE 0.0 END) AS repeat_rate,
       avg(CASE WHEN recency_days > ${churn_days} THEN 1.0 ELSE 0.0 END) AS churn
FROM '${out_dir}/previous/customers.parquet';
\else
CREATE OR REPLACE VIEW kpi_previous AS
SELECT CAST(NULL AS BIGINT) AS customers, CAST(NULL AS DOUBLE) AS revenue,
       CAST(NULL AS DOUBLE) AS repeat_rate, CAST(NULL AS DOUBLE) AS churn;
\endif

-- @section summary
-- Headline numbers
-- @chart kpi label=metric value=value delta=change formats=unit good=good title="Headline numbers (change since the last run)"
WITH now AS (
  SELECT count(*) AS customers, CAST(sum(monetary) AS DOUBLE) AS revenue,
         avg(CASE WHEN frequency > 1 THEN 1.0 ELSE 0.0 END) AS repeat_rate,
         avg(CASE WHEN recency_days > ${churn_days} THEN 1.0 ELSE 0.0 END) AS churn
  FROM customer_rfm
), retention AS (
  SELECT CAST(sum(active_users) AS DOUBLE) / sum(cohort_size) AS month_1
  FROM cohort_retention(${orders}, customer_id, order_ts, 'month') WHERE period = 1 AND retention IS NOT NULL
), ltv AS (
  SELECT CAST(sum(monetary) AS DOUBLE)
         / (SELECT CAST(sum(spend) AS DOUBLE) FROM ${spend} WHERE month < DATE '${as_of}') AS ltv_to_cac
  FROM customer_rfm
)
SELECT metric, round(value, 6) AS value, round(change, 6) AS change, unit,
       CASE WHEN metric LIKE 'churn%' THEN 'down' ELSE 'up' END AS good FROM (
  SELECT 1 AS n, 'customers' AS metric, CAST(c.customers AS DOUBLE) AS value,
         CAST(c.customers - p.customers AS DOUBLE) AS change, 'number' AS unit FROM now c, kpi_previous p
  UNION ALL SELECT 2, 'revenue', c.revenue, c.revenue - p.revenue, 'currency' FROM now c, kpi_previous p
  UNION ALL SELECT 3, 'repeat rate', c.repeat_rate, c.repeat_rate - p.repeat_rate, 'percent' FROM now c, kpi_previous p
  UNION ALL SELECT 4, 'month-1 retention', month_1, CAST(NULL AS DOUBLE), 'percent' FROM retention
  UNION ALL SELECT 5, 'churn (no order in ${churn_days} days)', c.churn, c.churn - p.churn, 'percent' FROM now c, kpi_previous p
  UNION ALL SELECT 6, 'LTV:CAC', ltv_to_cac, CAST(NULL AS DOUBLE), 'number' FROM ltv
)
ORDER BY n;

-- One-page summary
SELECT metric, value FROM (
  SELECT 1 AS n, 'customers with orders' AS metric, CAST(count(*) AS VARCHAR) AS value FROM customer_rfm
  UNION ALL SELECT 2, 'revenue', CAST(sum(monetary) AS VARCHAR) FROM customer_rfm
  UNION ALL SELECT 3, 'repeat customers', CAST(round(CAST(count(*) FILTER (WHERE frequency > 1) AS DOUBLE) / count(*), 4) AS VARCHAR)
            FROM customer_rfm
  UNION ALL SELECT 4, 'month-1 retention (all cohorts)', CAST(round(CAST(sum(active_users) AS DOUBLE) / sum(cohort_size), 4) AS VARCHAR)
            FROM cohort_retention(${orders}, customer_id, order_ts, 'month') WHERE period = 1 AND retention IS NOT NULL
  UNION ALL SELECT 5, 'churned (no order in ${churn_days} days)',
            CAST(round(CAST(count(*) FILTER (WHERE recency_days > ${churn_days}) AS DOUBLE) / count(*), 4) AS VARCHAR) FROM customer_rfm
  UNION ALL SELECT 6, 'top RFM segment by revenue', segment
            FROM (SELECT segment, sum(monetary) AS revenue FROM customer_rfm GROUP BY segment ORDER BY revenue DESC, segment LIMIT 1)
  UNION ALL SELECT 7, 'clusters (k)', '${k}'
  UNION ALL SELECT 8, 'exports', '${out_dir}/'
)
ORDER BY n;
