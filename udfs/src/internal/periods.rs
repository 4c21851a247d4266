//! `segsql_day`, `segsql_period` and `segsql_period_start`: calendar periods as integers.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use segsql_algo::cohort::periods::{Grain, PeriodCursor};

use crate::common::constant::scalar_grain;

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
        let grain = scalar_grain(self.name(), &args.args, 1)?;
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
        let grain = scalar_grain(self.name(), &args.args, 1)?;
        let periods: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let days: Int32Array = periods.as_primitive::<Int32Type>().unary(|period| grain.start_day(period));
        let dates = datafusion::arrow::compute::cast(&days, &DataType::Date32)?;
        Ok(ColumnarValue::Array(dates))
    }
}
