//! model_evaluate's aggregates: `segsql_prediction_errors(predicted, actual)`, the holdout
//! check of a BTYD model, and `segsql_classification_metrics(probability, label)`, a
//! propensity model's scores. Every pair is kept and reduced in sorted order at the end, so
//! partial states merge in any order without changing a bit.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use crate::common::grouped::single_list;
use segsql_algo::clv::evaluate::{classification_metrics, prediction_errors};

pub const NAME: &str = "segsql_prediction_errors";
pub const METRICS_NAME: &str = "segsql_classification_metrics";

pub fn metric_fields() -> Fields {
    Fields::from(vec![
        Field::new("rows", DataType::Int64, false),
        Field::new("roc_auc", DataType::Float64, true),
        Field::new("log_loss", DataType::Float64, true),
        Field::new("accuracy", DataType::Float64, true),
        Field::new("precision", DataType::Float64, true),
        Field::new("recall", DataType::Float64, true),
        Field::new("f1_score", DataType::Float64, true),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClassificationMetrics {
    signature: Signature,
}

impl ClassificationMetrics {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(ClassificationMetrics {
            signature: Signature::exact(vec![DataType::Float64, DataType::Float64], Volatility::Immutable),
        }))
    }
}

impl AggregateUDFImpl for ClassificationMetrics {
    fn name(&self) -> &str {
        METRICS_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(metric_fields()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairsAccumulator { classify: true, ..PairsAccumulator::default() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        pair_state(args.name)
    }
}

fn pair_state(name: &str) -> Result<Vec<FieldRef>> {
    Ok(vec![
        Arc::new(Field::new(format!("{name}[first]"), DataType::new_list(DataType::Float64, true), true)),
        Arc::new(Field::new(format!("{name}[second]"), DataType::new_list(DataType::Float64, true), true)),
    ])
}

pub fn error_fields() -> Fields {
    Fields::from(vec![
        Field::new("customers", DataType::Int64, false),
        Field::new("actual_purchases", DataType::Float64, true),
        Field::new("predicted_purchases", DataType::Float64, true),
        Field::new("mae", DataType::Float64, true),
        Field::new("rmse", DataType::Float64, true),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictionErrors {
    signature: Signature,
}

impl PredictionErrors {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(PredictionErrors {
            signature: Signature::exact(vec![DataType::Float64, DataType::Float64], Volatility::Immutable),
        }))
    }
}

impl AggregateUDFImpl for PredictionErrors {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.len() != 2 {
            return plan_err!("{NAME}: expected {NAME}(predicted, actual)");
        }
        Ok(DataType::Struct(error_fields()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairsAccumulator::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[predicted]", args.name),
                DataType::new_list(DataType::Float64, true),
                true,
            )),
            Arc::new(Field::new(format!("{}[actual]", args.name), DataType::new_list(DataType::Float64, true), true)),
        ])
    }
}

#[derive(Debug, Default)]
struct PairsAccumulator {
    /// Predictions or probabilities.
    predicted: Vec<f64>,
    /// Actual purchases or labels (0 or 1).
    actual: Vec<f64>,
    /// Classification metrics rather than prediction errors.
    classify: bool,
}

impl Accumulator for PairsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (p, a) = (values[0].as_primitive::<Float64Type>(), values[1].as_primitive::<Float64Type>());
        for i in 0..p.len() {
            // model_evaluate leaves out holdout rows with a NULL input before it predicts, so
            // a NULL prediction here is one that could not be computed: say so rather than
            // leave the customer out of the figures unseen.
            if !self.classify && p.is_null(i) && a.is_valid(i) {
                return datafusion::common::exec_err!(
                    "model_evaluate: the expected purchases of a customer could not be computed (the \
                     hypergeometric series does not converge, as for an extreme duration_holdout); \
                     leave such customers out with WHERE expected_purchases(model, duration_holdout, \
                     frequency_cal, recency_cal, \"T_cal\") IS NOT NULL"
                );
            }
            if p.is_valid(i) && a.is_valid(i) {
                if self.classify && a.value(i) != 0.0 && a.value(i) != 1.0 {
                    return datafusion::common::exec_err!(
                        "model_evaluate: the label must be boolean or 0/1, found {}",
                        a.value(i)
                    );
                }
                self.predicted.push(p.value(i));
                self.actual.push(a.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let p = Float64Array::from(std::mem::take(&mut self.predicted));
        let a = Float64Array::from(std::mem::take(&mut self.actual));
        Ok(vec![single_list(DataType::Float64, Arc::new(p))?, single_list(DataType::Float64, Arc::new(a))?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (p, a) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for i in 0..p.len() {
            if p.is_null(i) || a.is_null(i) {
                continue;
            }
            self.predicted.extend(p.value(i).as_primitive::<Float64Type>().values().iter());
            self.actual.extend(a.value(i).as_primitive::<Float64Type>().values().iter());
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.classify {
            let mut pairs: Vec<(f64, bool)> =
                self.predicted.iter().copied().zip(self.actual.iter().map(|&a| a == 1.0)).collect();
            let m = classification_metrics(&mut pairs);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(vec![m.map_or(0, |m| m.rows as i64)])),
                Arc::new(Float64Array::from(vec![m.and_then(|m| m.roc_auc)])),
                Arc::new(Float64Array::from(vec![m.map(|m| m.log_loss)])),
                Arc::new(Float64Array::from(vec![m.map(|m| m.accuracy)])),
                Arc::new(Float64Array::from(vec![m.map(|m| m.precision)])),
                Arc::new(Float64Array::from(vec![m.map(|m| m.recall)])),
                Arc::new(Float64Array::from(vec![m.map(|m| m.f1_score)])),
            ];
            return Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(metric_fields(), columns, None)?)));
        }
        let mut pairs: Vec<(f64, f64)> = self.predicted.iter().copied().zip(self.actual.iter().copied()).collect();
        let errors = prediction_errors(&mut pairs);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![errors.map_or(0, |e| e.customers as i64)])),
            Arc::new(Float64Array::from(vec![errors.map(|e| e.actual)])),
            Arc::new(Float64Array::from(vec![errors.map(|e| e.predicted)])),
            Arc::new(Float64Array::from(vec![errors.map(|e| e.mae)])),
            Arc::new(Float64Array::from(vec![errors.map(|e| e.rmse)])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(error_fields(), columns, None)?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + (self.predicted.capacity() + self.actual.capacity()) * 8
    }
}
