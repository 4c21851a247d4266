//! `segsql_segment_rules(r_score, f_score, rules)`: rfm_segment with a scheme table.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use segsql_algo::rfm::segments::SegmentScheme;

use crate::common::constant::scalar_text;

/// The internal function `segsql_segment_rules(r_score, f_score, rules)`: `rfm_segment`
/// with a scheme table, once planning has read the table into `rules` (see
/// [`SegmentScheme::to_json`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentRules {
    signature: Signature,
}

impl SegmentRules {
    pub fn udf() -> Arc<ScalarUDF> {
        let signature = Signature::exact(vec![DataType::Int64, DataType::Int64, DataType::Utf8], Volatility::Immutable);
        Arc::new(ScalarUDF::from(SegmentRules { signature }))
    }
}

impl ScalarUDFImpl for SegmentRules {
    fn name(&self) -> &str {
        "segsql_segment_rules"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rules = scalar_text("rfm_segment", &args.args, 2, "scheme")?;
        let scheme = SegmentScheme::from_json(rules).or_else(|e| exec_err!("rfm_segment: {e}"))?;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..2])?;
        Ok(ColumnarValue::Array(Arc::new(segments(&scheme, &arrays[0], &arrays[1])?)))
    }
}

/// The segment of each (r, f) row under `scheme`; NULL scores give NULL.
pub fn segments(scheme: &SegmentScheme, r: &ArrayRef, f: &ArrayRef) -> Result<StringArray> {
    let r = datafusion::arrow::compute::cast(r, &DataType::Int64)?;
    let f = datafusion::arrow::compute::cast(f, &DataType::Int64)?;
    let (r, f) = (r.as_primitive::<Int64Type>(), f.as_primitive::<Int64Type>());
    let (max_r, max_f) = scheme.max_scores();
    let mut out = Vec::with_capacity(r.len());
    for (r, f) in r.iter().zip(f.iter()) {
        let (Some(r), Some(f)) = (r, f) else {
            out.push(None);
            continue;
        };
        if !(1..=max_r).contains(&r) || !(1..=max_f).contains(&f) {
            return exec_err!(
                "rfm_segment: scores (r={r}, f={f}) are outside the scheme's 1..{max_r} × 1..{max_f}; score with bins = {max_r} or pass a scheme for these scores"
            );
        }
        out.push(scheme.classify(r, f));
    }
    Ok(out.into_iter().collect())
}
