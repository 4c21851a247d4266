-- 5. KPI rollups by RFM segment and by cluster: conversion, churn, revenue, CLV,
-- LTV-to-CAC by acquisition channel, and an A/B comparison.

\i _setup.sql
\i _clv_models.sql

CREATE OR REPLACE TABLE customer_clusters AS
SELECT *, kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster_id
FROM customer_rfm;

CREATE OR REPLACE TABLE event_users AS
SELECT user_id,
       max(CASE WHEN event = 'view' THEN 1 ELSE 0 END) AS viewed,
       max(CASE WHEN event = 'purchase' THEN 1 ELSE 0 END) AS purchased
FROM ${events}
WHERE ts < DATE '${as_of}'
GROUP BY user_id;

-- @section metrics
-- KPIs by RFM segment: conversion (viewers who purchased), churn (no order in churn_days), revenue,
-- historical CLV (revenue per customer so far) and predicted 12-month CLV (BG/NBD × Gamma-Gamma)
-- @chart bar x=segment y=churn_rate format=percent title="Churn rate by RFM segment"
SELECT r.segment,
       count(*) AS customers,
       round(CAST(sum(e.purchased) AS DOUBLE) / nullif(sum(e.viewed), 0), 4) AS conversion,
       round(CAST(count(*) FILTER (WHERE r.recency_days > ${churn_days}) AS DOUBLE) / count(*), 4) AS churn_rate,
       sum(r.monetary) AS revenue,
       round(sum(r.monetary) / count(*), 2) AS clv_historical,
       round(sum(CAST(v.clv_12m AS DECIMAL(38, 10))) / count(v.clv_12m), 2) AS clv_predicted_12m
FROM customer_rfm r LEFT JOIN event_users e ON e.user_id = r.customer_id
     LEFT JOIN customer_clv v ON v.customer_id = r.customer_id
GROUP BY r.segment
ORDER BY revenue DESC;

-- The same KPIs by cluster
SELECT c.cluster_id,
       count(*) AS customers,
       round(CAST(sum(e.purchased) AS DOUBLE) / nullif(sum(e.viewed), 0), 4) AS conversion,
       round(CAST(count(*) FILTER (WHERE c.recency_days > ${churn_days}) AS DOUBLE) / count(*), 4) AS churn_rate,
       sum(c.monetary) AS revenue,
       round(sum(c.monetary) / count(*), 2) AS clv_historical,
       round(sum(CAST(v.clv_12m AS DECIMAL(38, 10))) / count(v.clv_12m), 2) AS clv_predicted_12m
FROM customer_clusters c LEFT JOIN event_users e ON e.user_id = c.customer_id
     LEFT JOIN customer_clv v ON v.customer_id = c.customer_id
GROUP BY c.cluster_id
ORDER BY c.cluster_id;

-- LTV to CAC by acquisition channel (CAC: spend over customers acquired; no spend, no CAC)
CREATE OR REPLACE VIEW channel_ltv AS
WITH acquired AS (
  SELECT c.acquisition_channel, count(*) AS customers, coalesce(sum(r.monetary), 0) AS revenue
  FROM ${customers} c LEFT JOIN customer_rfm r ON r.customer_id = c.customer_id
  GROUP BY c.acquisition_channel
), spend AS (
  SELECT channel, sum(spend) AS spend FROM ${spend} WHERE month < DATE '${as_of}' GROUP BY channel
)
SELECT a.acquisition_channel, a.customers, a.revenue, s.spend,
       round(a.revenue / a.customers, 2) AS ltv,
       round(s.spend / a.customers, 2) AS cac,
       round(a.revenue / s.spend, 2) AS ltv_to_cac
FROM acquired a LEFT JOIN spend s ON s.channel = a.acquisition_channel;

-- LTV to CAC by acquisition channel
-- @chart bar x=acquisition_channel y=ltv_to_cac title="LTV : CAC by acquisition channel"
SELECT * FROM channel_ltv ORDER BY acquisition_channel;

-- LTV to CAC, best channel first
-- @finding "LTV:CAC by acquisition channel, best first: {ranking}"
SELECT string_agg(concat(acquisition_channel, ' ', coalesce(CAST(ltv_to_cac AS VARCHAR), 'n/a (no spend)')), ', '
                  ORDER BY ltv_to_cac DESC NULLS LAST, acquisition_channel) AS ranking
FROM channel_ltv;

-- Segments by country: each country's customers across the RFM segments
-- @chart heatmap x=segment y=country value=share format=percent title="RFM segment mix by country"
SELECT c.country, r.segment, count(*) AS customers,
       round(CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (PARTITION BY c.country), 4) AS share
FROM customer_rfm r JOIN ${customers} c ON c.customer_id = r.customer_id
GROUP BY c.country, r.segment
ORDER BY c.country, r.segment;

-- Segments by acquisition channel: each channel's revenue across the RFM segments
-- @chart heatmap x=segment y=acquisition_channel value=revenue_share format=percent title="Revenue by RFM segment within each acquisition channel"
SELECT c.acquisition_channel, r.segment, count(*) AS customers, sum(r.monetary) AS revenue,
       round(sum(r.monetary) / sum(sum(r.monetary)) OVER (PARTITION BY c.acquisition_channel), 4) AS revenue_share
FROM customer_rfm r JOIN ${customers} c ON c.customer_id = r.customer_id
GROUP BY c.acquisition_channel, r.segment
ORDER BY c.acquisition_channel, r.segment;

-- A/B comparison: purchase conversion of email- vs social-acquired viewers (two-sided pooled z-test)
WITH arms AS (
  SELECT c.acquisition_channel AS arm, sum(e.purchased) AS converted, sum(e.viewed) AS viewers
  FROM ${customers} c JOIN event_users e ON e.user_id = c.customer_id
  WHERE c.acquisition_channel IN ('email', 'social')
  GROUP BY c.acquisition_channel
)
SELECT a.converted AS email_converted, a.viewers AS email_viewers,
       b.converted AS social_converted, b.viewers AS social_viewers,
       round(CAST(a.converted AS DOUBLE) / a.viewers, 4) AS email_rate,
       round(CAST(b.converted AS DOUBLE) / b.viewers, 4) AS social_rate,
       round(prop_ztest(a.converted, a.viewers, b.converted, b.viewers), 6) AS p_value
FROM arms a, arms b
WHERE a.arm = 'email' AND b.arm = 'social';
