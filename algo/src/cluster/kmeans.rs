//! k-means as scikit-learn's `KMeans(algorithm="lloyd")` computes it: greedy k-means++
//! seeding, Lloyd iterations until the labels stop changing or the centres move less
//! than `tol` (relative to the data's mean variance), empty clusters re-seeded with the
//! points farthest from their centres, and the best of `n_init` runs by inertia.
//!
//! Every pass over the points works on fixed chunks of [`CHUNK`] rows whose partial
//! sums are added in chunk order, so the result is the same at any thread count.
//!
//! The Lloyd passes keep Hamerly's distance bounds per point and skip the comparison with
//! every centre when the bounds prove the point's cluster cannot change, with an allowance
//! for rounding. Every point is still visited and summed in order, so labels, centres,
//! iteration counts and inertia are bit for bit those of plain Lloyd passes (a test runs
//! both on data full of ties).

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{row, squared_distance};
use crate::error::AlgoError;
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks, map_chunks_mut};

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

/// The k-means++ starting centres (row-major `k × dims`) that [`fit`] would start its
/// first run from with this seed. `points` must have at least `k` rows.
pub fn plus_plus_start(points: ArrayView2<f64>, k: usize, seed: u64, threads: Threads) -> Vec<f64> {
    let standard = points.as_standard_layout();
    let data = standard.as_slice().unwrap_or_default();
    plus_plus(data, points.ncols(), k, &mut ChaCha8Rng::seed_from_u64(seed), threads)
}

/// The index of the nearest centre and the squared distance to it; ties go to the lower
/// index. `centres` is row-major `k × dims`.
#[inline]
pub fn nearest(point: &[f64], centres: &[f64], dims: usize) -> (u32, f64) {
    let (best, distance, _) = nearest_two(point, centres, dims);
    (best, distance)
}

/// The squared distance between two points of `dims` values, summed in feature order (the
/// order every kernel here uses, so each distance has one value whichever kernel asks).
#[inline(always)]
fn distance_n(a: &[f64], b: &[f64], dims: usize) -> f64 {
    let (a, b) = (&a[..dims], &b[..dims]);
    let mut sum = 0.0;
    for d in 0..dims {
        let diff = a[d] - b[d];
        sum += diff * diff;
    }
    sum
}

/// The nearest centre, its squared distance and the second-smallest squared distance
/// (infinite when k = 1); ties go to the lower index.
#[inline(always)]
fn nearest_two(point: &[f64], centres: &[f64], dims: usize) -> (u32, f64, f64) {
    let mut best = 0;
    let mut best_distance = distance_n(point, &centres[..dims], dims);
    let mut second = f64::INFINITY;
    for (j, centre) in centres.chunks_exact(dims).enumerate().skip(1) {
        let d = distance_n(point, centre, dims);
        if d < best_distance {
            second = best_distance;
            best_distance = d;
            best = j;
        } else if d < second {
            second = d;
        }
    }
    (best as u32, best_distance, second)
}

/// Runs `$body` with `$dims` bound to a compile-time constant for 1 to 8 features, so the
/// distance loops above are unrolled for the few features segmentation uses, and to the
/// run-time value otherwise. The body is compiled once per case.
macro_rules! with_fixed_dims {
    ($dims:expr, |$d:ident| $body:expr) => {
        match $dims {
            1 => {
                const $d: usize = 1;
                $body
            }
            2 => {
                const $d: usize = 2;
                $body
            }
            3 => {
                const $d: usize = 3;
                $body
            }
            4 => {
                const $d: usize = 4;
                $body
            }
            5 => {
                const $d: usize = 5;
                $body
            }
            6 => {
                const $d: usize = 6;
                $body
            }
            7 => {
                const $d: usize = 7;
                $body
            }
            8 => {
                const $d: usize = 8;
                $body
            }
            _ => {
                #[allow(non_snake_case)]
                let $d: usize = $dims;
                $body
            }
        }
    };
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
    map_chunks_mut(threads, &mut closest, CHUNK, |c, closest| {
        with_fixed_dims!(dims, |DIMS| {
            for (out, i) in closest.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                *out = distance_n(row(data, DIMS, i), &centres, DIMS);
            }
        })
    });
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
            with_fixed_dims!(dims, |DIMS| {
                for i in chunk_range(c, CHUNK, n) {
                    let point = row(data, DIMS, i);
                    for (sum, &candidate) in sums.iter_mut().zip(&candidates) {
                        *sum += closest[i].min(distance_n(point, row(data, DIMS, candidate), DIMS));
                    }
                }
            });
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
        map_chunks_mut(threads, &mut closest, CHUNK, |c, closest| {
            with_fixed_dims!(dims, |DIMS| {
                for (out, i) in closest.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                    *out = out.min(distance_n(row(data, DIMS, i), chosen, DIMS));
                }
            })
        });
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
    /// Points whose distances to every centre were computed (the rest kept their cluster
    /// on the strength of their bounds).
    full_scans: usize,
}

