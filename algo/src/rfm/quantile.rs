//! Quantile scores: 1..bins by the number of values strictly smaller (or larger), ties
//! sharing a score, as DuckDB's rank-based formula gives them.

/// Scores for `values`: `1 + bins * (values strictly smaller) / (non-NULL count)`, or with
/// `descending`, counting values strictly larger (so smaller values score higher).
///
/// Only `bins - 1` order statistics matter: with `s` values below it, a value scores above
/// `k` exactly when `s >= ceil(k * n / bins)`, which holds when the value is larger than
/// the `ceil(k * n / bins)`-th smallest value. So the kernel selects those few thresholds
/// (O(n log bins), no full sort) and scores each row against at most 99 cached thresholds,
/// instead of binary-searching millions of sorted keys (cache misses that grew faster than
/// the row count).
pub fn quantile_scores<T: Ord + Copy>(values: &[Option<T>], bins: u64, descending: bool) -> Vec<Option<u64>> {
    let Some(&filler) = values.iter().flatten().next() else {
        return vec![None; values.len()];
    };
    let keys: Vec<T> = values.iter().map(|v| v.unwrap_or(filler)).collect();
    let scores = quantile_scores_where(&keys, |row| values[row].is_some(), bins, descending);
    scores.into_iter().zip(values).map(|(score, value)| value.map(|_| score as u64)).collect()
}

/// `quantile_scores` over a flat key per row, scoring only the rows where `present` holds;
/// the others get 0. Holds one copy of the present keys and the scores, nothing per row
/// beyond that.
pub fn quantile_scores_where<T: Ord + Copy>(
    keys: &[T],
    present: impl Fn(usize) -> bool,
    bins: u64,
    descending: bool,
) -> Vec<i32> {
    let mut sample: Vec<T> = keys.iter().enumerate().filter(|(row, _)| present(*row)).map(|(_, k)| *k).collect();
    let n = sample.len() as u64;
    if n == 0 {
        return vec![0; keys.len()];
    }
    // For k = 1..bins-1, the k-th threshold rank b = ceil(k n / bins) (1 <= b <= n).
    let ranks: Vec<usize> = (1..bins).map(|k| (k * n).div_ceil(bins) as usize).collect();
    // The order statistic each threshold compares with: the b-th smallest value, or for
    // descending scores the b-th largest.
    let positions: Vec<usize> = ranks.iter().map(|&b| if descending { n as usize - b } else { b - 1 }).collect();
    let mut wanted = positions.clone();
    wanted.sort_unstable();
    wanted.dedup();
    select_many(&mut sample, 0, &wanted);
    let thresholds: Vec<T> = positions.iter().map(|&p| sample[p]).collect();
    drop(sample);
    keys.iter()
        .enumerate()
        .map(|(row, &v)| {
            if !present(row) {
                return 0;
            }
            // Thresholds run upwards in k (ascending) or downwards (descending), so the
            // ones passed form a prefix.
            let passed = if descending {
                thresholds.partition_point(|t| *t > v)
            } else {
                thresholds.partition_point(|t| *t < v)
            };
            1 + passed as i32
        })
        .collect()
}

/// Puts the order statistics at the sorted `positions` (relative to `offset`) in place,
/// selecting the middle one first and recursing into each side.
fn select_many<T: Ord + Copy>(keys: &mut [T], offset: usize, positions: &[usize]) {
    if positions.is_empty() || keys.is_empty() {
        return;
    }
    let middle = positions.len() / 2;
    let target = positions[middle] - offset;
    keys.select_nth_unstable(target);
    let (left, rest) = keys.split_at_mut(target);
    select_many(left, offset, &positions[..middle]);
    select_many(&mut rest[1..], offset + target + 1, &positions[middle + 1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written plainly: count the values strictly smaller (or larger).
    fn by_counting(values: &[Option<i64>], bins: u64, descending: bool) -> Vec<Option<u64>> {
        let present: Vec<i64> = values.iter().flatten().copied().collect();
        let n = present.len() as u64;
        values
            .iter()
            .map(|v| {
                v.map(|v| {
                    let beaten = present.iter().filter(|&&x| if descending { x > v } else { x < v }).count() as u64;
                    1 + bins * beaten / n
                })
            })
            .collect()
    }

    #[test]
    fn thresholds_agree_with_counting_for_ties_and_every_bin_count() {
        for n in [1usize, 2, 3, 7, 10, 31, 100] {
            for spread in [1i64, 3, 1000] {
                let values: Vec<Option<i64>> =
                    (0..n).map(|i| if i % 11 == 5 { None } else { Some(((i as i64 * 7919) % 97) % spread) }).collect();
                for bins in [2u64, 3, 4, 5, 7, 10, 100] {
                    for descending in [false, true] {
                        assert_eq!(
                            quantile_scores(&values, bins, descending),
                            by_counting(&values, bins, descending),
                            "n={n} spread={spread} bins={bins} descending={descending}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn quintiles_of_ten_values() {
        let values: Vec<Option<i32>> = (1..=10).map(Some).collect();
        let scores = quantile_scores(&values, 5, false);
        let expected: Vec<Option<u64>> = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].into_iter().map(Some).collect();
        assert_eq!(scores, expected);
    }

    #[test]
    fn ties_share_the_lowest_score_of_their_group() {
        // Sorted: 1, 2, 2, 2, 9. Smaller counts 0, 1, 1, 1, 4; n = 5, bins = 5.
        let values = [Some(2), Some(9), Some(2), Some(1), Some(2)];
        assert_eq!(quantile_scores(&values, 5, false), vec![Some(2), Some(5), Some(2), Some(1), Some(2)]);
    }

    #[test]
    fn nulls_score_null_and_do_not_count() {
        let values = [None, Some(10), Some(20), None];
        assert_eq!(quantile_scores(&values, 2, false), vec![None, Some(1), Some(2), None]);
    }

    #[test]
    fn descending_scores_small_values_high() {
        // Recency: fewer days since the last order is better.
        let recency = [Some(1), Some(30), Some(300), Some(30)];
        assert_eq!(quantile_scores(&recency, 4, true), vec![Some(4), Some(2), Some(1), Some(2)]);
    }

    #[test]
    fn single_value_and_empty() {
        assert_eq!(quantile_scores(&[Some(5)], 5, false), vec![Some(1)]);
        assert!(quantile_scores::<i32>(&[], 5, false).is_empty());
    }
}
