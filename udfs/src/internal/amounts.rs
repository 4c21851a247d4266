//! `segsql_exact_amount(amount, 'function')`: a float amount as DECIMAL(38, 10), the units
//! the amount sums add up exactly.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::common::constant::scalar_text;

/// Decimal places float amounts are summed at.
pub const FLOAT_AMOUNT_SCALE: i8 = 10;

/// The internal function `segsql_exact_amount(amount, 'function')`. It gives exactly what
/// `CAST(amount AS DECIMAL(38, 10))` gives (`round(amount * 1e10)` half away from zero),
/// but converts through 64-bit integers whenever the value fits, where Arrow's cast goes
/// through a 128-bit software conversion and a precision check for every row; on float
/// amounts that cast was the largest cost of `rfm` and `rfm_summary` after the grouping.
/// A value that cannot be held (NaN, infinite, 1e28 or more) is an error naming the
/// function that summed it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExactAmount {
    signature: Signature,
}

static EXACT_AMOUNT: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::from(ExactAmount { signature: Signature::any(2, Volatility::Immutable) })));

impl ExactAmount {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::clone(&EXACT_AMOUNT)
    }
}

/// 10^38 - 1, the largest unscaled DECIMAL(38, _).
const MAX_UNITS: u128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// `amount` in units of 1e-10, as the cast computes it; `None` when it does not fit.
#[inline]
pub fn amount_units(amount: f64) -> Option<i128> {
    let scaled = (amount * 1e10).round();
    // Below 2^63 an integral float converts exactly through i64, a single instruction.
    if scaled.abs() < 9.223_372_036_854_775e18 {
        return Some(scaled as i64 as i128);
    }
    // NaN and infinities are not finite; every other float here is an integer.
    if !scaled.is_finite() || scaled.abs() > 1e38 {
        return None;
    }
    let units = scaled as i128;
    (units.unsigned_abs() <= MAX_UNITS).then_some(units)
}

impl ScalarUDFImpl for ExactAmount {
    fn name(&self) -> &str {
        "segsql_exact_amount"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(38, FLOAT_AMOUNT_SCALE))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let function = scalar_text(self.name(), &args.args, 1, "calling function")?;
        let values: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let values = match values.data_type() {
            DataType::Float64 => values,
            DataType::Float16 | DataType::Float32 => cast(&values, &DataType::Float64)?,
            other => return exec_err!("segsql_exact_amount: expected a float amount, got {other}"),
        };
        let units = values.as_primitive::<Float64Type>().try_unary::<_, Decimal128Type, DataFusionError>(|v| {
            amount_units(v).ok_or_else(|| {
                DataFusionError::Execution(format!(
                    "{function}: the amount {v} cannot be summed exactly; float amounts must be finite and below 1e28 in absolute value (they are summed at 10 decimal places)"
                ))
            })
        })?;
        Ok(ColumnarValue::Array(Arc::new(units.with_precision_and_scale(38, FLOAT_AMOUNT_SCALE)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;
    use datafusion::arrow::compute::cast as arrow_cast;

    /// Arrow's cast, the definition this function must match.
    fn by_cast(v: f64) -> Option<i128> {
        let array: ArrayRef = Arc::new(Float64Array::from(vec![v]));
        let out = arrow_cast(&array, &DataType::Decimal128(38, 10)).ok()?;
        let out = out.as_primitive::<Decimal128Type>();
        out.is_valid(0).then(|| out.value(0))
    }

    #[test]
    fn the_same_units_as_the_cast() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.29,
            19.99,
            -2.5e-11,
            5e-11,
            -5e-11,
            1.5e-10,
            2.5e-10,
            123_456.789_012_345_67,
            9.2e8,
            9.3e8,
            9.999e27,
            -9.999e27,
            1e28,
            -1e28,
            1.7e38,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        // Around 2^63 units, where the fast path ends.
        let edge = 2f64.powi(63) / 1e10;
        values.extend([edge, -edge, edge * (1.0 - 1e-15), edge * (1.0 + 1e-15), -edge * (1.0 + 1e-15)]);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 10_000_000) as f64 / 100.0 - 50_000.0);
        }
        for v in values {
            assert_eq!(amount_units(v), by_cast(v), "{v:e}");
        }
    }
}
