//! `adjusted_rand(a, b)`: agreement of two labelings of the same rows, corrected for chance.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use segsql_algo::governance::adjusted_rand;

use crate::function::GOVERNANCE_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "The adjusted Rand index of two labelings of the same rows (this week's clusters against \
         last week's, a model's clusters against a holdout fit's): 1 when they partition the \
         rows identically whatever the labels are called, about 0 when they agree as much as \
         chance would, negative below that. Equal to scikit-learn's adjusted_rand_score to the \
         last bits (pairs are counted in exact integers). Labels are integers or text; rows \
         where either label is NULL are left out (count them with count(*) - count(a + b) or \
         FILTER). 1 on a single row; NULL on no rows.",
        "adjusted_rand(a, b)",
    )
    .with_argument("a", "The first labeling: a cluster id or a segment name.")
    .with_argument("b", "The second labeling of the same row.")
    .with_sql_example(
        "SELECT round(adjusted_rand(segment, cluster), 4) AS ari\nFROM (\n  SELECT segment, kmeans([recency_days / 30.0, frequency, monetary / 100.0], 4) OVER () AS cluster\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n);",
    )
    .build()
});

super::label_pairs::make_agreement_udaf!(AdjustedRand, "adjusted_rand", adjusted_rand, DOC);
