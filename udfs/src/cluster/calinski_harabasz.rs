//! `calinski_harabasz(features, cluster)`: a cluster-validity index.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use super::features::{CLUSTER_SECTION, check_feature_type, check_label_type};
use super::points_accumulator::PointsAccumulator;
use segsql_algo::cluster::validity::calinski_harabasz;

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

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CalinskiHarabasz {
    signature: Signature,
}

impl CalinskiHarabasz {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(CalinskiHarabasz { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for CalinskiHarabasz {
    fn name(&self) -> &str {
        "calinski_harabasz"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, cluster] => {
                check_feature_type("calinski_harabasz", features)?;
                check_label_type("calinski_harabasz", cluster)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!(
                "calinski_harabasz: expected calinski_harabasz(features, cluster), got {} arguments",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PointsAccumulator::new("calinski_harabasz", Box::new(calinski_harabasz))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PointsAccumulator::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
