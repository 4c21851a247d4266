//! One-to-one matching of two sets of cluster centres by distance: the assignment that
//! minimises the summed Euclidean distance (the Hungarian method, O(n³), exact).

/// Pairs `(i, j)` of rows of `cost` (`rows × cols`, row-major) and columns, one to one,
/// `min(rows, cols)` pairs, minimising the summed cost; sorted by `i`. Ties are broken the
/// same way every time (the method is deterministic).
pub fn match_one_to_one(cost: &[f64], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    debug_assert_eq!(cost.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    // The method wants rows <= cols: transpose when needed.
    let transposed = rows > cols;
    let (n, m) = if transposed { (cols, rows) } else { (rows, cols) };
    let at = |i: usize, j: usize| if transposed { cost[j * cols + i] } else { cost[i * cols + j] };
    // Potentials u, v and the matching p (column → row), 1-based with 0 as the sentinel
    // (the classic formulation of Kuhn–Munkres with Dijkstra-like updates).
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut min_v = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let reduced = at(i0 - 1, j - 1) - u[i0] - v[j];
                    if reduced < min_v[j] {
                        min_v[j] = reduced;
                        way[j] = j0;
                    }
                    if min_v[j] < delta {
                        delta = min_v[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = (1..=m)
        .filter(|&j| p[j] != 0)
        .map(|j| if transposed { (j - 1, p[j] - 1) } else { (p[j] - 1, j - 1) })
        .collect();
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cheapest_assignment_not_the_greedy_one() {
        // Greedy takes (0,0) at 1 and then (1,1) at 10: 11. The best is (0,1) + (1,0): 2 + 3.
        let cost = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(match_one_to_one(&cost, 2, 2), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn rectangular_tables_match_the_smaller_side() {
        let cost = [5.0, 1.0, 9.0, 2.0, 8.0, 7.0];
        // 3 rows × 2 columns: 5 + 2 beats 1 + 8, the pair that starts from the cheapest cell.
        assert_eq!(match_one_to_one(&cost, 3, 2), vec![(0, 0), (1, 1)]);
        assert_eq!(match_one_to_one(&[4.0, 3.0, 1.0], 1, 3), vec![(0, 2)]);
        assert!(match_one_to_one(&[], 0, 3).is_empty());
    }

    #[test]
    fn a_permutation_of_the_same_centres_is_found_exactly() {
        let k = 6;
        let order = [3, 0, 5, 1, 4, 2];
        let cost: Vec<f64> = (0..k).flat_map(|i| (0..k).map(move |j| ((i as f64) - (order[j] as f64)).abs())).collect();
        let pairs = match_one_to_one(&cost, k, k);
        assert!(pairs.iter().all(|&(i, j)| order[j] == i));
    }
}
