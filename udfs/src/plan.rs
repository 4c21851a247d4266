//! Building blocks for the lazy plans that table functions return: expressions over the
//! source's columns, built from DataFusion's functions and segsql's internal ones.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions::datetime::expr_fn::to_local_time;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::prelude::ident;

use crate::common::args::SourceTable;
use crate::internal::amounts::{ExactAmount, FLOAT_AMOUNT_SCALE};
use crate::internal::periods::DayOfTimestamp;
pub use crate::internal::periods::{period_index, period_start};

/// Days since 1970-01-01 (Int32) of a date, timestamp or ISO-string column: the local
/// calendar date, in the column's own time zone for zoned timestamps.
pub fn day_number(column: &str, data_type: &DataType) -> Expr {
    day_number_of(ident(column), data_type)
}

/// `day_number` of any expression of the given type.
pub fn day_number_of(value: Expr, data_type: &DataType) -> Expr {
    let date = match data_type {
        DataType::Date32 => value,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            cast(cast(value, DataType::Timestamp(TimeUnit::Microsecond, None)), DataType::Date32)
        }
        // Arrow's cast takes the UTC date of a zoned timestamp; the local date is wanted.
        DataType::Timestamp(unit, Some(_)) => {
            return DayOfTimestamp::udf()
                .call(vec![cast(to_local_time(vec![value]), DataType::Timestamp(*unit, None))]);
        }
        DataType::Timestamp(_, None) => return DayOfTimestamp::udf().call(vec![value]),
        _ => cast(value, DataType::Date32),
    };
    cast(date, DataType::Int32)
}

/// A date, timestamp or ISO-string column as a local timestamp in microseconds with no zone,
/// for comparing with a point in time as pandas compares naive timestamps.
pub fn local_micros(column: &str, data_type: &DataType) -> Expr {
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    match data_type {
        DataType::Timestamp(_, Some(_)) => cast(to_local_time(vec![ident(column)]), micros),
        _ => cast(ident(column), micros),
    }
}

/// A date or timestamp constant (`'2025-06-30'`, `'2025-06-30 12:00'`, DATE, TIMESTAMP) as
/// microseconds since 1970 and its day number.
pub fn instant_of_literal(function: &str, role: &str, value: &ScalarValue) -> Result<(i64, i32)> {
    let micros = value.cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None));
    match micros {
        Ok(ScalarValue::TimestampMicrosecond(Some(us), _)) => Ok((us, us.div_euclid(86_400_000_000) as i32)),
        _ => plan_err!("{function}: {role} must be a date or timestamp such as '2025-06-30', got {value}"),
    }
}

/// The type `timestamp_value` gives a column of `data_type`.
pub fn timestamp_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Timestamp(TimeUnit::Microsecond, None),
        other => other.clone(),
    }
}

/// The column as a timestamp for output: strings are parsed, other types kept.
pub fn timestamp_value(column: &str, data_type: &DataType) -> Expr {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            cast(ident(column), DataType::Timestamp(TimeUnit::Microsecond, None))
        }
        _ => ident(column),
    }
}

/// An amount ready for exact summing: floats become DECIMAL(38, 10), so that totals are
/// exact and the same whatever order the rows are added in (thread count included).
/// `function` is named in the error for an amount that cannot be held.
pub fn summable_amount(function: &str, column: &str, data_type: &DataType) -> Expr {
    if data_type.is_floating() { exact_float_amount(function, ident(column)) } else { ident(column) }
}

/// A float amount in DECIMAL(38, 10) units, by the internal function that converts as the
/// cast does, faster.
fn exact_float_amount(function: &str, value: Expr) -> Expr {
    ExactAmount::udf().call(vec![value, lit(function)])
}

/// The decimal scale amounts are summed at as DECIMAL(38, scale): the column's own for
/// decimals, 0 for integers and 10 for floats, so that every total is exact.
pub fn amount_scale(data_type: &DataType) -> i8 {
    match data_type {
        DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) => (*scale).clamp(0, 38),
        data_type if data_type.is_integer() => 0,
        _ => FLOAT_AMOUNT_SCALE,
    }
}

/// An amount as a DECIMAL with `amount_scale(data_type)` digits: decimals as they are (the
/// accumulators read the unscaled 128-bit values of any precision), others cast.
pub fn decimal_amount(function: &str, value: Expr, data_type: &DataType) -> Expr {
    match data_type {
        DataType::Decimal128(..) => value,
        other if other.is_floating() => exact_float_amount(function, value),
        other => cast(value, DataType::Decimal128(38, amount_scale(other))),
    }
}

/// A date constant (`'2025-06-30'`, DATE, TIMESTAMP) as a day number.
pub fn day_of_literal(function: &str, role: &str, value: &ScalarValue) -> Result<i32> {
    let as_timestamp = match value {
        ScalarValue::Utf8(Some(_)) | ScalarValue::LargeUtf8(Some(_)) | ScalarValue::Utf8View(Some(_)) => {
            value.cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None))
        }
        other => Ok(other.clone()),
    };
    let date = as_timestamp.and_then(|v| v.cast_to(&DataType::Date32));
    match date {
        Ok(ScalarValue::Date32(Some(day))) => Ok(day),
        _ => plan_err!("{function}: {role} must be a date such as '2025-06-30', got {value}"),
    }
}

/// The lazy result: the optimizer sees through it, and nothing is read while planning.
pub fn view(plan: LogicalPlan, definition: String) -> Arc<dyn TableProvider> {
    Arc::new(ViewTable::new(plan, Some(definition)))
}

/// A scan of the source, ready for more steps.
pub fn scan(source: &SourceTable) -> Result<LogicalPlanBuilder> {
    LogicalPlanBuilder::scan(
        source.reference.clone(),
        datafusion::catalog::default_table_source::provider_as_source(source.provider.clone()),
        None,
    )
}
