//! The clustering algorithms as plain Rust over ndarray views: no Arrow types here.
//!
//! Every entry point takes its parameters as a checked struct built before any work
//! starts, and works on points in the order it is given; callers put rows in
//! [`canonical_order`] first so that results never depend on how rows arrived.

pub mod dbscan;
pub mod elbow;
pub mod hierarchical;
pub mod kmeans;
pub mod kneedle;
pub mod silhouette;
pub mod validity;

use std::cmp::Ordering;

use ndarray::{Array2, ArrayView2};

/// Row indices sorted by the rows' values, first feature first (total order on floats).
/// Identical rows compare equal, and identical rows always get the same label, so the
/// unstable sort cannot change a result.
pub fn canonical_order(points: ArrayView2<f64>) -> Vec<u32> {
    let mut order: Vec<u32> = (0..points.nrows() as u32).collect();
    let data = points.as_standard_layout();
    let dims = points.ncols();
    let slice = data.as_slice().unwrap_or_default();
    order.sort_unstable_by(|&a, &b| compare_rows(row(slice, dims, a as usize), row(slice, dims, b as usize)));
    order
}

/// Rows compared feature by feature (total order on floats).
pub fn compare_rows(a: &[f64], b: &[f64]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// The rows of `points` in `order`.
pub fn gather(points: ArrayView2<f64>, order: &[u32]) -> Array2<f64> {
    let dims = points.ncols();
    let mut out = Vec::with_capacity(order.len() * dims);
    for &i in order {
        out.extend(points.row(i as usize).iter().copied());
    }
    Array2::from_shape_vec((order.len(), dims), out).expect("rows * dims values")
}

#[inline]
pub(crate) fn row(data: &[f64], dims: usize, i: usize) -> &[f64] {
    &data[i * dims..(i + 1) * dims]
}

#[inline]
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Labels 0..clusters for arbitrary integer labels, in order of first appearance, and
/// the number of clusters.
pub fn dense_labels(labels: &[i64]) -> (Vec<u32>, usize) {
    let mut seen: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
    let dense = labels
        .iter()
        .map(|label| {
            let next = seen.len() as u32;
            *seen.entry(*label).or_insert(next)
        })
        .collect();
    (dense, seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn canonical_order_sorts_rows_lexicographically() {
        let points = array![[2.0, 1.0], [1.0, 5.0], [1.0, -3.0], [2.0, 0.5]];
        assert_eq!(canonical_order(points.view()), vec![2, 1, 3, 0]);
    }

    #[test]
    fn dense_labels_follow_first_appearance() {
        assert_eq!(dense_labels(&[7, 3, 7, -1]), (vec![0, 1, 0, 2], 3));
    }
}
