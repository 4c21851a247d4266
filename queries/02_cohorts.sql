-- 2. Cohort retention (monthly and weekly) and revenue cohorts.

\i _setup.sql

-- @section metrics
-- Monthly retention by first-order month (NULL where the month is not over yet)
-- @chart heatmap x=period y=cohort value=retention format=percent scale_excludes=0 title="Monthly retention by first-order cohort"
SELECT cohort, period, cohort_size, active_users, round(retention, 4) AS retention
FROM cohort_retention(${orders}, customer_id, order_ts, 'month')
ORDER BY cohort, period;

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
