//! Documentation of the model statements. The shell parses and runs them (they are not
//! functions DataFusion can register), but they are listed and documented with the
//! functions so that `\functions` and the docs cover the whole SQL surface.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use crate::function::CLUSTER_SECTION;

pub static CREATE_MODEL: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Runs the query, fits a model on its rows and saves it as <models dir>/<name>.json \
         (--models DIR, default ./models), written through a temporary file so a failure leaves \
         any previous file untouched; OR REPLACE is needed to overwrite. The files hold no \
         timestamps: the same data and options write the same bytes at any thread count. \
         USING kmeans: every column of the query is a feature, in order, and must be numeric; \
         rows with a NULL, NaN or infinite feature are left out and counted. Options: k \
         (required), n_init (restarts, best inertia kept; default 1), max_iter (300), tol (1e-4, \
         relative to the features' mean variance, as in scikit-learn), seed (42), standardize \
         ('none' default, 'zscore' with the population standard deviation, or 'minmax'), and \
         init: 'k-means++' (default), the name of another model, or a query in parentheses \
         giving k rows of starting centres in the features' units. Returns model, rows, skipped, \
         k, iterations, inertia, path. \
         USING bgnbd | mbgnbd | pareto_nbd: the columns are frequency, recency, T by position \
         (as rfm_summary gives them); USING gamma_gamma: frequency, monetary_value. They are \
         fitted by maximum likelihood with lifetimes 0.11.3's objective: BFGS on the \
         log-parameters from e^0.1 (above 200,000 distinct histories from a fit on a \
         subsample of them, to the same optimum), time scaled by 1/max(T), lifetimes' mean negative \
         log-likelihood plus penalizer·Σθ² (its penalizer_coef), so the parameters equal \
         lifetimes' to 1e-4. For pareto_nbd lifetimes' objective is the sum, not the mean, so \
         the same penalizer weighs about N times less; lifetimes fits it by Nelder–Mead from \
         random starts, which stops short of the optimum this reaches (by up to 3e-4 relative in \
         the parameters on lifetimes' own data sets and draws). Standard errors from \
         the Hessian. Options: time_unit ('day' \
         default, 'week', 'month': the unit of recency and T, which sets the month of clv), \
         penalizer (0), max_iter (1000). Rows with a NULL, NaN or infinite value are skipped and \
         counted, and for gamma_gamma rows with frequency 0 or monetary_value <= 0 too; a \
         history no model can come from (negative, recency > T, frequency 0 with recency ≠ 0, \
         fractional frequency) is an error, as in lifetimes. A fit that does not converge is an \
         error suggesting a penalizer. Returns model, algorithm, rows, skipped, iterations, \
         converged, log_likelihood (the sum in the data's time unit, as the papers report it), \
         path. USING logistic_reg (label = 'churned'): a churn-propensity model, the optimum of \
         scikit-learn's LogisticRegression(C = 1/l2) (L2 penalty on the coefficients, not the \
         intercept), fitted by BFGS from zero; the label column (boolean or 0/1) is named, every \
         other column is a numeric feature. Options: label (required), l2 (1.0), standardize \
         ('none' default or 'zscore'), max_iter (1000), tol (1e-8, on the gradient of the mean \
         loss). Rows with a NULL label or a NULL, NaN or infinite feature are skipped and \
         counted; one class only is an error. Returns model, algorithm, rows, skipped, \
         positives, iterations, objective (the penalised mean log-loss), path.",
        "CREATE MODEL name USING kmeans (k = 5 [, n_init = 4] [, max_iter = 300] [, tol = 1e-4] [, seed = 42] [, standardize = 'zscore'] [, init = ...]) AS query\nCREATE MODEL name USING bgnbd | mbgnbd | pareto_nbd [(time_unit = 'week' [, penalizer = 0] [, max_iter = 1000])] AS SELECT frequency, recency, T ...\nCREATE MODEL name USING gamma_gamma [(penalizer = 0 [, max_iter = 1000])] AS SELECT frequency, monetary_value ...\nCREATE MODEL name USING logistic_reg (label = 'churned' [, l2 = 1.0] [, standardize = 'none'] [, max_iter = 1000] [, tol = 1e-8]) AS SELECT features..., churned ...",
    )
    .with_argument("name", "Letters, digits and _; case-insensitive.")
    .with_argument("query", "Any SELECT; its columns are the features, or the model's inputs by position.")
    .with_sql_example(
        "CREATE MODEL customer_segments\n  USING kmeans (k = 5, seed = 42, standardize = 'zscore', n_init = 4, max_iter = 300, tol = 1e-4)\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nCREATE MODEL buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency, recency, \"T\" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');",
    )
    .build()
});

pub static DROP_MODEL: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Deletes a saved model's file. A missing model is an error unless IF EXISTS is given.",
        "DROP MODEL [IF EXISTS] name",
    )
    .with_sql_example(
        "CREATE MODEL scratch USING kmeans (k = 2) AS SELECT frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nDROP MODEL scratch;\nDROP MODEL IF EXISTS scratch;",
    )
    .build()
});

pub static SHOW_MODELS: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Lists the models in the models directory: name, algorithm, features (the query's \
         columns), k and standardize (k-means), training_rows, inertia (k-means), log_likelihood \
         (CLV models), and status ('ok', or why the file cannot be read). \\models does the same.",
        "SHOW MODELS",
    )
    .with_sql_example(
        "CREATE MODEL segments USING kmeans (k = 3) AS SELECT frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSHOW MODELS;",
    )
    .build()
});
