-- 8. Governance: what changed since the last run. Compares this run's customers export with
-- the previous run's (06_exports.sql keeps it as previous/customers.parquet): segment
-- migration, drift of the segment mix and of the RFM features (PSI: < 0.1 stable,
-- 0.1–0.25 watch, > 0.25 act), agreement of the clusters with last week's labels, and how
-- stable the clustering is under resampling. The run log (--run-log) records what ran.

\i _setup.sql

\if exists '${out_dir}/previous/customers.parquet'
CREATE OR REPLACE VIEW gov_previous AS SELECT * FROM '${out_dir}/previous/customers.parquet';
CREATE OR REPLACE VIEW gov_current AS SELECT * FROM '${out_dir}/customers.parquet';

-- @section governance
-- Customers compared: in both runs, new, gone, and how many of those in both changed segment
-- @finding "Since the last run: {new_customers:number} new customers, {gone_customers:number} gone, and {changed_share:percent} of the {in_both:number} in both runs changed RFM segment"
SELECT count(*) FILTER (WHERE p.customer_id IS NOT NULL AND c.customer_id IS NOT NULL) AS in_both,
       count(*) FILTER (WHERE p.customer_id IS NULL) AS new_customers,
       count(*) FILTER (WHERE c.customer_id IS NULL) AS gone_customers,
       count(*) FILTER (WHERE p.segment <> c.segment) AS changed_segment,
       round(CAST(count(*) FILTER (WHERE p.segment <> c.segment) AS DOUBLE)
             / nullif(count(*) FILTER (WHERE p.customer_id IS NOT NULL AND c.customer_id IS NOT NULL), 0), 4) AS changed_share
FROM gov_previous p FULL JOIN gov_current c ON p.customer_id = c.customer_id;

-- Segment migration since the last run: share of each segment's customers by where they went
-- @chart heatmap x=to_segment y=from_segment value=share_of_from format=percent title="Segment migration since the last run"
SELECT from_segment, to_segment, customers, round(share_of_from, 4) AS share_of_from
FROM segment_transitions(gov_previous, gov_current, customer_id, segment)
ORDER BY from_segment, to_segment;

-- Drift of the segment mix (PSI of segment shares)
-- @finding "The segment mix is {status} since the last run (PSI {segment_mix_psi})"
WITH shares AS (
  SELECT coalesce(p.segment, c.segment) AS segment, p.customers AS previous, c.customers AS current
  FROM (SELECT segment, count(*) AS customers FROM gov_previous GROUP BY segment) p
  FULL JOIN (SELECT segment, count(*) AS customers FROM gov_current GROUP BY segment) c ON p.segment = c.segment
)
SELECT round(psi(previous, current), 4) AS segment_mix_psi,
       CASE WHEN psi(previous, current) < 0.1 THEN 'stable'
            WHEN psi(previous, current) <= 0.25 THEN 'watch' ELSE 'act' END AS status
FROM shares;

-- Drift of the RFM features, binned at last run's deciles
-- @chart bar x=feature y=psi title="Feature drift (PSI) since the last run: < 0.1 stable, > 0.25 act"
-- @finding "The RFM feature that drifted most is {feature}: PSI {psi} ({status}), mean {previous_mean:number} then, {current_mean:number} now"
SELECT feature, round(psi, 4) AS psi,
       CASE WHEN psi < 0.1 THEN 'stable' WHEN psi <= 0.25 THEN 'watch' ELSE 'act' END AS status,
       round(previous_mean, 2) AS previous_mean, round(current_mean, 2) AS current_mean,
       round(previous_median, 2) AS previous_median, round(current_median, 2) AS current_median
FROM feature_drift(gov_previous, gov_current, 'recency_days,frequency,monetary')
ORDER BY psi DESC, feature;

-- Cluster agreement with last run's labels, on the customers in both (a customer without a
-- cluster in either run is left out of the indices and counted)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.cluster_id IS NULL OR c.cluster_id IS NULL) AS without_cluster,
       round(adjusted_rand(p.cluster_id, c.cluster_id), 4) AS adjusted_rand,
       round(mutual_info(p.cluster_id, c.cluster_id), 4) AS mutual_info,
       round(adjusted_rand(p.segment, c.segment), 4) AS segment_adjusted_rand
FROM gov_previous p JOIN gov_current c ON p.customer_id = c.customer_id;
\else
-- @section governance
-- Governance baseline
-- @finding "{governance}"
SELECT 'No baseline yet: this is the first run with exports in ${out_dir}; the next run compares with it' AS governance;
\endif

-- @section governance
-- Stability of this run's clustering: k-means on two random halves, agreement on everyone
SELECT k, count(*) AS resamples, round(avg(adjusted_rand), 4) AS mean_adjusted_rand,
       round(min(adjusted_rand), 4) AS worst_adjusted_rand
FROM kmeans_stability(customer_rfm, 'recency_days,frequency,monetary', ${k}, 5, 42)
GROUP BY k;
