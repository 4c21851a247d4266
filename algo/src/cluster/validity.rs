//! Davies–Bouldin and Calinski–Harabasz indices, as `sklearn.metrics` defines them.

use ndarray::ArrayView2;

/// Per-cluster sizes and centroids (row-major), summed in point order.
fn centroids(points: ArrayView2<f64>, labels: &[u32], clusters: usize) -> (Vec<f64>, Vec<f64>) {
    let dims = points.ncols();
    let mut sizes = vec![0.0; clusters];
    let mut sums = vec![0.0; clusters * dims];
    for (point, &l) in points.rows().into_iter().zip(labels) {
        let l = l as usize;
        sizes[l] += 1.0;
        for (s, v) in sums[l * dims..(l + 1) * dims].iter_mut().zip(point.iter()) {
            *s += v;
        }
    }
    for (c, size) in sizes.iter().enumerate() {
        for s in &mut sums[c * dims..(c + 1) * dims] {
            *s /= size;
        }
    }
    (sizes, sums)
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    super::squared_distance(a, b).sqrt()
}

/// The mean over clusters of the worst (s_i + s_j) / d(c_i, c_j), where s is the mean
/// distance of a cluster's points to its centroid. Lower is better; `None` with fewer
/// than two clusters. 0 when every cluster is a point or all centroids coincide, as in
/// scikit-learn.
pub fn davies_bouldin(points: ArrayView2<f64>, labels: &[u32], clusters: usize) -> Option<f64> {
    if clusters < 2 {
        return None;
    }
    let dims = points.ncols();
    let (sizes, centres) = centroids(points, labels, clusters);
    let mut scatter = vec![0.0; clusters];
    for (point, &l) in points.rows().into_iter().zip(labels) {
        let l = l as usize;
        let p = point.to_vec();
        scatter[l] += distance(&p, &centres[l * dims..(l + 1) * dims]);
    }
    for (s, size) in scatter.iter_mut().zip(&sizes) {
        *s /= size;
    }
    let centre = |c: usize| &centres[c * dims..(c + 1) * dims];
    let mut separations = Vec::with_capacity(clusters * clusters);
    for i in 0..clusters {
        for j in 0..clusters {
            separations.push(distance(centre(i), centre(j)));
        }
    }
    // numpy's allclose(x, 0): |x| <= 1e-8.
    if scatter.iter().all(|s| s.abs() <= 1e-8) || separations.iter().all(|d| d.abs() <= 1e-8) {
        return Some(0.0);
    }
    let mut total = 0.0;
    for i in 0..clusters {
        // The diagonal counts as 0, as scikit-learn's division by an infinite distance does.
        let worst = (0..clusters)
            .filter(|&j| j != i)
            .map(|j| {
                let d = separations[i * clusters + j];
                if d == 0.0 { 0.0 } else { (scatter[i] + scatter[j]) / d }
            })
            .fold(0.0, f64::max);
        total += worst;
    }
    Some(total / clusters as f64)
}

/// Between-cluster dispersion over within-cluster dispersion, each divided by its
/// degrees of freedom: (B / (k − 1)) / (W / (n − k)). Higher is better; `None` with fewer
/// than two clusters or as many clusters as points; 1 when W is 0, as in scikit-learn.
pub fn calinski_harabasz(points: ArrayView2<f64>, labels: &[u32], clusters: usize) -> Option<f64> {
    let n = points.nrows();
    if clusters < 2 || clusters >= n {
        return None;
    }
    let dims = points.ncols();
    let (sizes, centres) = centroids(points, labels, clusters);
    let mean: Vec<f64> = (0..dims).map(|d| points.column(d).iter().sum::<f64>() / n as f64).collect();
    let mut between = 0.0;
    for c in 0..clusters {
        between += sizes[c] * super::squared_distance(&centres[c * dims..(c + 1) * dims], &mean);
    }
    let mut within = 0.0;
    for (point, &l) in points.rows().into_iter().zip(labels) {
        let l = l as usize;
        let p = point.to_vec();
        within += super::squared_distance(&p, &centres[l * dims..(l + 1) * dims]);
    }
    if within == 0.0 {
        return Some(1.0);
    }
    Some(between * (n - clusters) as f64 / (within * (clusters - 1) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_indices() {
        // Clusters {0, 2} (centre 1, scatter 1) and {10, 12} (centre 11, scatter 1).
        let points = array![[0.0], [2.0], [10.0], [12.0]];
        let labels = [0, 0, 1, 1];
        // DB: (1 + 1) / 10 for both clusters.
        assert!((davies_bouldin(points.view(), &labels, 2).unwrap() - 0.2).abs() < 1e-15);
        // CH: B = 2·25 + 2·25 = 100, W = 4; (100 / 1) / (4 / 2) = 50.
        assert_eq!(calinski_harabasz(points.view(), &labels, 2), Some(50.0));
    }

    #[test]
    fn degenerate_cases() {
        let points = array![[0.0], [2.0]];
        assert_eq!(davies_bouldin(points.view(), &[0, 0], 1), None);
        assert_eq!(calinski_harabasz(points.view(), &[0, 1], 2), None);
        assert_eq!(davies_bouldin(points.view(), &[0, 1], 2), Some(0.0));
    }
}
