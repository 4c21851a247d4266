//! `kmeans_elbow(source, features, k_min, k_max [, seed])`: one row per k to choose the
//! number of clusters.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlan, cast};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, collect};
use datafusion::prelude::ident;
use ndarray::Array2;

use super::features::CLUSTER_SECTION;
use crate::common::args::{check_arity, is_numeric, source_table};
use crate::common::constant::{int_arg, string_arg};
use crate::function::DocumentedTableFunction;
use crate::plan::scan;
use segsql_algo::cluster::kmeans::{DEFAULT_SEED, KMeansParams, fit};
use segsql_algo::cluster::silhouette::{sampled_silhouette_score, silhouette_score};
use segsql_algo::cluster::validity::{calinski_harabasz, davies_bouldin};
use segsql_algo::cluster::{canonical_order, gather, kneedle};
use segsql_algo::model::{Standardize, apply_scaler, fit_scaler};

/// Above this many rows the silhouette column is a seeded estimate on this many.
pub const SILHOUETTE_SAMPLE: usize = 10_000;
const MAX_K: i64 = 100;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Fits k-means for every k from k_min to k_max on the named numeric columns of a table or \
         view, standardized with z-scores, and returns one row per k: k, inertia (within-cluster \
         sum of squares), silhouette (exact up to 10,000 rows, above that a seeded estimate on \
         10,000), davies_bouldin, calinski_harabasz, and is_knee, true on the k where the inertia \
         curve bends most (the Kneedle rule: the point farthest below the line from the first k \
         to the last). Rows with a NULL, NaN or infinite feature are left out. Runs when the \
         query runs, not while planning.",
        "kmeans_elbow(source, features, k_min, k_max [, seed])",
    )
    .with_argument("source", "A table or view name, bare or quoted.")
    .with_argument("features", "Comma-separated numeric columns of the source: 'recency_days,frequency,monetary'.")
    .with_argument("k_min", "The smallest k, at least 1.")
    .with_argument("k_max", "The largest k, at most 100 and at most the number of rows.")
    .with_argument("seed", "Seed of the k-means++ starts and the silhouette sample (default 42).")
    .with_sql_example(
        "CREATE VIEW customer_rfm AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT k, round(inertia, 1) AS inertia, round(silhouette, 3) AS silhouette, is_knee\nFROM kmeans_elbow(customer_rfm, 'recency_days,frequency,monetary', 2, 8)\nORDER BY k;",
    )
    .build()
});

#[derive(Debug)]
pub struct KMeansElbow;

impl DocumentedTableFunction for KMeansElbow {
    fn name(&self) -> &str {
        "kmeans_elbow"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for KMeansElbow {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const SYNTAX: &str = "kmeans_elbow(source, features, k_min, k_max [, seed])";
        check_arity("kmeans_elbow", &args, 4, 5, SYNTAX)?;
        let source = source_table("kmeans_elbow", &args)?;
        let Some(list) = string_arg("kmeans_elbow", &args, 1, "features")? else {
            return plan_err!("kmeans_elbow: features must list columns, such as 'recency_days,frequency,monetary'");
        };
        let mut features = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (column, data_type) = source.column("kmeans_elbow", "feature", name)?;
            if !is_numeric(&data_type) {
                return plan_err!("kmeans_elbow: feature column '{column}' must be numeric, got {data_type}");
            }
            features.push(column);
        }
        if features.is_empty() {
            return plan_err!("kmeans_elbow: features must name at least one column, such as 'recency_days,frequency'");
        }
        let Some(k_min) = int_arg("kmeans_elbow", &args, 2, "k_min", 1..=MAX_K)? else {
            return plan_err!("kmeans_elbow: k_min must be a whole number from 1 to {MAX_K}");
        };
        let Some(k_max) = int_arg("kmeans_elbow", &args, 3, "k_max", 1..=MAX_K)? else {
            return plan_err!("kmeans_elbow: k_max must be a whole number from 1 to {MAX_K}");
        };
        if k_max < k_min {
            return plan_err!("kmeans_elbow: k_max ({k_max}) must be at least k_min ({k_min})");
        }
        let seed = int_arg("kmeans_elbow", &args, 4, "seed", 0..=i64::MAX)?.map_or(DEFAULT_SEED, |s| s as u64);
        // ident, not a quoted string: a name may itself hold a quote.
        let columns: Vec<Expr> = features.iter().map(|f| cast(ident(f), DataType::Float64)).collect();
        let plan = scan(&source)?.project(columns)?.build()?;
        Ok(Arc::new(ElbowTable { plan, k_min: k_min as usize, k_max: k_max as usize, seed, schema: output_schema() }))
    }
}

fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("inertia", DataType::Float64, false),
        Field::new("silhouette", DataType::Float64, true),
        Field::new("davies_bouldin", DataType::Float64, true),
        Field::new("calinski_harabasz", DataType::Float64, true),
        Field::new("is_knee", DataType::Boolean, false),
    ]))
}

#[derive(Debug)]
struct ElbowTable {
    plan: LogicalPlan,
    k_min: usize,
    k_max: usize,
    seed: u64,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for ElbowTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = state.create_physical_plan(&self.plan).await?;
        let stream =
            ElbowStream { input, k_min: self.k_min, k_max: self.k_max, seed: self.seed, schema: self.schema() };
        Ok(Arc::new(StreamingTableExec::try_new(self.schema(), vec![Arc::new(stream)], projection, [], false, None)?))
    }
}

#[derive(Debug)]
struct ElbowStream {
    input: Arc<dyn ExecutionPlan>,
    k_min: usize,
    k_max: usize,
    seed: u64,
    schema: SchemaRef,
}

impl PartitionStream for ElbowStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let input = Arc::clone(&self.input);
        let (k_min, k_max, seed, schema) = (self.k_min, self.k_max, self.seed, Arc::clone(&self.schema));
        let batch = async move {
            let batches = collect(input, ctx).await?;
            let points = complete_rows(&batches);
            let columns = elbow(points, k_min, k_max, seed)?;
            Ok(RecordBatch::try_new(schema, columns)?)
        };
        Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), futures::stream::once(batch)))
    }
}

/// The rows whose every feature is a finite number.
fn complete_rows(batches: &[RecordBatch]) -> Array2<f64> {
    let dims = batches.first().map_or(0, |b| b.num_columns());
    let mut data = Vec::new();
    let mut rows = 0;
    for batch in batches {
        let columns: Vec<&Float64Array> = batch.columns().iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        for i in 0..batch.num_rows() {
            if columns.iter().all(|c| c.is_valid(i) && c.value(i).is_finite()) {
                data.extend(columns.iter().map(|c| c.value(i)));
                rows += 1;
            }
        }
    }
    Array2::from_shape_vec((rows, dims), data).unwrap_or_else(|_| Array2::zeros((0, dims)))
}

fn elbow(points: Array2<f64>, k_min: usize, k_max: usize, seed: u64) -> Result<Vec<ArrayRef>> {
    if k_max > points.nrows() {
        return exec_err!(
            "kmeans_elbow: k_max = {k_max} is more than the {} rows with complete features; lower k_max",
            points.nrows()
        );
    }
    let sorted = gather(points.view(), &canonical_order(points.view()));
    let scaled = apply_scaler(sorted.view(), &fit_scaler(sorted.view(), Standardize::Zscore));
    let mut ks = Vec::new();
    let mut inertias = Vec::new();
    let mut silhouettes = Vec::new();
    let mut db = Vec::new();
    let mut ch = Vec::new();
    for k in k_min..=k_max {
        let mut params = KMeansParams::new(k);
        params.seed = seed;
        let checked = match params.check(scaled.nrows(), scaled.ncols()) {
            Ok(checked) => checked,
            Err(message) => return exec_err!("kmeans_elbow: {message}"),
        };
        let threads = crate::common::kernel_threads();
        let result = fit(scaled.view(), &checked, threads);
        let clusters = result.sizes.len();
        ks.push(k as i64);
        inertias.push(result.inertia);
        silhouettes.push(if scaled.nrows() > SILHOUETTE_SAMPLE {
            sampled_silhouette_score(scaled.view(), &result.labels, SILHOUETTE_SAMPLE, seed, threads)
        } else {
            silhouette_score(scaled.view(), &result.labels, clusters, threads)
        });
        db.push(davies_bouldin(scaled.view(), &result.labels, clusters));
        ch.push(calinski_harabasz(scaled.view(), &result.labels, clusters));
    }
    let x: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let knee = kneedle::knee(&x, &inertias);
    let is_knee: BooleanArray = (0..ks.len()).map(|i| Some(knee == Some(i))).collect();
    Ok(vec![
        Arc::new(Int64Array::from(ks)),
        Arc::new(Float64Array::from(inertias)),
        Arc::new(Float64Array::from(silhouettes)),
        Arc::new(Float64Array::from(db)),
        Arc::new(Float64Array::from(ch)),
        Arc::new(is_knee),
    ])
}
