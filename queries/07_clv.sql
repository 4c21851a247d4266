-- 7. Predictive CLV: check a BG/NBD model on a holdout period, fit BG/NBD and Gamma-Gamma
-- on all the history, and read P(alive), 12-month CLV and value at risk by RFM segment and
-- by cluster, and a churn-propensity model checked on customers it was not fitted on. The
-- CLV models are lifetimes' (the same parameters to 1e-4), the propensity model
-- scikit-learn's LogisticRegression (the same coefficients), fitted in SQL.

\i _clv_models.sql
\default calibration_end 2025-07-01

-- Float predictions are summed as DECIMAL(38, 10), exactly, so the figures do not depend
-- on the order rows are added in (the thread count).

-- Calibration up to calibration_end, holdout from then to as_of
CREATE OR REPLACE TABLE clv_split AS
SELECT * FROM rfm_calibration_holdout(${orders}, customer_id, order_ts, amount, '${calibration_end}', '${as_of}', 'week');

-- Fit BG/NBD on the calibration period only
CREATE OR REPLACE MODEL clv_calibration USING bgnbd (time_unit = 'week', penalizer = ${clv_penalizer})
  AS SELECT frequency_cal, recency_cal, "T_cal" FROM clv_split;

-- @section methodology
-- Holdout check: purchases the calibration model predicted against those made
SELECT customers, actual_purchases, round(predicted_purchases, 1) AS predicted_purchases,
       round(mae, 4) AS mae, round(rmse, 4) AS rmse
FROM model_evaluate('clv_calibration', clv_split);

-- Holdout purchases per customer by calibration frequency (10 stands for 10 or more)
-- @chart line x=frequency_cal y=purchases series=series title="Holdout purchases per customer: actual and predicted"
WITH scored AS (
  SELECT least(frequency_cal, 10) AS frequency_cal, frequency_holdout AS actual,
         expected_purchases('clv_calibration', duration_holdout, frequency_cal, recency_cal, "T_cal") AS predicted
  FROM clv_split
)
SELECT frequency_cal, series, purchases FROM (
  SELECT frequency_cal, 'actual' AS series, round(avg(actual), 4) AS purchases FROM scored GROUP BY frequency_cal
  UNION ALL
  SELECT frequency_cal, 'predicted' AS series,
         round(CAST(sum(CAST(predicted AS DECIMAL(38, 10))) AS DOUBLE) / count(*), 4) AS purchases
  FROM scored GROUP BY frequency_cal
)
ORDER BY frequency_cal, series;

-- The fitted models' parameters (BG/NBD: purchases; Gamma-Gamma: spend per purchase)
SELECT 'clv_buyers' AS model, parameter, round(value, 4) AS value, round(std_error, 4) AS std_error FROM model_params('clv_buyers')
UNION ALL
SELECT 'clv_spend' AS model, parameter, round(value, 4) AS value, round(std_error, 4) AS std_error FROM model_params('clv_spend')
ORDER BY model, parameter;

-- @section metrics
-- How many customers are still likely to buy
-- @chart bar x=p_alive_band y=customers title="Customers by probability of being alive"
SELECT CASE
         WHEN p_alive < 0.2 THEN '0.0-0.2'
         WHEN p_alive < 0.4 THEN '0.2-0.4'
         WHEN p_alive < 0.6 THEN '0.4-0.6'
         WHEN p_alive < 0.8 THEN '0.6-0.8'
         ELSE '0.8-1.0'
       END AS p_alive_band,
       count(*) AS customers
FROM customer_clv
GROUP BY p_alive_band
ORDER BY p_alive_band;

-- Value tiers: customers ranked by predicted 12-month CLV (ties by customer_id)
-- @chart bar x=value_tier y=clv_share format=percent title="Share of predicted 12-month CLV by value tier"
-- @finding "The top 10% of customers by predicted CLV hold {clv_share:percent} of the value predicted for the next 12 months"
WITH ranked AS (
  SELECT clv_12m, p_alive, row_number() OVER (ORDER BY clv_12m DESC, customer_id) AS position, count(*) OVER () AS customers
  FROM customer_clv
), tiered AS (
  SELECT CASE WHEN position <= 0.1 * customers THEN '1. top 10%'
              WHEN position <= 0.3 * customers THEN '2. next 20%'
              WHEN position <= 0.6 * customers THEN '3. middle 30%'
              ELSE '4. bottom 40%' END AS value_tier,
         clv_12m, p_alive
  FROM ranked
)
SELECT value_tier, count(*) AS customers,
       round(sum(CAST(clv_12m AS DECIMAL(38, 10))), 2) AS clv_12m,
       round(sum(CAST(clv_12m AS DECIMAL(38, 10))) / (SELECT sum(CAST(clv_12m AS DECIMAL(38, 10))) FROM customer_clv), 4) AS clv_share,
       round(sum(CAST(clv_12m AS DECIMAL(38, 10))) / count(*), 2) AS clv_per_customer,
       round(sum(CAST(p_alive AS DECIMAL(38, 10))) / count(*), 4) AS avg_p_alive
