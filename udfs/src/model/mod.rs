//! k-means models: training, the JSON file format, and the store that reads and writes
//! them in the models directory.

pub mod format;
pub mod kmeans_assign;
pub mod kmeans_distance;
pub mod model_centroids;
pub mod scoring;
pub mod statements;
pub mod store;
pub mod train;

pub use format::{FORMAT_VERSION, KMeansModel, Scaler, Standardize};
pub use store::ModelStore;
pub use train::{TrainOptions, train_kmeans};
