//! `davies_bouldin(features, cluster)`: a cluster-validity index.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use super::features::{CLUSTER_SECTION, check_feature_type, check_label_type};
use super::points_accumulator::PointsAccumulator;
use segsql_algo::cluster::validity::davies_bouldin;

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

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DaviesBouldin {
    signature: Signature,
}

impl DaviesBouldin {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(DaviesBouldin { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for DaviesBouldin {
    fn name(&self) -> &str {
        "davies_bouldin"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, cluster] => {
                check_feature_type("davies_bouldin", features)?;
                check_label_type("davies_bouldin", cluster)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!(
                "davies_bouldin: expected davies_bouldin(features, cluster), got {} arguments",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PointsAccumulator::new("davies_bouldin", Box::new(davies_bouldin))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PointsAccumulator::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
