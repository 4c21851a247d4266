//! `silhouette_sample(features, cluster) OVER (...)`: each row's silhouette coefficient.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};
use ndarray::Array2;

use crate::common::features::{check_feature_type, check_label_type, features_from_array, labels_from_array};
use crate::function::CLUSTER_SECTION;
use segsql_algo::cluster::silhouette::silhouette_samples;
use segsql_algo::cluster::{compare_rows, dense_labels, gather};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "Each row's silhouette coefficient s(i) = (b - a) / max(a, b) within its window \
         partition, where a is the row's mean Euclidean distance to the rest of its cluster and b \
         the smallest mean distance to another cluster: near 1 sits well, near 0 on a border, \
         below 0 probably in the wrong cluster. A row alone in its cluster scores 0. Equal to \
         scikit-learn's silhouette_samples; the mean over the partition is silhouette(). NULL \
         for rows with NULL cluster or NULL, NaN or infinite features, and for every row when \
         there are fewer than two clusters. Exact, in memory linear in the rows.",
        "silhouette_sample(features, cluster) OVER ([PARTITION BY ...])",
    )
    .with_argument("features", "An array of numbers, the same length on every row.")
    .with_argument("cluster", "The row's cluster label, an integer (such as the output of kmeans).")
    .with_sql_example(
        "WITH clustered AS (\n  SELECT customer_id, f, kmeans(f, 4) OVER () AS cluster\n  FROM (SELECT customer_id, [recency_days / 30.0, frequency, monetary / 100.0] AS f\n        FROM rfm(sample.orders, customer_id, order_ts, amount))\n)\nSELECT customer_id, round(silhouette_sample(f, cluster) OVER (), 3) AS s\nFROM clustered ORDER BY s LIMIT 5;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SilhouetteSample {
    signature: Signature,
}

impl SilhouetteSample {
    pub fn udwf() -> Arc<WindowUDF> {
        Arc::new(WindowUDF::from(SilhouetteSample { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

impl WindowUDFImpl for SilhouetteSample {
    fn name(&self) -> &str {
        "silhouette_sample"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [features, cluster] => {
                check_feature_type("silhouette_sample", features)?;
                check_label_type("silhouette_sample", cluster)?;
                Ok(arg_types.to_vec())
            }
            _ => plan_err!(
                "silhouette_sample: expected silhouette_sample(features, cluster), got {} arguments",
                arg_types.len()
            ),
        }
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(SilhouetteSampleEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Float64, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[derive(Debug)]
struct SilhouetteSampleEvaluator;

impl PartitionEvaluator for SilhouetteSampleEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let features = features_from_array("silhouette_sample", &values[0])?;
        let labels = labels_from_array("silhouette_sample", &values[1])?;
        // Keep rows with both features and a label, then put them in value order so the
        // sums run in the same order whatever order the rows came in.
        let keep: Vec<usize> = (0..features.rows.len()).filter(|&i| labels.is_valid(features.rows[i])).collect();
        let kept = features.matrix.select(ndarray::Axis(0), &keep);
        // Ties between identical points go by label, so the order is fully determined.
        let kept_labels: Vec<i64> = keep.iter().map(|&i| labels.value(features.rows[i])).collect();
        let standard = kept.as_standard_layout();
        let data = standard.as_slice().unwrap_or_default();
        let dims = kept.ncols();
        let mut order: Vec<u32> = (0..keep.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            compare_rows(&data[a * dims..(a + 1) * dims], &data[b * dims..(b + 1) * dims])
                .then(kept_labels[a].cmp(&kept_labels[b]))
        });
        let points: Array2<f64> = gather(kept.view(), &order);
        let input_rows: Vec<usize> = order.iter().map(|&i| features.rows[keep[i as usize]]).collect();
        let raw_labels: Vec<i64> = input_rows.iter().map(|&r| labels.value(r)).collect();
        let (dense, clusters) = dense_labels(&raw_labels);
        let mut out = vec![None; num_rows];
        if let Some(samples) = silhouette_samples(points.view(), &dense, clusters, crate::common::kernel_threads()) {
            for (&row, s) in input_rows.iter().zip(samples) {
                out[row] = Some(s);
            }
        }
        Ok(Arc::new(Float64Array::from(out)))
    }
}
