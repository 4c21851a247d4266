//! `kmeans_elbow(source, features, k_min, k_max [, seed])`: one row per k to choose the
//! number of clusters.

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
use crate::function::{CLUSTER_SECTION, DocumentedTableFunction};
use crate::internal::kmeans_elbow::{KMeansElbowFold, elbow_fields};
use crate::plan::{scan, view};

const MAX_K: i64 = 100;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Fits k-means for every k from k_min to k_max on the named numeric columns of a table or \
         view, standardized with z-scores, and returns one row per k: k, inertia (within-cluster \
         sum of squares), silhouette (exact up to 10,000 rows, above that a seeded estimate on \
         10,000), davies_bouldin, calinski_harabasz, and is_knee, true on the k where the inertia \
         curve bends most (the Kneedle rule: the point farthest below the line from the first k \
         to the last). Rows with a NULL, NaN or infinite feature are left out. Runs when the \
         query runs, not while planning.",
        "kmeans_elbow(source, features, k_min, k_max [, seed])",
    )
    .with_argument("source", "A table or view name, bare or quoted.")
    .with_argument("features", "Comma-separated numeric columns of the source: 'recency_days,frequency,monetary'.")
    .with_argument("k_min", "The smallest k, at least 1.")
    .with_argument("k_max", "The largest k, at most 100 and at most the number of rows.")
    .with_argument("seed", "Seed of the k-means++ starts and the silhouette sample (default 42).")
    .with_sql_example(
        "CREATE VIEW customer_rfm AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT k, round(inertia, 1) AS inertia, round(silhouette, 3) AS silhouette, is_knee\nFROM kmeans_elbow(customer_rfm, 'recency_days,frequency,monetary', 2, 8)\nORDER BY k;",
    )
    .build()
});

#[derive(Debug)]
pub struct KMeansElbow;

impl DocumentedTableFunction for KMeansElbow {
    fn name(&self) -> &str {
        "kmeans_elbow"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for KMeansElbow {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const SYNTAX: &str = "kmeans_elbow(source, features, k_min, k_max [, seed])";
        check_arity("kmeans_elbow", &args, 4, 5, SYNTAX)?;
        let source = source_table("kmeans_elbow", &args)?;
        let features = numeric_columns("kmeans_elbow", &args, &source, 1)?;
        let Some(k_min) = int_arg("kmeans_elbow", &args, 2, "k_min", 1..=MAX_K)? else {
            return plan_err!("kmeans_elbow: k_min must be a whole number from 1 to {MAX_K}");
        };
        let Some(k_max) = int_arg("kmeans_elbow", &args, 3, "k_max", 1..=MAX_K)? else {
            return plan_err!("kmeans_elbow: k_max must be a whole number from 1 to {MAX_K}");
        };
        if k_max < k_min {
            return plan_err!("kmeans_elbow: k_max ({k_max}) must be at least k_min ({k_min})");
        }
        let seed = int_arg("kmeans_elbow", &args, 4, "seed", 0..=i64::MAX)?.map_or(DEFAULT_SEED, |s| s as u64);
        // ident, not a quoted string: a name may itself hold a quote.
        let features = make_array(features.iter().map(|f| cast(ident(f), DataType::Float64)).collect());
        let fold = KMeansElbowFold::udaf().call(vec![
            col("__features"),
            lit(k_min),
            lit(k_max),
            lit(i64::try_from(seed).unwrap_or(i64::MAX)),
        ]);
        let plan = scan(&source)?
            .project(vec![features.alias("__features")])?
            .aggregate(Vec::<Expr>::new(), vec![fold.alias("__rows")])?
            .unnest_column("__rows")?
            .project(elbow_fields().iter().map(|f| get_field(col("__rows"), f.name().as_str()).alias(f.name())))?
            .build()?;
        Ok(view(plan, format!("kmeans_elbow({}, ...)", source.reference)))
    }
}
