//! Agreement of two labelings of the same rows, computed as scikit-learn computes
//! `adjusted_rand_score` and `normalized_mutual_info_score` (arithmetic mean), step for step:
//! pair counts in exact integers (the adjusted Rand index agrees to the last bit), the mutual
//! information summed over the contingency table's non-empty cells in row-major order of the
//! sorted labels (NumPy sums them pairwise, so the two may differ in the last bits).

/// The contingency table of two labelings given as dense labels (`0..classes` and
/// `0..clusters`, numbered in the sorted order of the original labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Contingency {
    /// Non-empty cells `(a, b, count)`, sorted by `a`, then `b`.
    pub cells: Vec<(u32, u32, u64)>,
    /// Rows per label of `a`.
    pub a_sizes: Vec<u64>,
    /// Rows per label of `b`.
    pub b_sizes: Vec<u64>,
    pub rows: u64,
}

impl Contingency {
    /// `a` and `b` have one label per row, the same length.
    pub fn new(a: &[u32], b: &[u32]) -> Contingency {
        debug_assert_eq!(a.len(), b.len());
        let mut pairs: Vec<u64> = a.iter().zip(b).map(|(&x, &y)| ((x as u64) << 32) | y as u64).collect();
        pairs.sort_unstable();
        let classes = a.iter().max().map_or(0, |&m| m as usize + 1);
        let clusters = b.iter().max().map_or(0, |&m| m as usize + 1);
        let mut a_sizes = vec![0u64; classes];
        let mut b_sizes = vec![0u64; clusters];
        let mut cells: Vec<(u32, u32, u64)> = Vec::new();
        for pair in pairs {
            let (x, y) = ((pair >> 32) as u32, pair as u32);
            a_sizes[x as usize] += 1;
            b_sizes[y as usize] += 1;
            match cells.last_mut() {
                Some(last) if last.0 == x && last.1 == y => last.2 += 1,
                _ => cells.push((x, y, 1)),
            }
        }
        Contingency { cells, a_sizes, b_sizes, rows: a.len() as u64 }
    }
}

/// The adjusted Rand index: 1 for identical partitions (up to renaming), about 0 for
/// independent ones, negative when they agree less than chance. 1 when no pair of rows can
/// disagree (fewer than two rows, or both labelings put every row alone or all together).
pub fn adjusted_rand(table: &Contingency) -> f64 {
    // scikit-learn's pair_confusion_matrix, in exact integers (i128: n² and the products
    // below pass i64 at a few million rows).
    let n = table.rows as i128;
    let sum_squares: i128 = table.cells.iter().map(|&(_, _, c)| (c as i128) * (c as i128)).sum();
    let by_b: i128 = table.cells.iter().map(|&(_, y, c)| c as i128 * table.b_sizes[y as usize] as i128).sum();
    let by_a: i128 = table.cells.iter().map(|&(x, _, c)| c as i128 * table.a_sizes[x as usize] as i128).sum();
    let tp = sum_squares - n;
    let fp = by_b - sum_squares;
    let fn_ = by_a - sum_squares;
    let tn = n * n - fp - fn_ - sum_squares;
    if fn_ == 0 && fp == 0 {
        return 1.0;
    }
    let numerator = tp * tn - fn_ * fp;
    let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    (2.0 * numerator as f64) / denominator as f64
}

/// Normalised mutual information with the arithmetic mean of the two entropies as the
/// normaliser: 1 for identical partitions, 0 for independent ones (and when one labeling
/// has a single label while the other has several), 1 when both have a single label.
pub fn normalized_mutual_info(table: &Contingency) -> f64 {
    let (classes, clusters) = (table.a_sizes.len(), table.b_sizes.len());
    if classes == clusters && (classes == 1 || classes == 0) {
        return 1.0;
    }
    let mi = mutual_info(table);
    if mi == 0.0 {
        return 0.0;
    }
    let (h_a, h_b) = (entropy(&table.a_sizes), entropy(&table.b_sizes));
    let normalizer = (h_a + h_b) / 2.0;
    mi / normalizer
}

/// Mutual information in nats, as `mutual_info_score` computes it from a contingency table.
fn mutual_info(table: &Contingency) -> f64 {
    if table.a_sizes.len() == 1 || table.b_sizes.len() == 1 {
        return 0.0;
    }
    let total = table.rows as f64;
    let log_total = total.ln();
    let mut sum = 0.0;
    for &(x, y, count) in &table.cells {
        let count = count as f64;
        let share = count / total;
        let outer = (table.a_sizes[x as usize] as i64 * table.b_sizes[y as usize] as i64) as f64;
        let log_outer = -outer.ln() + log_total + log_total;
        let term = share * (count.ln() - log_total) + share * log_outer;
        sum += if term.abs() < f64::EPSILON { 0.0 } else { term };
    }
    sum.max(0.0)
}

/// The entropy of label sizes in nats (scikit-learn's `entropy`): 0 for one label.
fn entropy(sizes: &[u64]) -> f64 {
    if sizes.is_empty() {
        return 1.0;
    }
    let sizes: Vec<f64> = sizes.iter().filter(|&&s| s > 0).map(|&s| s as f64).collect();
    if sizes.len() == 1 {
        return 0.0;
    }
    let total: f64 = sizes.iter().sum();
    let log_total = total.ln();
    -sizes.iter().map(|&s| (s / total) * (s.ln() - log_total)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a: &[u32], b: &[u32]) -> Contingency {
        Contingency::new(a, b)
    }

    #[test]
    fn identical_partitions_agree_fully_whatever_the_names() {
        let t = table(&[0, 0, 1, 1, 2], &[2, 2, 0, 0, 1]);
        assert_eq!(adjusted_rand(&t), 1.0);
        assert!((normalized_mutual_info(&t) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn a_hand_computed_case() {
        // a = [0,0,1,1], b = [0,1,0,1], ordered pairs: together in both 0, in a only 4, in b
        // only 4, apart in both 4; ARI = 2(0·4 − 4·4) / ((0+4)(4+4) + (0+4)(4+4)) = −1/2.
        let t = table(&[0, 0, 1, 1], &[0, 1, 0, 1]);
        assert_eq!(adjusted_rand(&t), -0.5);
        assert_eq!(normalized_mutual_info(&t), 0.0);
    }

    #[test]
    fn single_labels_and_single_rows() {
        assert_eq!(adjusted_rand(&table(&[0, 0, 0], &[0, 0, 0])), 1.0);
        assert_eq!(normalized_mutual_info(&table(&[0, 0, 0], &[0, 0, 0])), 1.0);
        assert_eq!(normalized_mutual_info(&table(&[0, 0, 0], &[0, 1, 2])), 0.0);
        assert_eq!(adjusted_rand(&table(&[0], &[0])), 1.0);
        // Every row alone on both sides: no pair is together anywhere, so none disagrees.
        assert_eq!(adjusted_rand(&table(&[0, 1, 2], &[2, 1, 0])), 1.0);
    }

    #[test]
    fn cells_are_counted_in_row_major_order() {
        let t = table(&[1, 0, 1, 0, 1], &[0, 1, 0, 0, 1]);
        assert_eq!(t.cells, vec![(0, 0, 1), (0, 1, 1), (1, 0, 2), (1, 1, 1)]);
        assert_eq!((t.a_sizes.clone(), t.b_sizes.clone(), t.rows), (vec![2, 3], vec![3, 2], 5));
    }
}
