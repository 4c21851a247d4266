-- The weekly segmentation report: every script in order, with charts for --html.
--
--   segsql -f queries/report.sql --html report.html
--   segsql -f queries/report.sql --data lake --param orders=orders --param as_of=2026-01-01 --param out_dir=out
--
-- Parameters: orders, customers, events, spend (tables), as_of, churn_days, k, out_dir,
-- calibration_end (the start of 07's holdout period, before as_of), clv_penalizer (0).
-- silhouette_sample (20000: above this many customers the validation silhouette is sampled),
-- effort_split (2.5: where the impact-effort matrix splits low from high effort).
-- The persona naming rules and the plays live in playbook/ (personas.csv, plays.csv).
-- Governance: pseudonym_key (no default; without it the audience export is skipped),
-- min_group (10), erased (a table of customer_id to leave out of everything).

\i 01_data_quality.sql
\i 02_cohorts.sql
\i 03_rfm.sql
\i 04_clustering.sql
\i 05_kpis.sql
\i 06_exports.sql
\i 07_clv.sql
\i 08_governance.sql
\i 09_plays.sql
