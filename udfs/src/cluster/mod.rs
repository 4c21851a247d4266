//! Clustering, cluster validation and k-means models (SPEC 3.2).

pub mod algo;
