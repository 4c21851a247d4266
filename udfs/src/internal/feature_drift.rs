//! `segsql_feature_drift(side, value, feature, bins)`: one feature's drift between the
//! previous (side 0) and current (side 1) snapshot, as one aggregate over both, so
//! `feature_drift` is an ordinary plan that serialises.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use segsql_algo::governance::feature_drift;

use crate::common::constant::{check_internal_types, internal_int, internal_text, types};
use crate::common::grouped::single_list;

const FUNCTION: &str = "feature_drift";

/// The columns of one feature's row, in output order.
pub fn drift_fields() -> Fields {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    let int = |name: &str| Field::new(name, DataType::Int64, false);
    Fields::from(vec![
        Field::new("feature", DataType::Utf8, false),
        float("psi"),
        int("previous_rows"),
        int("current_rows"),
        int("previous_missing"),
        int("current_missing"),
        float("previous_mean"),
        float("current_mean"),
        float("previous_p25"),
        float("current_p25"),
        float("previous_median"),
        float("current_median"),
        float("previous_p75"),
        float("current_p75"),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FeatureDriftFold {
    signature: Signature,
}

impl FeatureDriftFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(FeatureDriftFold { signature: Signature::any(4, Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for FeatureDriftFold {
    fn name(&self) -> &str {
        "segsql_feature_drift"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        use types::{int64, text};
        let float64 = |t: &DataType| *t == DataType::Float64;
        check_internal_types(self.name(), arg_types, &[int64, float64, text, int64])?;
        Ok(DataType::Struct(drift_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |part| {
            Arc::new(Field::new(format_state_name(args.name, part), DataType::new_list(DataType::Float64, true), true))
        };
        let count = |part| Arc::new(Field::new(format_state_name(args.name, part), DataType::Int64, true));
        Ok(vec![list("previous"), list("current"), count("previous_missing"), count("current_missing")])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let feature = internal_text(self.name(), args.exprs, 2)?;
        let bins = match internal_int(self.name(), args.exprs, 3)? {
            Some(bins) if bins >= 2 => bins as usize,
            other => return internal_err!("segsql_feature_drift: bins must be at least 2, got {other:?}"),
        };
        Ok(Box::new(DriftAccumulator { feature, bins, values: [Vec::new(), Vec::new()], missing: [0, 0] }))
    }
}

#[derive(Debug)]
struct DriftAccumulator {
    feature: String,
    bins: usize,
    /// Values present, previous then current.
    values: [Vec<f64>; 2],
    /// NULL, NaN or infinite values.
    missing: [i64; 2],
}

impl Accumulator for DriftAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let sides = values[0].as_primitive::<Int64Type>();
        let numbers = values[1].as_primitive::<Float64Type>();
        for row in 0..sides.len() {
            let side = usize::from(sides.value(row) != 0);
            if numbers.is_null(row) || !numbers.value(row).is_finite() {
                self.missing[side] += 1;
            } else {
                self.values[side].push(numbers.value(row));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for side in 0..2 {
            let lists = states[side].as_list::<i32>();
            let missing = states[side + 2].as_primitive::<Int64Type>();
            for row in 0..lists.len() {
                if lists.is_valid(row) {
                    self.values[side].extend(lists.value(row).as_primitive::<Float64Type>().values().iter());
                }
                if missing.is_valid(row) {
                    self.missing[side] += missing.value(row);
                }
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let [previous, current] = std::mem::take(&mut self.values);
        Ok(vec![
            single_list(DataType::Float64, Arc::new(Float64Array::from(previous)))?,
            single_list(DataType::Float64, Arc::new(Float64Array::from(current)))?,
            ScalarValue::Int64(Some(self.missing[0])),
            ScalarValue::Int64(Some(self.missing[1])),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let [mut previous, mut current] = std::mem::take(&mut self.values);
        for (side, values) in [("previous", &previous), ("current", &current)] {
            if values.is_empty() {
                return exec_err!(
                    "{FUNCTION}: the {side} snapshot has no values of '{}' (every row is NULL, NaN or infinite, or the snapshot is empty)",
                    self.feature
                );
            }
        }
        let drift = match feature_drift(&mut previous, &mut current, self.bins) {
            Ok(drift) => drift,
            Err(e) => return exec_err!("{FUNCTION}: '{}': {e}", self.feature),
        };
        let float = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        let int = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v])) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.feature.clone()])),
            float(drift.psi),
            int(drift.rows[0] as i64),
            int(drift.rows[1] as i64),
            int(self.missing[0]),
            int(self.missing[1]),
            float(drift.mean[0]),
            float(drift.mean[1]),
            float(drift.p25[0]),
            float(drift.p25[1]),
            float(drift.median[0]),
            float(drift.median[1]),
            float(drift.p75[0]),
            float(drift.p75[1]),
        ];
        let row = StructArray::try_new(drift_fields(), columns, None)?;
        Ok(ScalarValue::Struct(Arc::new(row)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + (self.values[0].capacity() + self.values[1].capacity()) * 8
    }
}
