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
    let data = points.as_standard_layout();
    let dims = points.ncols();
    let slice = data.as_slice().unwrap_or_default();
    if dims == 0 {
        return (0..points.nrows() as u32).collect();
    }
    // Sorting (key, index) pairs by the first feature's total-order bits keeps the sort in
    // cache; comparing rows through the index array missed it on every step. Rows whose
    // first features are equal are then ordered by the rest.
    let mut keyed: Vec<(u64, u32)> =
        (0..points.nrows()).map(|i| (total_order_key(slice[i * dims]), i as u32)).collect();
    keyed.sort_unstable();
    let mut order: Vec<u32> = keyed.iter().map(|&(_, i)| i).collect();
    if dims > 1 {
        let mut start = 0;
        while start < keyed.len() {
            let end = start + keyed[start..].iter().take_while(|(key, _)| *key == keyed[start].0).count();
            if end - start > 1 {
                order[start..end].sort_unstable_by(|&a, &b| {
                    compare_rows(&row(slice, dims, a as usize)[1..], &row(slice, dims, b as usize)[1..])
                });
            }
            start = end;
        }
    }
    order
}

/// An integer that sorts as `f64::total_cmp` orders the float.
fn total_order_key(value: f64) -> u64 {
    let bits = value.to_bits();
    // Negative floats sort backwards by their bits: flip all of them; positive ones only
    // need to come after every negative one.
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
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
    fn canonical_order_matches_a_row_by_row_sort() {
        let values = [-0.0, 0.0, 1.0, -1.0, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, 2.5, 1e300, -1e300];
        let mut seed = 1u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            values[(seed >> 33) as usize % values.len()]
        };
        let points = ndarray::Array2::from_shape_fn((3_000, 3), |_| next());
        let order = canonical_order(points.view());
        let slice = points.as_slice().unwrap();
        let mut expected: Vec<u32> = (0..3_000).collect();
        expected.sort_by(|&a, &b| compare_rows(row(slice, 3, a as usize), row(slice, 3, b as usize)));
        let rows = |o: &[u32]| o.iter().map(|&i| row(slice, 3, i as usize).to_vec()).collect::<Vec<_>>();
        // Identical rows may come in either order; the rows themselves must not.
        assert_eq!(
            rows(&order).iter().map(|r| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>(),
            rows(&expected).iter().map(|r| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>()
        );
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            expected.iter().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn dense_labels_follow_first_appearance() {
        assert_eq!(dense_labels(&[7, 3, 7, -1]), (vec![0, 1, 0, 2], 3));
    }
}
