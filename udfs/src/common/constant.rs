//! Constant arguments of scalar, aggregate and window functions, and what argument types
//! tell about them.
//!
//! Configuration (a grain, a mode, the steps of a funnel) is passed to segsql's functions
//! as literal arguments and read back here, never kept in a function's struct, so that a
//! plan means the same thing wherever it is decoded (SPEC section 6).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// The value of physical argument `index` when it is a constant.
pub fn literal(exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Option<ScalarValue> {
    exprs.get(index)?.downcast_ref::<Literal>().map(|l| l.value().clone())
}

/// The text of constant argument `index` of an internal function (a bug when missing).
pub fn internal_text(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Result<String> {
    match literal(exprs, index) {
        Some(ScalarValue::Utf8(Some(text))) => Ok(text),
        other => internal_err!("{function}: argument {} must be a text constant, got {other:?}", index + 1),
    }
}

/// The whole number in constant argument `index` of an internal function; `None` for NULL.
pub fn internal_int(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Result<Option<i64>> {
    match literal(exprs, index) {
        Some(ScalarValue::Int64(value)) => Ok(value),
        other => internal_err!("{function}: argument {} must be an Int64 constant, got {other:?}", index + 1),
    }
}

/// The text of a scalar function's constant argument.
pub fn scalar_text<'a>(function: &str, args: &'a [ColumnarValue], index: usize, role: &str) -> Result<&'a str> {
    match args.get(index) {
        Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text)))) => Ok(text),
        _ => exec_err!("{function}: the {role} must be a text constant"),
    }
}

/// A scalar function's constant whole number; `None` for NULL.
pub fn scalar_int(function: &str, args: &[ColumnarValue], index: usize, role: &str) -> Result<Option<i64>> {
    match args.get(index) {
        Some(ColumnarValue::Scalar(ScalarValue::Int64(value))) => Ok(*value),
        _ => exec_err!("{function}: the {role} must be a whole-number constant"),
    }
}

/// The scale of the decimal inside `data_type`: a decimal itself, or the decimals in a list
/// or struct (the per-period totals the cohort aggregates pass along). Amounts travel as
/// DECIMAL(38, scale) so that the type, not the function, says which scale they have.
pub fn decimal_scale(function: &str, data_type: &DataType) -> Result<i8> {
    fn find(data_type: &DataType) -> Option<i8> {
        match data_type {
            DataType::Decimal128(_, scale) => Some(*scale),
            DataType::List(field) | DataType::LargeList(field) => find(field.data_type()),
            DataType::Struct(fields) => fields.iter().find_map(|f| find(f.data_type())),
            _ => None,
        }
    }
    match find(data_type) {
        Some(scale) => Ok(scale),
        None => plan_err!("{function}: expected DECIMAL amounts, got {data_type}"),
    }
}
