//! The exact silhouette in O(n) memory: points are grouped by cluster into columns, and
//! each point's mean distance to every cluster is summed straight from them, block by
//! block, never holding an n × n matrix.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// Points per parallel task.
const CHUNK: usize = 128;
/// Distances computed together before their square roots are summed.
const TILE: usize = 64;
/// Independent partial sums, so the square-root sums vectorise; their order is fixed.
const LANES: usize = 8;

/// s(i) for every point, or `None` when there are fewer than two clusters. `labels` are
/// dense, `0..clusters`. A point alone in its cluster scores 0, as in scikit-learn.
pub fn silhouette_samples(
    points: ArrayView2<f64>,
    labels: &[u32],
    clusters: usize,
    threads: Threads,
) -> Option<Vec<f64>> {
    if clusters < 2 {
        return None;
    }
    let n = points.nrows();
    let dims = points.ncols();
    // Counting sort by cluster: cluster c occupies start[c]..start[c + 1].
    let mut start = vec![0usize; clusters + 1];
    for &l in labels {
        start[l as usize + 1] += 1;
    }
    for c in 0..clusters {
        start[c + 1] += start[c];
    }
    let mut position = vec![0usize; n];
    let mut next = start.clone();
    for (i, &l) in labels.iter().enumerate() {
        position[i] = next[l as usize];
        next[l as usize] += 1;
    }
    let mut columns = vec![0.0; n * dims];
    for (i, point) in points.rows().into_iter().enumerate() {
        for (d, &v) in point.iter().enumerate() {
            columns[d * n + position[i]] = v;
        }
    }
    let by_position: Vec<usize> = {
        let mut inverse = vec![0usize; n];
        for (i, &p) in position.iter().enumerate() {
            inverse[p] = i;
        }
        inverse
    };
    let parts = map_chunks(threads, chunk_count(n, CHUNK), |chunk| {
        let mut point = vec![0.0; dims];
        let mut sums = vec![0.0; clusters];
        chunk_range(chunk, CHUNK, n)
            .map(|p| {
                for (d, v) in point.iter_mut().enumerate() {
                    *v = columns[d * n + p];
                }
                for c in 0..clusters {
                    sums[c] = distance_sum(&point, &columns, n, start[c], start[c + 1]);
                }
                let own = labels[by_position[p]] as usize;
                let own_size = start[own + 1] - start[own];
                if own_size == 1 {
                    return 0.0;
                }
                let a = sums[own] / (own_size - 1) as f64;
                let b = (0..clusters)
                    .filter(|&c| c != own && start[c + 1] > start[c])
                    .map(|c| sums[c] / (start[c + 1] - start[c]) as f64)
                    .fold(f64::INFINITY, f64::min);
                let s = (b - a) / a.max(b);
                if s.is_nan() { 0.0 } else { s }
            })
            .collect::<Vec<f64>>()
    });
    let by_sorted: Vec<f64> = parts.into_iter().flatten().collect();
    Some(position.iter().map(|&p| by_sorted[p]).collect())
}

/// The mean silhouette coefficient, or `None` with fewer than two clusters.
pub fn silhouette_score(points: ArrayView2<f64>, labels: &[u32], clusters: usize, threads: Threads) -> Option<f64> {
    let samples = silhouette_samples(points, labels, clusters, threads)?;
    Some(samples.iter().sum::<f64>() / samples.len() as f64)
}

/// The silhouette of `sample_size` points drawn with `seed` (all points when there are
/// no more than that), as scikit-learn's `silhouette_score(sample_size=...)` estimates it.
pub fn sampled_silhouette_score(
    points: ArrayView2<f64>,
    labels: &[u32],
    sample_size: usize,
    seed: u64,
    threads: Threads,
) -> Option<f64> {
    let n = points.nrows();
    if sample_size >= n {
        let clusters = labels.iter().max().map_or(0, |&m| m as usize + 1);
        return silhouette_score(points, labels, clusters, threads);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = sample(&mut rng, n, sample_size).into_vec();
    chosen.sort_unstable();
    let subset = points.select(ndarray::Axis(0), &chosen);
    let (dense, clusters) = super::dense_labels(&chosen.iter().map(|&i| labels[i] as i64).collect::<Vec<_>>());
    silhouette_score(subset.view(), &dense, clusters, threads)
}

/// Σ‖point − column j‖ over `from..to`, where `columns` holds dimension d of point j at
/// `d * n + j`.
fn distance_sum(point: &[f64], columns: &[f64], n: usize, from: usize, to: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above.
            return unsafe { distance_sum_avx(point, columns, n, from, to) };
        }
    }
    distance_sum_portable(point, columns, n, from, to)
}

