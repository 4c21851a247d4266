//! `kmeans_stability(source, features, k [, resamples [, seed]])`: does k-means find the same
//! clusters in two halves of the data?

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Documentation, Expr, cast, col, lit};
use datafusion::prelude::ident;
use segsql_algo::cluster::kmeans::DEFAULT_SEED;

use crate::common::args::{check_arity, numeric_columns, source_table};
use crate::common::constant::int_arg;
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::internal::kmeans_stability::{KMeansStabilityFold, stability_fields};
use crate::plan::{scan, view};

const SYNTAX: &str = "kmeans_stability(source, features, k [, resamples [, seed]])";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "The stability of a k-means segmentation under resampling, one row per resample: the \
         rows (with complete features, z-scored, as kmeans_elbow does) are shuffled with the \
         seed and split into two disjoint halves; k-means (k-means++ from seeded starts) is fitted \
         on each half, every row is labelled by both fits, and adjusted_rand says how far the \
         two labelings agree. Near 1 on every resample: the clusters are a property of the \
         data; low or scattered values: this k splits the customers arbitrarily and the \
         segments would change from week to week. Same seed, same rows: same numbers.",
        SYNTAX,
    )
    .with_argument("source", "A table or view name, bare or quoted.")
    .with_argument("features", "Comma-separated numeric columns: 'recency_days,frequency,monetary'.")
    .with_argument("k", "The number of clusters, at least 1; each half needs at least k rows.")
    .with_argument("resamples", "How many random splits, 1 to 1000 (default 10).")
    .with_argument("seed", "Seed of the splits and the k-means++ starts (default 42).")
    .with_sql_example(
        "CREATE VIEW customer_rfm AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT k, round(avg(adjusted_rand), 3) AS mean_ari, round(min(adjusted_rand), 3) AS worst_ari\nFROM (SELECT * FROM kmeans_stability(customer_rfm, 'recency_days,frequency,monetary', 4, 5)\n      UNION ALL SELECT * FROM kmeans_stability(customer_rfm, 'recency_days,frequency,monetary', 6, 5))\nGROUP BY k ORDER BY k;",
    )
    .build()
});

#[derive(Debug)]
pub struct KMeansStability;

impl DocumentedTableFunction for KMeansStability {
    fn name(&self) -> &str {
        "kmeans_stability"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for KMeansStability {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "kmeans_stability";
        check_arity(F, &args, 3, 5, SYNTAX)?;
        let source = source_table(F, &args)?;
        let features = numeric_columns(F, &args, &source, 1)?;
        let Some(k) = int_arg(F, &args, 2, "k", 1..=1000)? else {
            return plan_err!("{F}: k must be a whole number from 1 to 1000");
        };
        let resamples = int_arg(F, &args, 3, "resamples", 1..=1000)?.unwrap_or(10);
        let seed = int_arg(F, &args, 4, "seed", 0..=i64::MAX)?.unwrap_or(DEFAULT_SEED as i64);
        let features = make_array(features.iter().map(|f| cast(ident(f), DataType::Float64)).collect());
        let fold = KMeansStabilityFold::udaf().call(vec![col("__features"), lit(k), lit(resamples), lit(seed)]);
        let plan = scan(&source)?
            .project(vec![features.alias("__features")])?
            .aggregate(Vec::<Expr>::new(), vec![fold.alias("__rows")])?
            .unnest_column("__rows")?
            .project(stability_fields().iter().map(|f| get_field(col("__rows"), f.name().as_str()).alias(f.name())))?
            .build()?;
        Ok(view(plan, format!("kmeans_stability({}, ...)", source.reference)))
    }
}
