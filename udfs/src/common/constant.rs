//! Constant arguments, in one place: of table functions (logical expressions), of window
//! and aggregate functions (physical expressions), of scalar functions (columnar values),
//! and what argument types tell about them.
//!
//! Configuration (a grain, a mode, the steps of a funnel) is passed to segsql's functions
//! as literal arguments and read back here, never kept in a function's struct, so that a
//! plan means the same thing wherever it is decoded (SPEC section 6).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;
use segsql_algo::cohort::periods::Grain;

use super::args::name_of;

/// The text of a string constant of any string type.
pub fn text_value(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

/// The text of constant argument `index` of an internal function. Only a hand-written call
/// can pass anything else, so the message points to the public function.
pub fn internal_text(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Result<String> {
    match literal(exprs, index) {
        Some(ScalarValue::Utf8(Some(text))) => Ok(text),
        _ => plan_err!(
            "{function}: argument {} must be a text constant; {function} is internal, use the table function that plans it",
            index + 1
        ),
    }
}

/// The whole number in constant argument `index` of an internal function; `None` for NULL.
pub fn internal_int(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Result<Option<i64>> {
    match literal(exprs, index) {
        Some(ScalarValue::Int64(value)) => Ok(value),
        _ => plan_err!(
            "{function}: argument {} must be a whole-number constant; {function} is internal, use the table function that plans it",
            index + 1
        ),
    }
}

/// Checks the argument types of an internal function whose signature accepts any types (a
/// decimal of any scale, say), so that a hand-written call with other types is a planning
/// error rather than a failed downcast.
pub fn check_internal_types(function: &str, arg_types: &[DataType], expected: &[fn(&DataType) -> bool]) -> Result<()> {
    if arg_types.len() == expected.len() && arg_types.iter().zip(expected).all(|(t, ok)| ok(t)) {
        return Ok(());
    }
    let got: Vec<String> = arg_types.iter().map(ToString::to_string).collect();
    plan_err!(
        "{function}: unexpected argument types ({}); {function} is internal, use the table function that plans it",
        got.join(", ")
    )
}

/// Type tests for [`check_internal_types`].
pub mod types {
    use datafusion::arrow::datatypes::DataType;

    pub fn int32(t: &DataType) -> bool {
        *t == DataType::Int32
    }

    pub fn int64(t: &DataType) -> bool {
        *t == DataType::Int64
    }

    pub fn text(t: &DataType) -> bool {
        *t == DataType::Utf8
    }

    pub fn decimal(t: &DataType) -> bool {
        matches!(t, DataType::Decimal128(..))
    }

    pub fn list_of_decimals(t: &DataType) -> bool {
        matches!(t, DataType::List(f) if decimal(f.data_type()))
    }

    pub fn list_of_floats(t: &DataType) -> bool {
        matches!(t, DataType::List(f) if *f.data_type() == DataType::Float64)
    }

    /// (period INT, total DECIMAL) pairs.
    pub fn list_of_pairs(t: &DataType) -> bool {
        matches!(t, DataType::List(f) if matches!(f.data_type(),
            DataType::Struct(fields) if fields.len() == 2 && int32(fields[0].data_type()) && decimal(fields[1].data_type())))
    }
}

/// The text of a scalar function's constant argument.
pub fn scalar_text<'a>(function: &str, args: &'a [ColumnarValue], index: usize, role: &str) -> Result<&'a str> {
    match args.get(index) {
        Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text)))) => Ok(text),
        _ => exec_err!("{function}: the {role} must be a text constant"),
    }
}

