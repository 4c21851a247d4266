//! `kmeans_distance('model_name', features)`: scores rows with a saved k-means model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Documentation;

use crate::function::CLUSTER_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The Euclidean distance from each row to its nearest centroid under a model made by CREATE MODEL, in the model's (standardized) feature space: small for typical members of a segment, large for outliers. Scaling, NULL handling and the feature check are as for kmeans_assign.",
        "kmeans_distance('model_name', features)",
    )
    .with_argument("model_name", "The model's name, a constant string.")
    .with_argument("features", "An array of numbers in the model's feature order.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL customer_segments\n  USING kmeans (k = 4, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT customer_id, round(kmeans_distance('customer_segments', [recency_days, frequency, monetary]), 3) AS distance\nFROM rfm(sample.orders, customer_id, order_ts, amount)\nORDER BY distance DESC LIMIT 5;",
    )
    .build()
});

super::scoring::make_scoring_udf!(
    KMeansDistance,
    "kmeans_distance",
    super::scoring::Output::Distance,
    DataType::Float64,
    DOC
);
