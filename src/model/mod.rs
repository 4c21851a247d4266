//! `CREATE MODEL`, `DROP MODEL` and `SHOW MODELS`: train and save models in the models
//! directory, where the scoring functions read them. k-means is here; the CLV models are
//! in `clv`.

mod clv;
mod logistic;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr, Query, Statement as SQLStatement, Value, ValueWithSpan};
use ndarray::Array2;

use crate::error::user_message;
use crate::session::{ModelStore, Standardize, TrainOptions, train_kmeans};
use segsql_algo::model::Model;

/// `CREATE [OR REPLACE] MODEL name USING algorithm (option = value, ...) AS query`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateModel {
    pub name: String,
    pub or_replace: bool,
    pub algorithm: String,
    /// Option names in lower case, with their value expressions, in the order given.
    pub options: Vec<(String, Expr)>,
    pub query: Box<Query>,
}

const OPTIONS: &str = "k, n_init, max_iter, tol, seed, standardize, init";

/// What `USING` accepts, as the error lists it.
const ALGORITHMS: &str = "kmeans (k = ...), bgnbd, mbgnbd, pareto_nbd, gamma_gamma or logistic_reg (label = ...)";

/// The columns of CREATE MODEL's one-row summary for `algorithm`, known before it runs (a
/// PostgreSQL client asks for them when it prepares the statement).
pub fn summary_schema(algorithm: &str) -> SchemaRef {
    match algorithm {
        "logistic_reg" => logistic::summary_schema(),
        "kmeans" => kmeans_summary_schema(),
        _ => clv::summary_schema(),
    }
}

fn kmeans_summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("skipped", DataType::Int64, false),
        Field::new("k", DataType::Int64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("inertia", DataType::Float64, false),
        Field::new("path", DataType::Utf8, false),
    ]))
}

/// The columns of SHOW MODELS.
pub fn show_models_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("algorithm", DataType::Utf8, true),
        Field::new("features", DataType::Utf8, true),
        Field::new("k", DataType::Int64, true),
        Field::new("standardize", DataType::Utf8, true),
        Field::new("training_rows", DataType::Int64, true),
        Field::new("inertia", DataType::Float64, true),
        Field::new("log_likelihood", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
    ]))
}

/// Trains the model, writes its file and returns a one-row summary.
pub async fn create_model(ctx: &SessionContext, store: &ModelStore, statement: CreateModel) -> Result<RecordBatch> {
    let name = statement.name.clone();
    let here = format!("CREATE MODEL {name}");
    ModelStore::normalize(&name)?;
    let known =
        matches!(statement.algorithm.as_str(), "kmeans" | "logistic_reg") || clv::uses_clv(&statement.algorithm);
    if !known {
        return plan_err!("{here}: unknown algorithm '{}'; use USING {ALGORITHMS}", statement.algorithm);
    }
    if !statement.or_replace && store.exists(&name) {
        return plan_err!(
            "{here}: model '{name}' already exists ({}); use CREATE OR REPLACE MODEL to overwrite it",
            store.path(&name).display()
        );
    }
    if statement.algorithm == "logistic_reg" {
        return logistic::create_logistic_model(ctx, store, statement).await;
    }
    if statement.algorithm != "kmeans" {
        return clv::create_clv_model(ctx, store, statement).await;
    }
    let (mut options, init) = train_options(&here, &statement.options)?;

    let (features, batches) = run_query(ctx, &statement.query).await?;
    for (feature, data_type) in &features {
        if !data_type.is_numeric() && !data_type.is_null() {
            return plan_err!(
                "{here}: column '{feature}' is {data_type}; every column of the query is a feature and must be numeric"
            );
        }
    }
    let (points, skipped) = numeric_rows(&batches, features.len())?;
    let names: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();
    options.init = match init {
        None => None,
        Some(Init::Model(model)) => {
            let source = store.load_kmeans(&here, &model)?;
            if source.dims() != names.len() {
                return plan_err!(
                    "{here}: init model '{model}' has {} features ({}), the query has {} ({})",
                    source.dims(),
                    source.features.join(", "),
                    names.len(),
                    names.join(", ")
                );
            }
            Some((format!("model {model}"), source.clusters.iter().flat_map(|c| c.centroid.clone()).collect()))
        }
        Some(Init::Query(query)) => {
            let (columns, batches) = run_query(ctx, &query).await?;
            if columns.len() != names.len() {
                return plan_err!(
                    "{here}: the init query returns {} columns; it needs one per feature ({})",
                    columns.len(),
                    names.join(", ")
                );
            }
            let (centres, bad) = numeric_rows(&batches, names.len())?;
            if bad > 0 {
                return exec_err!("{here}: the init query returned {bad} rows with NULL, NaN or infinite values");
            }
            Some(("query".to_string(), centres.into_raw_vec_and_offset().0))
        }
    };
    let model = match train_kmeans(&name, names, points.view(), skipped, &options) {
        Ok(model) => model,
        Err(message) => return exec_err!("{here}: {message}"),
    };
    let path = store.save(&Model::KMeans(model.clone()), statement.or_replace)?;
    let schema = kmeans_summary_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![name])),
        Arc::new(Int64Array::from(vec![model.training_rows as i64])),
        Arc::new(Int64Array::from(vec![model.skipped_rows as i64])),
        Arc::new(Int64Array::from(vec![model.options.k as i64])),
        Arc::new(Int64Array::from(vec![model.iterations as i64])),
        Arc::new(Float64Array::from(vec![model.inertia])),
        Arc::new(StringArray::from(vec![path.display().to_string()])),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

