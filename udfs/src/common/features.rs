//! Feature arrays (`[recency_days, frequency, monetary]`) from Arrow to a dense matrix,
//! and the constant arguments of the clustering functions.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::{Result, exec_err, plan_err};
use ndarray::Array2;

use segsql_algo::cluster::{canonical_order, gather};

/// True for a type that can hold a feature array.
pub fn is_feature_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null => true,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            let t = item.data_type();
            t.is_numeric() || t.is_null()
        }
        _ => false,
    }
}

/// Checks the features argument at planning time.
pub fn check_feature_type(function: &str, data_type: &DataType) -> Result<()> {
    if is_feature_type(data_type) {
        Ok(())
    } else {
        plan_err!(
            "{function}: features must be an array of numbers such as [recency_days, frequency, monetary], got {data_type}"
        )
    }
}

/// The rows that have every feature, as a matrix (one row per point).
#[derive(Debug)]
pub struct Features {
    pub matrix: Array2<f64>,
    /// The input row of each matrix row.
    pub rows: Vec<usize>,
    /// Input rows with a NULL array, or a NULL, NaN or infinite feature.
    pub skipped: usize,
}

impl Features {
    pub fn dims(&self) -> usize {
        self.matrix.ncols()
    }

    /// The points sorted by value, and the input row of each sorted point. Fitting on
    /// this order makes a result independent of the order rows arrived in.
    pub fn canonical(&self) -> (Array2<f64>, Vec<usize>) {
        let order = canonical_order(self.matrix.view());
        let sorted = gather(self.matrix.view(), &order);
        (sorted, order.iter().map(|&i| self.rows[i as usize]).collect())
    }
}

/// Reads a column of feature arrays. Rows with a NULL array or any NULL, NaN or infinite
/// value are skipped; arrays of different lengths are an error.
pub fn features_from_array(function: &str, array: &ArrayRef) -> Result<Features> {
    features_from_array_with(function, array, None)
}

/// As [`features_from_array`], requiring `expected_dims` features when given.
pub fn features_from_array_with(function: &str, array: &ArrayRef, expected_dims: Option<usize>) -> Result<Features> {
    if array.data_type().is_null() {
        return Ok(Features {
            matrix: Array2::zeros((0, expected_dims.unwrap_or(0))),
            rows: vec![],
            skipped: array.len(),
        });
    }
    check_feature_type(function, array.data_type())?;
    let list_type = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
    let lists = cast(array, &list_type)?;
    let lists = lists.as_list::<i32>();
    let values = lists.values().as_primitive::<Float64Type>();
    let offsets = lists.value_offsets();
    let mut dims = expected_dims;
    let mut data = Vec::new();
    let mut rows = Vec::new();
    let mut skipped = 0;
    for i in 0..lists.len() {
        if lists.is_null(i) {
            skipped += 1;
            continue;
        }
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let len = end - start;
        match dims {
            None if len == 0 => return exec_err!("{function}: a feature array is empty; give at least one feature"),
            None => dims = Some(len),
            Some(d) if d != len => {
                return exec_err!(
                    "{function}: feature arrays must all have the same length, but one has {len} values and another {d}"
                );
            }
            Some(_) => {}
        }
        let complete = (start..end).all(|j| values.is_valid(j) && values.value(j).is_finite());
        if complete {
            data.extend_from_slice(&values.values()[start..end]);
            rows.push(i);
        } else {
            skipped += 1;
        }
    }
    let dims = dims.unwrap_or(0);
    let matrix = Array2::from_shape_vec((rows.len(), dims), data)
        .or_else(|e| datafusion::common::internal_err!("{function}: feature matrix: {e}"))?;
    Ok(Features { matrix, rows, skipped })
}

/// Cluster labels as `Int64` (NULL stays NULL).
pub fn labels_from_array(function: &str, array: &ArrayRef) -> Result<Int64Array> {
    if !(array.data_type().is_integer() || array.data_type().is_null()) {
        return exec_err!("{function}: cluster must be an integer label, got {}", array.data_type());
    }
    Ok(cast(array, &DataType::Int64)?.as_primitive::<datafusion::arrow::datatypes::Int64Type>().clone())
}

/// Checks the cluster argument at planning time.
pub fn check_label_type(function: &str, data_type: &DataType) -> Result<()> {
    if data_type.is_integer() || data_type.is_null() {
        Ok(())
    } else {
        plan_err!("{function}: cluster must be an integer label (such as the output of kmeans), got {data_type}")
    }
}

/// Scatters per-point results back to input rows; rows without features get NULL.
pub fn scatter<T: Copy>(rows: usize, input_rows: &[usize], values: &[T]) -> Vec<Option<T>> {
    let mut out = vec![None; rows];
    for (&row, &value) in input_rows.iter().zip(values) {
        out[row] = Some(value);
    }
    out
}

/// Labels for a window partition: `fit` labels the points in canonical order, and rows
/// without complete features get NULL.
pub fn label_partition(
    function: &str,
    features: &ArrayRef,
    fit: impl FnOnce(ndarray::ArrayView2<f64>) -> Result<Vec<i64>>,
) -> Result<ArrayRef> {
    let features = features_from_array(function, features)?;
    if features.rows.is_empty() {
        return Ok(Arc::new(Int64Array::new_null(features.skipped)));
    }
    let rows = features.rows.len() + features.skipped;
    let (sorted, input_rows) = features.canonical();
    let labels = fit(sorted.view())?;
    Ok(Arc::new(Int64Array::from(scatter(rows, &input_rows, &labels))))
}

/// The output field of a labelling window function.
pub fn label_field(name: &str) -> datafusion::arrow::datatypes::FieldRef {
    Arc::new(Field::new(name, DataType::Int64, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::ListArray;

    fn list(rows: Vec<Option<Vec<Option<f64>>>>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows))
    }

    #[test]
    fn skips_nulls_and_non_finite_values() {
        let array = list(vec![
            Some(vec![Some(1.0), Some(2.0)]),
            None,
            Some(vec![Some(1.0), None]),
            Some(vec![Some(f64::NAN), Some(1.0)]),
            Some(vec![Some(3.0), Some(4.0)]),
        ]);
        let f = features_from_array("f", &array).unwrap();
        assert_eq!(f.rows, vec![0, 4]);
        assert_eq!(f.skipped, 3);
        assert_eq!(f.matrix.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn mixed_lengths_are_an_error() {
        let array = list(vec![Some(vec![Some(1.0), Some(2.0)]), Some(vec![Some(1.0)])]);
        let err = features_from_array("kmeans", &array).unwrap_err().to_string();
        assert!(err.contains("kmeans: feature arrays must all have the same length"), "{err}");
    }

    #[test]
    fn canonical_order_maps_back_to_input_rows() {
        let array = list(vec![Some(vec![Some(5.0)]), None, Some(vec![Some(1.0)])]);
        let f = features_from_array("f", &array).unwrap();
        let (sorted, rows) = f.canonical();
        assert_eq!(sorted.as_slice().unwrap(), &[1.0, 5.0]);
        assert_eq!(rows, vec![2, 0]);
    }
}
