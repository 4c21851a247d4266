//! `silhouette(features, cluster [, sample_size [, seed]])`: the mean silhouette
//! coefficient of a clustering.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use super::points_accumulator::PointsAccumulator;
use crate::common::constant::count_arg;
use crate::common::features::{check_feature_type, check_label_type};
use crate::function::CLUSTER_SECTION;
use segsql_algo::cluster::kmeans::DEFAULT_SEED;
use segsql_algo::cluster::silhouette::{sampled_silhouette_score, silhouette_score};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The mean silhouette coefficient of a clustering, from -1 (wrong clusters) to 1 (tight, \
         well separated): for each point, (b - a) / max(a, b) with a its mean Euclidean distance \
         to the rest of its cluster and b the smallest mean distance to another cluster; a point \
         alone in its cluster scores 0. Exact by default, computed block by block in memory \
         linear in the rows (never an n × n matrix) and equal to scikit-learn's \
         silhouette_score. With sample_size, the exact silhouette of a seeded random sample of \
         that many rows (the whole input when it has no more). NULL with fewer than two \
         clusters. Rows with NULL cluster or NULL, NaN or infinite features are left out.",
        "silhouette(features, cluster [, sample_size [, seed]])",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("cluster", "The row's cluster label, an integer (such as the output of kmeans).")
    .with_argument("sample_size", "Estimate on this many randomly chosen rows instead of all of them.")
    .with_argument("seed", "Seed of the sample (default 42).")
    .with_sql_example(
        "WITH features AS (\n  SELECT [recency_days / 30.0, frequency, monetary / 100.0] AS f\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n)\nSELECT round(silhouette(f, cluster), 4) AS silhouette\nFROM (SELECT f, kmeans(f, 4) OVER () AS cluster FROM features);",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Silhouette {
    signature: Signature,
}

impl Silhouette {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(Silhouette { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for Silhouette {
    fn name(&self) -> &str {
        "silhouette"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, cluster, ..] if arg_types.len() <= 4 => {
                check_feature_type("silhouette", features)?;
                check_label_type("silhouette", cluster)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!(
                "silhouette: expected silhouette(features, cluster [, sample_size [, seed]]), got {} arguments",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let sample_size = if args.exprs.len() > 2 {
            Some(count_arg("silhouette", args.exprs, 2, "sample_size", 2, None)? as usize)
        } else {
            None
        };
        let seed = count_arg("silhouette", args.exprs, 3, "seed", 0, Some(DEFAULT_SEED as i64))? as u64;
        Ok(Box::new(PointsAccumulator::new(
            "silhouette",
            Box::new(move |points, labels, clusters| match sample_size {
                None => silhouette_score(points, labels, clusters, crate::common::kernel_threads()),
                Some(size) => sampled_silhouette_score(points, labels, size, seed, crate::common::kernel_threads()),
            }),
        )))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PointsAccumulator::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
