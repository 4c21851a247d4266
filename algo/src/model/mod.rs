//! Models: k-means training, and the JSON file formats of k-means and CLV models. Reading and writing
//! the files is the caller's (the SQL glue's model store).

pub mod clv;
pub mod format;
pub mod logistic;
pub mod train;

pub use clv::{ClvModel, Parameter};
pub use format::{Cluster, FORMAT_VERSION, KMeansModel, Model, ModelOptions, Scaler, Standardize};
pub use logistic::LogisticModel;
pub use train::{TrainOptions, apply_scaler, fit_scaler, train_kmeans};
