//! Population stability: PSI over bins, and the drift of one feature between two snapshots
//! binned at the previous snapshot's quantiles.

use crate::error::AlgoError;

/// Shares below this are raised to it, so an empty bin on one side gives a large but finite
/// term instead of an infinite one (the usual convention).
pub const SHARE_FLOOR: f64 = 1e-4;

/// The population stability index of two distributions over the same bins, given as counts
/// or shares (each side is normalised to shares, then floored at [`SHARE_FLOOR`]):
/// `Σ (a − e) · ln(a / e)`. Bins are summed in the order given.
pub fn psi(expected: &[f64], actual: &[f64]) -> Result<f64, AlgoError> {
    debug_assert_eq!(expected.len(), actual.len());
    for (side, values) in [("expected", expected), ("actual", actual)] {
        if let Some(bad) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(AlgoError::Drift(format!(
                "{side} counts must be finite numbers >= 0, got {bad}; pass counts or shares per bin"
            )));
        }
    }
    let (e_total, a_total): (f64, f64) = (expected.iter().sum(), actual.iter().sum());
    for (side, total) in [("expected", e_total), ("actual", a_total)] {
        if total <= 0.0 {
            return Err(AlgoError::Drift(format!(
                "the {side} counts add up to 0 over {} bins; each side needs at least one non-empty bin",
                expected.len()
            )));
        }
    }
    let mut sum = 0.0;
    for (&e, &a) in expected.iter().zip(actual) {
        let e = (e / e_total).max(SHARE_FLOOR);
        let a = (a / a_total).max(SHARE_FLOOR);
        sum += (a - e) * (a / e).ln();
    }
    Ok(sum)
}

/// The `q` quantile of sorted values by linear interpolation (NumPy's default method,
/// DuckDB's `quantile_cont`), interpolated as NumPy does, from the nearer end.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let index = (n - 1) as f64 * q;
    if index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let below = index.floor();
    let gamma = index - below;
    let (a, b) = (sorted[below as usize], sorted[below as usize + 1]);
    let diff = b - a;
    if gamma >= 0.5 { b - diff * (1.0 - gamma) } else { a + diff * gamma }
}

/// How one feature moved between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    /// PSI of the current values against the previous ones, binned at the previous
    /// snapshot's `bins`-quantiles (deciles by default).
    pub psi: f64,
    /// Non-missing values, previous then current.
    pub rows: [u64; 2],
    pub mean: [f64; 2],
    pub p25: [f64; 2],
    pub median: [f64; 2],
    pub p75: [f64; 2],
}

/// Drift of one feature. Non-finite values must have been left out (the caller counts them
/// as missing); both sides need a value.
/// Sorts both slices in place. A value equal to an edge goes to the bin above it, so the
/// bins are `[edge_i, edge_{i+1})` and tied values never split across two bins.
pub fn feature_drift(previous: &mut [f64], current: &mut [f64], bins: usize) -> Result<FeatureDrift, AlgoError> {
    if bins < 2 {
        return Err(AlgoError::parameter("bins", "at least 2", bins));
    }
    for (side, values) in [("previous", &*previous), ("current", &*current)] {
        if values.is_empty() {
            return Err(AlgoError::Drift(format!("the {side} snapshot has no values of this feature")));
        }
    }
    previous.sort_unstable_by(f64::total_cmp);
    current.sort_unstable_by(f64::total_cmp);
    let edges: Vec<f64> = (1..bins).map(|i| quantile_sorted(previous, i as f64 / bins as f64)).collect();
    let counts = |sorted: &[f64]| -> Vec<f64> {
        // Values <= an edge lie left of the partition point; the bin of a value is the
        // number of edges at or below it.
        let mut below = Vec::with_capacity(bins + 1);
        below.push(0);
        below.extend(edges.iter().map(|&edge| sorted.partition_point(|&v| v < edge)));
        below.push(sorted.len());
        // Edges of finite values never decrease; the running maximum keeps the counts whole
        // whatever a caller passes.
        let mut high = 0;
        below.iter_mut().for_each(|b| {
            high = high.max(*b);
            *b = high;
        });
        below.windows(2).map(|w| (w[1] - w[0]) as f64).collect()
    };
    let psi = psi(&counts(previous), &counts(current))?;
    let mean = |sorted: &[f64]| sorted.iter().sum::<f64>() / sorted.len() as f64;
    let both = |f: &dyn Fn(&[f64]) -> f64| [f(previous), f(current)];
    Ok(FeatureDrift {
        psi,
        rows: [previous.len() as u64, current.len() as u64],
        mean: both(&mean),
        p25: both(&|s| quantile_sorted(s, 0.25)),
        median: both(&|s| quantile_sorted(s, 0.5)),
        p75: both(&|s| quantile_sorted(s, 0.75)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_by_hand() {
        // shares (0.5, 0.5) against (0.25, 0.75): (−0.25)·ln(0.5) + 0.25·ln(1.5).
        let value = psi(&[10.0, 10.0], &[1.0, 3.0]).unwrap();
        assert!((value - (-0.25 * 0.5f64.ln() + 0.25 * 1.5f64.ln())).abs() < 1e-15);
        assert_eq!(psi(&[3.0, 1.0], &[0.75, 0.25]).unwrap(), 0.0);
    }

    #[test]
    fn empty_bins_are_floored() {
        let value = psi(&[1.0, 0.0], &[0.0, 1.0]).unwrap();
        let floor = SHARE_FLOOR;
        assert!((value - 2.0 * (1.0 - floor) * (1.0 / floor).ln()).abs() < 1e-12);
    }

    #[test]
    fn psi_rejects_what_is_not_a_distribution() {
        assert!(psi(&[1.0, -1.0], &[1.0, 1.0]).unwrap_err().to_string().contains("expected counts must be"));
        assert!(psi(&[0.0, 0.0], &[1.0, 1.0]).unwrap_err().to_string().contains("expected counts add up to 0"));
        assert!(psi(&[1.0, 1.0], &[f64::NAN, 1.0]).unwrap_err().to_string().contains("actual counts must be"));
    }

    #[test]
    fn quantiles_interpolate_as_numpy() {
        let values = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&values, 0.0), 1.0);
        assert_eq!(quantile_sorted(&values, 0.5), 3.0);
        assert_eq!(quantile_sorted(&values, 1.0), 8.0);
        assert_eq!(quantile_sorted(&values, 0.25), 1.75);
    }

    #[test]
    fn a_feature_that_did_not_move_has_no_drift() {
        let mut a: Vec<f64> = (0..100).map(f64::from).collect();
        let mut b = a.clone();
        b.reverse();
        let drift = feature_drift(&mut a, &mut b, 10).unwrap();
        assert_eq!(drift.psi, 0.0);
        assert_eq!(drift.mean, [49.5, 49.5]);
        assert_eq!(drift.rows, [100, 100]);
    }

    #[test]
    fn ties_stay_in_one_bin() {
        // 90 zeros and 10 ones: the zeros all fall in one bin, not spread over eight.
        let mut previous = vec![0.0; 90];
        previous.extend(vec![1.0; 10]);
        let mut current = vec![0.0; 50];
        current.extend(vec![1.0; 50]);
        // Edges: 0 eight times, then 0.1 (between the 90th and 91st value): zeros land in
        // bin 8, ones in bin 9.
        let drift = feature_drift(&mut previous, &mut current, 10).unwrap();
        let expected = (0.5 - 0.9) * (0.5f64 / 0.9).ln() + (0.5 - 0.1) * (0.5f64 / 0.1).ln();
        assert!((drift.psi - expected).abs() < 1e-12, "{}", drift.psi);
    }
}
