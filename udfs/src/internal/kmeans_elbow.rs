//! `segsql_kmeans_elbow(features, k_min, k_max, seed)`: the rows of `kmeans_elbow`, as one
//! aggregate over all points, so the table function is an ordinary plan that serialises.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use ndarray::Array2;
use segsql_algo::cluster::elbow::elbow;

use crate::common::constant::{check_internal_types, internal_int, types};
use crate::common::features::features_from_array_with;
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
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                DataType::new_list(DataType::Float64, true),
                true,
            )),
            Arc::new(Field::new(format_state_name(args.name, "dims"), DataType::Int64, true)),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let arg = |index| -> Result<usize> {
            match internal_int(self.name(), args.exprs, index)? {
                Some(value) if value >= 0 => Ok(value as usize),
                other => internal_err!("segsql_kmeans_elbow: argument {} must be a count, got {other:?}", index + 1),
            }
        };
        Ok(Box::new(ElbowAccumulator {
            k_min: arg(1)?,
            k_max: arg(2)?,
            seed: arg(3)? as u64,
            values: Vec::new(),
            dims: None,
        }))
    }
}

#[derive(Debug)]
struct ElbowAccumulator {
    k_min: usize,
    k_max: usize,
    seed: u64,
    /// The complete points seen, row-major.
    values: Vec<f64>,
    dims: Option<usize>,
}

impl ElbowAccumulator {
    fn set_dims(&mut self, dims: usize) -> Result<()> {
        match self.dims {
            Some(d) if d != dims => internal_err!("segsql_kmeans_elbow: partial states with {d} and {dims} features"),
            _ => {
                self.dims = Some(dims);
                Ok(())
            }
        }
    }
}

impl Accumulator for ElbowAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let features = features_from_array_with(FUNCTION, &values[0], self.dims)?;
        if features.dims() > 0 {
            self.set_dims(features.dims())?;
        }
        self.values.extend(features.matrix.iter());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        let dims = states[1].as_primitive::<Int64Type>();
        for row in 0..lists.len() {
            if dims.is_null(row) || lists.is_null(row) {
                continue;
            }
            self.set_dims(dims.value(row) as usize)?;
            self.values.extend(lists.value(row).as_primitive::<Float64Type>().values().iter());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Arc::new(Float64Array::from(std::mem::take(&mut self.values)));
        Ok(vec![single_list(DataType::Float64, values)?, ScalarValue::Int64(self.dims.map(|d| d as i64))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let dims = self.dims.unwrap_or(0);
        let n = self.values.len().checked_div(dims).unwrap_or(0);
        let points = Array2::from_shape_vec((n, dims), std::mem::take(&mut self.values))
            .or_else(|e| internal_err!("segsql_kmeans_elbow: point matrix: {e}"))?;
        let rows = match elbow(points.view(), self.k_min, self.k_max, self.seed, crate::common::kernel_threads()) {
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

    fn size(&self) -> usize {
        size_of_val(self) + self.values.capacity() * 8
    }
}
