//! `davies_bouldin(features, cluster)`: a cluster-validity index.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use segsql_algo::cluster::validity::davies_bouldin;

use crate::function::CLUSTER_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The Davies–Bouldin index of a clustering: the mean, over clusters, of the largest (s_i + s_j) / d(c_i, c_j), where s is a cluster's mean Euclidean distance to its centroid and d the distance between centroids. Lower is better, 0 the least; equal to scikit-learn's davies_bouldin_score. NULL with fewer than two clusters; 0 when every cluster is a single point. Rows with NULL cluster or NULL, NaN or infinite features are left out.",
        "davies_bouldin(features, cluster)",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("cluster", "The row's cluster label, an integer (such as the output of kmeans).")
    .with_sql_example(
        "WITH features AS (\n  SELECT [recency_days / 30.0, frequency, monetary / 100.0] AS f\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n)\nSELECT round(davies_bouldin(f, cluster), 4) AS davies_bouldin\nFROM (SELECT f, kmeans(f, 4) OVER () AS cluster FROM features);",
    )
    .build()
});

super::points_accumulator::make_validity_udaf!(DaviesBouldin, "davies_bouldin", davies_bouldin, DOC);
