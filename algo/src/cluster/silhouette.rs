//! The exact silhouette in O(n) memory. Points are grouped by cluster into columns and cut
//! into tiles; each pair of tiles is visited once, and every distance computed there is
//! added both to the row point's sum for the column point's cluster and the other way
//! round, so each of the n(n − 1)/2 distances is computed once. No n × n matrix is ever
//! held, and the sums are added up in one fixed order, so the result does not depend on
//! the thread count.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use crate::parallel::{Threads, map_chunks};

/// Points per tile; a pair of tiles is one task.
const TILE: usize = 256;
/// Distances computed together in registers.
const BLOCK: usize = 16;
/// Independent partial sums, so the distance sums vectorise; their order is fixed.
const LANES: usize = 8;
/// Tile pairs computed in parallel before their sums are added in, in order.
const PAIRS_PER_ROUND: usize = 64;

/// The points sorted by cluster, one column per dimension, padded to whole blocks.
struct Sorted {
    n: usize,
    /// Length of each column: n rounded up to a whole block.
    stride: usize,
    dims: usize,
    columns: Vec<f64>,
    /// Cluster of each sorted position.
    label: Vec<u32>,
    /// Cluster c occupies start[c]..start[c + 1].
    start: Vec<usize>,
}

impl Sorted {
    fn new(points: ArrayView2<f64>, labels: &[u32], clusters: usize) -> (Sorted, Vec<usize>) {
        let n = points.nrows();
        let dims = points.ncols();
        // Counting sort by cluster.
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
        let stride = n.next_multiple_of(BLOCK);
        let mut columns = vec![0.0; stride * dims];
        let mut label = vec![0u32; n];
        for (i, point) in points.rows().into_iter().enumerate() {
            for (d, &v) in point.iter().enumerate() {
                columns[d * stride + position[i]] = v;
            }
            label[position[i]] = labels[i];
        }
        (Sorted { n, stride, dims, columns, label, start }, position)
    }

    fn tile(&self, t: usize) -> std::ops::Range<usize> {
        t * TILE..((t + 1) * TILE).min(self.n)
    }
}

/// The sums one pair of tiles adds: for each row point its distances to the column tile's
/// points by cluster, and for each column point its distances to the row tile's points by
/// cluster (none for a tile paired with itself, whose rows already cover both ways).
struct PairSums {
    rows: Vec<f64>,
    columns: Vec<f64>,
}

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
    let (sorted, position) = Sorted::new(points, labels, clusters);
    let sums = cluster_sums(&sorted, clusters, threads);
    let start = &sorted.start;
    let by_sorted: Vec<f64> = (0..sorted.n)
        .map(|p| {
            let own = sorted.label[p] as usize;
            let own_size = start[own + 1] - start[own];
            if own_size == 1 {
                return 0.0;
            }
            let sums = &sums[p * clusters..(p + 1) * clusters];
            let a = sums[own] / (own_size - 1) as f64;
            let b = (0..clusters)
                .filter(|&c| c != own && start[c + 1] > start[c])
                .map(|c| sums[c] / (start[c + 1] - start[c]) as f64)
                .fold(f64::INFINITY, f64::min);
            let s = (b - a) / a.max(b);
            if s.is_nan() { 0.0 } else { s }
        })
        .collect();
    Some(position.iter().map(|&p| by_sorted[p]).collect())
}

/// Σ distance from each sorted point to each cluster, at `p * clusters + c`. Tile pairs
/// (i, j ≥ i) are taken in row-major order; rounds of them run in parallel and their sums
/// are added on the calling thread in that same order.
fn cluster_sums(sorted: &Sorted, clusters: usize, threads: Threads) -> Vec<f64> {
    let tiles = sorted.n.div_ceil(TILE);
    // Generated round by round: a list of all pairs would be O(n²) memory.
    let mut pairs = (0..tiles).flat_map(|i| (i..tiles).map(move |j| (i, j)));
    let mut sums = vec![0.0; sorted.n * clusters];
    let mut round = Vec::with_capacity(PAIRS_PER_ROUND);
    loop {
        round.clear();
        round.extend(pairs.by_ref().take(PAIRS_PER_ROUND));
        if round.is_empty() {
            break;
        }
        let parts = map_chunks(threads, round.len(), |k| pair_sums(sorted, clusters, round[k].0, round[k].1));
        for (&(i, j), part) in round.iter().zip(parts) {
            let rows = sorted.tile(i);
            for (sum, add) in sums[rows.start * clusters..rows.end * clusters].iter_mut().zip(&part.rows) {
                *sum += add;
            }
            if i != j {
                let columns = sorted.tile(j);
                for (q, p) in columns.enumerate() {
                    for c in 0..clusters {
                        sums[p * clusters + c] += part.columns[c * TILE + q];
                    }
                }
            }
        }
    }
    sums
}

fn pair_sums(sorted: &Sorted, clusters: usize, i: usize, j: usize) -> PairSums {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above.
            return unsafe { pair_sums_avx(sorted, clusters, i, j) };
        }
    }
    pair_sums_portable(sorted, clusters, i, j)
}

/// The same code compiled with AVX: wider vectors, and no FMA, so the result is the same
/// to the bit as the portable build's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn pair_sums_avx(sorted: &Sorted, clusters: usize, i: usize, j: usize) -> PairSums {
    pair_sums_portable(sorted, clusters, i, j)
}

