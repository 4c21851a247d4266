//! `rfm_score(recency_days, frequency, monetary [, bins]) OVER (...)`: the RFM code, e.g. '545'.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Scalar, StringArray, new_null_array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

use super::quantile_score::{RFM_SECTION, score_array};
use crate::common::window::{int_literal, is_sortable_numeric};

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
    if bins <= 9 {
        format!("{r}{f}{m}")
    } else {
        format!("{r}-{f}-{m}")
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmScore {
    signature: Signature,
}

impl RfmScore {
    pub fn new() -> Self {
        RfmScore {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(Self::new()))
    }
}

impl Default for RfmScore {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for RfmScore {
    fn name(&self) -> &str {
        "rfm_score"
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
        for (name, data_type) in ["recency_days", "frequency", "monetary"]
            .iter()
            .zip(arg_types)
        {
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

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let bins = int_literal("rfm_score", args.input_exprs(), 3, "bins", 2..=100, Some(5))?;
        Ok(Box::new(RfmScoreEvaluator { bins: bins as u64 }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let nullable = field_args
            .input_fields()
            .iter()
            .take(3)
            .any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Utf8,
            nullable,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

/// The columns with every row that has a NULL in any of them set to NULL in all.
fn complete_rows(columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    let mut nulls: Option<NullBuffer> = None;
    for column in columns {
        nulls = NullBuffer::union(nulls.as_ref(), column.logical_nulls().as_ref());
    }
    let Some(nulls) = nulls else {
        return Ok(columns.to_vec());
    };
    let mask = BooleanArray::new(nulls.into_inner(), None);
    let blank = new_null_array(&DataType::Null, 1);
    columns
        .iter()
        .map(|column| {
            let blank = datafusion::arrow::compute::cast(&blank, column.data_type())?;
            let blank = Scalar::new(blank);
            Ok(zip(&mask, column, &blank)?)
        })
        .collect()
}

#[derive(Debug)]
struct RfmScoreEvaluator {
    bins: u64,
}

impl PartitionEvaluator for RfmScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        // A row missing any of the three is left out of all three quantiles.
        let complete = complete_rows(&values[..3])?;
        let r = score_array("rfm_score", &complete[0], self.bins, true)?;
        let f = score_array("rfm_score", &complete[1], self.bins, false)?;
        let m = score_array("rfm_score", &complete[2], self.bins, false)?;
        let codes: StringArray = r
            .iter()
            .zip(&f)
            .zip(&m)
            .map(|((r, f), m)| Some(rfm_code((*r)?, (*f)?, (*m)?, self.bins)))
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
