//! `kmeans_assign('model_name', features)`: scores rows with a saved k-means model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Documentation;

use crate::function::CLUSTER_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The cluster (1 to k) of each row under a model made by CREATE MODEL: the features are scaled with the model's stored scaler and the row goes to the nearest centroid (Euclidean; ties to the lower cluster id). The model file is read once per query and again only when it changes. Rows whose features are NULL, NaN or infinite get NULL. The features must be given in the model's order and number (the error lists them).",
        "kmeans_assign('model_name', features)",
    )
    .with_argument("model_name", "The model's name, a constant string.")
    .with_argument("features", "An array of numbers in the model's feature order.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL customer_segments\n  USING kmeans (k = 4, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster, count(*) AS customers\nFROM rfm(sample.orders, customer_id, order_ts, amount)\nGROUP BY cluster ORDER BY cluster;",
    )
    .build()
});

super::scoring::make_scoring_udf!(KMeansAssign, "kmeans_assign", super::scoring::Output::Cluster, DataType::Int64, DOC);
