-- 2. Cohort retention (monthly and weekly) and revenue cohorts.

\i _setup.sql

-- @section metrics
-- Monthly retention by first-order month (NULL where the month is not over yet)
-- @chart heatmap x=period y=cohort value=retention format=percent scale_excludes=0 title="Monthly retention by first-order cohort"
SELECT cohort, period, cohort_size, active_users, round(retention, 4) AS retention
FROM cohort_retention(${orders}, customer_id, order_ts, 'month')
ORDER BY cohort, period;

-- Month-1 retention: the latest three complete cohorts against the earlier ones
-- @finding "Month-1 retention of the latest three complete cohorts ({latest_cohorts}) is {latest:percent}, against {earlier:percent} for the earlier ones ({change_points} points)"
WITH m1 AS (
  SELECT cohort, cohort_size, active_users, row_number() OVER (ORDER BY cohort DESC) AS recent
  FROM cohort_retention(${orders}, customer_id, order_ts, 'month')
  WHERE period = 1 AND retention IS NOT NULL
), split AS (
  SELECT concat(to_char(min(cohort) FILTER (WHERE recent <= 3), '%Y-%m'), ' to ',
                to_char(max(cohort) FILTER (WHERE recent <= 3), '%Y-%m')) AS latest_cohorts,
         CAST(sum(active_users) FILTER (WHERE recent <= 3) AS DOUBLE) / sum(cohort_size) FILTER (WHERE recent <= 3) AS latest,
         CAST(sum(active_users) FILTER (WHERE recent > 3) AS DOUBLE) / sum(cohort_size) FILTER (WHERE recent > 3) AS earlier
  FROM m1
)
SELECT latest_cohorts, round(latest, 4) AS latest, round(earlier, 4) AS earlier,
       concat(CASE WHEN latest >= earlier THEN '+' ELSE '' END, CAST(round(100 * (latest - earlier), 1) AS VARCHAR)) AS change_points
FROM split;

-- Weekly retention of the last quarter's cohorts, first 8 weeks
-- @chart heatmap x=period y=cohort value=retention format=percent scale_excludes=0 title="Weekly retention, recent cohorts"
SELECT cohort, period, cohort_size, active_users, round(retention, 4) AS retention
FROM cohort_retention(${orders}, customer_id, order_ts, 'week')
WHERE cohort >= DATE '${as_of}' - INTERVAL '120 days' AND period <= 8
ORDER BY cohort, period;

-- Revenue cohorts: cumulative revenue per customer (historical LTV curves), quarterly starts
-- @chart line x=period y=ltv_per_customer series=cohort format=currency title="Cumulative revenue per customer by cohort (LTV curves)"
SELECT cohort, period, revenue, round(cumulative_revenue_per_user, 2) AS ltv_per_customer
FROM cohort_revenue(${orders}, customer_id, order_ts, amount, 'month')
WHERE extract(month FROM cohort) IN (1, 4, 7, 10)
ORDER BY cohort, period;
