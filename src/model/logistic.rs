//! `CREATE MODEL ... USING logistic_reg (label = ...)`: fit a churn-propensity model on the
//! query's feature columns and save it in the models folder.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Expr;
use ndarray::Array2;

use super::{CreateModel, number, run_query, text, whole};
use crate::session::ModelStore;
use segsql_algo::clv::logistic::{LogisticParams, canonical_rows, fit_logistic};
use segsql_algo::model::{FORMAT_VERSION, LogisticModel, Model, Standardize, apply_scaler, fit_scaler};

const OPTIONS: &str = "label, l2, standardize, max_iter, tol";

struct Options {
    label: String,
    params: LogisticParams,
    standardize: Standardize,
}

fn options(here: &str, given: &[(String, Expr)]) -> Result<Options> {
    let mut label = None;
    let mut params = LogisticParams::default();
    let mut standardize = Standardize::None;
    for (key, value) in given {
        match key.as_str() {
            "label" => match text(value) {
                Some(name) => label = Some(name),
                None => {
                    return plan_err!(
                        "{here}: label must name the label column as a string, such as label = 'churned'"
                    );
                }
            },
            "l2" => match number(value) {
                Some(v) if v.is_finite() && v >= 0.0 => params.l2 = v,
                _ => return plan_err!("{here}: l2 must be a number >= 0 (scikit-learn's 1/C), got {value}"),
            },
            "tol" => match number(value) {
                Some(v) if v.is_finite() && v > 0.0 => params.tol = v,
                _ => return plan_err!("{here}: tol must be a number > 0, got {value}"),
            },
            "max_iter" => params.max_iter = whole(here, key, value, 1)?,
            "standardize" => match text(value).and_then(|s| Standardize::parse(&s)) {
                Some(method @ (Standardize::None | Standardize::Zscore)) => standardize = method,
                _ => return plan_err!("{here}: standardize must be 'none' or 'zscore', got {value}"),
            },
            other => {
                return plan_err!("{here}: unknown option '{other}' for USING logistic_reg; the options are {OPTIONS}");
            }
        }
    }
    let Some(label) = label else {
        return plan_err!("{here}: name the label column, e.g. USING logistic_reg (label = 'churned')");
    };
    Ok(Options { label, params, standardize })
}

pub async fn create_logistic_model(
    ctx: &SessionContext,
    store: &ModelStore,
    statement: CreateModel,
) -> Result<RecordBatch> {
    let name = statement.name.clone();
    let here = format!("CREATE MODEL {name}");
    let Options { label, params, standardize } = options(&here, &statement.options)?;
    let (columns, batches) = run_query(ctx, &statement.query).await?;
    let Some(label_index) = columns.iter().position(|(c, _)| *c == label) else {
        let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        return plan_err!("{here}: the query has no label column '{label}'; its columns are {}", names.join(", "));
    };
    let label_type = &columns[label_index].1;
    if !(matches!(label_type, DataType::Boolean) || label_type.is_integer() || label_type.is_floating()) {
        return plan_err!("{here}: label '{label}' is {label_type}; it must be boolean or 0/1");
    }
    let features: Vec<String> =
        columns.iter().enumerate().filter(|(i, _)| *i != label_index).map(|(_, (c, _))| c.clone()).collect();
    if features.is_empty() {
        return plan_err!("{here}: the query has only the label; add the feature columns");
    }
    for (i, (column, data_type)) in columns.iter().enumerate() {
        if i != label_index && !data_type.is_numeric() && !data_type.is_null() {
            return plan_err!("{here}: feature '{column}' is {data_type}; every column but the label must be numeric");
        }
    }
    let dims = features.len();
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut skipped = 0u64;
    let mut bad_label: Option<f64> = None;
    for batch in &batches {
        let label_values = cast(batch.column(label_index), &DataType::Float64)?;
        let label_values = label_values.as_primitive::<Float64Type>();
        let feature_columns: Vec<ArrayRef> = (0..batch.num_columns())
            .filter(|i| *i != label_index)
            .map(|i| cast(batch.column(i), &DataType::Float64))
            .collect::<std::result::Result<_, _>>()?;
        let feature_columns: Vec<&Float64Array> =
            feature_columns.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        for row in 0..batch.num_rows() {
            let complete = label_values.is_valid(row)
                && feature_columns.iter().all(|c| c.is_valid(row) && c.value(row).is_finite());
            if !complete {
                skipped += 1;
                continue;
            }
            let value = label_values.value(row);
            if value != 0.0 && value != 1.0 {
                // The smallest such value, so the message does not depend on row order.
                bad_label = Some(bad_label.map_or(value, |b: f64| b.min(value)));
                continue;
            }
            y.push(value == 1.0);
            x.extend(feature_columns.iter().map(|c| c.value(row)));
        }
    }
    if let Some(value) = bad_label {
        return exec_err!("{here}: label '{label}' must be boolean or 0/1, found {value}");
    }
    if y.is_empty() {
        return exec_err!("{here}: no rows to fit on ({skipped} skipped for a NULL, NaN or infinite value)");
    }
    // The query's row order depends on its partitions, so on the thread count.
    let (x, y) = canonical_rows(&x, &y, dims);
    let positives = y.iter().filter(|&&v| v).count() as u64;
    if positives == 0 || positives == y.len() as u64 {
        let class = if positives == 0 { "false (0)" } else { "true (1)" };
        return exec_err!(
            "{here}: label '{label}' is {class} in all {} rows; a propensity model needs both classes",
            y.len()
        );
    }
    let raw = Array2::from_shape_vec((y.len(), dims), x)
        .or_else(|e| datafusion::common::internal_err!("{here}: feature matrix: {e}"))?;
    let scaler = fit_scaler(raw.view(), standardize);
    let scaled = apply_scaler(raw.view(), &scaler);
    let Some(scaled_rows) = scaled.as_slice() else {
        return datafusion::common::internal_err!("{here}: the scaled features are not contiguous");
    };
    let fit = match fit_logistic(scaled_rows, &y, dims, params, crate::session::kernel_threads()) {
        Ok(fit) => fit,
        Err(problem) => return exec_err!("{here}: {problem}"),
    };
    let model = LogisticModel {
        format_version: FORMAT_VERSION,
        segsql_version: env!("CARGO_PKG_VERSION").to_string(),
        name: name.clone(),
        algorithm: "logistic_reg".to_string(),
        features,
        label,
        standardize: scaler,
        l2: params.l2,
        max_iter: params.max_iter,
        tol: params.tol,
        intercept: fit.intercept,
        coefficients: fit.coefficients,
        iterations: fit.iterations,
        objective: fit.objective,
        training_rows: y.len() as u64,
        positives,
        skipped_rows: skipped,
    };
    let path = store.save(&Model::Logistic(model.clone()), statement.or_replace)?;
    let schema = summary_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![name])),
        Arc::new(StringArray::from(vec!["logistic_reg"])),
        Arc::new(Int64Array::from(vec![model.training_rows as i64])),
        Arc::new(Int64Array::from(vec![model.skipped_rows as i64])),
        Arc::new(Int64Array::from(vec![model.positives as i64])),
        Arc::new(Int64Array::from(vec![model.iterations as i64])),
        Arc::new(Float64Array::from(vec![model.objective])),
        Arc::new(StringArray::from(vec![path.display().to_string()])),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// CREATE MODEL's one-row answer for a logistic regression.
pub(super) fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("algorithm", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("skipped", DataType::Int64, false),
        Field::new("positives", DataType::Int64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("objective", DataType::Float64, false),
        Field::new("path", DataType::Utf8, false),
    ]))
}
