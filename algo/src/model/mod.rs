//! k-means models: training, and the JSON file format they are saved in. Reading and writing
//! the files is the caller's (the SQL glue's model store).

pub mod format;
pub mod train;

pub use format::{Cluster, FORMAT_VERSION, KMeansModel, ModelOptions, Scaler, Standardize};
pub use train::{TrainOptions, apply_scaler, fit_scaler, train_kmeans};
