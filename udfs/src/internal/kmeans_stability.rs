//! `segsql_kmeans_stability(features, k, resamples, seed)`: the rows of `kmeans_stability`,
//! as one aggregate over all points, so the table function is an ordinary plan.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use ndarray::Array2;
use segsql_algo::governance::{StabilityParams, kmeans_stability};

use super::points_fold::PointsFold;
use crate::common::constant::{check_internal_types, internal_int, types};
use crate::common::grouped::single_list;

const FUNCTION: &str = "kmeans_stability";

/// The columns of one resample's row.
pub fn stability_fields() -> Fields {
    Fields::from(vec![
        Field::new("resample", DataType::Int64, false),
        Field::new("k", DataType::Int64, false),
        Field::new("half_rows", DataType::Int64, false),
        Field::new("adjusted_rand", DataType::Float64, false),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansStabilityFold {
    signature: Signature,
}

impl KMeansStabilityFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(KMeansStabilityFold { signature: Signature::any(4, Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for KMeansStabilityFold {
    fn name(&self) -> &str {
        "segsql_kmeans_stability"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        use types::{int64, list_of_floats};
        check_internal_types(self.name(), arg_types, &[list_of_floats, int64, int64, int64])?;
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Struct(stability_fields()), true))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PointsFold::state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let arg = |index| -> Result<usize> {
            match internal_int(self.name(), args.exprs, index)? {
                Some(value) if value >= 0 => Ok(value as usize),
                other => {
                    internal_err!("segsql_kmeans_stability: argument {} must be a count, got {other:?}", index + 1)
                }
            }
        };
        let params = StabilityParams { k: arg(1)?, resamples: arg(2)?, seed: arg(3)? as u64 };
        Ok(Box::new(PointsFold::new(FUNCTION, Box::new(move |points| stability_rows(points, &params)))))
    }
}

fn stability_rows(points: Array2<f64>, params: &StabilityParams) -> Result<ScalarValue> {
    let resamples = match kmeans_stability(points.view(), params, crate::common::kernel_threads()) {
        Ok(resamples) => resamples,
        Err(e) => return exec_err!("{FUNCTION}: {e}"),
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new((1..=resamples.len() as i64).collect::<Int64Array>()),
        Arc::new(resamples.iter().map(|_| params.k as i64).collect::<Int64Array>()),
        Arc::new(resamples.iter().map(|r| r.half_rows as i64).collect::<Int64Array>()),
        Arc::new(resamples.iter().map(|r| r.adjusted_rand).collect::<Float64Array>()),
    ];
    let items = StructArray::try_new(stability_fields(), columns, None)?;
    single_list(DataType::Struct(stability_fields()), Arc::new(items))
}
