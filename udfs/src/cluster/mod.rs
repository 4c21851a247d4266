//! Clustering, cluster validation and k-means models (SPEC 3.2).

pub mod calinski_harabasz;
pub mod davies_bouldin;
pub mod dbscan;
pub mod hclust;
pub mod kmeans;
pub mod kmeans_elbow;
pub mod points_accumulator;
pub mod silhouette;
pub mod silhouette_sample;