impl Pass {
    fn new(k: usize, dims: usize, with_sums: bool) -> Pass {
        Pass {
            sums: if with_sums { vec![0.0; k * dims] } else { Vec::new() },
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
            full_scans: 0,
        }
    }

    #[inline(always)]
    fn add(&mut self, cluster: u32, point: &[f64], dims: usize) {
        self.counts[cluster as usize] += 1;
        if !self.sums.is_empty() {
            let sum = &mut self.sums[cluster as usize * dims..(cluster as usize + 1) * dims];
            for (s, v) in sum.iter_mut().zip(point) {
                *s += v;
            }
        }
    }

    /// The chunks' passes added up in chunk order, so the totals never depend on threads.
    fn total(parts: Vec<Pass>, k: usize, dims: usize) -> Pass {
        let mut iter = parts.into_iter();
        let mut total = iter.next().unwrap_or_else(|| Pass::new(k, dims, true));
        for part in iter {
            for (t, p) in total.sums.iter_mut().zip(&part.sums) {
                *t += p;
            }
            for (t, p) in total.counts.iter_mut().zip(&part.counts) {
                *t += p;
            }
            total.inertia += part.inertia;
            total.changed += part.changed;
            total.full_scans += part.full_scans;
        }
        total
    }
}

/// Assigns every point to its nearest centre (writing `labels`) and sums the points per
/// cluster, in chunk order: one plain Lloyd pass.
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
    let parts = map_chunks_mut(threads, labels, CHUNK, |c, labels| {
        let mut pass = Pass::new(k, dims, with_sums);
        with_fixed_dims!(dims, |DIMS| {
            for (label, i) in labels.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                let point = row(data, DIMS, i);
                let (nearest, distance) = nearest(point, centres, DIMS);
                if *label != nearest {
                    pass.changed += 1;
                    *label = nearest;
                }
                pass.inertia += distance;
                pass.add(nearest, point, DIMS);
            }
        });
        pass.full_scans = labels.len();
        pass
    });
    Pass::total(parts, k, dims)
}

/// A point's cluster with Hamerly's bounds: `upper` is at least the distance to its
/// centre, `lower` at most the distance to any other centre.
#[derive(Debug, Clone, Copy)]
struct Bounded {
    label: u32,
    upper: f64,
    lower: f64,
}

/// What the bounds need to know about the centres of one pass.
struct CentreGeometry {
    /// Half the distance from each centre to its nearest other centre: a point closer to
    /// its centre than this cannot be closer to any other.
    half_gap: Vec<f64>,
    /// How far each centre moved in the last update.
    shift: Vec<f64>,
    /// The largest shift, the centre that made it, and the largest of the others: what a
    /// point's lower bound must give up.
    max_shift: f64,
    max_shift_at: usize,
    second_shift: f64,
    /// Rounding allowance, in distance units (see [`bound_margin`]); infinite turns the
    /// bounds off.
    margin: f64,
}

impl CentreGeometry {
    fn new(centres: &[f64], k: usize, dims: usize, shift: Vec<f64>, margin: f64) -> CentreGeometry {
        let mut half_gap = vec![f64::INFINITY; k];
        for a in 0..k {
            for b in a + 1..k {
                let gap = distance_n(row(centres, dims, a), row(centres, dims, b), dims).sqrt() / 2.0;
                half_gap[a] = half_gap[a].min(gap);
                half_gap[b] = half_gap[b].min(gap);
            }
        }
        let (mut max_shift, mut max_shift_at, mut second_shift) = (0.0, 0, 0.0);
        for (j, &s) in shift.iter().enumerate() {
            if s > max_shift {
                second_shift = max_shift;
                max_shift = s;
                max_shift_at = j;
            } else if s > second_shift {
                second_shift = s;
            }
        }
        // A centre that is not finite (0/0 from a cluster emptied by a relocation) makes
        // every bound meaningless: fall back to plain passes.
        let finite = centres.iter().chain(&shift).all(|v| v.is_finite());
        CentreGeometry {
            half_gap,
            shift,
            max_shift,
            max_shift_at,
            second_shift,
            margin: if finite { margin } else { f64::INFINITY },
        }
    }

