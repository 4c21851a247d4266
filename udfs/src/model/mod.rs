//! k-means models in SQL: the scoring functions, `model_centroids`, the statements' docs, and
//! the store that reads and writes model files in the session's models folder. Training and
//! the file format are in `segsql_algo::model`.

pub mod kmeans_assign;
pub mod kmeans_distance;
pub mod model_centroids;
pub mod scoring;
pub mod statements;
pub mod store;

pub use segsql_algo::model::{ClvModel, FORMAT_VERSION, KMeansModel, Model, Scaler, Standardize, TrainOptions};
pub use store::ModelStore;

/// Trains a model as `CREATE MODEL` does, on as many threads as the runtime running it.
pub fn train_kmeans(
    name: &str,
    features: Vec<String>,
    points: ndarray::ArrayView2<f64>,
    skipped: u64,
    options: &TrainOptions,
) -> Result<KMeansModel, String> {
    segsql_algo::model::train_kmeans(name, features, points, skipped, options, crate::common::kernel_threads())
        .map_err(|e| e.to_string())
}