/// The same code compiled with AVX: wider vectors, and no FMA, so the result is the same
/// to the bit as the portable build's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn distance_sum_avx(point: &[f64], columns: &[f64], n: usize, from: usize, to: usize) -> f64 {
    distance_sum_portable(point, columns, n, from, to)
}

#[inline(always)]
fn distance_sum_portable(point: &[f64], columns: &[f64], n: usize, from: usize, to: usize) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut j = from;
    while j < to {
        let len = TILE.min(to - j);
        let mut squared = [0.0f64; TILE];
        for (d, &x) in point.iter().enumerate() {
            let column = &columns[d * n + j..d * n + j + len];
            for (s, &c) in squared[..len].iter_mut().zip(column) {
                let diff = x - c;
                *s += diff * diff;
            }
        }
        for block in squared.chunks_exact(LANES) {
            for (lane, &s) in lanes.iter_mut().zip(block) {
                *lane += s.sqrt();
            }
        }
        j += len;
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_line() {
        // Points 0, 1 (cluster 0) and 4, 6 (cluster 1).
        // s(0): a = 1, b = (4 + 6) / 2 = 5 → 0.8.   s(1): a = 1, b = 4 → 0.75.
        // s(4): a = 2, b = 3.5 → 3/7.                s(6): a = 2, b = 5.5 → 7/11.
        let points = array![[0.0], [1.0], [4.0], [6.0]];
        let s = silhouette_samples(points.view(), &[0, 0, 1, 1], 2, Threads::ONE).unwrap();
        let expected = [0.8, 0.75, 1.5 / 3.5, 3.5 / 5.5];
        for (got, want) in s.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
    }

    #[test]
    fn singletons_score_zero_and_one_cluster_is_none() {
        let points = array![[0.0], [1.0], [5.0]];
        let s = silhouette_samples(points.view(), &[0, 0, 1], 2, Threads::ONE).unwrap();
        assert_eq!(s[2], 0.0);
        assert_eq!(silhouette_score(points.view(), &[0, 0, 0], 1, Threads::ONE), None);
    }

    #[test]
    fn long_ranges_match_the_plain_formula() {
        let points = ndarray::Array2::from_shape_fn((300, 3), |(i, d)| ((i * 37 + d * 11) % 101) as f64);
        let labels: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
        let fast = silhouette_samples(points.view(), &labels, 3, Threads::new(2)).unwrap();
        for i in [0, 17, 299] {
            let mut sums = [0.0; 3];
            for j in 0..300 {
                let d: f64 = (0..3).map(|k| (points[[i, k]] - points[[j, k]]).powi(2)).sum::<f64>().sqrt();
                sums[labels[j] as usize] += d;
            }
            let own = labels[i] as usize;
            let a = sums[own] / 99.0;
            let b = (0..3).filter(|&c| c != own).map(|c| sums[c] / 100.0).fold(f64::INFINITY, f64::min);
            assert!((fast[i] - (b - a) / a.max(b)).abs() < 1e-12);
        }
    }

    #[test]
    fn a_sample_as_big_as_the_data_is_exact() {
        let points = array![[0.0], [1.0], [4.0], [6.0]];
        let exact = silhouette_score(points.view(), &[0, 0, 1, 1], 2, Threads::ONE);
        assert_eq!(sampled_silhouette_score(points.view(), &[0, 0, 1, 1], 10, 1, Threads::ONE), exact);
    }
}
