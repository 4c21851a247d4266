//! `dbscan(features, eps, min_points) OVER (...)`: density clusters of each window
//! partition, noise as -1.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use crate::common::constant::{count_arg, number_arg};
use crate::common::features::{check_feature_type, label_field, label_partition};
use crate::function::CLUSTER_SECTION;
use segsql_algo::cluster::dbscan::{CheckedDbscan, DbscanParams, dbscan};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Density-based clusters (DBSCAN) of the rows of each window partition. A core point has \
         at least min_points points, itself included, within Euclidean distance eps (<= eps); \
         clusters are the core points linked within eps plus the border points they reach, \
         numbered 1, 2, ... in order of their first core point, and everything else is noise, \
         -1. Points are visited in order of their feature values, so labels do not depend on row \
         order; scikit-learn's DBSCAN gives the same labels on the points in that order. A grid \
         index keeps memory linear. Rows whose features are NULL, NaN or infinite get NULL.",
        "dbscan(features, eps, min_points) OVER ([PARTITION BY ...])",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("eps", "The neighbourhood radius, a constant greater than 0.")
    .with_argument("min_points", "Points within eps (the point itself included) that make a core point, at least 1.")
    .with_sql_example(
        "SELECT cluster, count(*) AS customers\nFROM (\n  SELECT dbscan([recency_days / 30.0, frequency], 1.0, 20) OVER () AS cluster\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n)\nGROUP BY cluster ORDER BY cluster;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Dbscan {
    signature: Signature,
}

impl Dbscan {
    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(Dbscan { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl WindowUDFImpl for Dbscan {
    fn name(&self) -> &str {
        "dbscan"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, _, _] => {
                check_feature_type("dbscan", features)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!("dbscan: expected dbscan(features, eps, min_points), got {} arguments", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let eps = number_arg("dbscan", args.input_exprs(), 1, "eps")?;
        let min_points = count_arg("dbscan", args.input_exprs(), 2, "min_points", 1, None)? as usize;
        match (DbscanParams { eps, min_points }).check() {
            Ok(params) => Ok(Box::new(DbscanEvaluator { params })),
            Err(message) => plan_err!("dbscan: {message}"),
        }
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(label_field(field_args.name()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct DbscanEvaluator {
    params: CheckedDbscan,
}

impl PartitionEvaluator for DbscanEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        label_partition("dbscan", &values[0], |points| {
            Ok(dbscan(points, &self.params, crate::common::kernel_threads()))
        })
    }
}
