//! k-means as scikit-learn's `KMeans(algorithm="lloyd")` computes it: greedy k-means++
//! seeding, Lloyd iterations until the labels stop changing or the centres move less
//! than `tol` (relative to the data's mean variance), empty clusters re-seeded with the
//! points farthest from their centres, and the best of `n_init` runs by inertia.
//!
//! Every pass over the points works on fixed chunks of [`CHUNK`] rows whose partial
//! sums are added in chunk order, so the result is the same at any thread count.

use std::sync::Mutex;

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{row, squared_distance};
use crate::error::AlgoError;
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// Rows per chunk: big enough to amortise a thread hand-off, small enough to balance.
const CHUNK: usize = 8192;

/// How the first centres are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Greedy k-means++ (2 + ln k candidates per centre, the best one kept).
    PlusPlus,
    /// These centres, row-major `k × dims`, in the same units as the points.
    Centroids(Vec<f64>),
}

/// k-means options as the user gives them; [`KMeansParams::check`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub init: Init,
}

pub const DEFAULT_SEED: u64 = 42;

impl KMeansParams {
    pub fn new(k: usize) -> Self {
        KMeansParams { k, n_init: 1, max_iter: 300, tol: 1e-4, seed: DEFAULT_SEED, init: Init::PlusPlus }
    }

    /// Checks the options against the data they will run on.
    pub fn check(self, rows: usize, dims: usize) -> Result<CheckedKMeans, AlgoError> {
        if self.k < 1 {
            return Err(AlgoError::parameter("k", "at least 1", self.k));
        }
        if self.k > rows {
            return Err(AlgoError::TooFewRows { k: self.k, rows });
        }
        if self.n_init < 1 {
            return Err(AlgoError::parameter("n_init", "at least 1", self.n_init));
        }
        if self.max_iter < 1 {
            return Err(AlgoError::parameter("max_iter", "at least 1", self.max_iter));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(AlgoError::parameter("tol", "a number >= 0", self.tol));
        }
        if let Init::Centroids(centres) = &self.init {
            if centres.len() != self.k * dims {
                return Err(AlgoError::InitShape { values: centres.len(), k: self.k, dims });
            }
            if centres.iter().any(|v| !v.is_finite()) {
                return Err(AlgoError::InitNotFinite);
            }
        }
        Ok(CheckedKMeans { params: self, dims })
    }
}

/// Options that passed [`KMeansParams::check`].
#[derive(Debug, Clone)]
pub struct CheckedKMeans {
    params: KMeansParams,
    dims: usize,
}

impl CheckedKMeans {
    pub fn params(&self) -> &KMeansParams {
        &self.params
    }
}

/// A fitted clustering. Clusters are numbered by size, largest first, ties by centre.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// Row-major `k × dims`.
    pub centroids: Vec<f64>,
    /// 0-based cluster of each point.
    pub labels: Vec<u32>,
    pub sizes: Vec<u64>,
    pub inertia: f64,
    /// Lloyd iterations of the kept run.
    pub iterations: usize,
}

/// Fits k-means on `points` (rows are points).
pub fn fit(points: ArrayView2<f64>, options: &CheckedKMeans, threads: Threads) -> KMeansFit {
    let standard = points.as_standard_layout();
    let data = standard.as_slice().unwrap_or_default();
    let dims = options.dims;
    let params = &options.params;
    let n = data.len() / dims;
    let tol = params.tol * mean_variance(data, dims, threads);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut best: Option<KMeansFit> = None;
    for _ in 0..params.n_init {
        let init = match &params.init {
            Init::PlusPlus => plus_plus(data, dims, params.k, &mut rng, threads),
            Init::Centroids(centres) => centres.clone(),
        };
        let run = lloyd(data, dims, n, init, params.k, params.max_iter, tol, threads);
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
        if matches!(params.init, Init::Centroids(_)) {
            break; // the same start gives the same run
        }
    }
    let fit = best.expect("n_init >= 1");
    number_by_size(fit, dims)
}

/// The index of the nearest centre and the squared distance to it; ties go to the lower
/// index. `centres_t` is column-major (`dims × k`) so the inner loop runs across centres.
#[inline]
pub fn nearest(point: &[f64], centres_t: &[f64], k: usize, scratch: &mut [f64]) -> (u32, f64) {
    let dist = &mut scratch[..k];
    dist.fill(0.0);
    for (dim, &x) in point.iter().enumerate() {
        let column = &centres_t[dim * k..(dim + 1) * k];
        for (d, &c) in dist.iter_mut().zip(column) {
            let diff = x - c;
            *d += diff * diff;
        }
    }
    let mut best = 0;
    let mut best_distance = dist[0];
    for (j, &d) in dist.iter().enumerate().skip(1) {
        if d < best_distance {
            best = j;
            best_distance = d;
        }
    }
    (best as u32, best_distance)
}

