//! Documentation of the model statements. The shell parses and runs them (they are not
//! functions DataFusion can register), but they are listed and documented with the
//! functions so that `\functions` and the docs cover the whole SQL surface.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use crate::function::CLUSTER_SECTION;

pub static CREATE_MODEL: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Runs the query, fits k-means on its rows and saves the model as <models dir>/<name>.json \
         (--models DIR, default ./models), written through a temporary file so a failure leaves \
         any previous file untouched; OR REPLACE is needed to overwrite. Every column of the query \
         is a feature, in order, and must be numeric; rows with a NULL, NaN or infinite feature are \
         left out and counted. Options: k (required), n_init (restarts, best inertia kept; default \
         1), max_iter (300), tol (1e-4, relative to the features' mean variance, as in \
         scikit-learn), seed (42), standardize ('none' default, 'zscore' with the population \
         standard deviation, or 'minmax'), and init: 'k-means++' (default), the name of another \
         model, or a query in parentheses giving k rows of starting centres in the features' \
         units. Returns one row: model, rows, skipped, k, iterations, inertia, path. The file \
         holds the format version, segsql version, features, scaler, options, seed, training \
         rows, inertia, iterations and the centroids in scaled and raw units, with no \
         timestamps: the same data and seed write the same bytes at any thread count.",
        "CREATE MODEL name USING kmeans (k = 5 [, n_init = 4] [, max_iter = 300] [, tol = 1e-4] [, seed = 42] [, standardize = 'zscore'] [, init = ...]) AS query",
    )
    .with_argument("name", "Letters, digits and _; case-insensitive.")
    .with_argument("query", "Any SELECT; its columns are the features.")
    .with_sql_example(
        "CREATE MODEL customer_segments\n  USING kmeans (k = 5, seed = 42, standardize = 'zscore', n_init = 4, max_iter = 300, tol = 1e-4)\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);",
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
        "Lists the models in the models directory: name, features, k, standardize, training_rows, \
         inertia, and status ('ok', or why the file cannot be read). \\models does the same.",
        "SHOW MODELS",
    )
    .with_sql_example(
        "CREATE MODEL segments USING kmeans (k = 3) AS SELECT frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSHOW MODELS;",
    )
    .build()
});