/// A scalar function's constant calendar grain ('day', 'week', 'month', 'quarter').
pub fn scalar_grain(function: &str, args: &[ColumnarValue], index: usize) -> Result<Grain> {
    scalar_text(function, args, index, "grain")?.parse().or_else(|e| exec_err!("{function}: {e}"))
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

// Window and aggregate functions: physical expressions.

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

pub fn constant(
    function: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
    role: &str,
) -> Result<Option<ScalarValue>> {
    let Some(expr) = exprs.get(index) else { return Ok(None) };
    match expr.downcast_ref::<Literal>() {
        Some(literal) => Ok(Some(literal.value().clone())),
        None => plan_err!("{function}: {role} must be a constant, got {expr}"),
    }
}

/// A whole-number constant argument of at least `min`, or `default` when absent.
pub fn count_arg(
    function: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
    role: &str,
    min: i64,
    default: Option<i64>,
) -> Result<i64> {
    let value = match constant(function, exprs, index, role)? {
        Some(value) => value,
        None => match default {
            Some(d) => return Ok(d),
            None => return plan_err!("{function}: missing {role}"),
        },
    };
    let number = match value.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(n))) if value.data_type().is_integer() => n,
        _ => return plan_err!("{function}: {role} must be a whole number, got {value}"),
    };
    if number < min {
        return plan_err!("{function}: {role} must be at least {min}, got {number}");
    }
    Ok(number)
}

/// A numeric constant argument.
pub fn number_arg(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize, role: &str) -> Result<f64> {
    let Some(value) = constant(function, exprs, index, role)? else {
        return plan_err!("{function}: missing {role}");
    };
    match value.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(Some(x))) if value.data_type().is_numeric() => Ok(x),
        _ => plan_err!("{function}: {role} must be a number, got {value}"),
    }
}

/// A string constant argument, or `None` when absent.
pub fn text_arg(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize, role: &str) -> Result<Option<String>> {
    match constant(function, exprs, index, role)? {
        None => Ok(None),
        Some(value) => match text_value(&value) {
            Some(text) => Ok(Some(text.to_string())),
            None => plan_err!("{function}: {role} must be a string, got {value}"),
        },
    }
}

// Table functions: planned expressions against an empty schema.

/// A literal argument, or `None` when it is absent or NULL.
pub fn literal_arg<'a>(
    function: &str,
    args: &'a TableFunctionArgs,
    index: usize,
    role: &str,
) -> Result<Option<&'a ScalarValue>> {
    match args.exprs().get(index) {
        None => Ok(None),
        Some(Expr::Literal(value, _)) if value.is_null() => Ok(None),
        Some(Expr::Literal(value, _)) => Ok(Some(value)),
        Some(other) => plan_err!("{function}: {role} must be a constant, got {other}"),
    }
}

/// A string literal argument (bare words are accepted too: `'month'` or `month`).
pub fn string_arg(function: &str, args: &TableFunctionArgs, index: usize, role: &str) -> Result<Option<String>> {
    match args.exprs().get(index) {
        None => Ok(None),
        Some(Expr::Literal(value, _)) if value.is_null() => Ok(None),
        Some(expr) => match name_of(expr) {
            Some(text) => Ok(Some(text)),
            None => plan_err!("{function}: {role} must be a string, got {expr}"),
        },
    }
}

/// An integer literal argument within `range`.
pub fn int_arg(
    function: &str,
    args: &TableFunctionArgs,
    index: usize,
    role: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>> {
    let Some(value) = literal_arg(function, args, index, role)? else {
        return Ok(None);
    };
    let number = match value {
        ScalarValue::Int8(Some(v)) => Some(*v as i64),
        ScalarValue::Int16(Some(v)) => Some(*v as i64),
        ScalarValue::Int32(Some(v)) => Some(*v as i64),
        ScalarValue::Int64(Some(v)) => Some(*v),
        ScalarValue::UInt8(Some(v)) => Some(*v as i64),
        ScalarValue::UInt16(Some(v)) => Some(*v as i64),
        ScalarValue::UInt32(Some(v)) => Some(*v as i64),
        ScalarValue::UInt64(Some(v)) => i64::try_from(*v).ok(),
        _ => None,
    };
    match number {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        Some(n) => plan_err!("{function}: {role} must be between {} and {}, got {n}", range.start(), range.end()),
        None => plan_err!("{function}: {role} must be a whole number, got {value}"),
    }
}
