//! Helpers for window functions: literal arguments and numeric sort keys.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// The value of argument `index` when it is a constant.
pub fn literal(exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Option<ScalarValue> {
    exprs.get(index)?.downcast_ref::<Literal>().map(|l| l.value().clone())
}

/// An integer constant argument within `range`, or `default` when absent.
pub fn int_literal(
    function: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
    role: &str,
    range: std::ops::RangeInclusive<i64>,
    default: Option<i64>,
) -> Result<i64> {
    let Some(expr) = exprs.get(index) else {
        return match default {
            Some(value) => Ok(value),
            None => plan_err!("{function}: missing {role}"),
        };
    };
    let Some(value) = expr.downcast_ref::<Literal>().map(|l| l.value().clone()) else {
        return plan_err!("{function}: {role} must be a constant, got {expr}");
    };
    let number = match value.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(n))) => n,
        _ => {
            return plan_err!(
                "{function}: {role} must be a whole number from {} to {}, got {value}",
                range.start(),
                range.end()
            );
        }
    };
    if !range.contains(&number) {
        return plan_err!("{function}: {role} must be from {} to {}, got {number}", range.start(), range.end());
    }
    Ok(number)
}

/// A value that sorts numerically: integers exactly, decimals by their unscaled value
/// (one scale per column), floats by total order with -0.0 equal to 0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey(i128);

impl SortKey {
    pub fn value(self) -> i128 {
        self.0
    }
}

fn float_key(x: f64) -> SortKey {
    // Adding 0.0 turns -0.0 into 0.0, so the two compare equal as they do in SQL.
    let bits = (x + 0.0).to_bits() as i64;
    SortKey((bits ^ (((bits >> 63) as u64) >> 1) as i64) as i128)
}

/// Sort keys of a numeric array (`None` for NULL), or an error naming the type.
pub fn sort_keys(function: &str, array: &ArrayRef) -> Result<Vec<Option<SortKey>>> {
    macro_rules! ints {
        ($t:ty) => {
            array.as_primitive::<$t>().iter().map(|v| v.map(|v| SortKey(v as i128))).collect()
        };
    }
    macro_rules! floats {
        ($t:ty) => {
            array.as_primitive::<$t>().iter().map(|v| v.map(|v| float_key(f64::from(v)))).collect()
        };
    }
    Ok(match array.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().iter().map(|v| v.map(SortKey)).collect(),
        DataType::Float16 => {
            array.as_primitive::<Float16Type>().iter().map(|v| v.map(|v| float_key(v.to_f64()))).collect()
        }
        DataType::Float32 => floats!(Float32Type),
        DataType::Float64 => floats!(Float64Type),
        DataType::Null => vec![None; array.len()],
        other => return exec_err!("{function}: expected a numeric column, got {other}"),
    })
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
        let keys: Vec<SortKey> = values.iter().map(|&v| float_key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(float_key(-0.0), float_key(0.0));
    }
}
