//! DBSCAN over a grid index: points are bucketed into cells of side `eps` on their first
//! (up to three) features, so a neighbourhood query scans the 3, 9 or 27 cells around a
//! point instead of every point, and memory stays O(n).
//!
//! Clusters are numbered in the order their first core point appears, and a border point
//! reachable from two clusters joins the earlier one: scikit-learn's rule, so on points in
//! the same order the labels are the same.

use ndarray::ArrayView2;

use super::{row, squared_distance};
use crate::error::AlgoError;
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// Noise points get this label.
pub const NOISE: i64 = -1;

/// Cells per parallel task in the counting pass.
const CELL_CHUNK: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbscanParams {
    pub eps: f64,
    pub min_points: usize,
}

/// Options that passed [`DbscanParams::check`].
#[derive(Debug, Clone, Copy)]
pub struct CheckedDbscan(DbscanParams);

impl DbscanParams {
    pub fn check(self) -> Result<CheckedDbscan, AlgoError> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(AlgoError::parameter("eps", "a number greater than 0", self.eps));
        }
        if self.min_points < 1 {
            return Err(AlgoError::parameter("min_points", "at least 1", self.min_points));
        }
        Ok(CheckedDbscan(self))
    }
}

/// The grid: points sorted by cell, and each cell's range in that order.
struct Grid {
    /// Point indices in cell order.
    order: Vec<u32>,
    /// Position of point i in `order`.
    position: Vec<u32>,
    /// The points' coordinates in cell order, row-major.
    sorted: Vec<f64>,
    /// (cell key, start, end) in key order.
    cells: Vec<([i64; 3], usize, usize)>,
    /// Cell index of each position.
    cell_of: Vec<u32>,
    /// Features used for the cell key.
    key_dims: usize,
}

impl Grid {
    fn new(data: &[f64], dims: usize, eps: f64) -> Grid {
        let n = data.len() / dims;
        let key_dims = dims.min(3);
        let key = |i: usize| {
            let mut k = [0i64; 3];
            for (d, slot) in k.iter_mut().enumerate().take(key_dims) {
                // Saturating cast: far-away points share an edge cell, which is still correct.
                *slot = (data[i * dims + d] / eps).floor() as i64;
            }
            k
        };
        let keys: Vec<[i64; 3]> = (0..n).map(key).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]).then(a.cmp(&b)));
        let mut position = vec![0u32; n];
        let mut sorted = Vec::with_capacity(data.len());
        let mut cells: Vec<([i64; 3], usize, usize)> = Vec::new();
        let mut cell_of = Vec::with_capacity(n);
        for (p, &i) in order.iter().enumerate() {
            position[i as usize] = p as u32;
            sorted.extend_from_slice(row(data, dims, i as usize));
            let k = keys[i as usize];
            match cells.last_mut() {
                Some(last) if last.0 == k => last.2 = p + 1,
                _ => cells.push((k, p, p + 1)),
            }
            cell_of.push(cells.len() as u32 - 1);
        }
        Grid { order, position, sorted, cells, cell_of, key_dims }
    }

    /// Position ranges of the cells next to `cell` (itself included).
    fn neighbour_ranges(&self, cell: usize, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let key = self.cells[cell].0;
        let offsets = |d: usize| if d < self.key_dims { -1i64..=1 } else { 0..=0 };
        for dx in offsets(0) {
            for dy in offsets(1) {
                // The third key runs over a contiguous range of cells.
                let lo = [key[0].saturating_add(dx), key[1].saturating_add(dy), key[2].saturating_sub(1)];
                let hi = [lo[0], lo[1], key[2].saturating_add(1)];
                let (lo, hi) =
                    if self.key_dims < 3 { ([lo[0], lo[1], key[2]], [lo[0], lo[1], key[2]]) } else { (lo, hi) };
                let first = self.cells.partition_point(|c| c.0 < lo);
                let last = self.cells.partition_point(|c| c.0 <= hi);
                if first < last {
                    out.push((self.cells[first].1, self.cells[last - 1].2));
                }
            }
        }
    }
}

