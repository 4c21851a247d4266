//! `model_compare(old, new [, source])`: how the clusters of a retrained k-means model
//! relate to the previous model's.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Documentation, Expr, JoinType, LogicalPlanBuilder, cast, col, lit, when};
use datafusion::prelude::ident;
use segsql_algo::governance::match_one_to_one;
use segsql_algo::model::KMeansModel;

use crate::common::args::{check_arity, table_arg};
use crate::common::constant::string_arg;
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::model::ModelStore;
use crate::model::kmeans_assign::KMeansAssign;
use crate::plan::view;

const SYNTAX: &str = "model_compare(old_model, new_model [, source])";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "Compares two k-means models of the same features (last month's and the retrained one): \
         their clusters are matched one to one by centroid distance (the assignment with the \
         smallest total distance, measured in the old model's scaled space, so z-scored features \
         count alike), and each pair gets a row: old_cluster, new_cluster, centroid_shift (the \
         distance between the matched centroids, in the old model's scaled units: standard \
         deviations for zscore), old_size and new_size (training rows), size_change, and \
         share_kept: the share of the source's rows in the old cluster that the new model puts \
         in the matched cluster (NULL without a source). Clusters left over when the models \
         have different k get a row with the other side NULL.",
        SYNTAX,
    )
    .with_argument("old_model", "The previous model's name, a string.")
    .with_argument("new_model", "The retrained model's name, a string.")
    .with_argument("source", "Optional: a table or view with the models' feature columns, scored with both models for share_kept.")
    .with_sql_example(
        "CREATE VIEW customer_rfm AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount);\nCREATE OR REPLACE MODEL seg_a USING kmeans (k = 4, seed = 1, standardize = 'zscore') AS SELECT recency_days, frequency, monetary FROM customer_rfm;\nCREATE OR REPLACE MODEL seg_b USING kmeans (k = 4, seed = 2, standardize = 'zscore') AS SELECT recency_days, frequency, monetary FROM customer_rfm WHERE customer_id % 2 = 0;\nSELECT old_cluster, new_cluster, round(centroid_shift, 3) AS shift, size_change, round(share_kept, 3) AS share_kept\nFROM model_compare('seg_a', 'seg_b', customer_rfm) ORDER BY old_cluster;",
    )
    .build()
});

#[derive(Debug)]
pub struct ModelCompare;

