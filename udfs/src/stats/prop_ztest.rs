//! `prop_ztest(successes_a, n_a, successes_b, n_b)`: is the difference of two conversion
//! rates significant?

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub use crate::function::STATS_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        STATS_SECTION,
        "The two-sided p-value of a pooled two-proportion z-test: the chance of a difference \
         at least this large between the rates successes_a / n_a and successes_b / n_b if both \
         groups converted at the same rate. It equals statsmodels' \
         proportions_ztest([successes_a, successes_b], [n_a, n_b]). NULL when an input is NULL, \
         when n_a or n_b is 0, or when the pooled rate is 0 or 1 (nobody or everybody converted, \
         so there is no variance to test); an error when a count is negative, not finite, or \
         successes exceed n.",
        "prop_ztest(successes_a, n_a, successes_b, n_b)",
    )
    .with_argument("successes_a", "Conversions in group A.")
    .with_argument("n_a", "Users in group A.")
    .with_argument("successes_b", "Conversions in group B.")
    .with_argument("n_b", "Users in group B.")
    .with_sql_example("SELECT prop_ztest(120, 1000, 150, 1000) AS p_value;")
    .build()
});

/// The p-value, or `None` where the test is undefined. Counts are checked first.
pub fn prop_ztest_p(
    successes_a: f64,
    n_a: f64,
    successes_b: f64,
    n_b: f64,
) -> std::result::Result<Option<f64>, String> {
    for (name, value) in [("successes_a", successes_a), ("n_a", n_a), ("successes_b", successes_b), ("n_b", n_b)] {
        if !value.is_finite() || value < 0.0 {
            return Err(format!("{name} must be a count of 0 or more, got {value}"));
        }
    }
    if successes_a > n_a {
        return Err(format!("successes_a ({successes_a}) is larger than n_a ({n_a})"));
    }
    if successes_b > n_b {
        return Err(format!("successes_b ({successes_b}) is larger than n_b ({n_b})"));
    }
    if n_a == 0.0 || n_b == 0.0 {
        return Ok(None);
    }
    let pooled = (successes_a + successes_b) / (n_a + n_b);
    let variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b);
    if variance <= 0.0 {
        return Ok(None);
    }
    let z = (successes_a / n_a - successes_b / n_b) / variance.sqrt();
    Ok(Some(libm::erfc(z.abs() / std::f64::consts::SQRT_2)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PropZtest {
    signature: Signature,
}

impl PropZtest {
    pub fn new() -> Self {
        PropZtest { signature: Signature::user_defined(Volatility::Immutable) }
    }

    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(Self::new()))
    }
}

impl Default for PropZtest {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for PropZtest {
    fn name(&self) -> &str {
        "prop_ztest"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 4 {
            return plan_err!(
                "prop_ztest: expected prop_ztest(successes_a, n_a, successes_b, n_b), got {} arguments",
                arg_types.len()
            );
        }
        for (name, data_type) in ["successes_a", "n_a", "successes_b", "n_b"].iter().zip(arg_types) {
            if !(data_type.is_numeric() || data_type.is_null()) {
                return plan_err!("prop_ztest: {name} must be a number, got {data_type}");
            }
        }
        Ok(vec![DataType::Float64; 4])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns: Vec<&Float64Array> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..columns[0].len() {
            let values: Vec<Option<f64>> = columns.iter().map(|c| c.is_valid(row).then(|| c.value(row))).collect();
            let (Some(sa), Some(na), Some(sb), Some(nb)) = (values[0], values[1], values[2], values[3]) else {
                out.push(None);
                continue;
            };
            match prop_ztest_p(sa, na, sb, nb) {
                Ok(p) => out.push(p),
                Err(message) => return exec_err!("prop_ztest: {message}"),
            }
        }
        let result: ArrayRef = Arc::new(Float64Array::from(out));
        if all_scalar {
            return Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&result, 0)?));
        }
        Ok(ColumnarValue::Array(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // 50/100 vs 50/100: no difference at all.
        assert_eq!(prop_ztest_p(50.0, 100.0, 50.0, 100.0).unwrap(), Some(1.0));
        // Pooled p = 0.5, se = sqrt(0.25 * 0.02) = 0.0707..., z = 0.2 / se = 2.828...,
        // two-sided p = erfc(2 / sqrt(2) * ... ) = 0.004677734981047...
        let p = prop_ztest_p(60.0, 100.0, 40.0, 100.0).unwrap().unwrap();
        assert!((p - 0.004_677_734_981_047_266).abs() < 1e-15, "{p}");
    }

    #[test]
    fn symmetric_in_the_groups() {
        let ab = prop_ztest_p(12.0, 200.0, 30.0, 210.0).unwrap();
        let ba = prop_ztest_p(30.0, 210.0, 12.0, 200.0).unwrap();
        assert_eq!(ab, ba);
    }

    #[test]
    fn undefined_and_invalid() {
        assert_eq!(prop_ztest_p(0.0, 0.0, 1.0, 10.0).unwrap(), None);
        assert_eq!(prop_ztest_p(0.0, 10.0, 0.0, 10.0).unwrap(), None);
        assert_eq!(prop_ztest_p(10.0, 10.0, 10.0, 10.0).unwrap(), None);
        assert!(prop_ztest_p(11.0, 10.0, 1.0, 10.0).unwrap_err().contains("larger than n_a"));
        assert!(prop_ztest_p(-1.0, 10.0, 1.0, 10.0).unwrap_err().contains("0 or more"));
        assert!(prop_ztest_p(1.0, f64::NAN, 1.0, 10.0).is_err());
    }
}