/// Row-major `k × dims` centres to the column-major layout [`nearest`] wants.
pub fn transpose(centres: &[f64], k: usize, dims: usize) -> Vec<f64> {
    let mut t = vec![0.0; k * dims];
    for j in 0..k {
        for d in 0..dims {
            t[d * k + j] = centres[j * dims + d];
        }
    }
    t
}

fn mean_variance(data: &[f64], dims: usize, threads: Threads) -> f64 {
    let n = (data.len() / dims) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let chunks = chunk_count(data.len() / dims, CHUNK);
    let sums = reduce_sum_vectors(map_chunks(threads, chunks, |c| {
        let mut s = vec![0.0; dims];
        for i in chunk_range(c, CHUNK, data.len() / dims) {
            for (acc, v) in s.iter_mut().zip(row(data, dims, i)) {
                *acc += v;
            }
        }
        s
    }));
    let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let squares = reduce_sum_vectors(map_chunks(threads, chunks, |c| {
        let mut s = vec![0.0; dims];
        for i in chunk_range(c, CHUNK, data.len() / dims) {
            for ((acc, v), m) in s.iter_mut().zip(row(data, dims, i)).zip(&means) {
                *acc += (v - m) * (v - m);
            }
        }
        s
    }));
    squares.iter().map(|s| s / n).sum::<f64>() / dims as f64
}

fn reduce_sum_vectors(parts: Vec<Vec<f64>>) -> Vec<f64> {
    let mut iter = parts.into_iter();
    let mut total = iter.next().unwrap_or_default();
    for part in iter {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    total
}

/// scikit-learn's `_kmeans_plusplus`: the first centre uniformly at random, then for each
/// further centre `2 + ln k` candidates drawn with probability proportional to their
/// squared distance from the nearest chosen centre, keeping the one that lowers the
/// total the most.
fn plus_plus(data: &[f64], dims: usize, k: usize, rng: &mut ChaCha8Rng, threads: Threads) -> Vec<f64> {
    let n = data.len() / dims;
    let chunks = chunk_count(n, CHUNK);
    let trials = 2 + (k as f64).ln() as usize;
    let first = rng.random_range(0..n);
    let mut centres: Vec<f64> = row(data, dims, first).to_vec();
    let mut closest = vec![0.0; n];
    {
        let slots: Vec<Mutex<&mut [f64]>> = closest.chunks_mut(CHUNK).map(Mutex::new).collect();
        map_chunks(threads, chunks, |c| {
            let mut slot = slots[c].lock().unwrap_or_else(|e| e.into_inner());
            for (out, i) in slot.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                *out = squared_distance(row(data, dims, i), &centres[..dims]);
            }
        });
    }
    let mut potential: f64 = closest.iter().sum();
    let mut cumulative = vec![0.0; n];
    for _ in 1..k {
        let mut running = 0.0;
        for (c, d) in cumulative.iter_mut().zip(&closest) {
            running += d;
            *c = running;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&c| c < target).min(n - 1)
            })
            .collect();
        let partials = map_chunks(threads, chunks, |c| {
            let mut sums = vec![0.0; trials];
            for i in chunk_range(c, CHUNK, n) {
                let point = row(data, dims, i);
                for (sum, &candidate) in sums.iter_mut().zip(&candidates) {
                    *sum += closest[i].min(squared_distance(point, row(data, dims, candidate)));
                }
            }
            sums
        });
        let potentials = reduce_sum_vectors(partials);
        let mut best = 0;
        for (t, p) in potentials.iter().enumerate() {
            if *p < potentials[best] {
                best = t;
            }
        }
        potential = potentials[best];
        let chosen = row(data, dims, candidates[best]);
        {
            let slots: Vec<Mutex<&mut [f64]>> = closest.chunks_mut(CHUNK).map(Mutex::new).collect();
            map_chunks(threads, chunks, |c| {
                let mut slot = slots[c].lock().unwrap_or_else(|e| e.into_inner());
                for (out, i) in slot.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                    *out = out.min(squared_distance(row(data, dims, i), chosen));
                }
            });
        }
        centres.extend_from_slice(chosen);
    }
    centres
}

