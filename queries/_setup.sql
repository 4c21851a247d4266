-- Shared set-up for the report scripts: parameters and the views they read.
-- Each numbered script includes this, so any of them runs alone.
--
-- Tables (override with --param for your lake, e.g. --data lake --param orders=orders):
--   orders(customer_id, order_ts, amount)       events(user_id, ts, event)
--   customers(customer_id, signup_ts, country, acquisition_channel)
--   marketing_spend(month, channel, spend)

\default orders sample.orders
\default customers sample.customers
\default events sample.events
\default spend sample.marketing_spend
\default as_of 2026-01-01
\default churn_days 90
\default k 4
\default out_dir report_out

CREATE OR REPLACE VIEW customer_rfm AS
SELECT * FROM rfm(${orders}, customer_id, order_ts, amount, '${as_of}');
