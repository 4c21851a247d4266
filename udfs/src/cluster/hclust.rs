//! `hclust(features, k [, linkage]) OVER (...)`: agglomerative clusters of each window
//! partition.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use crate::common::constant::{count_arg, text_arg};
use crate::common::features::{check_feature_type, label_field, label_partition};
use crate::function::CLUSTER_SECTION;
use segsql_algo::cluster::hierarchical::{HclustParams, Linkage, MAX_ROWS, hclust};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        &*format!(
            "Agglomerative (hierarchical) clusters of the rows of each window partition, cut at k \
             clusters and numbered 1 to k by size, largest first (ties: the cluster with the \
             smallest point first). Linkage 'ward' (default) merges the pair that least increases \
             the within-cluster variance; 'complete', 'average' and 'single' use the largest, mean \
             and smallest distance between members. Euclidean distances, as in scikit-learn's \
             AgglomerativeClustering and scipy. It keeps all pairwise distances in memory, so a \
             partition may have at most {MAX_ROWS} rows with features (1.6 GB); cluster a sample or \
             use kmeans beyond that. Rows whose features are NULL, NaN or infinite get NULL."
        ),
        "hclust(features, k [, linkage]) OVER ([PARTITION BY ...])",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("k", "The number of clusters, a constant from 1 to the number of rows with features.")
    .with_argument("linkage", "'ward' (default), 'complete', 'average' or 'single'.")
    .with_sql_example(
        "SELECT cluster, count(*) AS customers\nFROM (\n  SELECT hclust([recency_days / 30.0, frequency], 3, 'average') OVER () AS cluster\n  FROM rfm(sample.orders, customer_id, order_ts, amount)\n  WHERE customer_id <= 1000\n)\nGROUP BY cluster ORDER BY cluster;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Hclust {
    signature: Signature,
}

impl Hclust {
    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(Hclust { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl WindowUDFImpl for Hclust {
    fn name(&self) -> &str {
        "hclust"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, _] | [features, _, _] => {
                check_feature_type("hclust", features)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!("hclust: expected hclust(features, k [, linkage]), got {} arguments", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let k = count_arg("hclust", args.input_exprs(), 1, "k", 1, None)? as usize;
        let linkage = match text_arg("hclust", args.input_exprs(), 2, "linkage")? {
            None => Linkage::Ward,
            Some(name) => match Linkage::parse(&name) {
                Some(linkage) => linkage,
                None => return plan_err!("hclust: unknown linkage '{name}'; use one of {}", Linkage::NAMES),
            },
        };
        Ok(Box::new(HclustEvaluator { k, linkage }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(label_field(field_args.name()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct HclustEvaluator {
    k: usize,
    linkage: Linkage,
}

impl PartitionEvaluator for HclustEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        label_partition("hclust", &values[0], |points| {
            let checked = match (HclustParams { k: self.k, linkage: self.linkage }).check(points.nrows()) {
                Ok(checked) => checked,
                Err(message) => return exec_err!("hclust: {message}"),
            };
            Ok(hclust(points, &checked, crate::common::kernel_threads()).iter().map(|&l| l as i64 + 1).collect())
        })
    }
}
