//! The stability of k-means under resampling: fit on two disjoint seeded halves of the
//! rows, label every row with both fits, and measure their agreement (adjusted Rand). A k
//! that reflects structure in the data gives the same partition from either half (close to
//! 1); a k that splits a blob arbitrarily does not.

use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::agreement::{Contingency, adjusted_rand};
use crate::cluster::kmeans::{self, KMeansParams, nearest};
use crate::cluster::{canonical_order, gather};
use crate::error::AlgoError;
use crate::model::format::Standardize;
use crate::model::train::{apply_scaler, fit_scaler};
use crate::parallel::Threads;

/// Options of [`kmeans_stability`].
#[derive(Debug, Clone, PartialEq)]
pub struct StabilityParams {
    pub k: usize,
    pub resamples: usize,
    pub seed: u64,
}

impl StabilityParams {
    pub fn new(k: usize) -> Self {
        StabilityParams { k, resamples: 10, seed: kmeans::DEFAULT_SEED }
    }
}

/// One resample's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Resample {
    pub adjusted_rand: f64,
    /// Rows in each half.
    pub half_rows: usize,
}

/// Per resample, the adjusted Rand index between the labels two k-means fits (on two
/// disjoint random halves of the rows) give every row. The points are sorted first (so the
/// halves do not depend on the rows' arrival order) and z-scored (as `kmeans_elbow` does).
pub fn kmeans_stability(
    points: ArrayView2<f64>,
    params: &StabilityParams,
    threads: Threads,
) -> Result<Vec<Resample>, AlgoError> {
    if params.k < 1 {
        return Err(AlgoError::parameter("k", "at least 1", params.k));
    }
    if !(1..=10_000).contains(&params.resamples) {
        return Err(AlgoError::parameter("resamples", "from 1 to 10000", params.resamples));
    }
    let n = points.nrows();
    let half = n / 2;
    if half < params.k {
        return Err(AlgoError::Drift(format!(
            "each half sample has {half} of the {n} rows, fewer than k = {}; lower k or give at least {} rows",
            params.k,
            2 * params.k
        )));
    }
    let dims = points.ncols();
    let sorted = gather(points, &canonical_order(points));
    let scaled = apply_scaler(sorted.view(), &fit_scaler(sorted.view(), Standardize::Zscore));
    let standard = scaled.as_standard_layout();
    let points = standard.view();
    let data = standard.as_slice().unwrap_or_default();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut results = Vec::with_capacity(params.resamples);
    for _ in 0..params.resamples {
        order.shuffle(&mut rng);
        let labels: Vec<Vec<u32>> = [&order[..half], &order[half..2 * half]]
            .into_iter()
            .map(|rows| {
                let mut options = KMeansParams::new(params.k);
                options.seed = rng.next_u64();
                let checked = options.check(half, dims)?;
                let fit = kmeans::fit(gather(points, rows).view(), &checked, threads);
                Ok(data.chunks_exact(dims.max(1)).map(|p| nearest(p, &fit.centroids, dims).0).collect())
            })
            .collect::<Result<_, AlgoError>>()?;
        let table = Contingency::new(&labels[0], &labels[1]);
        results.push(Resample { adjusted_rand: adjusted_rand(&table), half_rows: half });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn blobs() -> Array2<f64> {
        // Three tight, far-apart groups of 20 points each.
        let mut values = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (100.0, 0.0), (0.0, 100.0)] {
            for i in 0..20 {
                values.push(cx + (i % 5) as f64 * 0.1);
                values.push(cy + (i / 5) as f64 * 0.1);
            }
        }
        Array2::from_shape_vec((60, 2), values).unwrap()
    }

    #[test]
    fn clear_structure_is_stable() {
        let points = blobs();
        let mut params = StabilityParams::new(3);
        params.resamples = 5;
        let results = kmeans_stability(points.view(), &params, Threads::ONE).unwrap();
        assert_eq!(results.len(), 5);
        assert!(results.iter().all(|r| r.adjusted_rand == 1.0 && r.half_rows == 30), "{results:?}");
        assert_eq!(results, kmeans_stability(points.view(), &params, Threads::new(2)).unwrap());
    }

    #[test]
    fn bad_parameters_say_what_to_fix() {
        let points = blobs();
        let mut params = StabilityParams::new(3);
        params.resamples = 0;
        assert!(kmeans_stability(points.view(), &params, Threads::ONE).unwrap_err().to_string().contains("resamples"));
        let error = kmeans_stability(points.view(), &StabilityParams::new(31), Threads::ONE).unwrap_err().to_string();
        assert!(error.contains("30 of the 60 rows, fewer than k = 31"), "{error}");
    }
}