impl DocumentedTableFunction for ModelCompare {
    fn name(&self) -> &str {
        "model_compare"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

/// A centroid in the old model's scaled space.
fn scaled(old: &KMeansModel, centroid: &[f64]) -> Vec<f64> {
    let scaler = &old.standardize;
    centroid.iter().zip(&scaler.center).zip(&scaler.scale).map(|((v, c), s)| (v - c) / s).collect()
}

/// The matched pairs: (old cluster, new cluster, shift), one to one, then the leftovers.
fn pairs(old: &KMeansModel, new: &KMeansModel) -> Vec<(Option<usize>, Option<usize>, Option<f64>)> {
    let old_points: Vec<Vec<f64>> = old.clusters.iter().map(|c| scaled(old, &c.centroid)).collect();
    let new_points: Vec<Vec<f64>> = new.clusters.iter().map(|c| scaled(old, &c.centroid)).collect();
    let distance = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let cost: Vec<f64> = old_points.iter().flat_map(|a| new_points.iter().map(|b| distance(a, b))).collect();
    let matched = match_one_to_one(&cost, old_points.len(), new_points.len());
    let mut rows: Vec<_> =
        matched.iter().map(|&(i, j)| (Some(i), Some(j), Some(cost[i * new_points.len() + j]))).collect();
    rows.extend((0..old_points.len()).filter(|i| !matched.iter().any(|m| m.0 == *i)).map(|i| (Some(i), None, None)));
    rows.extend((0..new_points.len()).filter(|j| !matched.iter().any(|m| m.1 == *j)).map(|j| (None, Some(j), None)));
    rows
}

impl TableFunctionImpl for ModelCompare {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "model_compare";
        check_arity(F, &args, 2, 3, SYNTAX)?;
        let name = |index, role| -> Result<String> {
            match string_arg(F, &args, index, role)? {
                Some(name) => Ok(name),
                None => plan_err!(
                    "{F}: give the {role}'s name as a string, such as model_compare('segments_2025_10', 'segments_2025_11')"
                ),
            }
        };
        let (old_name, new_name) = (name(0, "old_model")?, name(1, "new_model")?);
        let store = ModelStore::for_session(args.session().config().options());
        let old = store.load_kmeans(F, &old_name)?;
        let new = store.load_kmeans(F, &new_name)?;
        if old.features != new.features {
            return plan_err!(
                "{F}: the models have different features ('{old_name}': {}; '{new_name}': {}); compare models trained on the same columns",
                old.features.join(", "),
                new.features.join(", ")
            );
        }
        let finite = |m: &KMeansModel| m.clusters.iter().all(|c| c.centroid.iter().all(|v| v.is_finite()));
        if !(finite(&old) && finite(&new)) {
            return plan_err!("{F}: a model has centroids that are not finite numbers; retrain it");
        }
        let rows = pairs(&old, &new);
        let cluster = |model: &KMeansModel, index: Option<usize>| index.map(|i| model.clusters[i].cluster_id as i64);
        let size = |model: &KMeansModel, index: Option<usize>| index.map(|i| model.clusters[i].size as i64);
        let old_sizes: Vec<Option<i64>> = rows.iter().map(|r| size(&old, r.0)).collect();
        let new_sizes: Vec<Option<i64>> = rows.iter().map(|r| size(&new, r.1)).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("old_cluster", DataType::Int64, true),
            Field::new("new_cluster", DataType::Int64, true),
            Field::new("centroid_shift", DataType::Float64, true),
            Field::new("old_size", DataType::Int64, true),
            Field::new("new_size", DataType::Int64, true),
            Field::new("size_change", DataType::Int64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|r| cluster(&old, r.0)).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| cluster(&new, r.1)).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.2).collect::<Float64Array>()),
            Arc::new(Int64Array::from(old_sizes.clone())),
            Arc::new(Int64Array::from(new_sizes.clone())),
            Arc::new(
                old_sizes
                    .iter()
                    .zip(&new_sizes)
                    .map(|(o, n)| Some(n.unwrap_or(0) - o.unwrap_or(0)))
                    .collect::<Int64Array>(),
            ),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let table = Arc::new(MemTable::try_new(Arc::clone(&schema), vec![vec![batch]])?);
        let pairs_plan = LogicalPlanBuilder::scan("__pairs", provider_as_source(table), None)?;
        let fields: Vec<Expr> = schema.fields().iter().map(|f| col(format!("__pairs.{}", f.name()))).collect();
        if args.exprs().len() < 3 {
            let mut output = fields;
            output.push(lit(ScalarValue::Float64(None)).alias("share_kept"));
            return Ok(view(
                pairs_plan.project(output)?.build()?,
                format!("model_compare('{old_name}', '{new_name}')"),
            ));
        }
        let source = table_arg(F, &args, 2, "source")?;
        let mut features = Vec::new();
        for feature in &old.features {
            let (column, data_type) = source.column(F, "feature", feature)?;
            if !crate::common::args::is_numeric(&data_type) {
                return plan_err!("{F}: feature column '{column}' must be numeric, got {data_type}");
            }
            features.push(cast(ident(column), DataType::Float64));
        }
        let point = make_array(features);
        let assign = |model: &str| KMeansAssign::udf().call(vec![lit(model), point.clone()]);
        // The matched new cluster of each old cluster, as constants.
        let mut case = None::<datafusion::logical_expr::conditional_expressions::CaseBuilder>;
        for r in &rows {
            if let (Some(o), Some(n)) = (cluster(&old, r.0), cluster(&new, r.1)) {
                case = Some(match case {
                    None => when(col("__old").eq(lit(o)), lit(n)),
                    Some(mut builder) => builder.when(col("__old").eq(lit(o)), lit(n)),
                });
            }
        }
        let target = match case {
            Some(mut builder) => builder.otherwise(lit(ScalarValue::Int64(None)))?,
            None => lit(ScalarValue::Int64(None)),
        };
        let kept = when(col("__new").eq(target), lit(1i64)).otherwise(lit(0i64))?;
        let scored = crate::plan::scan(&source)?
            .project(vec![assign(&old_name).alias("__old"), assign(&new_name).alias("__new")])?
            .filter(col("__old").is_not_null().and(col("__new").is_not_null()))?
            .aggregate(vec![col("__old")], vec![count(lit(1i64)).alias("__rows"), sum(kept).alias("__kept")])?
            .build()?;
        let mut output = fields;
        // An old cluster with no partner in the new model has no share to keep.
        let share = cast(col("__kept"), DataType::Float64) / cast(col("__rows"), DataType::Float64);
        output.push(
            when(col("__pairs.new_cluster").is_null(), lit(ScalarValue::Float64(None)))
                .otherwise(share)?
                .alias("share_kept"),
        );
        let plan = pairs_plan
            .join(scored, JoinType::Left, (vec!["old_cluster"], vec!["__old"]), None)?
            .project(output)?
            .build()?;
        Ok(view(plan, format!("model_compare('{old_name}', '{new_name}', {})", source.reference)))
    }
}
