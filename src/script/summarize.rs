//! `SUMMARIZE table` and `SUMMARIZE query`: one row per column with its type, range,
//! distinct estimate, mean, quartiles and NULLs, as DuckDB's SUMMARIZE gives; the first
//! look at a table before any analysis.
//!
//! Everything comes from one aggregate over the input, so a table is read once. The numbers
//! are the same at any `--threads`: means from exact decimal sums, quartiles from the exact
//! `percentile_cont`, and the distinct estimate from HyperLogLog, whose merge does not
//! depend on order.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, Float64Type, Int64Type, Schema, SchemaRef, UInt64Type,
};
use datafusion::common::{Column, Result, internal_err};
use datafusion::execution::FunctionRegistry;
use datafusion::functions_aggregate::expr_fn::{approx_distinct, count, max, min, percentile_cont, sum};
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement as SQLStatement};

/// The statistics taken of one column, in the order they are aggregated.
const STATS: [&str; 8] = ["count", "min", "max", "distinct", "sum", "q25", "q50", "q75"];

/// SUMMARIZE's columns, one row per column of the summarized result.
pub fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("column_name", DataType::Utf8, false),
        Field::new("column_type", DataType::Utf8, false),
        Field::new("min", DataType::Utf8, true),
        Field::new("max", DataType::Utf8, true),
        Field::new("approx_unique", DataType::Int64, true),
        Field::new("avg", DataType::Float64, true),
        Field::new("q25", DataType::Float64, true),
        Field::new("q50", DataType::Float64, true),
        Field::new("q75", DataType::Float64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("nulls", DataType::Int64, false),
        Field::new("null_percentage", DataType::Float64, true),
    ]))
}

/// Runs `SUMMARIZE query`.
pub async fn summarize(ctx: &SessionContext, query: Query) -> Result<RecordBatch> {
    let statement = DFStatement::Statement(Box::new(SQLStatement::Query(Box::new(query))));
    let plan = ctx.state().statement_to_plan(statement).await?;
    let frame = ctx.execute_logical_plan(plan).await?;
    let fields: Vec<(Column, DataType)> = frame
        .schema()
        .iter()
        .map(|(qualifier, field)| (Column::from((qualifier, field.as_ref())), field.data_type().clone()))
        .collect();
    let exact_amount = ctx.udf("segsql_exact_amount")?;
    let mut aggregates = vec![count(lit(1)).alias("rows")];
    for (i, (column, data_type)) in fields.iter().enumerate() {
        let value = Expr::Column(column.clone());
        let numeric = data_type.is_numeric();
        let comparable = !data_type.is_nested();
        let counted = if distinct_supported(data_type) { value.clone() } else { cast(value.clone(), DataType::Utf8) };
        let exact = match data_type {
            _ if !numeric => None,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                Some(exact_amount.call(vec![value.clone(), lit("SUMMARIZE")]))
            }
            DataType::Decimal128(..) | DataType::Decimal256(..) => Some(value.clone()),
            _ => Some(cast(value.clone(), DataType::Decimal128(38, 0))),
        };
        let quartile =
            |q: f64| numeric.then(|| percentile_cont(cast(value.clone(), DataType::Float64).sort(true, false), lit(q)));
        let stats = [
            Some(count(value.clone())),
            comparable.then(|| cast(min(value.clone()), DataType::Utf8)),
            comparable.then(|| cast(max(value.clone()), DataType::Utf8)),
            comparable.then(|| approx_distinct(counted)),
            exact.map(sum),
            quartile(0.25),
            quartile(0.5),
            quartile(0.75),
        ];
        for (stat, expr) in STATS.iter().zip(stats) {
            aggregates
                .push(expr.unwrap_or_else(|| lit(datafusion::common::ScalarValue::Null)).alias(format!("c{i}_{stat}")));
        }
    }
    let batches = frame.aggregate(vec![], aggregates)?.collect().await?;
    let Some(row) = batches.iter().find(|b| b.num_rows() == 1) else {
        return internal_err!("SUMMARIZE: the aggregate returned no row");
    };
    let rows = int_at(row.column(0)).unwrap_or(0);
    let (mut names, mut types, mut mins, mut maxes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut distinct, mut means, mut q25, mut q50, mut q75) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut counts, mut nulls, mut null_shares) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (column, data_type)) in fields.iter().enumerate() {
        let stat = |k: usize| row.column(1 + i * STATS.len() + k);
        let present = int_at(stat(0)).unwrap_or(0);
        names.push(column.name.clone());
        types.push(data_type.to_string());
        mins.push(text_at(stat(1)));
        maxes.push(text_at(stat(2)));
        distinct.push(int_at(stat(3)));
        means.push(decimal_at(stat(4)).filter(|_| present > 0).map(|total| total / present as f64));
        q25.push(float_at(stat(5)));
        q50.push(float_at(stat(6)));
        q75.push(float_at(stat(7)));
        counts.push(Some(rows));
        nulls.push(Some(rows - present));
        null_shares.push((rows > 0).then(|| ((rows - present) as f64 * 10_000.0 / rows as f64).round() / 100.0));
    }
    let schema = result_schema();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(StringArray::from(types)),
        Arc::new(StringArray::from(mins)),
        Arc::new(StringArray::from(maxes)),
        Arc::new(Int64Array::from(distinct)),
        Arc::new(Float64Array::from(means)),
        Arc::new(Float64Array::from(q25)),
        Arc::new(Float64Array::from(q50)),
        Arc::new(Float64Array::from(q75)),
        Arc::new(Int64Array::from(counts)),
        Arc::new(Int64Array::from(nulls)),
        Arc::new(Float64Array::from(null_shares)),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Types `approx_distinct` hashes directly; others are counted by their text.
fn distinct_supported(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Date32
            | Date64
            | Timestamp(..)
            | Decimal128(..)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
    )
}

fn int_at(array: &ArrayRef) -> Option<i64> {
    if array.is_null(0) {
        return None;
    }
    match array.data_type() {
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(0)),
        DataType::UInt64 => i64::try_from(array.as_primitive::<UInt64Type>().value(0)).ok(),
        _ => cast_array(array, &DataType::Int64).ok().map(|a| a.as_primitive::<Int64Type>().value(0)),
    }
}

fn text_at(array: &ArrayRef) -> Option<String> {
    (array.data_type() == &DataType::Utf8 && !array.is_null(0)).then(|| array.as_string::<i32>().value(0).to_string())
}

fn float_at(array: &ArrayRef) -> Option<f64> {
    (array.data_type() == &DataType::Float64 && !array.is_null(0)).then(|| array.as_primitive::<Float64Type>().value(0))
}

/// An exact decimal sum as a float, divided by its scale once.
fn decimal_at(array: &ArrayRef) -> Option<f64> {
    if array.is_null(0) {
        return None;
    }
    match array.data_type() {
        DataType::Decimal128(_, scale) => {
            Some(array.as_primitive::<Decimal128Type>().value(0) as f64 / 10f64.powi(i32::from(*scale)))
        }
        DataType::Decimal256(_, _) => cast_array(array, &DataType::Float64).ok().and_then(|a| float_at(&a)),
        _ => None,
    }
}
