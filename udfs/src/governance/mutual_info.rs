//! `mutual_info(a, b)`: normalised mutual information of two labelings of the same rows.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use segsql_algo::governance::normalized_mutual_info;

use crate::function::GOVERNANCE_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "The normalised mutual information of two labelings of the same rows: their mutual \
         information divided by the arithmetic mean of their entropies, 1 when one determines \
         the other, 0 when they are independent. Equal to scikit-learn's \
         normalized_mutual_info_score (average_method='arithmetic'), including its conventions: \
         1 when both labelings have a single label, 0 when only one does. Not corrected for \
         chance (many small clusters score higher); adjusted_rand is. Labels are integers or \
         text; rows where either label is NULL are left out. NULL on no rows.",
        "mutual_info(a, b)",
    )
    .with_argument("a", "The first labeling: a cluster id or a segment name.")
    .with_argument("b", "The second labeling of the same row.")
    .with_sql_example(
        "SELECT round(mutual_info(segment, cluster), 4) AS nmi\nFROM (\n  SELECT segment, kmeans([recency_days / 30.0, frequency, monetary / 100.0], 4) OVER () AS cluster\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n);",
    )
    .build()
});

super::label_pairs::make_agreement_udaf!(MutualInfo, "mutual_info", normalized_mutual_info, DOC);