/// What one assignment pass over a chunk found.
struct Pass {
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: usize,
}

/// Assigns every point to its nearest centre (writing `labels`) and sums the points per
/// cluster, in chunk order.
fn assign(
    data: &[f64],
    dims: usize,
    centres: &[f64],
    k: usize,
    labels: &mut [u32],
    with_sums: bool,
    threads: Threads,
) -> Pass {
    let n = labels.len();
    let centres_t = transpose(centres, k, dims);
    let slots: Vec<Mutex<&mut [u32]>> = labels.chunks_mut(CHUNK).map(Mutex::new).collect();
    let parts = map_chunks(threads, chunk_count(n, CHUNK), |c| {
        let mut slot = slots[c].lock().unwrap_or_else(|e| e.into_inner());
        let mut pass = Pass {
            sums: if with_sums { vec![0.0; k * dims] } else { Vec::new() },
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        };
        let mut scratch = vec![0.0; k];
        for (label, i) in slot.iter_mut().zip(chunk_range(c, CHUNK, n)) {
            let point = row(data, dims, i);
            let (nearest, distance) = nearest(point, &centres_t, k, &mut scratch);
            if *label != nearest {
                pass.changed += 1;
                *label = nearest;
            }
            pass.inertia += distance;
            pass.counts[nearest as usize] += 1;
            if with_sums {
                let sum = &mut pass.sums[nearest as usize * dims..(nearest as usize + 1) * dims];
                for (s, v) in sum.iter_mut().zip(point) {
                    *s += v;
                }
            }
        }
        pass
    });
    let mut iter = parts.into_iter();
    let mut total =
        iter.next().unwrap_or(Pass { sums: vec![0.0; k * dims], counts: vec![0; k], inertia: 0.0, changed: 0 });
    for part in iter {
        for (t, p) in total.sums.iter_mut().zip(&part.sums) {
            *t += p;
        }
        for (t, p) in total.counts.iter_mut().zip(&part.counts) {
            *t += p;
        }
        total.inertia += part.inertia;
        total.changed += part.changed;
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn lloyd(
    data: &[f64],
    dims: usize,
    n: usize,
    mut centres: Vec<f64>,
    k: usize,
    max_iter: usize,
    tol: f64,
    threads: Threads,
) -> KMeansFit {
    // No point starts in a cluster, so the first pass always counts as a change.
    let mut labels = vec![u32::MAX; n];
    let mut strict = false;
    let mut iterations = 0;
    let mut inertia = 0.0;
    for iteration in 0..max_iter {
        let mut pass = assign(data, dims, &centres, k, &mut labels, true, threads);
        inertia = pass.inertia;
        relocate_empty_clusters(data, dims, &centres, k, &labels, &mut pass);
        let mut shift = 0.0;
        for j in 0..k {
            let count = pass.counts[j] as f64;
            for d in 0..dims {
                let updated = pass.sums[j * dims + d] / count;
                let delta = updated - centres[j * dims + d];
                shift += delta * delta;
                centres[j * dims + d] = updated;
            }
        }
        iterations = iteration + 1;
        if pass.changed == 0 {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
    }
    if !strict {
        // The centres moved after the last assignment: assign once more, as scikit-learn
        // does, so labels, centres and inertia agree.
        inertia = assign(data, dims, &centres, k, &mut labels, false, threads).inertia;
    }
    let mut sizes = vec![0u64; k];
    for &label in &labels {
        sizes[label as usize] += 1;
    }
    KMeansFit { centroids: centres, labels, sizes, inertia, iterations }
}

/// An empty cluster takes the point farthest from its centre (ties: the lower index),
/// the next empty one the second farthest, and so on, as scikit-learn does.
fn relocate_empty_clusters(data: &[f64], dims: usize, centres: &[f64], k: usize, labels: &[u32], pass: &mut Pass) {
    let empty: Vec<usize> = (0..k).filter(|&j| pass.counts[j] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let mut far: Vec<(f64, usize)> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| (squared_distance(row(data, dims, i), row(centres, dims, l as usize)), i))
        .collect();
    far.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (&cluster, &(_, point)) in empty.iter().zip(&far) {
        let old = labels[point] as usize;
        let values = row(data, dims, point);
        for (d, &value) in values.iter().enumerate() {
            pass.sums[old * dims + d] -= value;
            pass.sums[cluster * dims + d] = value;
        }
        pass.counts[old] -= 1;
        pass.counts[cluster] = 1;
    }
}

/// Renumbers clusters by size, largest first, ties by centre (feature by feature).
fn number_by_size(fit: KMeansFit, dims: usize) -> KMeansFit {
    let k = fit.sizes.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        fit.sizes[b].cmp(&fit.sizes[a]).then_with(|| {
            row(&fit.centroids, dims, a)
                .iter()
                .zip(row(&fit.centroids, dims, b))
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut new_label = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_label[old] = new as u32;
    }
    KMeansFit {
        centroids: order.iter().flat_map(|&old| row(&fit.centroids, dims, old).to_vec()).collect(),
        labels: fit.labels.iter().map(|&l| new_label[l as usize]).collect(),
        sizes: order.iter().map(|&old| fit.sizes[old]).collect(),
        inertia: fit.inertia,
        iterations: fit.iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn fit_with(points: &Array2<f64>, params: KMeansParams) -> KMeansFit {
        fit_on(points, params, Threads::new(2))
    }

    fn fit_on(points: &Array2<f64>, params: KMeansParams, threads: Threads) -> KMeansFit {
        let checked = params.check(points.nrows(), points.ncols()).unwrap();
        fit(points.view(), &checked, threads)
    }

    #[test]
    fn two_obvious_groups() {
        let points = array![[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0], [10.0, 12.0]];
        let fit = fit_with(&points, KMeansParams::new(2));
        // The bigger group is cluster 0.
        assert_eq!(fit.labels, vec![1, 1, 0, 0, 0]);
        assert_eq!(fit.sizes, vec![3, 2]);
        assert_eq!(fit.centroids, vec![10.0, 11.0, 0.0, 0.5]);
        // 1 + 0 + 1 for the big group, 0.25 + 0.25 for the small one.
        assert_eq!(fit.inertia, 2.5);
    }

    #[test]
    fn given_centres_follow_lloyd_by_hand() {
        // Start: centres 0 and 1 on a line. Pass 1 puts {0} and {1, 9, 10} apart:
        // centres 0 and 20/3. Pass 2: {0, 1} and {9, 10}: centres 0.5 and 9.5. Pass 3
        // changes nothing.
        let points = array![[0.0], [1.0], [9.0], [10.0]];
        let mut params = KMeansParams::new(2);
        params.init = Init::Centroids(vec![0.0, 1.0]);
        let fit = fit_with(&points, params);
        assert_eq!(fit.centroids, vec![0.5, 9.5]);
        assert_eq!(fit.inertia, 1.0);
        assert_eq!(fit.iterations, 3);
    }

    #[test]
    fn an_empty_cluster_takes_the_farthest_point() {
        // Both starting centres sit left of every point, so the second one is empty after
        // the first pass and takes the farthest point (100).
        let points = array![[1.0], [2.0], [3.0], [100.0]];
        let mut params = KMeansParams::new(2);
        params.init = Init::Centroids(vec![0.0, -5.0]);
        let fit = fit_with(&points, params);
        assert_eq!(fit.centroids, vec![2.0, 100.0]);
        assert_eq!(fit.sizes, vec![3, 1]);
    }

    #[test]
    fn same_seed_same_fit_and_restarts_never_worse() {
        let points = Array2::from_shape_fn((500, 3), |(i, d)| ((i * 7919 + d * 104729) % 1000) as f64 / 10.0);
        let a = fit_with(&points, KMeansParams::new(6));
        let b = fit_with(&points, KMeansParams::new(6));
        assert_eq!(a, b);
        let mut more = KMeansParams::new(6);
        more.n_init = 5;
        assert!(fit_with(&points, more).inertia <= a.inertia);
    }

    #[test]
    fn thread_count_does_not_change_a_bit() {
        let points = Array2::from_shape_fn((40_000, 2), |(i, d)| ((i * 31 + d * 17) % 977) as f64);
        let one = fit_on(&points, KMeansParams::new(5), Threads::ONE);
        for threads in [2, 3, 4] {
            assert_eq!(fit_on(&points, KMeansParams::new(5), Threads::new(threads)), one, "{threads} threads");
        }
    }

    #[test]
    fn bad_options_are_refused_before_work() {
        assert!(KMeansParams::new(0).check(5, 2).unwrap_err().to_string().contains("at least 1"));
        assert!(KMeansParams::new(6).check(5, 2).unwrap_err().to_string().contains("more than the 5 rows"));
        let mut p = KMeansParams::new(2);
        p.init = Init::Centroids(vec![1.0]);
        assert!(p.check(5, 2).unwrap_err().to_string().contains("needs k = 2 centres of 2 features"));
    }
}