    /// True when the bounds prove that `cluster` is strictly the nearest centre, by more
    /// than rounding could undo, so a plain pass would pick it too.
    #[inline(always)]
    fn keeps(&self, cluster: usize, upper: f64, lower: f64) -> bool {
        upper + self.margin < self.half_gap[cluster].max(lower) - self.margin
    }
}

/// How much the bounds may be off through rounding, in distance units, with a wide
/// allowance. Every point and every centre lies in the bounding box of the points and the
/// starting centres (later centres are means of points, or points), so no distance
/// exceeds its diagonal D. A fresh distance is within (dims + 2)·ε·D of the true one and
/// each update of a bound adds at most 4·ε·D; a bound lives at most `max_iter` updates.
/// Points nearer than the margin to a tie are simply recomputed.
fn bound_margin(data: &[f64], centres: &[f64], dims: usize, max_iter: usize) -> f64 {
    let mut low = vec![f64::INFINITY; dims];
    let mut high = vec![f64::NEG_INFINITY; dims];
    for point in data.chunks_exact(dims).chain(centres.chunks_exact(dims)) {
        for ((l, h), &v) in low.iter_mut().zip(high.iter_mut()).zip(point) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    let diagonal = low.iter().zip(&high).map(|(l, h)| (h - l) * (h - l)).sum::<f64>().sqrt();
    let allowance = 16.0 * f64::EPSILON * (dims + 2 + 4 * max_iter) as f64 * diagonal;
    // Overflowed extents leave the bounds off rather than wrong.
    if allowance.is_finite() { allowance.max(f64::MIN_POSITIVE) } else { f64::INFINITY }
}

/// One Lloyd pass that uses and updates Hamerly's bounds: a point whose bounds show its
/// cluster cannot change is not compared with the other centres. Every point is still
/// visited and summed in the same order as [`assign`], so labels, sums and counts are
/// bit for bit those of a plain pass.
fn assign_bounded(
    data: &[f64],
    dims: usize,
    centres: &[f64],
    k: usize,
    points: &mut [Bounded],
    geometry: &CentreGeometry,
    threads: Threads,
) -> Pass {
    let n = points.len();
    let parts = map_chunks_mut(threads, points, CHUNK, |c, points| {
        let mut pass = Pass::new(k, dims, true);
        with_fixed_dims!(dims, |DIMS| {
            for (state, i) in points.iter_mut().zip(chunk_range(c, CHUNK, n)) {
                let point = row(data, DIMS, i);
                let old = state.label as usize;
                let mut keep = false;
                if old < k {
                    state.upper += geometry.shift[old];
                    state.lower -=
                        if old == geometry.max_shift_at { geometry.second_shift } else { geometry.max_shift };
                    keep = geometry.keeps(old, state.upper, state.lower);
                    if !keep {
                        state.upper = distance_n(point, row(centres, DIMS, old), DIMS).sqrt();
                        keep = geometry.keeps(old, state.upper, state.lower);
                    }
                }
                if !keep {
                    let (best, best_distance, second) = nearest_two(point, centres, DIMS);
                    pass.full_scans += 1;
                    if best as usize != old {
                        pass.changed += 1;
                    }
                    *state = Bounded { label: best, upper: best_distance.sqrt(), lower: second.sqrt() };
                }
                pass.add(state.label, point, DIMS);
            }
        });
        pass
    });
    Pass::total(parts, k, dims)
}

/// The sum of the squared distances from each point to the centre of its cluster, added
/// as a plain pass adds them.
fn inertia_of(data: &[f64], dims: usize, centres: &[f64], points: &[Bounded], threads: Threads) -> f64 {
    let n = points.len();
    let parts = map_chunks(threads, chunk_count(n, CHUNK), |c| {
        let mut inertia = 0.0;
        for i in chunk_range(c, CHUNK, n) {
            inertia += distance_n(row(data, dims, i), row(centres, dims, points[i].label as usize), dims);
        }
        inertia
    });
    let mut iter = parts.into_iter();
    let mut total = iter.next().unwrap_or(0.0);
    for part in iter {
        total += part;
    }
    total
}

/// The fitted centres after one update: each cluster's mean, how far each centre moved,
/// and the total squared movement that the tolerance is checked against.
fn update_centres(centres: &mut [f64], pass: &Pass, k: usize, dims: usize) -> (Vec<f64>, f64) {
    let mut moved = vec![0.0; k];
    let mut total = 0.0;
    for (j, moved) in moved.iter_mut().enumerate() {
        let count = pass.counts[j] as f64;
        let mut squared = 0.0;
        for d in 0..dims {
            let updated = pass.sums[j * dims + d] / count;
            let delta = updated - centres[j * dims + d];
            total += delta * delta;
            squared += delta * delta;
            centres[j * dims + d] = updated;
        }
        *moved = squared.sqrt();
    }
    (moved, total)
}

/// Lloyd's algorithm with Hamerly's bounds (Hamerly 2010, "Making k-means even faster"):
/// exactly the iterations, labels, centres and inertia of plain Lloyd passes, with most
/// distance computations skipped once the clusters settle.
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
    let margin = bound_margin(data, &centres, dims, max_iter);
    // No point starts in a cluster, so the first pass always counts as a change.
    let mut points = vec![Bounded { label: u32::MAX, upper: f64::INFINITY, lower: 0.0 }; n];
    let mut shift = vec![0.0; k];
    let mut strict = false;
    let mut iterations = 0;
    let mut assigned_to = centres.clone();
    for iteration in 0..max_iter {
        let geometry = CentreGeometry::new(&centres, k, dims, shift, margin);
        let mut pass = assign_bounded(data, dims, &centres, k, &mut points, &geometry, threads);
        relocate_empty_clusters(data, dims, &centres, k, |i| points[i].label, &mut pass);
        assigned_to.copy_from_slice(&centres);
        let (moved, total_shift) = update_centres(&mut centres, &pass, k, dims);
        shift = moved;
        iterations = iteration + 1;
        if pass.changed == 0 {
            strict = true;
            break;
        }
        if total_shift <= tol {
            break;
        }
    }
    let mut labels: Vec<u32> = points.iter().map(|p| p.label).collect();
    let inertia = if strict {
        // The labels did not change, so this is the inertia of the last pass, against the
        // centres it assigned to.
        inertia_of(data, dims, &assigned_to, &points, threads)
    } else {
        // The centres moved after the last assignment: assign once more, as scikit-learn
        // does, so labels, centres and inertia agree.
        assign(data, dims, &centres, k, &mut labels, false, threads).inertia
    };
    let mut sizes = vec![0u64; k];
    for &label in &labels {
        sizes[label as usize] += 1;
    }
    KMeansFit { centroids: centres, labels, sizes, inertia, iterations }
}

