//! Training a k-means model: scale the features, fit, and describe the result.

use ndarray::{Array2, ArrayView2};

use super::format::{Cluster, FORMAT_VERSION, KMeansModel, ModelOptions, Scaler, Standardize};
use crate::cluster::kmeans::{Init, KMeansParams, fit};
use crate::cluster::{canonical_order, gather};
use crate::error::AlgoError;
use crate::parallel::Threads;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub standardize: Standardize,
    /// Starting centres in the features' own units (row-major), and where they came from.
    pub init: Option<(String, Vec<f64>)>,
}

impl TrainOptions {
    /// k-means's own defaults ([`KMeansParams::new`]), no scaling, k-means++ starts.
    pub fn new(k: usize) -> Self {
        let KMeansParams { n_init, max_iter, tol, seed, .. } = KMeansParams::new(k);
        TrainOptions { k, n_init, max_iter, tol, seed, standardize: Standardize::None, init: None }
    }
}

/// Fits the scaler on `points` (sums in the order given).
pub fn fit_scaler(points: ArrayView2<f64>, method: Standardize) -> Scaler {
    let dims = points.ncols();
    let n = points.nrows() as f64;
    let (center, scale) = match method {
        Standardize::None => (vec![0.0; dims], vec![1.0; dims]),
        Standardize::Zscore => {
            let mean: Vec<f64> = points.columns().into_iter().map(|c| c.iter().sum::<f64>() / n).collect();
            let std: Vec<f64> = points
                .columns()
                .into_iter()
                .zip(&mean)
                .map(|(c, m)| (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt())
                .collect();
            (mean, std)
        }
        Standardize::Minmax => {
            let min: Vec<f64> =
                points.columns().into_iter().map(|c| c.iter().copied().fold(f64::INFINITY, f64::min)).collect();
            let max: Vec<f64> =
                points.columns().into_iter().map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            (min.clone(), max.iter().zip(&min).map(|(a, b)| a - b).collect())
        }
    };
    // A constant feature carries no information; scale 1 keeps it finite, as scikit-learn does.
    let scale = scale.into_iter().map(|s| if s == 0.0 || !s.is_finite() { 1.0 } else { s }).collect();
    Scaler { method, center, scale }
}

pub fn apply_scaler(points: ArrayView2<f64>, scaler: &Scaler) -> Array2<f64> {
    let mut scaled = points.to_owned();
    for mut row in scaled.rows_mut() {
        for ((v, c), s) in row.iter_mut().zip(&scaler.center).zip(&scaler.scale) {
            *v = (*v - c) / s;
        }
    }
    scaled
}

/// Trains a model on `points` (rows with complete features only). Errors are messages
/// for the caller to prefix with the statement's name.
pub fn train_kmeans(
    name: &str,
    features: Vec<String>,
    points: ArrayView2<f64>,
    skipped: u64,
    options: &TrainOptions,
    threads: Threads,
) -> Result<KMeansModel, AlgoError> {
    if points.nrows() == 0 {
        return Err(if skipped > 0 { AlgoError::AllRowsSkipped { skipped } } else { AlgoError::NoRows });
    }
    let sorted = gather(points, &canonical_order(points));
    let scaler = fit_scaler(sorted.view(), options.standardize);
    let scaled = apply_scaler(sorted.view(), &scaler);
    let dims = features.len();
    let mut params = KMeansParams::new(options.k);
    params.n_init = options.n_init;
    params.max_iter = options.max_iter;
    params.tol = options.tol;
    params.seed = options.seed;
    if let Some((_, centres)) = &options.init {
        let mut scaled_centres = vec![0.0; centres.len()];
        for (raw, out) in centres.chunks(dims.max(1)).zip(scaled_centres.chunks_mut(dims.max(1))) {
            scaler.scale_row(raw, out);
        }
        params.init = Init::Centroids(scaled_centres);
    }
    let checked = params.check(scaled.nrows(), dims)?;
    let result = fit(scaled.view(), &checked, threads);
    let clusters = result
        .sizes
        .iter()
        .enumerate()
        .map(|(j, &size)| {
            let centroid_scaled = result.centroids[j * dims..(j + 1) * dims].to_vec();
            Cluster { cluster_id: j as u32 + 1, size, centroid: scaler.unscale_row(&centroid_scaled), centroid_scaled }
        })
        .collect();
    Ok(KMeansModel {
        format_version: FORMAT_VERSION,
        segsql_version: env!("CARGO_PKG_VERSION").to_string(),
        name: name.to_string(),
        algorithm: "kmeans".to_string(),
        features,
        standardize: scaler,
        options: ModelOptions {
            k: options.k,
            n_init: options.n_init,
            max_iter: options.max_iter,
            tol: options.tol,
            seed: options.seed,
            init: options.init.as_ref().map_or_else(|| "k-means++".to_string(), |(from, _)| from.clone()),
        },
        training_rows: points.nrows() as u64,
        skipped_rows: skipped,
        inertia: result.inertia,
        iterations: result.iterations,
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn zscore_uses_the_population_deviation() {
        let points = array![[1.0, 5.0], [3.0, 5.0]];
        let scaler = fit_scaler(points.view(), Standardize::Zscore);
        assert_eq!(scaler.center, vec![2.0, 5.0]);
        // The constant feature gets scale 1.
        assert_eq!(scaler.scale, vec![1.0, 1.0]);
    }

    #[test]
    fn model_round_trips_through_json_to_the_bit() {
        let points = array![[0.0, 10.0], [0.1, 11.0], [5.0, 50.0], [5.2, 52.0], [5.1, 49.0]];
        let mut options = TrainOptions::new(2);
        options.standardize = Standardize::Minmax;
        let model = train_kmeans("m", vec!["a".into(), "b".into()], points.view(), 1, &options, Threads::ONE).unwrap();
        assert_eq!(model.clusters[0].size, 3);
        let text = model.to_json();
        assert_eq!(KMeansModel::from_json(&text).unwrap(), model);
        // Raw centroids are the means in the features' own units.
        assert!((model.clusters[1].centroid[0] - 0.05).abs() < 1e-12);
    }

    #[test]
    fn newer_and_damaged_files_are_refused() {
        assert!(KMeansModel::from_json(r#"{"format_version": 99}"#).unwrap_err().to_string().contains("newer segsql"));
        assert!(KMeansModel::from_json("{").unwrap_err().to_string().contains("not a segsql model file"));
    }
}
