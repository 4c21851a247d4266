-- 9. Recommended plays: each RFM segment's play from playbook/plays.csv (the analyst edits
-- the play, its kind, effort and lift there), its impact computed from the data, the
-- impact–effort matrix, and the A/B test each play needs before it is rolled out.

\i _setup.sql
\i _clv_models.sql
\default calibration_end 2025-07-01
\default effort_split 2.5

-- The A/B tests' base rates: of the customers in each segment at calibration_end, the
-- share who bought again before as_of (the holdout period of 07_clv.sql)
CREATE OR REPLACE VIEW orders_before_calibration AS
SELECT * FROM ${orders} WHERE order_ts < DATE '${calibration_end}';

CREATE OR REPLACE TABLE play_base_rates AS
SELECT r.segment, count(*) AS customers_then,
       avg(CASE WHEN h.customer_id IS NULL THEN 0.0 ELSE 1.0 END) AS base_rate
FROM rfm(orders_before_calibration, customer_id, order_ts, amount, '${calibration_end}') r
LEFT JOIN (SELECT DISTINCT customer_id FROM ${orders}
           WHERE order_ts >= DATE '${calibration_end}' AND order_ts < DATE '${as_of}') h
  ON h.customer_id = r.customer_id
GROUP BY r.segment;

-- Impact = value at stake × lift: the value at risk (CLV × (1 − P(alive))) for retention
-- plays, the predicted 12-month CLV for growth plays. The A/B test must detect the
-- repurchase rate moving from the base rate by the same lift (two-sided, alpha 0.05, power 0.8).
CREATE OR REPLACE TABLE play_impact AS
WITH segments AS (
  SELECT r.segment, count(*) AS customers,
         sum(CAST(c.clv_12m AS DECIMAL(38, 10))) AS clv_12m,
         sum(CAST(c.clv_12m * (1 - c.p_alive) AS DECIMAL(38, 10))) AS value_at_risk
  FROM customer_rfm r LEFT JOIN customer_clv c ON c.customer_id = r.customer_id
  GROUP BY r.segment
), scored AS (
  SELECT p.play, p.segment, p.kind, CAST(p.effort AS DOUBLE) AS effort, CAST(p.lift AS DOUBLE) AS lift, p.description,
         s.customers,
         CAST(CASE WHEN p.kind = 'retention' THEN s.value_at_risk ELSE s.clv_12m END AS DOUBLE) AS at_stake,
         b.base_rate
  FROM plays p JOIN segments s ON s.segment = p.segment
  LEFT JOIN play_base_rates b ON b.segment = p.segment
)
SELECT *, at_stake * lift AS impact,
       CASE WHEN base_rate > 0 AND base_rate * (1 + lift) < 1
            THEN CAST(ceil(ab_sample_size(base_rate, base_rate * lift)) AS BIGINT) END AS ab_per_group
FROM scored;

-- @section plays
-- The impact–effort matrix: quick wins top left (effort split at effort_split, 2.5 unless set; impact at the middle of its range)
-- @chart scatter x=effort y=impact size=customers label=play format=currency x_split=${effort_split} quadrants="Quick wins,Major projects,Fill-ins,Thankless tasks" title="Impact–effort matrix (point area: customers)"
SELECT play, segment, effort, round(impact, 2) AS impact, customers
FROM play_impact
ORDER BY impact DESC, play;

-- The plays ranked by impact per unit of effort, with the A/B test each needs
-- (ab_per_group: customers in each group; "too few" when the segment cannot fill two groups)
-- @finding "The first play is {play} for {segment}: {impact:currency} expected from {customers:number} customers at effort {effort} of 5 ({quadrant}); its A/B test needs {ab_per_group:number} customers per group"
WITH placed AS (
  SELECT *, (min(impact) OVER () + max(impact) OVER ()) / 2 AS impact_split FROM play_impact
)
SELECT row_number() OVER (ORDER BY impact / effort DESC, play) AS rank,
       play, segment, kind, customers,
       round(at_stake, 2) AS at_stake, lift, round(impact, 2) AS impact, CAST(effort AS BIGINT) AS effort,
       CASE WHEN effort <= ${effort_split} AND impact >= impact_split THEN 'Quick wins'
            WHEN impact >= impact_split THEN 'Major projects'
            WHEN effort <= ${effort_split} THEN 'Fill-ins'
            ELSE 'Thankless tasks' END AS quadrant,
       round(base_rate, 4) AS base_rate, ab_per_group,
       CASE WHEN ab_per_group IS NULL THEN 'no base rate'
            WHEN 2 * ab_per_group > customers THEN 'too few' ELSE 'ok' END AS ab_feasible,
       description
FROM placed
ORDER BY rank;
