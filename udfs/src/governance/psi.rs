//! `psi(expected, actual)`: the population stability index over bins.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use crate::common::grouped::single_list;
use crate::function::GOVERNANCE_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "The population stability index of two distributions over the same bins (one row per \
         bin: a category or a range), given as counts or shares: each side is normalised to \
         shares, shares are floored at 0.0001 so an empty bin stays finite, and PSI = Σ (a − e) · \
         ln(a / e). Below 0.1 the distribution is stable, 0.1–0.25 worth watching, above 0.25 it \
         has moved. A NULL count counts as 0 (a bin missing on one side after a FULL JOIN); an \
         error when a count is negative or not finite, or when one side's counts add up to 0. \
         NULL on no rows. Bins are summed in value order, so the partitioning never changes a bit.",
        "psi(expected, actual)",
    )
    .with_argument("expected", "The bin's count or share in the baseline (previous) snapshot.")
    .with_argument("actual", "The bin's count or share in the current snapshot.")
    .with_sql_example(
        "WITH bins AS (\n  SELECT least(CAST(amount / 50 AS INT), 10) AS bin,\n         count(*) FILTER (WHERE order_ts < '2025-01-01') AS before,\n         count(*) FILTER (WHERE order_ts >= '2025-01-01') AS after\n  FROM sample.orders\n  GROUP BY 1\n)\nSELECT round(psi(before, after), 4) AS psi FROM bins;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Psi {
    signature: Signature,
}

impl Psi {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(Psi { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for Psi {
    fn name(&self) -> &str {
        "psi"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("psi: expected psi(expected, actual), got {} arguments", arg_types.len());
        }
        for (name, data_type) in ["expected", "actual"].iter().zip(arg_types) {
            if !(data_type.is_numeric() || data_type.is_null()) {
                return plan_err!("psi: {name} must be a count or share (a number), got {data_type}");
            }
        }
        Ok(vec![DataType::Float64; 2])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |part| {
            Arc::new(Field::new(format_state_name(args.name, part), DataType::new_list(DataType::Float64, true), true))
        };
        Ok(vec![list("expected"), list("actual")])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PsiAccumulator::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

/// Every bin seen: bins are few, and keeping them lets the sum run in a fixed order.
#[derive(Debug, Default)]
struct PsiAccumulator {
    expected: Vec<f64>,
    actual: Vec<f64>,
}

fn value(array: &Float64Array, row: usize) -> f64 {
    if array.is_valid(row) { array.value(row) } else { 0.0 }
}

impl Accumulator for PsiAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (expected, actual) = (values[0].as_primitive::<Float64Type>(), values[1].as_primitive::<Float64Type>());
        for row in 0..expected.len() {
            self.expected.push(value(expected, row));
            self.actual.push(value(actual, row));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (expected, actual) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..expected.len() {
            if expected.is_valid(row) && actual.is_valid(row) {
                self.expected.extend(expected.value(row).as_primitive::<Float64Type>().values().iter());
                self.actual.extend(actual.value(row).as_primitive::<Float64Type>().values().iter());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let expected = Arc::new(Float64Array::from(std::mem::take(&mut self.expected)));
        let actual = Arc::new(Float64Array::from(std::mem::take(&mut self.actual)));
        Ok(vec![single_list(DataType::Float64, expected)?, single_list(DataType::Float64, actual)?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.expected.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        let mut bins: Vec<(f64, f64)> = self.expected.iter().copied().zip(self.actual.iter().copied()).collect();
        bins.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (expected, actual): (Vec<f64>, Vec<f64>) = bins.into_iter().unzip();
        match segsql_algo::governance::psi(&expected, &actual) {
            Ok(value) => Ok(ScalarValue::Float64(Some(value))),
            Err(e) => exec_err!("psi: {e}"),
        }
    }

    fn size(&self) -> usize {
        size_of_val(self) + (self.expected.capacity() + self.actual.capacity()) * 8
    }
}