#[inline(always)]
fn pair_sums_portable(sorted: &Sorted, clusters: usize, i: usize, j: usize) -> PairSums {
    let rows = sorted.tile(i);
    let columns = sorted.tile(j);
    let width = columns.len().next_multiple_of(BLOCK);
    // The column tile's clusters, as runs of local positions.
    let runs: Vec<(usize, std::ops::Range<usize>)> = (0..clusters)
        .filter_map(|c| {
            let from = sorted.start[c].max(columns.start);
            let to = sorted.start[c + 1].min(columns.end);
            (from < to).then(|| (c, from - columns.start..to - columns.start))
        })
        .collect();
    let mut out = PairSums {
        rows: vec![0.0; rows.len() * clusters],
        columns: if i == j { Vec::new() } else { vec![0.0; clusters * TILE] },
    };
    let mut point = [0.0f64; 16];
    let mut point_vec = Vec::new();
    let point: &mut [f64] = if sorted.dims <= point.len() {
        &mut point[..sorted.dims]
    } else {
        point_vec.resize(sorted.dims, 0.0);
        &mut point_vec
    };
    let mut distance = [0.0f64; TILE];
    for (r, p) in rows.enumerate() {
        for (d, v) in point.iter_mut().enumerate() {
            *v = sorted.columns[d * sorted.stride + p];
        }
        distances(point, sorted, columns.start, width, &mut distance);
        let row = &mut out.rows[r * clusters..(r + 1) * clusters];
        for (c, run) in &runs {
            row[*c] = lane_sum(&distance[run.clone()]);
        }
        if i != j {
            let own = sorted.label[p] as usize;
            for (sum, &d) in out.columns[own * TILE..own * TILE + width].iter_mut().zip(&distance[..width]) {
                *sum += d;
            }
        }
    }
    out
}

/// ‖point − column point q‖ for q in `from..from + width` (whole blocks; the padding past
/// the last point is computed and never read).
#[inline(always)]
fn distances(point: &[f64], sorted: &Sorted, from: usize, width: usize, out: &mut [f64; TILE]) {
    for block in (0..width).step_by(BLOCK) {
        let mut squared = [0.0f64; BLOCK];
        for (d, &x) in point.iter().enumerate() {
            let column = &sorted.columns[d * sorted.stride + from + block..][..BLOCK];
            for (s, &c) in squared.iter_mut().zip(column) {
                let diff = x - c;
                *s += diff * diff;
            }
        }
        for (o, s) in out[block..block + BLOCK].iter_mut().zip(squared) {
            *o = s.sqrt();
        }
    }
}

/// The sum of `values` in LANES interleaved partial sums, added up in lane order.
#[inline(always)]
fn lane_sum(values: &[f64]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += v;
    }
    lanes.iter().sum()
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

    /// The plain O(n²) definition, summed in the obvious order.
    fn plain(points: &ndarray::Array2<f64>, labels: &[u32], clusters: usize) -> Vec<f64> {
        let n = points.nrows();
        let sizes: Vec<usize> = (0..clusters).map(|c| labels.iter().filter(|&&l| l as usize == c).count()).collect();
        (0..n)
            .map(|i| {
                let mut sums = vec![0.0; clusters];
                for j in 0..n {
                    let d: f64 =
                        (0..points.ncols()).map(|k| (points[[i, k]] - points[[j, k]]).powi(2)).sum::<f64>().sqrt();
                    sums[labels[j] as usize] += d;
                }
                let own = labels[i] as usize;
                if sizes[own] == 1 {
                    return 0.0;
                }
                let a = sums[own] / (sizes[own] - 1) as f64;
                let b = (0..clusters)
                    .filter(|&c| c != own && sizes[c] > 0)
                    .map(|c| sums[c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                (b - a) / a.max(b)
            })
            .collect()
    }

    #[test]
    fn many_tiles_uneven_clusters_and_wide_points_match_the_plain_formula_at_any_thread_count() {
        // 1,000 points: four tiles, the last one partial; cluster 3 has a single point, and
        // the clusters' runs start and end inside tiles.
        for dims in [3, 20] {
            let points =
                ndarray::Array2::from_shape_fn((1000, dims), |(i, d)| ((i * 7919 + d * 104729) % 1009) as f64 / 97.0);
            let labels: Vec<u32> = (0..1000).map(|i| if i == 500 { 3 } else { ((i * 31) % 7 % 3) as u32 }).collect();
            let one = silhouette_samples(points.view(), &labels, 4, Threads::ONE).unwrap();
            for threads in [2, 3, 8] {
                let many = silhouette_samples(points.view(), &labels, 4, Threads::new(threads)).unwrap();
                assert!(one.iter().zip(&many).all(|(a, b)| a.to_bits() == b.to_bits()), "threads = {threads}");
            }
            for (got, want) in one.iter().zip(plain(&points, &labels, 4)) {
                assert!((got - want).abs() < 1e-12, "{got} vs {want}");
            }
            assert_eq!(one[500], 0.0);
        }
    }

    #[test]
    fn a_sample_as_big_as_the_data_is_exact() {
        let points = array![[0.0], [1.0], [4.0], [6.0]];
        let exact = silhouette_score(points.view(), &[0, 0, 1, 1], 2, Threads::ONE);
        assert_eq!(sampled_silhouette_score(points.view(), &[0, 0, 1, 1], 10, 1, Threads::ONE), exact);
    }
}
