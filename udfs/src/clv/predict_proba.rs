//! `predict_proba('model', features)`: a propensity model's probability that the label is true.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::common::features::{check_feature_type, features_from_array, scatter};
use crate::function::CLV_SECTION;
use crate::model::ModelStore;
use crate::model::scoring::model_name;

const NAME: &str = "predict_proba";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "The probability that the label is true (e.g. that the customer churns) under a \
         logistic_reg model made by CREATE MODEL: σ(intercept + Σ coefficient × feature), the \
         features scaled with the model's stored scaler, as scikit-learn's \
         predict_proba(...)[:, 1]. The features are an array in the model's order and number \
         (the error lists them). NULL for a row whose features are NULL, NaN or infinite.",
        "predict_proba('model', features)",
    )
    .with_argument("model", "A logistic_reg model's name, a constant string.")
    .with_argument("features", "An array of numbers in the model's feature order.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL churn USING logistic_reg (label = 'churned', l2 = 1.0, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary, recency_days > 180 AS churned\n  FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30');\nSELECT customer_id, round(predict_proba('churn', [recency_days, frequency, monetary]), 4) AS churn_probability\nFROM rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30')\nORDER BY customer_id LIMIT 5;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictProba {
    signature: Signature,
}

impl PredictProba {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(PredictProba { signature: Signature::user_defined(Volatility::Stable) }))
    }
}

impl ScalarUDFImpl for PredictProba {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [name, features]
                if name.is_null() || matches!(name, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
            {
                check_feature_type(NAME, features)?;
                Ok(arg_types.to_vec())
            }
            [_, _] => plan_err!("{NAME}: the first argument must be the model's name as a string"),
            _ => plan_err!("{NAME}: expected {NAME}('model', features), got {} arguments", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        model_name(NAME, args.scalar_arguments.first().copied().flatten())?;
        Ok(Arc::new(Field::new(NAME, DataType::Float64, true)))
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        if let Some(Expr::Literal(value, _)) = args.first() {
            let name = model_name(NAME, Some(value))?;
            ModelStore::for_session(info.config_options()).load_logistic(NAME, &name)?;
        }
        Ok(ExprSimplifyResult::Original(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = match &args.args[0] {
            ColumnarValue::Scalar(value) => model_name(NAME, Some(value))?,
            ColumnarValue::Array(_) => model_name(NAME, None)?,
        };
        let model = ModelStore::for_session(&args.config_options).load_logistic(NAME, &name)?;
        let features: ArrayRef = args.args[1].to_array(args.number_rows)?;
        let features = features_from_array(NAME, &features)?;
        if !features.rows.is_empty() && features.dims() != model.dims() {
            return exec_err!(
                "{NAME}: model '{name}' has {} features ({}), but the arrays have {} values; pass them in that order",
                model.dims(),
                model.features.join(", "),
                features.dims()
            );
        }
        let mut raw = vec![0.0; model.dims()];
        let mut scratch = vec![0.0; model.dims()];
        let probabilities: Vec<f64> = features
            .matrix
            .rows()
            .into_iter()
            .map(|row| {
                for (to, from) in raw.iter_mut().zip(row.iter()) {
                    *to = *from;
                }
                model.probability(&raw, &mut scratch)
            })
            .collect();
        let out = scatter(args.number_rows, &features.rows, &probabilities);
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
