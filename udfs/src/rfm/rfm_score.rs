//! `rfm_score(recency_days, frequency, monetary [, bins]) OVER (...)`: the RFM code, e.g. '545'.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, Int32Array, StringArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, internal_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use super::quantile_score::{RFM_SECTION, score_array};
use crate::common::constant::int_literal;
use crate::common::window::is_sortable_numeric;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "The RFM code of each row, such as '545': the recency, frequency and monetary scores \
         by quantile within the window partition, as quantile_score computes them, with recency \
         reversed so that fewer days since the last order score higher. With bins above 9 the \
         three scores are joined with '-' ('10-3-7'). NULL when any of the three inputs is NULL, \
         and such rows do not count in any of the quantiles.",
        "rfm_score(recency_days, frequency, monetary [, bins]) OVER ([PARTITION BY ...])",
    )
    .with_argument("recency_days", "Days since the last order (smaller is better).")
    .with_argument("frequency", "Number of orders.")
    .with_argument("monetary", "Total spend.")
    .with_argument("bins", "Scores per dimension, a constant from 2 to 100; default 5.")
    .with_sql_example(
        "SELECT customer_id,\n       rfm_score(date '2026-01-01' - max(order_ts)::DATE, count(*), sum(amount)) OVER () AS rfm\nFROM sample.orders\nGROUP BY customer_id\nORDER BY customer_id\nLIMIT 5;",
    )
    .build()
});

/// Joins three scores into a code: digits for bins up to 9, else dash-separated.
pub fn rfm_code(r: u64, f: u64, m: u64, bins: u64) -> String {
    if bins <= 9 { format!("{r}{f}{m}") } else { format!("{r}-{f}-{m}") }
}

/// What the function returns: the code users see, or the three scores for `rfm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    Code,
    Scores,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmScore {
    signature: Signature,
    output: Output,
}

impl RfmScore {
    pub fn new() -> Self {
        RfmScore { signature: Signature::user_defined(Volatility::Immutable), output: Output::Code }
    }

    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(Self::new()))
    }

    /// The internal `segsql_rfm_scores(...)`: a struct of r_score, f_score and m_score, so
    /// `rfm` sorts its three columns in parallel in one window pass.
    pub fn scores_udwf() -> Arc<WindowUDF> {
        let signature = Signature::user_defined(Volatility::Immutable);
        Arc::new(WindowUDF::from(RfmScore { signature, output: Output::Scores }))
    }
}

/// The struct `segsql_rfm_scores` returns.
pub fn score_fields() -> Fields {
    Fields::from(vec![
        Field::new("r_score", DataType::Int32, true),
        Field::new("f_score", DataType::Int32, true),
        Field::new("m_score", DataType::Int32, true),
    ])
}

/// Below this many rows, scoring the three columns on one thread is as fast.
const PARALLEL_ROWS: usize = 100_000;

/// R (reversed), F and M scores of complete rows, the columns sorted in parallel.
fn three_scores(columns: &[ArrayRef], bins: u64) -> Result<[Int32Array; 3]> {
    // A row with any of the three NULL counts in none of the quantiles.
    let incomplete = columns.iter().fold(None, |nulls: Option<NullBuffer>, column| {
        NullBuffer::union(nulls.as_ref(), column.logical_nulls().as_ref())
    });
    let score = |index: usize| score_array("rfm_score", &columns[index], incomplete.as_ref(), bins, index == 0);
    // Like every kernel, it uses no more threads than the runtime running the query has.
    if columns[0].len() < PARALLEL_ROWS || crate::common::kernel_threads().get() < 2 {
        return Ok([score(0)?, score(1)?, score(2)?]);
    }
    std::thread::scope(|scope| {
        let r = scope.spawn(|| score(0));
        let f = scope.spawn(|| score(1));
        let m = score(2)?;
        let join = |handle: std::thread::ScopedJoinHandle<'_, Result<Int32Array>>| {
            handle.join().unwrap_or_else(|_| internal_err!("rfm_score: a scoring thread panicked"))
        };
        Ok([join(r)?, join(f)?, m])
    })
}

impl Default for RfmScore {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for RfmScore {
    fn name(&self) -> &str {
        match self.output {
            Output::Code => "rfm_score",
            Output::Scores => "segsql_rfm_scores",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!(
                "rfm_score: expected rfm_score(recency_days, frequency, monetary [, bins]), got {} arguments",
                arg_types.len()
            );
        }
        for (name, data_type) in ["recency_days", "frequency", "monetary"].iter().zip(arg_types) {
            if !is_sortable_numeric(data_type) {
                return plan_err!("rfm_score: {name} must be numeric, got {data_type}");
            }
        }
        if let Some(bins) = arg_types.get(3)
            && !(bins.is_integer() || bins.is_null())
        {
            return plan_err!("rfm_score: bins must be a whole number, got {bins}");
        }
        Ok(arg_types.to_vec())
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let bins = int_literal("rfm_score", args.input_exprs(), 3, "bins", 2..=100, Some(5))?;
        Ok(Box::new(RfmScoreEvaluator { bins: bins as u64, output: self.output }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let nullable = field_args.input_fields().iter().take(3).any(|f| f.is_nullable());
        let data_type = match self.output {
            Output::Code => DataType::Utf8,
            Output::Scores => DataType::Struct(score_fields()),
        };
        Ok(Arc::new(Field::new(field_args.name(), data_type, nullable)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct RfmScoreEvaluator {
    bins: u64,
    output: Output,
}

impl PartitionEvaluator for RfmScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let [r, f, m] = three_scores(&values[..3], self.bins)?;
        if self.output == Output::Scores {
            let columns: Vec<ArrayRef> = vec![Arc::new(r), Arc::new(f), Arc::new(m)];
            return Ok(Arc::new(StructArray::try_new(score_fields(), columns, None)?));
        }
        let codes: StringArray = r
            .iter()
            .zip(&f)
            .zip(&m)
            .map(|((r, f), m)| Some(rfm_code(r? as u64, f? as u64, m? as u64, self.bins)))
            .collect();
        Ok(Arc::new(codes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(rfm_code(5, 4, 5, 5), "545");
        assert_eq!(rfm_code(10, 3, 7, 10), "10-3-7");
    }
}
