//! `calinski_harabasz(features, cluster)`: a cluster-validity index.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use segsql_algo::cluster::validity::calinski_harabasz;

use crate::function::CLUSTER_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The Calinski–Harabasz index (variance ratio) of a clustering: between-cluster dispersion over within-cluster dispersion, each divided by its degrees of freedom, (B / (k - 1)) / (W / (n - k)). Higher is better; equal to scikit-learn's calinski_harabasz_score. NULL with fewer than two clusters or as many clusters as rows; 1 when every cluster is a single repeated point. Rows with NULL cluster or NULL, NaN or infinite features are left out.",
        "calinski_harabasz(features, cluster)",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("cluster", "The row's cluster label, an integer (such as the output of kmeans).")
    .with_sql_example(
        "WITH features AS (\n  SELECT [recency_days / 30.0, frequency, monetary / 100.0] AS f\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n)\nSELECT round(calinski_harabasz(f, cluster), 2) AS calinski_harabasz\nFROM (SELECT f, kmeans(f, 4) OVER () AS cluster FROM features);",
    )
    .build()
});

super::points_accumulator::make_validity_udaf!(CalinskiHarabasz, "calinski_harabasz", calinski_harabasz, DOC);
