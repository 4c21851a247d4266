//! Building blocks for the lazy plans that table functions return.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::functions::datetime::expr_fn::to_local_time;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, cast, lit,
};
use datafusion::prelude::ident;

use super::args::SourceTable;
use super::periods::{Grain, days_from_civil};

/// Days since 1970-01-01 (Int32) of a date, timestamp or ISO-string column: the local
/// calendar date, in the column's own time zone for zoned timestamps.
pub fn day_number(column: &str, data_type: &DataType) -> Expr {
    let date = match data_type {
        DataType::Date32 => ident(column),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(
            cast(
                ident(column),
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            DataType::Date32,
        ),
        // Arrow's cast takes the UTC date of a zoned timestamp; the local date is wanted.
        DataType::Timestamp(_, Some(_)) => {
            cast(to_local_time(vec![ident(column)]), DataType::Date32)
        }
        _ => cast(ident(column), DataType::Date32),
    };
    cast(date, DataType::Int32)
}

/// The column as a timestamp for output: strings are parsed, other types kept.
pub fn timestamp_value(column: &str, data_type: &DataType) -> Expr {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(
            ident(column),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        _ => ident(column),
    }
}

/// An amount ready for exact summing: floats become DECIMAL(38, 10), so that totals are
/// exact and the same whatever order the rows are added in (thread count included).
pub fn summable_amount(column: &str, data_type: &DataType) -> Expr {
    if data_type.is_floating() {
        cast(ident(column), DataType::Decimal128(38, 10))
    } else {
        ident(column)
    }
}

/// A date constant (`'2025-06-30'`, DATE, TIMESTAMP) as a day number.
pub fn day_of_literal(function: &str, role: &str, value: &ScalarValue) -> Result<i32> {
    let as_timestamp = match value {
        ScalarValue::Utf8(Some(_))
        | ScalarValue::LargeUtf8(Some(_))
        | ScalarValue::Utf8View(Some(_)) => {
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

/// The internal function `segsql_period(day, 'grain')`: the period index of a day number.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PeriodIndex {
    signature: Signature,
}

static PERIOD_INDEX: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(PeriodIndex {
        signature: Signature::exact(vec![DataType::Int32, DataType::Utf8], Volatility::Immutable),
    }))
});

/// `segsql_period(day, grain)` as an expression.
pub fn period_index(day: Expr, grain: Grain) -> Expr {
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
        let periods: Int32Array = days
            .as_primitive::<Int32Type>()
            .unary(|day| grain.index(day));
        Ok(ColumnarValue::Array(Arc::new(periods)))
    }
}

/// Day number of a calendar date, for tests and literals.
pub fn day(year: i32, month: u32, day: u32) -> i32 {
    days_from_civil(year, month, day)
}

/// The internal function `segsql_period_start(period, 'grain')`: a period's first day as a DATE.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PeriodStart {
    signature: Signature,
}

static PERIOD_START: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(PeriodStart {
        signature: Signature::exact(vec![DataType::Int32, DataType::Utf8], Volatility::Immutable),
    }))
});

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
        let days: Int32Array = periods
            .as_primitive::<Int32Type>()
            .unary(|period| grain.start_day(period));
        let dates = datafusion::arrow::compute::cast(&days, &DataType::Date32)?;
        Ok(ColumnarValue::Array(dates))
    }
}
