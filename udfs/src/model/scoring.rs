//! What `kmeans_assign` and `kmeans_distance` share: read the model named by a constant,
//! scale each row's features with the model's scaler, and find the nearest centroid.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarFunctionArgs};
use ndarray::ArrayView2;

use super::ModelStore;
use crate::common::constant::text_value;
use crate::common::features::{check_feature_type, features_from_array, scatter};
use segsql_algo::cluster::kmeans::nearest;
use segsql_algo::model::KMeansModel;

/// What a scoring function returns for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    Cluster,
    Distance,
}

pub fn model_name(function: &str, value: Option<&ScalarValue>) -> Result<String> {
    match value.and_then(text_value) {
        Some(name) => Ok(name.to_string()),
        None => plan_err!(
            "{function}: the first argument must be the model's name as a constant string, such as 'customer_segments'"
        ),
    }
}

pub fn coerce(function: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [name, features]
            if name.is_null() || matches!(name, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            check_feature_type(function, features)?;
            Ok(arg_types.to_vec())
        }
        [_, _] => plan_err!("{function}: the first argument must be the model's name as a string"),
        _ => plan_err!("{function}: expected {function}('model_name', features), got {} arguments", arg_types.len()),
    }
}

/// Checks while planning that the model exists, so a misspelt name fails before any data
/// is read. The folder comes from the session's settings.
pub fn check_model(function: &str, args: &[Expr], info: &SimplifyContext) -> Result<()> {
    if let Some(Expr::Literal(value, _)) = args.first() {
        let name = model_name(function, Some(value))?;
        ModelStore::for_session(info.config_options()).load_kmeans(function, &name)?;
    }
    Ok(())
}

/// Each point's cluster id and distance to that cluster's centroid under `model`; rows are
/// points, in any memory layout.
pub fn score(model: &KMeansModel, features: ArrayView2<f64>) -> Vec<(i64, f64)> {
    let centres = model.scaled_centroids();
    let mut raw = vec![0.0; model.dims()];
    let mut scaled = vec![0.0; model.dims()];
    features
        .rows()
        .into_iter()
        .map(|point| {
            // Copying the row works for every layout; a view whose rows are not contiguous
            // must not fall back to stale values.
            for (to, from) in raw.iter_mut().zip(point.iter()) {
                *to = *from;
            }
            model.standardize.scale_row(&raw, &mut scaled);
            let (nearest, squared) = nearest(&scaled, &centres, model.dims());
            (model.clusters[nearest as usize].cluster_id as i64, squared.sqrt())
        })
        .collect()
}

pub fn invoke(function: &str, args: ScalarFunctionArgs, output: Output) -> Result<ColumnarValue> {
    let name = match &args.args[0] {
        ColumnarValue::Scalar(value) => model_name(function, Some(value))?,
        ColumnarValue::Array(_) => model_name(function, None)?,
    };
    let model = ModelStore::for_session(&args.config_options).load_kmeans(function, &name)?;
    let features: ArrayRef = args.args[1].to_array(args.number_rows)?;
    let features = features_from_array(function, &features)?;
    if !features.rows.is_empty() && features.dims() != model.dims() {
        return exec_err!(
            "{function}: model '{name}' has {} features ({}), but the arrays have {} values; pass them in that order",
            model.dims(),
            model.features.join(", "),
            features.dims()
        );
    }
    let scores = score(&model, features.matrix.view());
    let rows = args.number_rows;
    let result: ArrayRef = match output {
        Output::Cluster => {
            let clusters: Vec<i64> = scores.iter().map(|s| s.0).collect();
            Arc::new(Int64Array::from(scatter(rows, &features.rows, &clusters)))
        }
        Output::Distance => {
            let distances: Vec<f64> = scores.iter().map(|s| s.1).collect();
            Arc::new(Float64Array::from(scatter(rows, &features.rows, &distances)))
        }
    };
    Ok(ColumnarValue::Array(result))
}

/// A scoring function: `$name('model_name', features)` giving `$output`, documented by `$doc`.
/// The two scoring functions differ only in what they return, as DataFusion's
/// `make_math_unary_udf!` functions differ only in their kernel.
macro_rules! make_scoring_udf {
    ($udf:ident, $name:literal, $output:expr, $return_type:expr, $doc:expr) => {
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $udf {
            signature: datafusion::logical_expr::Signature,
        }

        impl $udf {
            pub fn udf() -> std::sync::Arc<datafusion::logical_expr::ScalarUDF> {
                std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from($udf {
                    signature: datafusion::logical_expr::Signature::user_defined(
                        datafusion::logical_expr::Volatility::Stable,
                    ),
                }))
            }
        }

        impl datafusion::logical_expr::ScalarUDFImpl for $udf {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::DataType>> {
                $crate::model::scoring::coerce($name, arg_types)
            }

            fn return_type(
                &self,
                _arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::DataType> {
                Ok($return_type)
            }

            // The type never depends on the model; this only refuses a name that is not a
            // constant while planning.
            fn return_field_from_args(
                &self,
                args: datafusion::logical_expr::ReturnFieldArgs,
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::FieldRef> {
                $crate::model::scoring::model_name($name, args.scalar_arguments.first().copied().flatten())?;
                Ok(std::sync::Arc::new(datafusion::arrow::datatypes::Field::new($name, $return_type, true)))
            }

            fn simplify(
                &self,
                args: Vec<datafusion::logical_expr::Expr>,
                info: &datafusion::logical_expr::simplify::SimplifyContext,
            ) -> datafusion::common::Result<datafusion::logical_expr::simplify::ExprSimplifyResult> {
                $crate::model::scoring::check_model($name, &args, info)?;
                Ok(datafusion::logical_expr::simplify::ExprSimplifyResult::Original(args))
            }

            fn invoke_with_args(
                &self,
                args: datafusion::logical_expr::ScalarFunctionArgs,
            ) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
                $crate::model::scoring::invoke($name, args, $output)
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                Some(&$doc)
            }
        }
    };
}

pub(crate) use make_scoring_udf;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, s};
    use segsql_algo::model::{Cluster, ModelOptions, Scaler, Standardize};

    fn model() -> KMeansModel {
        let cluster = |cluster_id: u32, centroid: Vec<f64>| Cluster {
            cluster_id,
            size: 1,
            centroid_scaled: centroid.clone(),
            centroid,
        };
        KMeansModel {
            format_version: 1,
            segsql_version: String::new(),
            name: "m".into(),
            algorithm: "kmeans".into(),
            features: vec!["x".into(), "y".into()],
            standardize: Scaler { method: Standardize::None, center: vec![0.0, 0.0], scale: vec![1.0, 1.0] },
            options: ModelOptions { k: 2, n_init: 1, max_iter: 1, tol: 0.0, seed: 0, init: String::new() },
            training_rows: 2,
            skipped_rows: 0,
            inertia: 0.0,
            iterations: 1,
            clusters: vec![cluster(1, vec![0.0, 0.0]), cluster(2, vec![10.0, 100.0])],
        }
    }

    #[test]
    fn rows_that_are_not_contiguous_are_scored_by_their_own_values() {
        // Columns stored in reverse: each row is a strided view, which a slice cannot
        // borrow. Row 1 is (10, 100), near cluster 2, and must not reuse row 0's values.
        let stored = Array2::from_shape_vec((2, 2), vec![0.0, 1.0, 100.0, 10.0]).unwrap();
        let features = stored.slice(s![.., ..;-1]);
        assert!(features.row(0).as_slice().is_none());
        assert_eq!(score(&model(), features), vec![(1, 1.0), (2, 0.0)]);
    }
}