/// An empty cluster takes the point farthest from its centre (ties: the lower index),
/// the next empty one the second farthest, and so on, as scikit-learn does.
fn relocate_empty_clusters(
    data: &[f64],
    dims: usize,
    centres: &[f64],
    k: usize,
    label_of: impl Fn(usize) -> u32,
    pass: &mut Pass,
) {
    let empty: Vec<usize> = (0..k).filter(|&j| pass.counts[j] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let n = data.len() / dims;
    let mut far: Vec<(f64, usize)> =
        (0..n).map(|i| (squared_distance(row(data, dims, i), row(centres, dims, label_of(i) as usize)), i)).collect();
    far.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (&cluster, &(_, point)) in empty.iter().zip(&far) {
        let old = label_of(point) as usize;
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

    /// Plain Lloyd, as this file computed it before the bounds: the reference the bounded
    /// passes must match bit for bit.
    fn lloyd_plain(data: &[f64], dims: usize, mut centres: Vec<f64>, k: usize, max_iter: usize, tol: f64) -> KMeansFit {
        let n = data.len() / dims;
        let threads = Threads::new(3);
        let mut labels = vec![u32::MAX; n];
        let mut strict = false;
        let mut iterations = 0;
        let mut inertia = 0.0;
        for iteration in 0..max_iter {
            let mut pass = assign(data, dims, &centres, k, &mut labels, true, threads);
            inertia = pass.inertia;
            relocate_empty_clusters(data, dims, &centres, k, |i| labels[i], &mut pass);
            let (_, shift) = update_centres(&mut centres, &pass, k, dims);
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
            inertia = assign(data, dims, &centres, k, &mut labels, false, threads).inertia;
        }
        let mut sizes = vec![0u64; k];
        for &label in &labels {
            sizes[label as usize] += 1;
        }
        KMeansFit { centroids: centres, labels, sizes, inertia, iterations }
    }

    /// Data sets that stress the bounds: smooth noise, integer grids full of exact ties,
    /// heavy duplicates, far-apart scales, and more features than the fixed kernels.
    fn stress_sets() -> Vec<(String, Vec<f64>, usize)> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut sets = Vec::new();
        for &(n, dims) in &[(1_000, 1), (1_500, 2), (17_000, 3), (1_200, 5), (800, 8), (600, 11)] {
            let noise: Vec<f64> = (0..n * dims).map(|i| rng.random::<f64>() * 10.0 + (i / dims % 7) as f64).collect();
            sets.push((format!("noise {n}x{dims}"), noise, dims));
            let grid: Vec<f64> = (0..n * dims).map(|_| rng.random_range(0..6) as f64).collect();
            sets.push((format!("grid {n}x{dims}"), grid, dims));
        }
        let dups: Vec<f64> = (0..3_000).map(|i| [0.0, 1.0, 1.0, 4.0, 1e-12][i % 5] + (i % 3) as f64).collect();
        sets.push(("duplicates".into(), dups, 3));
        let scales: Vec<f64> = (0..2_000)
            .map(|i| if i % 2 == 0 { rng.random::<f64>() * 1e9 } else { rng.random::<f64>() * 1e-9 })
            .collect();
        sets.push(("scales".into(), scales, 2));
        sets
    }

    #[test]
    fn bounded_passes_match_plain_lloyd_bit_for_bit() {
        let mut skipped_somewhere = false;
        for (name, data, dims) in stress_sets() {
            let n = data.len() / dims;
            let points = Array2::from_shape_vec((n, dims), data.clone()).unwrap();
            for k in [1, 2, 5, 12] {
                let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
                let start = plus_plus(&data, dims, k, &mut rng, Threads::new(2));
                for (max_iter, tol) in [(300, 0.0), (300, 1e-4), (3, 0.0)] {
                    let tol = tol * mean_variance(&data, dims, Threads::ONE);
                    let plain = lloyd_plain(&data, dims, start.clone(), k, max_iter, tol);
                    for threads in [1, 3] {
                        let fast = lloyd(&data, dims, n, start.clone(), k, max_iter, tol, Threads::new(threads));
                        assert_eq!(fast, plain, "{name}, k = {k}, max_iter = {max_iter}, {threads} threads");
                    }
                }
                // And through the public entry point, which renumbers clusters.
                let mut params = KMeansParams::new(k);
                params.init = Init::Centroids(start.clone());
                let fitted = fit_on(&points, params, Threads::new(2));
                assert_eq!(
                    fitted.iterations,
                    lloyd_plain(&data, dims, start, k, 300, 1e-4 * mean_variance(&data, dims, Threads::ONE)).iterations
                );
            }
            // The bounds must actually skip work on settled clusters.
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let centres = plus_plus(&data, dims, 5, &mut rng, Threads::ONE);
            let margin = bound_margin(&data, &centres, dims, 300);
            let mut state = vec![Bounded { label: u32::MAX, upper: f64::INFINITY, lower: 0.0 }; n];
            let geometry = CentreGeometry::new(&centres, 5, dims, vec![0.0; 5], margin);
            let first = assign_bounded(&data, dims, &centres, 5, &mut state, &geometry, Threads::ONE);
            assert_eq!(first.full_scans, n, "{name}: the first pass compares every point");
            let again = assign_bounded(&data, dims, &centres, 5, &mut state, &geometry, Threads::ONE);
            assert_eq!(again.changed, 0);
            skipped_somewhere |= again.full_scans < n / 2;
        }
        assert!(skipped_somewhere, "the bounds never saved a full scan");
    }

    #[test]
    fn the_margin_covers_the_data_and_turns_bounds_off_on_overflow() {
        // The box of the points and the centre: 3 by 4, so the diagonal is 5.
        let margin = bound_margin(&[0.0, 0.0, 3.0, 1.0], &[1.0, 4.0], 2, 10);
        assert!(margin > 5.0 * f64::EPSILON && margin < 5e-12, "{margin}");
        assert_eq!(bound_margin(&[-1e308, 1e308], &[0.0], 1, 10), f64::INFINITY);
        let geometry = CentreGeometry::new(&[0.0, f64::NAN], 2, 1, vec![0.0, 0.0], margin);
        assert!(!geometry.keeps(0, 0.0, 1.0));
    }

    #[test]
    fn nearest_two_breaks_ties_to_the_lower_index() {
        // Centres 1 and 3 are both at distance 1 from the point 2.
        let centres = [5.0, 1.0, 3.0];
        assert_eq!(nearest_two(&[2.0], &centres, 1), (1, 1.0, 1.0));
        assert_eq!(nearest(&[4.9], &centres, 1).0, 0);
        assert_eq!(nearest_two(&[0.0], &[2.0], 1), (0, 4.0, f64::INFINITY));
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
