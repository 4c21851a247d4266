//! The state of the internal aggregates that need every complete point at once (the
//! elbow, k-means stability): the points, row-major, and their dimension. What is computed
//! from them is the caller's `finish`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::Accumulator;
use datafusion::logical_expr::utils::format_state_name;
use ndarray::Array2;

use crate::common::features::features_from_array_with;
use crate::common::grouped::single_list;

pub type Finish = Box<dyn FnMut(Array2<f64>) -> Result<ScalarValue> + Send + Sync>;

pub struct PointsFold {
    /// The user-facing function, for error messages.
    function: &'static str,
    values: Vec<f64>,
    dims: Option<usize>,
    finish: Finish,
}

impl std::fmt::Debug for PointsFold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} over {} values", self.function, self.values.len())
    }
}

impl PointsFold {
    pub fn new(function: &'static str, finish: Finish) -> PointsFold {
        PointsFold { function, values: Vec::new(), dims: None, finish }
    }

    pub fn state_fields(name: &str) -> Vec<FieldRef> {
        vec![
            Arc::new(Field::new(format_state_name(name, "values"), DataType::new_list(DataType::Float64, true), true)),
            Arc::new(Field::new(format_state_name(name, "dims"), DataType::Int64, true)),
        ]
    }

    fn set_dims(&mut self, dims: usize) -> Result<()> {
        match self.dims {
            Some(d) if d != dims => internal_err!("{}: partial states with {d} and {dims} features", self.function),
            _ => {
                self.dims = Some(dims);
                Ok(())
            }
        }
    }
}

impl Accumulator for PointsFold {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let features = features_from_array_with(self.function, &values[0], self.dims)?;
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
            .or_else(|e| internal_err!("{}: point matrix: {e}", self.function))?;
        (self.finish)(points)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.capacity() * 8
    }
}
