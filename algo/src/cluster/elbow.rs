//! The elbow table: k-means for every k in a range on z-scored points, with the validity
//! indices of each fit and the knee of the inertia curve.

use ndarray::ArrayView2;

use super::kmeans::{KMeansParams, fit};
use super::silhouette::{sampled_silhouette_score, silhouette_score};
use super::validity::{calinski_harabasz, davies_bouldin};
use super::{canonical_order, gather, kneedle};
use crate::error::AlgoError;
use crate::model::{Standardize, apply_scaler, fit_scaler};
use crate::parallel::Threads;

/// Above this many rows the silhouette is a seeded estimate on this many.
pub const SILHOUETTE_SAMPLE: usize = 10_000;

/// One k of the elbow table.
#[derive(Debug, Clone, PartialEq)]
pub struct ElbowRow {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub davies_bouldin: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub is_knee: bool,
}

/// Fits k = `k_min..=k_max` on `points` in value order (so row order never matters), each
/// from k-means++ seeded with `seed`.
pub fn elbow(
    points: ArrayView2<f64>,
    k_min: usize,
    k_max: usize,
    seed: u64,
    threads: Threads,
) -> Result<Vec<ElbowRow>, AlgoError> {
    if k_max > points.nrows() {
        return Err(AlgoError::KMaxTooLarge { k_max, rows: points.nrows() });
    }
    let sorted = gather(points, &canonical_order(points));
    let scaled = apply_scaler(sorted.view(), &fit_scaler(sorted.view(), Standardize::Zscore));
    let mut rows = Vec::new();
    for k in k_min..=k_max {
        let mut params = KMeansParams::new(k);
        params.seed = seed;
        let checked = params.check(scaled.nrows(), scaled.ncols())?;
        let result = fit(scaled.view(), &checked, threads);
        let clusters = result.sizes.len();
        let silhouette = if scaled.nrows() > SILHOUETTE_SAMPLE {
            sampled_silhouette_score(scaled.view(), &result.labels, SILHOUETTE_SAMPLE, seed, threads)
        } else {
            silhouette_score(scaled.view(), &result.labels, clusters, threads)
        };
        rows.push(ElbowRow {
            k,
            inertia: result.inertia,
            silhouette,
            davies_bouldin: davies_bouldin(scaled.view(), &result.labels, clusters),
            calinski_harabasz: calinski_harabasz(scaled.view(), &result.labels, clusters),
            is_knee: false,
        });
    }
    let x: Vec<f64> = rows.iter().map(|r| r.k as f64).collect();
    let y: Vec<f64> = rows.iter().map(|r| r.inertia).collect();
    if let Some(knee) = kneedle::knee(&x, &y) {
        rows[knee].is_knee = true;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn three_groups_bend_at_three() {
        let points = array![
            [0.0, 0.0],
            [0.0, 1.0],
            [1.0, 0.0],
            [10.0, 10.0],
            [10.0, 11.0],
            [11.0, 10.0],
            [20.0, 0.0],
            [20.0, 1.0],
            [21.0, 0.0]
        ];
        let rows = elbow(points.view(), 1, 5, 42, Threads::ONE).unwrap();
        assert_eq!(rows.iter().map(|r| r.k).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(rows.iter().position(|r| r.is_knee), Some(2));
        assert_eq!(rows[0].silhouette, None);
        assert!(rows.windows(2).all(|w| w[1].inertia <= w[0].inertia));
    }

    #[test]
    fn k_max_above_the_rows_is_refused() {
        let points = array![[0.0], [1.0]];
        let error = elbow(points.view(), 1, 3, 42, Threads::ONE).unwrap_err();
        assert_eq!(error.to_string(), "k_max = 3 is more than the 2 rows with complete features; lower k_max");
    }
}