enum Init {
    Model(String),
    Query(Box<Query>),
}

fn train_options(here: &str, given: &[(String, Expr)]) -> Result<(TrainOptions, Option<Init>)> {
    let mut options = TrainOptions::new(0);
    let mut k = None;
    let mut init = None;
    for (key, value) in given {
        match key.as_str() {
            "k" => k = Some(whole(here, key, value, 1)?),
            "n_init" => options.n_init = whole(here, key, value, 1)? as usize,
            "max_iter" => options.max_iter = whole(here, key, value, 1)? as usize,
            "seed" => options.seed = whole(here, key, value, 0)?,
            "tol" => {
                let tol = number(value).filter(|t| t.is_finite() && *t >= 0.0);
                options.tol = tol.ok_or_else(|| {
                    datafusion::error::DataFusionError::Plan(format!("{here}: tol must be a number >= 0, got {value}"))
                })?;
            }
            "standardize" => {
                let method = text(value).and_then(|s| Standardize::parse(&s));
                options.standardize = method.ok_or_else(|| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "{here}: unknown standardize method {value}; use {}",
                        Standardize::NAMES
                    ))
                })?;
            }
            "init" => {
                init = match value {
                    Expr::Subquery(query) => Some(Init::Query(query.clone())),
                    other => match text(other) {
                        Some(s) if s.eq_ignore_ascii_case("k-means++") => None,
                        Some(model) => Some(Init::Model(model)),
                        None => {
                            return plan_err!(
                                "{here}: init must be 'k-means++', a model's name, or a query in parentheses giving k rows of starting centres"
                            );
                        }
                    },
                }
            }
            other => return plan_err!("{here}: unknown option '{other}'; the options are {OPTIONS}"),
        }
    }
    let Some(k) = k else {
        return plan_err!("{here}: give the number of clusters, e.g. USING kmeans (k = 5)");
    };
    options.k = k as usize;
    Ok((options, init))
}

fn literal(value: &Expr) -> Option<&Value> {
    match value {
        Expr::Value(ValueWithSpan { value, .. }) => Some(value),
        _ => None,
    }
}

pub(super) fn number(value: &Expr) -> Option<f64> {
    match value {
        Expr::UnaryOp { op: datafusion::sql::sqlparser::ast::UnaryOperator::Minus, expr } => number(expr).map(|v| -v),
        _ => match literal(value)? {
            Value::Number(text, _) => text.parse().ok(),
            _ => None,
        },
    }
}

pub(super) fn whole(here: &str, key: &str, value: &Expr, min: u64) -> Result<u64> {
    let parsed = match literal(value) {
        Some(Value::Number(text, _)) => text.parse::<u64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n >= min => Ok(n),
        _ => plan_err!("{here}: {key} must be a whole number of at least {min}, got {value}"),
    }
}

