//! Numeric sort keys for the window functions that rank values.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, exec_err};

/// The sort key of a float: total order, with -0.0 equal to 0.0.
fn float_key(x: f64) -> i64 {
    // Adding 0.0 turns -0.0 into 0.0, so the two compare equal as they do in SQL.
    let bits = (x + 0.0).to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// One sort key per row of a numeric array, in the narrowest integer that holds them all:
/// integers exactly, decimals by their unscaled value (one scale per column), floats by total
/// order with -0.0 equal to 0.0. Rows that are NULL hold an arbitrary key; the array's nulls
/// say which they are.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKeys {
    Narrow(Vec<i64>),
    Wide(Vec<i128>),
}

impl SortKeys {
    /// Wide keys, narrowed when every one fits an i64 (decimals and UInt64 usually do).
    fn from_wide(keys: Vec<i128>) -> SortKeys {
        if keys.iter().all(|&k| i64::try_from(k).is_ok()) {
            SortKeys::Narrow(keys.into_iter().map(|k| k as i64).collect())
        } else {
            SortKeys::Wide(keys)
        }
    }
}

/// Sort keys of a numeric array and its nulls, or an error naming the type. The keys are
/// one flat vector, 8 bytes a row for almost every column, because `rfm` scores three
/// columns of millions of customers at once and on this kind of machine memory is time.
pub fn sort_keys(function: &str, array: &ArrayRef) -> Result<(SortKeys, Option<NullBuffer>)> {
    macro_rules! narrow {
        ($t:ty) => {
            SortKeys::Narrow(array.as_primitive::<$t>().values().iter().map(|&v| v as i64).collect())
        };
    }
    macro_rules! floats {
        ($t:ty) => {
            SortKeys::Narrow(array.as_primitive::<$t>().values().iter().map(|&v| float_key(f64::from(v))).collect())
        };
    }
    let keys = match array.data_type() {
        DataType::Int8 => narrow!(Int8Type),
        DataType::Int16 => narrow!(Int16Type),
        DataType::Int32 => narrow!(Int32Type),
        DataType::Int64 => narrow!(Int64Type),
        DataType::UInt8 => narrow!(UInt8Type),
        DataType::UInt16 => narrow!(UInt16Type),
        DataType::UInt32 => narrow!(UInt32Type),
        DataType::UInt64 => {
            SortKeys::from_wide(array.as_primitive::<UInt64Type>().values().iter().map(|&v| v as i128).collect())
        }
        DataType::Decimal128(..) => SortKeys::from_wide(array.as_primitive::<Decimal128Type>().values().to_vec()),
        DataType::Float16 => SortKeys::Narrow(
            array.as_primitive::<Float16Type>().values().iter().map(|v| float_key(v.to_f64())).collect(),
        ),
        DataType::Float32 => floats!(Float32Type),
        DataType::Float64 => floats!(Float64Type),
        DataType::Null => SortKeys::Narrow(vec![0; array.len()]),
        other => return exec_err!("{function}: expected a numeric column, got {other}"),
    };
    Ok((keys, array.logical_nulls()))
}

/// The types `sort_keys` accepts.
pub fn is_sortable_numeric(data_type: &DataType) -> bool {
    data_type.is_integer() || data_type.is_floating() || matches!(data_type, DataType::Decimal128(..) | DataType::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_keys_order_like_numbers() {
        let values = [f64::NEG_INFINITY, -2.5, -1e-300, 0.0, 1e-300, 3.0, f64::INFINITY];
        let keys: Vec<i64> = values.iter().map(|&v| float_key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(float_key(-0.0), float_key(0.0));
    }

    #[test]
    fn keys_narrow_when_they_fit_and_keep_the_nulls() {
        use std::sync::Arc;

        use datafusion::arrow::array::{Decimal128Array, UInt64Array};
        let decimals: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(5), None, Some(-7)]).with_precision_and_scale(38, 2).unwrap());
        let (keys, nulls) = sort_keys("f", &decimals).unwrap();
        assert_eq!(keys, SortKeys::Narrow(vec![5, 0, -7]));
        assert_eq!(nulls.map(|n| n.null_count()), Some(1));
        let huge: ArrayRef = Arc::new(Decimal128Array::from(vec![i128::from(i64::MAX) + 1, 1]));
        assert_eq!(sort_keys("f", &huge).unwrap().0, SortKeys::Wide(vec![i128::from(i64::MAX) + 1, 1]));
        let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 0]));
        assert_eq!(sort_keys("f", &unsigned).unwrap().0, SortKeys::Wide(vec![i128::from(u64::MAX), 0]));
        let text: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["a"]));
        assert!(sort_keys("f", &text).unwrap_err().to_string().contains("f: expected a numeric column, got Utf8"));
    }
}