/// Labels 1.. for clusters and [`NOISE`] for noise, one per point.
pub fn dbscan(points: ArrayView2<f64>, options: &CheckedDbscan, threads: Threads) -> Vec<i64> {
    let DbscanParams { eps, min_points } = options.0;
    let standard = points.as_standard_layout();
    let data = standard.as_slice().unwrap_or_default();
    let dims = points.ncols();
    let n = points.nrows();
    if n == 0 {
        return Vec::new();
    }
    let eps2 = eps * eps;
    let grid = Grid::new(data, dims, eps);

    // Pass 1: which points are core points (min_points counts the point itself).
    let counts: Vec<Vec<bool>> = map_chunks(threads, chunk_count(grid.cells.len(), CELL_CHUNK), |chunk| {
        let mut ranges = Vec::new();
        let mut core = Vec::new();
        for cell in chunk_range(chunk, CELL_CHUNK, grid.cells.len()) {
            grid.neighbour_ranges(cell, &mut ranges);
            let (start, end) = (grid.cells[cell].1, grid.cells[cell].2);
            for p in start..end {
                let point = row(&grid.sorted, dims, p);
                let mut count = 0;
                'ranges: for &(from, to) in &ranges {
                    for q in from..to {
                        if squared_distance(point, row(&grid.sorted, dims, q)) <= eps2 {
                            count += 1;
                            if count >= min_points {
                                break 'ranges;
                            }
                        }
                    }
                }
                core.push(count >= min_points);
            }
        }
        core
    });
    let core_at: Vec<bool> = counts.into_iter().flatten().collect();

    // Pass 2: grow clusters from core points in point order, depth first.
    let mut labels = vec![NOISE; n];
    let mut visited = vec![false; n];
    let mut next_label = 0;
    let mut stack: Vec<usize> = Vec::new();
    let mut ranges = Vec::new();
    for start in 0..n {
        let p0 = grid.position[start] as usize;
        if visited[p0] || !core_at[p0] {
            continue;
        }
        next_label += 1;
        visited[p0] = true;
        stack.push(p0);
        while let Some(p) = stack.pop() {
            labels[grid.order[p] as usize] = next_label;
            if !core_at[p] {
                continue;
            }
            grid.neighbour_ranges(grid.cell_of[p] as usize, &mut ranges);
            let point = row(&grid.sorted, dims, p);
            for &(from, to) in &ranges {
                for (offset, seen) in visited[from..to].iter_mut().enumerate() {
                    let q = from + offset;
                    if !*seen && squared_distance(point, row(&grid.sorted, dims, q)) <= eps2 {
                        *seen = true;
                        stack.push(q);
                    }
                }
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn run(points: &ndarray::Array2<f64>, eps: f64, min_points: usize) -> Vec<i64> {
        dbscan(points.view(), &DbscanParams { eps, min_points }.check().unwrap(), Threads::new(2))
    }

    #[test]
    fn two_groups_and_noise() {
        let points = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [50.0, 50.0], [10.0, 10.0], [10.0, 11.0], [11.0, 10.0]];
        assert_eq!(run(&points, 1.5, 3), vec![1, 1, 1, -1, 2, 2, 2]);
    }

    #[test]
    fn a_border_point_joins_the_first_cluster() {
        // min_points 4, eps 1: 2.0 has only 1.0, 3.0 and itself nearby, so it is a border
        // point of both groups, and the group whose first core point comes first keeps it.
        let points = array![[0.0], [0.3], [0.6], [1.0], [2.0], [3.0], [3.4], [3.7], [4.0]];
        assert_eq!(run(&points, 1.0, 4), vec![1, 1, 1, 1, 1, 2, 2, 2, 2]);
    }

    #[test]
    fn the_edge_of_eps_is_inside() {
        let points = array![[0.0], [1.0]];
        assert_eq!(run(&points, 1.0, 2), vec![1, 1]);
        assert_eq!(run(&points, 0.999, 2), vec![-1, -1]);
    }

    #[test]
    fn min_points_one_makes_everything_core() {
        let points = array![[0.0], [5.0], [5.5]];
        assert_eq!(run(&points, 1.0, 1), vec![1, 2, 2]);
    }

    #[test]
    fn high_dimensions_use_the_first_three_for_cells() {
        let points = array![[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0, 9.0]];
        assert_eq!(run(&points, 1.0, 2), vec![1, 1, -1]);
    }

    #[test]
    fn bad_options() {
        assert!(DbscanParams { eps: 0.0, min_points: 1 }.check().unwrap_err().to_string().contains("eps"));
        assert!(DbscanParams { eps: 1.0, min_points: 0 }.check().unwrap_err().to_string().contains("min_points"));
    }
}
