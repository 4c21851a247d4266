//! Agglomerative clustering with `kodama` (Müllner's algorithms, as in scipy and
//! fastcluster) on the condensed Euclidean distance matrix, cut at k clusters.
//!
//! The matrix holds n(n − 1)/2 doubles, so the row count is capped at [`MAX_ROWS`]
//! (1.6 GB of distances at the cap).

use kodama::Method;
use ndarray::ArrayView2;

use super::{row, squared_distance};
use crate::error::AlgoError;
use crate::parallel::{Threads, map_chunks};

pub const MAX_ROWS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Ward,
    Complete,
    Average,
    Single,
}

impl Linkage {
    pub const NAMES: &'static str = "ward, complete, average, single";

    pub fn parse(name: &str) -> Option<Linkage> {
        match name.to_ascii_lowercase().as_str() {
            "ward" => Some(Linkage::Ward),
            "complete" => Some(Linkage::Complete),
            "average" => Some(Linkage::Average),
            "single" => Some(Linkage::Single),
            _ => None,
        }
    }

    fn method(self) -> Method {
        match self {
            Linkage::Ward => Method::Ward,
            Linkage::Complete => Method::Complete,
            Linkage::Average => Method::Average,
            Linkage::Single => Method::Single,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct HclustParams {
    pub k: usize,
    pub linkage: Linkage,
}

/// Options that passed [`HclustParams::check`].
#[derive(Debug, Clone, Copy)]
pub struct CheckedHclust(HclustParams);

impl HclustParams {
    pub fn check(self, rows: usize) -> Result<CheckedHclust, AlgoError> {
        if self.k < 1 {
            return Err(AlgoError::parameter("k", "at least 1", self.k));
        }
        if self.k > rows {
            return Err(AlgoError::TooFewRows { k: self.k, rows });
        }
        if rows > MAX_ROWS {
            return Err(AlgoError::TooManyRows { rows, max: MAX_ROWS });
        }
        Ok(CheckedHclust(self))
    }
}

/// 0-based cluster labels, numbered by size (largest first), ties by the first point of
/// each cluster.
pub fn hclust(points: ArrayView2<f64>, options: &CheckedHclust, threads: Threads) -> Vec<u32> {
    let HclustParams { k, linkage } = options.0;
    let standard = points.as_standard_layout();
    let data = standard.as_slice().unwrap_or_default();
    let dims = points.ncols();
    let n = points.nrows();
    if n <= 1 {
        return vec![0; n];
    }
    let mut condensed = condensed_distances(data, dims, n, threads);
    let dendrogram = kodama::linkage(&mut condensed, n, linkage.method());
    drop(condensed);

    // Apply the first n − k merges; cluster label n + s is the one step s creates.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (s, step) in dendrogram.steps().iter().take(n - k).enumerate() {
        let merged = n + s;
        let a = find(&mut parent, step.cluster1);
        let b = find(&mut parent, step.cluster2);
        parent[a] = merged;
        parent[b] = merged;
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    number_by_size(&roots)
}

/// Dense labels for arbitrary cluster ids: biggest cluster 0, ties by first point.
fn number_by_size(roots: &[usize]) -> Vec<u32> {
    let mut first_seen: std::collections::HashMap<usize, (usize, usize)> = std::collections::HashMap::new();
    for (i, &r) in roots.iter().enumerate() {
        first_seen.entry(r).or_insert((i, 0)).1 += 1;
    }
    let mut clusters: Vec<(usize, usize, usize)> =
        first_seen.into_iter().map(|(r, (first, size))| (r, first, size)).collect();
    clusters.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    let label: std::collections::HashMap<usize, u32> =
        clusters.iter().enumerate().map(|(l, &(r, _, _))| (r, l as u32)).collect();
    roots.iter().map(|r| label[r]).collect()
}

/// Row i of the upper triangle holds d(i, j) for j > i; rows are computed in parallel in
/// fixed blocks and copied in order.
fn condensed_distances(data: &[f64], dims: usize, n: usize, threads: Threads) -> Vec<f64> {
    const ROWS: usize = 64;
    let blocks = n.div_ceil(ROWS);
    let parts = map_chunks(threads, blocks, |b| {
        let mut out = Vec::new();
        for i in b * ROWS..((b + 1) * ROWS).min(n) {
            let a = row(data, dims, i);
            out.extend((i + 1..n).map(|j| squared_distance(a, row(data, dims, j)).sqrt()));
        }
        out
    });
    let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
    for part in parts {
        condensed.extend_from_slice(&part);
    }
    condensed
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn run(points: &ndarray::Array2<f64>, k: usize, linkage: Linkage) -> Vec<u32> {
        hclust(points.view(), &HclustParams { k, linkage }.check(points.nrows()).unwrap(), Threads::new(2))
    }

    #[test]
    fn every_linkage_finds_obvious_groups() {
        let points = array![[0.0], [1.0], [2.0], [10.0], [11.0], [30.0]];
        for linkage in [Linkage::Ward, Linkage::Complete, Linkage::Average, Linkage::Single] {
            assert_eq!(run(&points, 3, linkage), vec![0, 0, 0, 1, 1, 2], "{linkage:?}");
        }
    }

    #[test]
    fn single_and_complete_differ_on_a_chain() {
        // A chain 0-1-2-3 with growing gaps and a far pair: single linkage keeps the chain
        // together, complete linkage splits it.
        let points = array![[0.0], [1.0], [2.2], [3.6], [5.2], [7.0], [7.5]];
        assert_eq!(run(&points, 2, Linkage::Single), vec![0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(run(&points, 2, Linkage::Complete), vec![0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn size_limit_and_bad_k() {
        assert!(
            HclustParams { k: 2, linkage: Linkage::Ward }
                .check(MAX_ROWS + 1)
                .unwrap_err()
                .to_string()
                .contains("cluster a sample")
        );
        assert!(HclustParams { k: 0, linkage: Linkage::Ward }.check(5).is_err());
        assert_eq!(Linkage::parse("WARD"), Some(Linkage::Ward));
        assert_eq!(Linkage::parse("centroid"), None);
    }
}
