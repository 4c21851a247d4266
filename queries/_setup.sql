-- Shared set-up for the report scripts: parameters and the views they read.
-- Each numbered script includes this, so any of them runs alone.
--
-- Tables (override with --param for your lake, e.g. --data lake --param orders=orders):
--   orders(customer_id, order_ts, amount)       events(user_id, ts, event)
--   customers(customer_id, signup_ts, country, acquisition_channel)
--   marketing_spend(month, channel, spend)
-- Governance: pseudonym_key (no default: without it the pseudonymised audience export is
-- skipped), min_group (10: the smallest group an audience export keeps), erased (a table of
-- customer_id to leave out of everything).

\default orders sample.orders
\default customers sample.customers
\default events sample.events
\default spend sample.marketing_spend
\default as_of 2026-01-01
\default churn_days 90
\default k 4
\default out_dir report_out
\default min_group 10

-- Erasure (GDPR art. 17): --param erased=TABLE names a table with a customer_id column;
-- those customers leave every result, model and export of the run. Applied once, however
-- many scripts include this file.
\if defined erased
\if not defined erasure_applied
CREATE OR REPLACE VIEW orders_kept AS
SELECT * FROM ${orders} WHERE customer_id NOT IN (SELECT customer_id FROM ${erased} WHERE customer_id IS NOT NULL);
CREATE OR REPLACE VIEW customers_kept AS
SELECT * FROM ${customers} WHERE customer_id NOT IN (SELECT customer_id FROM ${erased} WHERE customer_id IS NOT NULL);
CREATE OR REPLACE VIEW events_kept AS
SELECT * FROM ${events} WHERE user_id NOT IN (SELECT customer_id FROM ${erased} WHERE customer_id IS NOT NULL);
\set orders orders_kept
\set customers customers_kept
\set events events_kept
\set erasure_applied true
\endif
\endif

-- The analyst's editable tables (playbook/README.md): persona naming rules (personas) and
-- a play per RFM segment with its effort and lift (plays).
\if not defined playbook_loaded
\load playbook
\set playbook_loaded true
\endif

-- Every script reads customer_rfm many times: it is computed once per run as a table,
-- however many scripts include this file (\unset rfm_computed recomputes it, after
-- changing as_of in the REPL, say).
\if not defined rfm_computed
CREATE OR REPLACE TABLE customer_rfm AS
SELECT * FROM rfm(${orders}, customer_id, order_ts, amount, '${as_of}');
\set rfm_computed true
\endif
