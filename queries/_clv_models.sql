-- Shared by 04, 05 and 07: each customer's buy-till-you-die summary in weeks, the CLV
-- models fitted on it (BG/NBD for purchases, Gamma-Gamma for spend per purchase; refitting
-- on the same data writes the same bytes) and each customer's predictions.

\i _setup.sql
-- lifetimes' penalizer_coef; a small one (0.001) steadies fits on a few hundred customers.
\default clv_penalizer 0

-- The models are fitted, and the customers scored, once per run however many scripts
-- include this file (\unset clv_models_fitted does it again, after changing as_of in the
-- REPL, say).
\if not defined clv_models_fitted
CREATE OR REPLACE TABLE customer_btyd AS
SELECT * FROM rfm_summary(${orders}, customer_id, order_ts, amount, '${as_of}', 'week');

-- Fit BG/NBD on every customer's weekly history: how often they buy and when they stop
CREATE OR REPLACE MODEL clv_buyers USING bgnbd (time_unit = 'week', penalizer = ${clv_penalizer})
  AS SELECT frequency, recency, "T" FROM customer_btyd;

-- Fit Gamma-Gamma on the repeat buyers' spend per purchase
CREATE OR REPLACE MODEL clv_spend USING gamma_gamma (penalizer = ${clv_penalizer})
  AS SELECT frequency, monetary_value FROM customer_btyd WHERE frequency > 0 AND monetary_value > 0;

-- Each customer's P(alive), expected purchases in the next year and 12-month CLV
CREATE OR REPLACE TABLE customer_clv AS
SELECT customer_id, frequency, recency, "T", monetary_value,
       p_alive('clv_buyers', frequency, recency, "T") AS p_alive,
       expected_purchases('clv_buyers', 52, frequency, recency, "T") AS purchases_next_52w,
       clv('clv_buyers', 'clv_spend', frequency, recency, "T", monetary_value, 12, 0.01) AS clv_12m
FROM customer_btyd;
\set clv_models_fitted true
\endif
