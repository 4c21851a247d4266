//! Building blocks for the lazy plans that table functions return.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::functions::datetime::expr_fn::to_local_time;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast, lit,
};
use datafusion::prelude::ident;

use super::args::SourceTable;
use segsql_algo::cohort::periods::{Grain, PeriodCursor};

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
            return DAY_OF_TIMESTAMP.call(vec![cast(to_local_time(vec![value]), DataType::Timestamp(*unit, None))]);
        }
        DataType::Timestamp(_, None) => return DAY_OF_TIMESTAMP.call(vec![value]),
        _ => cast(value, DataType::Date32),
    };
    cast(date, DataType::Int32)
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
pub fn summable_amount(column: &str, data_type: &DataType) -> Expr {
    if data_type.is_floating() { cast(ident(column), DataType::Decimal128(38, 10)) } else { ident(column) }
}

/// The decimal scale amounts are summed at as DECIMAL(38, scale): the column's own for
/// decimals, 0 for integers and 10 for floats, so that every total is exact.
pub fn amount_scale(data_type: &DataType) -> i8 {
    match data_type {
        DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) => (*scale).clamp(0, 38),
        data_type if data_type.is_integer() => 0,
        _ => 10,
    }
}

/// An amount as a DECIMAL with `amount_scale(data_type)` digits: decimals as they are (the
/// accumulators read the unscaled 128-bit values of any precision), others cast.
pub fn decimal_amount(value: Expr, data_type: &DataType) -> Expr {
    match data_type {
        DataType::Decimal128(..) => value,
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

/// The internal function `segsql_day(timestamp)`: the day number of a timestamp without
/// time zone, by integer division. Arrow's cast to DATE goes through calendar types per
/// value, several times slower on tens of millions of rows.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DayOfTimestamp {
    signature: Signature,
}

static DAY_OF_TIMESTAMP: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::from(DayOfTimestamp { signature: Signature::any(1, Volatility::Immutable) })));

impl DayOfTimestamp {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::clone(&DAY_OF_TIMESTAMP)
    }
}

impl ScalarUDFImpl for DayOfTimestamp {
    fn name(&self) -> &str {
        "segsql_day"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{
            TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
        };
        let values: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let days: Int32Array = match values.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                values.as_primitive::<TimestampSecondType>().unary(|v| v.div_euclid(86_400) as i32)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                values.as_primitive::<TimestampMillisecondType>().unary(|v| v.div_euclid(86_400_000) as i32)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                values.as_primitive::<TimestampMicrosecondType>().unary(|v| v.div_euclid(86_400_000_000) as i32)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                values.as_primitive::<TimestampNanosecondType>().unary(|v| v.div_euclid(86_400_000_000_000) as i32)
            }
            other => return exec_err!("segsql_day: expected a timestamp, got {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(days)))
    }
}

/// The internal function `segsql_period(day, 'grain')`: the period index of a day number.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PeriodIndex {
    signature: Signature,
}

static PERIOD_INDEX: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(PeriodIndex {
        signature: Signature::exact(vec![DataType::Int32, DataType::Utf8], Volatility::Immutable),
    }))
});

impl PeriodIndex {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::clone(&PERIOD_INDEX)
    }
}

/// `segsql_period(day, grain)` as an expression.
pub fn period_index(day: Expr, grain: Grain) -> Expr {
    if grain == Grain::Day {
        return day;
    }
    PERIOD_INDEX.call(vec![day, lit(grain.to_string())])
}

fn grain_argument(value: &ColumnarValue) -> Result<Grain> {
    match value {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(text))) => match text.parse() {
            Ok(grain) => Ok(grain),
            Err(message) => exec_err!("segsql_period: {message}"),
        },
        _ => exec_err!("segsql_period: the grain must be a constant"),
    }
}

impl ScalarUDFImpl for PeriodIndex {
    fn name(&self) -> &str {
        "segsql_period"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let grain = grain_argument(&args.args[1])?;
        let days: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let days = days.as_primitive::<Int32Type>();
        let mut cursor = PeriodCursor::new(grain);
        let indices: Vec<i32> = days.values().iter().map(|&day| cursor.index(day)).collect();
        let periods = Int32Array::new(indices.into(), days.nulls().cloned());
        Ok(ColumnarValue::Array(Arc::new(periods)))
    }
}

/// The internal function `segsql_period_start(period, 'grain')`: a period's first day as a DATE.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PeriodStart {
    signature: Signature,
}

static PERIOD_START: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(PeriodStart {
        signature: Signature::exact(vec![DataType::Int32, DataType::Utf8], Volatility::Immutable),
    }))
});

impl PeriodStart {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::clone(&PERIOD_START)
    }
}

/// `segsql_period_start(period, grain)` as an expression.
pub fn period_start(period: Expr, grain: Grain) -> Expr {
    PERIOD_START.call(vec![period, lit(grain.to_string())])
}

impl ScalarUDFImpl for PeriodStart {
    fn name(&self) -> &str {
        "segsql_period_start"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let grain = grain_argument(&args.args[1])?;
        let periods: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let days: Int32Array = periods.as_primitive::<Int32Type>().unary(|period| grain.start_day(period));
        let dates = datafusion::arrow::compute::cast(&days, &DataType::Date32)?;
        Ok(ColumnarValue::Array(dates))
    }
}
