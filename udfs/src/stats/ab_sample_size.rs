//! `ab_sample_size(base_rate, uplift [, alpha [, power]])`: how many users each group of an
//! A/B test needs to detect a change in a conversion rate.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use segsql_algo::stats::{SampleSizeParams, ab_sample_size};

pub use crate::function::STATS_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        STATS_SECTION,
        "Users needed in each of two equal groups for a two-sided test at level alpha to detect, \
         with probability power, a conversion rate moving from base_rate to base_rate + uplift \
         (uplift in rate units: 0.02 is two percentage points). It equals statsmodels' \
         NormalIndPower().solve_power(effect_size=proportion_effectsize(base_rate + uplift, \
         base_rate), alpha=alpha, power=power, ratio=1), the test prop_ztest performs; the \
         result is not rounded (ceil() it for a head count). NULL when an argument is NULL; an \
         error when a rate is not strictly between 0 and 1, uplift is 0, or power is not \
         between alpha and 1.",
        "ab_sample_size(base_rate, uplift [, alpha [, power]])",
    )
    .with_argument("base_rate", "Today's conversion rate, between 0 and 1.")
    .with_argument("uplift", "The change to detect, in rate units (negative for a drop).")
    .with_argument("alpha", "Significance level of the two-sided test (default 0.05).")
    .with_argument("power", "Probability of detecting the change if it is real (default 0.8).")
    .with_sql_example(
        "SELECT ceil(ab_sample_size(0.10, 0.02)) AS users_per_group,\n       \
         ceil(ab_sample_size(0.10, 0.02, 0.01, 0.9)) AS stricter;",
    )
    .build()
});

const ARGUMENTS: [&str; 4] = ["base_rate", "uplift", "alpha", "power"];

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AbSampleSize {
    signature: Signature,
}

impl AbSampleSize {
    pub fn new() -> Self {
        AbSampleSize { signature: Signature::user_defined(Volatility::Immutable) }
    }

    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(Self::new()))
    }
}

impl Default for AbSampleSize {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for AbSampleSize {
    fn name(&self) -> &str {
        "ab_sample_size"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=4).contains(&arg_types.len()) {
            return plan_err!(
                "ab_sample_size: expected ab_sample_size(base_rate, uplift [, alpha [, power]]), got {} arguments",
                arg_types.len()
            );
        }
        for (name, data_type) in ARGUMENTS.iter().zip(arg_types) {
            if !(data_type.is_numeric() || data_type.is_null()) {
                return plan_err!("ab_sample_size: {name} must be a number, got {data_type}");
            }
        }
        Ok(vec![DataType::Float64; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns: Vec<&Float64Array> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let rows = columns.first().map_or(0, |c| c.len());
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let value = |i: usize| columns.get(i).map(|c| c.is_valid(row).then(|| c.value(row)));
            // An argument left out takes its default; one given as NULL makes the row NULL.
            let (Some(Some(base_rate)), Some(Some(uplift))) = (value(0), value(1)) else {
                out.push(None);
                continue;
            };
            let (Some(alpha), Some(power)) = (
                value(2).unwrap_or(Some(SampleSizeParams::DEFAULT_ALPHA)),
                value(3).unwrap_or(Some(SampleSizeParams::DEFAULT_POWER)),
            ) else {
                out.push(None);
                continue;
            };
            match ab_sample_size(&SampleSizeParams { base_rate, uplift, alpha, power }) {
                Ok(users) => out.push(Some(users)),
                Err(error) => return exec_err!("ab_sample_size: {error}"),
            }
        }
        let result: ArrayRef = Arc::new(Float64Array::from(out));
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?));
        }
        Ok(ColumnarValue::Array(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
