//! `model_evaluate('model', source)`: how well a model predicts data it was not fitted on.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{Documentation, lit};
use datafusion::prelude::{col, ident};

use super::expected_purchases::EXPECTED_PURCHASES;
use super::predict_proba::PredictProba;
use super::scoring::ScoringUdf;
use crate::common::args::SourceTable;
use crate::common::args::{check_arity, source_table};
use crate::common::constant::string_arg;
use crate::function::{CLV_SECTION, DocumentedTableFunction};
use crate::internal::evaluation::{ClassificationMetrics, PredictionErrors};
use crate::model::ModelStore;
use crate::model::store::wrong_kind;
use crate::plan::{scan, view};
use datafusion::arrow::datatypes::DataType;
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Expr, cast};
use segsql_algo::model::LogisticModel;
use segsql_algo::model::Model;

const SYNTAX: &str = "model_evaluate(model_name, source)";

/// The columns a BTYD model is checked on, as rfm_calibration_holdout names them.
const HOLDOUT_COLUMNS: [&str; 5] = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"];

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "Checks a model on data it was not fitted on, in one row. For a bgnbd, mbgnbd or pareto_nbd model the \
         source is a calibration/holdout table with the columns rfm_calibration_holdout gives \
         (frequency_cal, recency_cal, T_cal, frequency_holdout, duration_holdout, by name), the \
         model fitted on the calibration columns: customers, actual_purchases (Σ \
         frequency_holdout), predicted_purchases (Σ expected_purchases over duration_holdout), \
         mae and rmse per customer; rows with a NULL input are left out, and a customer whose \
         expected purchases cannot be computed is an error. For a logistic_reg model the source holds the model's \
         feature columns and label by name: rows, roc_auc, log_loss, accuracy, precision, \
         recall and f1_score at a threshold of 0.5 (positive above it), as BigQuery ML's \
         ML.EVALUATE, each equal to scikit-learn's metric on the same probabilities (roc_auc \
         counts ties a half; log_loss clips to [ε, 1 − ε]; a ratio with nothing to divide by \
         is 0). Rows with a NULL label are left out, and rows with a NULL feature get no \
         probability and are left out too; everything is reduced in sorted order, so the \
         figures are the same at any thread count.",
        SYNTAX,
    )
    .with_argument("model_name", "The model's name, a string.")
    .with_argument("source", "A table or view, by name.")
    .with_sql_example(
        "CREATE VIEW split AS SELECT * FROM rfm_calibration_holdout(sample.orders, customer_id, order_ts, amount, '2025-03-30', '2025-06-29', 'week');\nCREATE OR REPLACE MODEL cal_buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency_cal, recency_cal, \"T_cal\" FROM split;\nSELECT customers, actual_purchases, round(predicted_purchases, 1) AS predicted_purchases,\n       round(mae, 4) AS mae, round(rmse, 4) AS rmse\nFROM model_evaluate('cal_buyers', split);",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct ModelEvaluate;

/// A logistic_reg model scored on the source's feature and label columns, by name.
fn classification(name: &str, model: &LogisticModel, source: &SourceTable) -> Result<Arc<dyn TableProvider>> {
    const NAME: &str = "model_evaluate";
    let mut wanted = model.features.clone();
    wanted.push(model.label.clone());
    let missing: Vec<&str> =
        wanted.iter().map(String::as_str).filter(|c| source.schema.field_with_name(c).is_err()).collect();
    if !missing.is_empty() {
        return plan_err!(
            "{NAME}: model '{name}' is scored on its features and label ({}) by name; {} lacks {}",
            wanted.join(", "),
            source.reference,
            missing.join(", ")
        );
    }
    let label_type = source.schema.field_with_name(&model.label)?.data_type().clone();
    if !(matches!(label_type, DataType::Boolean) || label_type.is_integer() || label_type.is_floating()) {
        return plan_err!("{NAME}: label '{}' is {label_type}; it must be boolean or 0/1", model.label);
    }
    let features = make_array(model.features.iter().map(ident).collect());
    let probability = PredictProba::udf().call(vec![lit(name), features]);
    let label = cast(ident(&model.label), DataType::Float64);
    let metrics = ClassificationMetrics::udaf().call(vec![probability, label]);
    let fields = ["rows", "roc_auc", "log_loss", "accuracy", "precision", "recall", "f1_score"];
    let plan = scan(source)?
        .filter(ident(&model.label).is_not_null())?
        .aggregate(Vec::<Expr>::new(), vec![metrics.alias("__metrics")])?
        .project(fields.map(|f| get_field(col("__metrics"), f).alias(f)))?
        .build()?;
    Ok(view(plan, format!("{NAME}('{name}', {})", source.reference)))
}

impl DocumentedTableFunction for ModelEvaluate {
    fn name(&self) -> &str {
        "model_evaluate"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for ModelEvaluate {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "model_evaluate";
        check_arity(NAME, &args, 2, 2, SYNTAX)?;
        let Some(name) = string_arg(NAME, &args, 0, "model_name")? else {
            return plan_err!("{NAME}: give the model's name first, such as model_evaluate('buyers', holdout)");
        };
        let model = ModelStore::for_session(args.session().config().options()).load(NAME, &name)?;
        // The source is the second argument; source_table reads the first.
        let mut source_args = args.exprs().to_vec();
        source_args.remove(0);
        let source =
            source_table(NAME, &TableFunctionArgs::new(&source_args, args.session())).map_err(|e| match e {
                datafusion::error::DataFusionError::Plan(m) => {
                    datafusion::error::DataFusionError::Plan(m.replace("the first argument", "the second argument"))
                }
                other => other,
            })?;
        let algorithm = match model.as_ref() {
            Model::Clv(m) if m.transactions().is_some() => m.algorithm.clone(),
            Model::Logistic(m) => return classification(&name, m, &source),
            other => return Err(wrong_kind(NAME, &name, other, "bgnbd, mbgnbd, pareto_nbd or logistic_reg")),
        };
        let missing: Vec<&str> =
            HOLDOUT_COLUMNS.iter().copied().filter(|c| source.schema.field_with_name(c).is_err()).collect();
        if !missing.is_empty() {
            return plan_err!(
                "{NAME}: a {algorithm} model is checked on a calibration/holdout table with the columns {} (as \
                 rfm_calibration_holdout gives them); {} lacks {}",
                HOLDOUT_COLUMNS.join(", "),
                source.reference,
                missing.join(", ")
            );
        }
        let [frequency, recency, age, actual, duration] = HOLDOUT_COLUMNS.map(ident);
        let predicted = ScoringUdf::udf(&EXPECTED_PURCHASES).call(vec![
            lit(name.as_str()),
            duration.clone(),
            frequency.clone(),
            recency.clone(),
            age.clone(),
        ]);
        let present = frequency
            .is_not_null()
            .and(recency.is_not_null())
            .and(age.is_not_null())
            .and(actual.clone().is_not_null())
            .and(duration.is_not_null());
        let errors = PredictionErrors::udaf().call(vec![
            predicted,
            datafusion::logical_expr::cast(actual, datafusion::arrow::datatypes::DataType::Float64),
        ]);
        let fields = ["customers", "actual_purchases", "predicted_purchases", "mae", "rmse"];
        let plan = scan(&source)?
            .filter(present)?
            .aggregate(Vec::<datafusion::logical_expr::Expr>::new(), vec![errors.alias("__errors")])?
            .project(fields.map(|f| get_field(col("__errors"), f).alias(f)))?
            .build()?;
        Ok(view(plan, format!("{NAME}('{name}', {})", source.reference)))
    }
}