pub(super) fn text(value: &Expr) -> Option<String> {
    match literal(value)? {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Runs a query and returns its columns (name, type) and batches.
pub(super) async fn run_query(
    ctx: &SessionContext,
    query: &Query,
) -> Result<(Vec<(String, DataType)>, Vec<RecordBatch>)> {
    let state = ctx.state();
    let statement = DFStatement::Statement(Box::new(SQLStatement::Query(Box::new(query.clone()))));
    let plan = state.statement_to_plan(statement).await?;
    let frame = ctx.execute_logical_plan(plan).await?;
    let physical = frame.create_physical_plan().await?;
    let schema = physical.schema();
    let batches = collect(physical, ctx.task_ctx()).await?;
    Ok((schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect(), batches))
}

/// The rows whose every column is a finite number, and how many were not.
fn numeric_rows(batches: &[RecordBatch], dims: usize) -> Result<(Array2<f64>, u64)> {
    let mut data = Vec::new();
    let mut rows = 0;
    let mut skipped = 0;
    for batch in batches {
        let columns: Vec<ArrayRef> =
            batch.columns().iter().map(|c| cast(c, &DataType::Float64)).collect::<std::result::Result<_, _>>()?;
        let columns: Vec<&Float64Array> = columns.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        for i in 0..batch.num_rows() {
            if columns.iter().all(|c| c.is_valid(i) && c.value(i).is_finite()) {
                data.extend(columns.iter().map(|c| c.value(i)));
                rows += 1;
            } else {
                skipped += 1;
            }
        }
    }
    let matrix = Array2::from_shape_vec((rows, dims), data)
        .or_else(|e| datafusion::common::internal_err!("CREATE MODEL: feature matrix: {e}"))?;
    Ok((matrix, skipped))
}

/// Deletes a model's file.
pub fn drop_model(store: &ModelStore, name: &str, if_exists: bool) -> Result<RecordBatch> {
    let removed = store.drop_model(name)?;
    if !removed && !if_exists {
        return plan_err!(
            "DROP MODEL: no model '{name}' in {} (SHOW MODELS lists them; DROP MODEL IF EXISTS ignores a missing one)",
            store.dir().display()
        );
    }
    let schema = Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]));
    let count = datafusion::arrow::array::UInt64Array::from(vec![u64::from(removed)]);
    Ok(RecordBatch::try_new(schema, vec![Arc::new(count)])?)
}

/// One row per model file: its name, algorithm, features (or columns), k, scaling,
/// training rows, inertia or log-likelihood, or the reason it cannot be read.
pub fn show_models(store: &ModelStore) -> Result<RecordBatch> {
    let mut name = Vec::new();
    let mut algorithm = Vec::new();
    let mut features = Vec::new();
    let mut k = Vec::new();
    let mut standardize = Vec::new();
    let mut rows = Vec::new();
    let mut inertia = Vec::new();
    let mut log_likelihood = Vec::new();
    let mut status = Vec::new();
    for model_name in store.names() {
        match store.load("SHOW MODELS", &model_name).as_deref() {
            Ok(Model::KMeans(model)) => {
                algorithm.push(Some("kmeans".to_string()));
                features.push(Some(model.features.join(", ")));
                k.push(Some(model.clusters.len() as i64));
                standardize.push(Some(format!("{:?}", model.standardize.method).to_lowercase()));
                rows.push(Some(model.training_rows as i64));
                inertia.push(Some(model.inertia));
                log_likelihood.push(None);
                status.push("ok".to_string());
            }
            Ok(Model::Logistic(model)) => {
                algorithm.push(Some("logistic_reg".to_string()));
                features.push(Some(model.features.join(", ")));
                k.push(None);
                standardize.push(Some(format!("{:?}", model.standardize.method).to_lowercase()));
                rows.push(Some(model.training_rows as i64));
                inertia.push(None);
                log_likelihood.push(None);
                status.push("ok".to_string());
            }
            Ok(Model::Clv(model)) => {
                algorithm.push(Some(model.algorithm.clone()));
                features.push(Some(model.columns.join(", ")));
                k.push(None);
                standardize.push(None);
                rows.push(Some(model.training_rows as i64));
                inertia.push(None);
                log_likelihood.push(Some(model.log_likelihood));
                status.push("ok".to_string());
            }
            Err(e) => {
                algorithm.push(None);
                features.push(None);
                k.push(None);
                standardize.push(None);
                rows.push(None);
                inertia.push(None);
                log_likelihood.push(None);
                status.push(user_message(e));
            }
        }
        name.push(model_name);
    }
    let schema = show_models_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(name)),
        Arc::new(StringArray::from(algorithm)),
        Arc::new(StringArray::from(features)),
        Arc::new(Int64Array::from(k)),
        Arc::new(StringArray::from(standardize)),
        Arc::new(Int64Array::from(rows)),
        Arc::new(Float64Array::from(inertia)),
        Arc::new(Float64Array::from(log_likelihood)),
        Arc::new(StringArray::from(status)),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}
