//! `quantile_score(x, bins) OVER (...)`: 1..bins by quantile, ties sharing a score.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    DocSection, Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

use crate::common::window::{SortKey, int_literal, is_sortable_numeric, sort_keys};

pub const RFM_SECTION: DocSection = DocSection { include: true, label: "RFM", description: None };

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

/// Scores for `values`: `1 + bins * (values strictly smaller) / (non-NULL count)`, or with
/// `descending`, counting values strictly larger (so smaller values score higher).
///
/// Sorting the bare keys and binary-searching each row is faster than sorting (key, row)
/// pairs and needs half the memory.
pub fn quantile_scores<T: Ord + Copy>(values: &[Option<T>], bins: u64, descending: bool) -> Vec<Option<u64>> {
    let mut sorted: Vec<T> = values.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let n = sorted.len() as u64;
    values
        .iter()
        .map(|value| {
            value.map(|v| {
                let beaten = if descending {
                    n - sorted.partition_point(|x| *x <= v) as u64
                } else {
                    sorted.partition_point(|x| *x < v) as u64
                };
                1 + bins * beaten / n
            })
        })
        .collect()
}

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

/// Scores one column with the shared kernel, on 64-bit keys when the values fit.
pub fn score_array(function: &str, values: &ArrayRef, bins: u64, descending: bool) -> Result<Vec<Option<u64>>> {
    let keys: Vec<Option<SortKey>> = sort_keys(function, values)?;
    let narrow: Option<Vec<Option<i64>>> =
        keys.iter().map(|k| k.map_or(Some(None), |k| i64::try_from(k.value()).ok().map(Some))).collect();
    Ok(match narrow {
        Some(narrow) => quantile_scores(&narrow, bins, descending),
        None => quantile_scores(&keys, bins, descending),
    })
}

impl PartitionEvaluator for QuantileScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let scores = score_array("quantile_score", &values[0], self.bins, false)?;
        Ok(Arc::new(scores.into_iter().map(|s| s.map(|s| s as i32)).collect::<Int32Array>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_of_ten_values() {
        let values: Vec<Option<i32>> = (1..=10).map(Some).collect();
        let scores = quantile_scores(&values, 5, false);
        let expected: Vec<Option<u64>> = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].into_iter().map(Some).collect();
        assert_eq!(scores, expected);
    }

    #[test]
    fn ties_share_the_lowest_score_of_their_group() {
        // Sorted: 1, 2, 2, 2, 9. Smaller counts 0, 1, 1, 1, 4; n = 5, bins = 5.
        let values = [Some(2), Some(9), Some(2), Some(1), Some(2)];
        assert_eq!(quantile_scores(&values, 5, false), vec![Some(2), Some(5), Some(2), Some(1), Some(2)]);
    }

    #[test]
    fn nulls_score_null_and_do_not_count() {
        let values = [None, Some(10), Some(20), None];
        assert_eq!(quantile_scores(&values, 2, false), vec![None, Some(1), Some(2), None]);
    }

    #[test]
    fn descending_scores_small_values_high() {
        // Recency: fewer days since the last order is better.
        let recency = [Some(1), Some(30), Some(300), Some(30)];
        assert_eq!(quantile_scores(&recency, 4, true), vec![Some(4), Some(2), Some(1), Some(2)]);
    }

    #[test]
    fn single_value_and_empty() {
        assert_eq!(quantile_scores(&[Some(5)], 5, false), vec![Some(1)]);
        assert!(quantile_scores::<i32>(&[], 5, false).is_empty());
    }

    #[test]
    fn docs_are_present() {
        assert!(QuantileScore::new().documentation().is_some());
    }
}
