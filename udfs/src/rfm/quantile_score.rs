//! `quantile_score(x, bins) OVER (...)`: 1..bins by quantile, ties sharing a score.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Int32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use segsql_algo::rfm::quantile::quantile_scores_where;

use crate::common::constant::int_literal;
use crate::common::window::{SortKeys, is_sortable_numeric, sort_keys};

pub use crate::function::RFM_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "Scores x from 1 to bins by its quantile within the window partition: higher x, higher \
         score. The score is 1 + floor(bins * s / n), where s is the number of rows with a smaller \
         x and n the number of non-NULL rows, so equal values always share a score whatever the \
         row order, and the result equals DuckDB's `1 + floor(bins * (rank() OVER (ORDER BY x) - 1) \
         / count(*) OVER ())`. NULL x gives NULL and does not count in n. Works on integers, \
         decimals and floats; ORDER BY in the OVER clause is allowed but not needed.",
        "quantile_score(x, bins) OVER ([PARTITION BY ...])",
    )
    .with_argument("x", "The numeric value to score.")
    .with_argument("bins", "The number of scores, a constant from 2 to 100 (5 gives quintiles).")
    .with_sql_example(
        "SELECT customer_id, sum(amount) AS monetary,\n       quantile_score(sum(amount), 5) OVER () AS m_score\nFROM sample.orders\nGROUP BY customer_id\nORDER BY monetary DESC\nLIMIT 5;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QuantileScore {
    signature: Signature,
}

impl QuantileScore {
    pub fn new() -> Self {
        QuantileScore { signature: Signature::user_defined(Volatility::Immutable) }
    }

    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(Self::new()))
    }
}

impl Default for QuantileScore {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for QuantileScore {
    fn name(&self) -> &str {
        "quantile_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [x, bins] if is_sortable_numeric(x) && (bins.is_integer() || bins.is_null()) => Ok(arg_types.to_vec()),
            [x, _] if !is_sortable_numeric(x) => {
                plan_err!("quantile_score: x must be numeric (integer, decimal or float), got {x}")
            }
            [_, bins] => plan_err!("quantile_score: bins must be a whole number, got {bins}"),
            _ => plan_err!("quantile_score: expected quantile_score(x, bins), got {} arguments", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let bins = int_literal("quantile_score", args.input_exprs(), 1, "bins", 2..=100, None)?;
        Ok(Box::new(QuantileScoreEvaluator { bins: bins as u64 }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let nullable = field_args.input_fields().first().is_none_or(|f| f.is_nullable());
        Ok(Arc::new(Field::new(field_args.name(), DataType::Int32, nullable)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct QuantileScoreEvaluator {
    bins: u64,
}

/// Scores one column with the shared kernel, on 64-bit keys when the values fit. Rows NULL
/// in the column or in `also_null` score NULL and do not count in the quantiles.
pub fn score_array(
    function: &str,
    values: &ArrayRef,
    also_null: Option<&NullBuffer>,
    bins: u64,
    descending: bool,
) -> Result<Int32Array> {
    let (keys, nulls) = sort_keys(function, values)?;
    let nulls = NullBuffer::union(nulls.as_ref(), also_null);
    let present = |row: usize| nulls.as_ref().is_none_or(|nulls| nulls.is_valid(row));
    let scores = match keys {
        SortKeys::Narrow(keys) => quantile_scores_where(&keys, present, bins, descending),
        SortKeys::Wide(keys) => quantile_scores_where(&keys, present, bins, descending),
    };
    Ok(Int32Array::new(scores.into(), nulls))
}

impl PartitionEvaluator for QuantileScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        Ok(Arc::new(score_array("quantile_score", &values[0], None, self.bins, false)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_present() {
        assert!(QuantileScore::new().documentation().is_some());
    }
}
