//! What `kmeans_assign` and `kmeans_distance` share: read the model named by a constant,
//! scale each row's features with the model's scaler, and find the nearest centroid.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};

use super::ModelStore;
use crate::cluster::algo::kmeans::{nearest, transpose};
use crate::cluster::features::{check_feature_type, features_from_array};

/// What a scoring function returns for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    Cluster,
    Distance,
}

pub fn model_name(function: &str, value: Option<&ScalarValue>) -> Result<String> {
    match value {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
            Ok(s.clone())
        }
        _ => plan_err!(
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

/// Checks at planning time that the model exists and can be read.
pub fn return_field(function: &str, store: &ModelStore, args: ReturnFieldArgs, output: Output) -> Result<FieldRef> {
    let name = model_name(function, args.scalar_arguments.first().copied().flatten())?;
    store.load(function, &name)?;
    let data_type = match output {
        Output::Cluster => DataType::Int64,
        Output::Distance => DataType::Float64,
    };
    Ok(Arc::new(Field::new(function, data_type, true)))
}

pub fn invoke(function: &str, store: &ModelStore, args: ScalarFunctionArgs, output: Output) -> Result<ColumnarValue> {
    let name = match &args.args[0] {
        ColumnarValue::Scalar(value) => model_name(function, Some(value))?,
        ColumnarValue::Array(_) => model_name(function, None)?,
    };
    let model = store.load(function, &name)?;
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
    let k = model.clusters.len();
    let centres_t = transpose(&model.scaled_centroids(), k, model.dims());
    let mut scaled = vec![0.0; model.dims()];
    let mut scratch = vec![0.0; k];
    let rows = args.number_rows;
    let result: ArrayRef = match output {
        Output::Cluster => {
            let mut out = vec![None; rows];
            for (point, &row) in features.matrix.rows().into_iter().zip(&features.rows) {
                model.standardize.scale_row(point.as_slice().unwrap_or_default(), &mut scaled);
                out[row] =
                    Some(model.clusters[nearest(&scaled, &centres_t, k, &mut scratch).0 as usize].cluster_id as i64);
            }
            Arc::new(Int64Array::from(out))
        }
        Output::Distance => {
            let mut out = vec![None; rows];
            for (point, &row) in features.matrix.rows().into_iter().zip(&features.rows) {
                model.standardize.scale_row(point.as_slice().unwrap_or_default(), &mut scaled);
                out[row] = Some(nearest(&scaled, &centres_t, k, &mut scratch).1.sqrt());
            }
            Arc::new(Float64Array::from(out))
        }
    };
    Ok(ColumnarValue::Array(result))
}

/// Scoring functions compare equal when they read the same models directory.
pub fn store_key(store: &ModelStore) -> PathBuf {
    store.dir().to_path_buf()
}
