//! `model_params('name')`: a fitted model's parameters with their standard errors.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Documentation;

use crate::common::args::check_arity;
use crate::common::constant::string_arg;
use crate::function::{CLV_SECTION, DocumentedTableFunction};
use crate::model::ModelStore;
use crate::model::store::wrong_kind;
use segsql_algo::model::Model;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "The parameters of a model made by CREATE MODEL: parameter, value, std_error, one row per \
         parameter, named as lifetimes names them (r, alpha, a, b for bgnbd and mbgnbd; r, alpha, \
         s, beta for pareto_nbd; p, q, v for gamma_gamma; intercept and one row per feature, in the model's scaled space, for \
         logistic_reg). Standard errors are lifetimes' (the delta method on the inverse \
         Hessian of its objective in log-parameters; for Pareto/NBD, which lifetimes gives none \
         for, the same delta method on the Hessian of its objective); NULL where the Hessian is singular \
         and for logistic_reg. \
         k-means models have centroids instead: see model_centroids.",
        "model_params(model_name)",
    )
    .with_argument("model_name", "The model's name, a string.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency, recency, \"T\" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');\nSELECT parameter, round(value, 4) AS value, round(std_error, 4) AS std_error FROM model_params('buyers');",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct ModelParams;

impl DocumentedTableFunction for ModelParams {
    fn name(&self) -> &str {
        "model_params"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for ModelParams {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        check_arity("model_params", &args, 1, 1, "model_params(model_name)")?;
        let Some(name) = string_arg("model_params", &args, 0, "model_name")? else {
            return plan_err!("model_params: give the model's name, such as model_params('buyers')");
        };
        let loaded = ModelStore::for_session(args.session().config().options()).load("model_params", &name)?;
        // (parameter, value, std_error): logistic_reg has no standard errors (scikit-learn
        // gives none either).
        let rows: Vec<(String, f64, Option<f64>)> = match loaded.as_ref() {
            Model::Clv(m) => m.parameters.iter().map(|p| (p.name.clone(), p.value, p.std_error)).collect(),
            Model::Logistic(m) => std::iter::once(("intercept".to_string(), m.intercept, None))
                .chain(m.features.iter().zip(&m.coefficients).map(|(f, c)| (f.clone(), *c, None)))
                .collect(),
            other => {
                return Err(wrong_kind(
                    "model_params",
                    &name,
                    other,
                    "bgnbd, mbgnbd, pareto_nbd, gamma_gamma or logistic_reg",
                ));
            }
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("parameter", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
            Field::new("std_error", DataType::Float64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.clone()))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
