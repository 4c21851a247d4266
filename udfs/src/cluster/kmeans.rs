//! `kmeans(features, k [, seed]) OVER (...)`: k-means labels for the rows of each window
//! partition.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use crate::common::constant::count_arg;
use crate::common::features::{check_feature_type, label_field, label_partition};
use crate::function::CLUSTER_SECTION;
use segsql_algo::cluster::kmeans::{DEFAULT_SEED, KMeansParams, fit};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Clusters the rows of each window partition with k-means (greedy k-means++ start, Lloyd \
         iterations until the labels stop changing or the centres move less than 1e-4 of the \
         data's variance, at most 300) and returns each row's cluster, 1 to k, numbered by size: \
         1 is the largest cluster, ties broken by centre. Rows are clustered in order of their \
         feature values, so the labels do not depend on row order, thread count or rerun. Rows \
         whose features are NULL, NaN or infinite get NULL and take no part. Features are not \
         scaled: standardize them first (or use CREATE MODEL ... standardize = 'zscore').",
        "kmeans(features, k [, seed]) OVER ([PARTITION BY ...])",
    )
    .with_argument("features", "An array of numbers, the same length on every row: [recency_days, frequency, monetary].")
    .with_argument("k", "The number of clusters, a constant from 1 to the number of rows with features.")
    .with_argument("seed", "Seed of the k-means++ start (default 42).")
    .with_sql_example(
        "SELECT cluster, count(*) AS customers, round(avg(monetary), 2) AS avg_monetary\nFROM (\n  SELECT monetary,\n         kmeans([recency_days / 30.0, frequency, monetary / 100.0], 4) OVER () AS cluster\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n)\nGROUP BY cluster ORDER BY cluster;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeans {
    signature: Signature,
}

impl KMeans {
    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(KMeans { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl WindowUDFImpl for KMeans {
    fn name(&self) -> &str {
        "kmeans"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, _] | [features, _, _] => {
                check_feature_type("kmeans", features)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!("kmeans: expected kmeans(features, k [, seed]), got {} arguments", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let k = count_arg("kmeans", args.input_exprs(), 1, "k", 1, None)? as usize;
        let seed = count_arg("kmeans", args.input_exprs(), 2, "seed", 0, Some(DEFAULT_SEED as i64))? as u64;
        Ok(Box::new(KMeansEvaluator { k, seed }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(label_field(field_args.name()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct KMeansEvaluator {
    k: usize,
    seed: u64,
}

impl PartitionEvaluator for KMeansEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        label_partition("kmeans", &values[0], |points| {
            let mut params = KMeansParams::new(self.k);
            params.seed = self.seed;
            let checked = match params.check(points.nrows(), points.ncols()) {
                Ok(checked) => checked,
                Err(message) => return exec_err!("kmeans: {message}"),
            };
            Ok(fit(points, &checked, crate::common::kernel_threads()).labels.iter().map(|&l| l as i64 + 1).collect())
        })
    }
}
