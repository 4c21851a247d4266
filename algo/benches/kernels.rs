//! Micro-benchmarks of the hot kernels, beside the side-by-side suite in `benches/`:
//!
//!     cargo bench -p segsql-algo --bench kernels
//!
//! They time the plain-Rust kernels on synthetic data, without SQL or I/O, so a change to
//! a kernel can be measured on its own.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use segsql_algo::Threads;
use segsql_algo::cluster::kmeans::{Init, KMeansParams, fit, plus_plus_start};
use segsql_algo::cluster::silhouette::silhouette_samples;
use segsql_algo::cohort::cells::{RetentionMode, add_user};
use segsql_algo::rfm::quantile::quantile_scores_where;

/// Deterministic pseudo-random values in [0, 1).
fn noise(i: usize, salt: usize) -> f64 {
    let x = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(salt as u64 * 1442695040888963407);
    ((x >> 11) as f64) / (1u64 << 53) as f64
}

fn points(n: usize, dims: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, dims), |(i, d)| noise(i, d) + (i % 8) as f64)
}

fn kmeans_step(c: &mut Criterion) {
    let data = points(200_000, 3);
    let centres: Vec<f64> = (0..8).flat_map(|j| vec![j as f64 + 0.5; 3]).collect();
    c.bench_function("kmeans: one Lloyd pass, 200k x 3, k = 8", |b| {
        b.iter(|| {
            let mut params = KMeansParams::new(8);
            params.max_iter = 1;
            params.init = Init::Centroids(centres.clone());
            let checked = params.check(data.nrows(), 3).expect("valid");
            black_box(fit(data.view(), &checked, Threads::available()).inertia)
        })
    });
}

fn kmeans_start_and_fit(c: &mut Criterion) {
    let data = points(200_000, 3);
    c.bench_function("kmeans: k-means++ start, 200k x 3, k = 8", |b| {
        b.iter(|| black_box(plus_plus_start(data.view(), 8, 0, Threads::available())))
    });
    // From the same start to convergence: the bounds skip most distances after the first
    // few passes, so this is where they show.
    let start = plus_plus_start(data.view(), 8, 0, Threads::ONE);
    let mut params = KMeansParams::new(8);
    params.init = Init::Centroids(start);
    params.tol = 0.0;
    let checked = params.check(data.nrows(), 3).expect("valid");
    let iterations = fit(data.view(), &checked, Threads::available()).iterations;
    c.bench_function(&format!("kmeans: fit from a k-means++ start, 200k x 3, k = 8 ({iterations} iterations)"), |b| {
        b.iter(|| black_box(fit(data.view(), &checked, Threads::available()).inertia))
    });
}

fn silhouette_block(c: &mut Criterion) {
    let data = points(4_000, 3);
    let labels: Vec<u32> = (0..4_000).map(|i| (i % 8) as u32).collect();
    c.bench_function("silhouette: exact, 4k x 3, 8 clusters", |b| {
        b.iter(|| black_box(silhouette_samples(data.view(), &labels, 8, Threads::available())))
    });
}

fn quantile_scoring(c: &mut Criterion) {
    // The kernel the SQL functions run: flat keys, every row present.
    let keys: Vec<i64> = (0..1_000_000).map(|i| (noise(i, 7) * 1e6) as i64).collect();
    c.bench_function("quantile_score: 1M values, 5 bins", |b| {
        b.iter(|| black_box(quantile_scores_where(&keys, |_| true, 5, false)))
    });
}

fn retention_fold(c: &mut Criterion) {
    let users: Vec<(i32, Vec<i32>)> = (0..200_000i32)
        .map(|i| {
            let cohort = i % 24;
            let periods = (0..i % 9).map(|p| cohort + p * (1 + i % 3)).collect();
            (cohort, periods)
        })
        .collect();
    c.bench_function("retention fold: 200k users", |b| {
        b.iter(|| {
            let mut counts = Vec::new();
            for (cohort, periods) in &users {
                add_user(&mut counts, *cohort, periods, RetentionMode::On);
            }
            black_box(counts)
        })
    });
}

criterion_group!(kernels, kmeans_step, kmeans_start_and_fit, silhouette_block, quantile_scoring, retention_fold);
criterion_main!(kernels);
