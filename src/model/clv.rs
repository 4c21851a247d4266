//! `CREATE MODEL ... USING bgnbd | mbgnbd | pareto_nbd | gamma_gamma`: fit a CLV model on the query's
//! columns (taken by position) and save it in the models folder.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Expr;

use super::{CreateModel, number, run_query, text, whole};
use crate::session::ModelStore;
use segsql_algo::clv::bgnbd::Variant;
use segsql_algo::clv::{FitParams, TimeUnit, fit_beta_geo, fit_gamma_gamma, fit_pareto_nbd};
use segsql_algo::model::{ClvModel, Model};

/// The options each algorithm takes, as the error lists them.
fn options_of(algorithm: &str) -> &'static str {
    match algorithm {
        "gamma_gamma" => "penalizer, max_iter",
        _ => "time_unit, penalizer, max_iter",
    }
}

/// The columns each algorithm takes, in order.
fn columns_of(algorithm: &str) -> &'static [&'static str] {
    match algorithm {
        "gamma_gamma" => &["frequency", "monetary_value"],
        _ => &["frequency", "recency", "T"],
    }
}

pub async fn create_clv_model(ctx: &SessionContext, store: &ModelStore, statement: CreateModel) -> Result<RecordBatch> {
    let name = statement.name.clone();
    let algorithm = statement.algorithm.as_str();
    let here = format!("CREATE MODEL {name}");
    let (params, time_unit) = fit_options(&here, algorithm, &statement.options)?;
    let (columns, batches) = run_query(ctx, &statement.query).await?;
    let wanted = columns_of(algorithm);
    if columns.len() != wanted.len() {
        return plan_err!(
            "{here}: USING {algorithm} takes {} columns ({}), in that order; the query returns {} ({})",
            wanted.len(),
            wanted.join(", "),
            columns.len(),
            columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    for ((column, data_type), role) in columns.iter().zip(wanted) {
        if !data_type.is_numeric() && !data_type.is_null() {
            return plan_err!("{here}: column '{column}' ({role}) is {data_type}; it must be numeric");
        }
    }
    let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
    let threads = crate::session::kernel_threads();
    let result = if algorithm == "gamma_gamma" {
        let (rows, not_finite) = float_rows::<2>(&batches)?;
        skipped_as(&mut skipped, NOT_FINITE, not_finite);
        let mut spend = Vec::with_capacity(rows.len());
        for row in rows {
            match row {
                r if r[0] <= 0.0 => skipped_as(&mut skipped, "frequency 0 (no repeat purchase)", 1),
                r if r[1] <= 0.0 => skipped_as(&mut skipped, "monetary_value <= 0", 1),
                r => spend.push(r),
            }
        }
        nothing_left(&here, spend.len(), &skipped)?;
        fit_gamma_gamma(&spend, params, threads).map(|(_, fit)| fit)
    } else {
        let (histories, not_finite) = float_rows::<3>(&batches)?;
        skipped_as(&mut skipped, NOT_FINITE, not_finite);
        nothing_left(&here, histories.len(), &skipped)?;
        match algorithm {
            "pareto_nbd" => fit_pareto_nbd(&histories, params, threads).map(|(_, fit)| fit),
            "bgnbd" => fit_beta_geo(Variant::Bg, &histories, params, threads).map(|(_, fit)| fit),
            _ => fit_beta_geo(Variant::Mbg, &histories, params, threads).map(|(_, fit)| fit),
        }
    };
    let fit = match result {
        Ok(fit) => fit,
        Err(problem) => return exec_err!("{here}: {problem}"),
    };
    let names = columns.iter().map(|(n, _)| n.clone()).collect();
    let unit = if algorithm == "gamma_gamma" { None } else { Some(time_unit) };
    let model = ClvModel::new(&name, algorithm, names, unit, params, fit, skipped);
    let path = store.save(&Model::Clv(model.clone()), statement.or_replace)?;
    summary(&model, &path.display().to_string())
}

fn nothing_left(here: &str, usable: usize, skipped: &BTreeMap<String, u64>) -> Result<()> {
    if usable > 0 {
        return Ok(());
    }
    if skipped.is_empty() {
        return exec_err!("{here}: the query returned no rows to fit on");
    }
    let reasons: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} with {why}")).collect();
    exec_err!("{here}: no rows to fit on: all were skipped ({})", reasons.join(", "))
}

fn fit_options(here: &str, algorithm: &str, given: &[(String, Expr)]) -> Result<(FitParams, TimeUnit)> {
    let mut params = FitParams::default();
    let mut unit = TimeUnit::Day;
    for (key, value) in given {
        match key.as_str() {
            "penalizer" => match number(value) {
                Some(p) if p.is_finite() && p >= 0.0 => params.penalizer = p,
                _ => {
                    return plan_err!(
                        "{here}: penalizer must be a number >= 0 (lifetimes' penalizer_coef), got {value}"
                    );
                }
            },
            "max_iter" => params.max_iter = whole(here, key, value, 1)?,
            "time_unit" if algorithm != "gamma_gamma" => match text(value).as_deref().and_then(TimeUnit::parse) {
                Some(u) => unit = u,
                None => {
                    return plan_err!(
                        "{here}: time_unit must be {} (the unit of recency and T), got {value}",
                        TimeUnit::NAMES
                    );
                }
            },
            other => {
                return plan_err!(
                    "{here}: unknown option '{other}' for USING {algorithm}; the options are {}",
                    options_of(algorithm)
                );
            }
        }
    }
    Ok((params, unit))
}

/// Why a row with a NULL, NaN or infinite value is skipped.
const NOT_FINITE: &str = "NULL, NaN or infinite value";

/// Counts `n` rows skipped for `reason` (none: no entry).
fn skipped_as(skipped: &mut BTreeMap<String, u64>, reason: &str, n: u64) {
    if n > 0 {
        *skipped.entry(reason.to_string()).or_insert(0) += n;
    }
}

/// The rows whose N values are all finite, as f64, and how many others there were.
fn float_rows<const N: usize>(batches: &[RecordBatch]) -> Result<(Vec<[f64; N]>, u64)> {
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    let mut not_finite = 0;
    for batch in batches {
        let columns: Vec<ArrayRef> =
            batch.columns().iter().map(|c| cast(c, &DataType::Float64)).collect::<std::result::Result<_, _>>()?;
        let columns: Vec<&Float64Array> = columns.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        let values: Vec<&[f64]> = columns.iter().map(|c| c.values().as_ref()).collect();
        // A NULL's slot holds any number: read as NaN, it is skipped with the NaNs.
        let nulls = columns.iter().any(|c| c.null_count() > 0);
        for i in 0..batch.num_rows() {
            let mut row = [0.0; N];
            for (value, column) in row.iter_mut().zip(&values) {
                *value = column[i];
            }
            if nulls {
                for (value, column) in row.iter_mut().zip(&columns) {
                    if column.is_null(i) {
                        *value = f64::NAN;
                    }
                }
            }
            if row.iter().all(|v| v.is_finite()) {
                rows.push(row);
            } else {
                not_finite += 1;
            }
        }
    }
    Ok((rows, not_finite))
}

/// CREATE MODEL's one-row answer for a CLV model.
pub(super) fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("algorithm", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("skipped", DataType::Int64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("converged", DataType::Boolean, false),
        Field::new("log_likelihood", DataType::Float64, false),
        Field::new("path", DataType::Utf8, false),
    ]))
}

fn summary(model: &ClvModel, path: &str) -> Result<RecordBatch> {
    let schema = summary_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![model.name.clone()])),
        Arc::new(StringArray::from(vec![model.algorithm.clone()])),
        Arc::new(Int64Array::from(vec![model.training_rows as i64])),
        Arc::new(Int64Array::from(vec![model.skipped_rows as i64])),
        Arc::new(Int64Array::from(vec![model.iterations as i64])),
        Arc::new(BooleanArray::from(vec![model.converged])),
        Arc::new(Float64Array::from(vec![model.log_likelihood])),
        Arc::new(StringArray::from(vec![path.to_string()])),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

pub(super) fn uses_clv(algorithm: &str) -> bool {
    segsql_algo::model::clv::CLV_ALGORITHMS.contains(&algorithm)
}