FROM tiered
GROUP BY value_tier
ORDER BY value_tier;

-- @section plays
-- Value at risk (CLV × (1 − P(alive))) in the at-risk segments: those with a retention play in playbook/plays.csv
-- @finding "{value_at_risk:currency} of predicted 12-month value is at risk in the at-risk segments ({segments}): {customers:number} customers, {share_of_clv:percent} of all predicted value"
WITH at_risk AS (SELECT DISTINCT segment FROM plays WHERE kind = 'retention'),
risk AS (
  SELECT count(*) AS customers, sum(CAST(c.clv_12m * (1 - c.p_alive) AS DECIMAL(38, 10))) AS value_at_risk
  FROM customer_clv c JOIN customer_rfm r ON r.customer_id = c.customer_id
  WHERE r.segment IN (SELECT segment FROM at_risk)
)
SELECT (SELECT string_agg(segment, ', ' ORDER BY segment) FROM at_risk) AS segments,
       customers,
       round(value_at_risk, 2) AS value_at_risk,
       round(value_at_risk / (SELECT sum(CAST(clv_12m AS DECIMAL(38, 10))) FROM customer_clv), 4) AS share_of_clv
FROM risk;

-- 12-month CLV and value at risk (CLV × (1 − P(alive))) by RFM segment
-- @chart bar x=segment y=clv_12m format=currency title="Predicted 12-month CLV by RFM segment"
SELECT r.segment, count(*) AS customers,
       round(sum(CAST(c.clv_12m AS DECIMAL(38, 10))), 2) AS clv_12m,
       round(sum(CAST(c.clv_12m AS DECIMAL(38, 10))) / count(*), 2) AS clv_per_customer,
       round(sum(CAST(c.p_alive AS DECIMAL(38, 10))) / count(*), 4) AS avg_p_alive,
       round(sum(CAST(c.clv_12m * (1 - c.p_alive) AS DECIMAL(38, 10))), 2) AS value_at_risk
FROM customer_clv c JOIN customer_rfm r ON r.customer_id = c.customer_id
GROUP BY r.segment
ORDER BY clv_12m DESC, r.segment;

CREATE OR REPLACE TABLE customer_clusters AS
SELECT *, kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster_id
FROM customer_rfm;

-- The same by cluster
-- @chart bar x=cluster_id y=clv_12m format=currency title="Predicted 12-month CLV by cluster"
SELECT k.cluster_id, count(*) AS customers,
       round(sum(CAST(c.clv_12m AS DECIMAL(38, 10))), 2) AS clv_12m,
       round(sum(CAST(c.clv_12m AS DECIMAL(38, 10))) / count(*), 2) AS clv_per_customer,
       round(sum(CAST(c.p_alive AS DECIMAL(38, 10))) / count(*), 4) AS avg_p_alive,
       round(sum(CAST(c.clv_12m * (1 - c.p_alive) AS DECIMAL(38, 10))), 2) AS value_at_risk
FROM customer_clv c JOIN customer_clusters k ON k.customer_id = c.customer_id
GROUP BY k.cluster_id
ORDER BY k.cluster_id;

-- @section methodology
-- Churn propensity: who made no purchase in the holdout, from their calibration history
CREATE OR REPLACE VIEW clv_churn AS
SELECT customer_id, frequency_cal, recency_cal, "T_cal", monetary_value_cal, frequency_holdout = 0 AS churned
FROM clv_split;

-- Fit a logistic regression on four customers in five
CREATE OR REPLACE MODEL churn_propensity USING logistic_reg (label = 'churned', l2 = 1.0, standardize = 'zscore')
  AS SELECT frequency_cal, recency_cal, "T_cal", monetary_value_cal, churned FROM clv_churn WHERE customer_id % 5 <> 0;

CREATE OR REPLACE VIEW clv_churn_holdout AS SELECT * FROM clv_churn WHERE customer_id % 5 = 0;

-- The propensity model scored on the fifth of customers it was not fitted on
SELECT rows, round(roc_auc, 4) AS roc_auc, round(log_loss, 4) AS log_loss, round(accuracy, 4) AS accuracy,
       round(precision, 4) AS precision, round(recall, 4) AS recall, round(f1_score, 4) AS f1_score
FROM model_evaluate('churn_propensity', clv_churn_holdout);

-- Its coefficients on z-scored features
SELECT parameter, round(value, 4) AS coefficient FROM model_params('churn_propensity');
