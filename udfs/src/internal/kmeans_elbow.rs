//! `segsql_kmeans_elbow(features, k_min, k_max, seed)`: the rows of `kmeans_elbow`, as one
//! aggregate over all points, so the table function is an ordinary plan that serialises.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use ndarray::Array2;
use segsql_algo::cluster::elbow::elbow;

use super::points_fold::PointsFold;
use crate::common::constant::{check_internal_types, internal_int, types};
use crate::common::grouped::single_list;

/// The user-facing name, for error messages.
const FUNCTION: &str = "kmeans_elbow";

/// The columns of one elbow row.
pub fn elbow_fields() -> Fields {
    Fields::from(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("inertia", DataType::Float64, false),
        Field::new("silhouette", DataType::Float64, true),
        Field::new("davies_bouldin", DataType::Float64, true),
        Field::new("calinski_harabasz", DataType::Float64, true),
        Field::new("is_knee", DataType::Boolean, false),
    ])
}

fn rows_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Struct(elbow_fields()), true)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansElbowFold {
    signature: Signature,
}

impl KMeansElbowFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        // The features' list type is built by the table function's plan.
        Arc::new(AggregateUDF::from(KMeansElbowFold { signature: Signature::any(4, Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for KMeansElbowFold {
    fn name(&self) -> &str {
        "segsql_kmeans_elbow"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        use types::{int64, list_of_floats};
        check_internal_types(self.name(), arg_types, &[list_of_floats, int64, int64, int64])?;
        Ok(rows_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PointsFold::state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let arg = |index| -> Result<usize> {
            match internal_int(self.name(), args.exprs, index)? {
                Some(value) if value >= 0 => Ok(value as usize),
                other => internal_err!("segsql_kmeans_elbow: argument {} must be a count, got {other:?}", index + 1),
            }
        };
        let (k_min, k_max, seed) = (arg(1)?, arg(2)?, arg(3)? as u64);
        Ok(Box::new(PointsFold::new(FUNCTION, Box::new(move |points| elbow_rows(points, k_min, k_max, seed)))))
    }
}

fn elbow_rows(points: Array2<f64>, k_min: usize, k_max: usize, seed: u64) -> Result<ScalarValue> {
    let rows = match elbow(points.view(), k_min, k_max, seed, crate::common::kernel_threads()) {
        Ok(rows) => rows,
        Err(e) => return exec_err!("{FUNCTION}: {e}"),
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.k as i64).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.inertia).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.silhouette).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.davies_bouldin).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.calinski_harabasz).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| Some(r.is_knee)).collect::<BooleanArray>()),
    ];
    let items = StructArray::try_new(elbow_fields(), columns, None)?;
    single_list(DataType::Struct(elbow_fields()), Arc::new(items))
}
