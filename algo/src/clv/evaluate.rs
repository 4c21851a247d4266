//! How well predictions match what happened: the holdout check of a BTYD model.

/// Predicted against actual purchases over a holdout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictionErrors {
    pub customers: u64,
    pub actual: f64,
    pub predicted: f64,
    pub mae: f64,
    pub rmse: f64,
}

/// The errors of `(predicted, actual)` pairs, summed in the pairs' sorted order so the
/// result does not depend on the order they arrived in. `None` for no pairs.
pub fn prediction_errors(pairs: &mut [(f64, f64)]) -> Option<PredictionErrors> {
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (mut actual, mut predicted, mut absolute, mut squared) = (0.0, 0.0, 0.0, 0.0);
    for &(p, a) in pairs.iter() {
        actual += a;
        predicted += p;
        absolute += (p - a).abs();
        squared += (p - a) * (p - a);
    }
    let n = pairs.len() as f64;
    Some(PredictionErrors {
        customers: pairs.len() as u64,
        actual,
        predicted,
        mae: absolute / n,
        rmse: (squared / n).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_errors_in_any_order() {
        let mut pairs = vec![(1.5, 1.0), (0.0, 2.0), (3.0, 3.0)];
        let e = prediction_errors(&mut pairs).unwrap();
        assert_eq!((e.customers, e.actual, e.predicted), (3, 6.0, 4.5));
        assert_eq!(e.mae, 2.5 / 3.0);
        assert_eq!(e.rmse, (4.25f64 / 3.0).sqrt());
        let mut reversed = vec![(3.0, 3.0), (0.0, 2.0), (1.5, 1.0)];
        assert_eq!(prediction_errors(&mut reversed), Some(e));
        assert_eq!(prediction_errors(&mut []), None);
    }
}

/// A propensity model's scores against the labels, as scikit-learn computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassificationMetrics {
    pub rows: u64,
    /// `None` with one class only.
    pub roc_auc: Option<f64>,
    pub log_loss: f64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1_score: f64,
}

/// The metrics of `(probability, label)` pairs at a threshold of 0.5 (positive when the
/// probability is above it, as `predict` decides): `roc_auc_score` (ties counted a half,
/// through average ranks), `log_loss` (probabilities clipped to [ε, 1 − ε], ε the f64
/// epsilon), `accuracy_score`, and `precision_score`, `recall_score` and `f1_score`
/// (0 where they divide by zero, scikit-learn's `zero_division` default). Pairs are sorted
/// first, so the sums do not depend on the order they arrived in.
pub fn classification_metrics(pairs: &mut [(f64, bool)]) -> Option<ClassificationMetrics> {
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let n = pairs.len();
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    let mut loss = 0.0;
    for &(p, y) in pairs.iter() {
        let q = p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        loss -= if y { q.ln() } else { (1.0 - q).ln() };
        match (p > 0.5, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let positives = pairs.iter().filter(|p| p.1).count();
    let negatives = n - positives;
    // Mann–Whitney: the positives' rank sum, tied probabilities sharing their mean rank.
    let roc_auc = (positives > 0 && negatives > 0).then(|| {
        let mut rank_sum = 0.0;
        let mut i = 0;
        while i < n {
            // Ties by total order, so a NaN probability groups with itself instead of stalling.
            let mut j = i + 1;
            while j < n && pairs[j].0.total_cmp(&pairs[i].0).is_eq() {
                j += 1;
            }
            let mean_rank = (i + 1 + j) as f64 / 2.0;
            rank_sum += mean_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
            i = j;
        }
        let p = positives as f64;
        (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
    });
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f1_score = ratio(2 * tp, 2 * tp + fp + fn_);
    let correct = n as u64 - fp - fn_;
    Some(ClassificationMetrics {
        rows: n as u64,
        roc_auc,
        log_loss: loss / n as f64,
        accuracy: correct as f64 / n as f64,
        precision,
        recall,
        f1_score,
    })
}

#[cfg(test)]
mod classification_tests {
    use super::*;

    #[test]
    fn hand_computed_metrics_with_a_tie() {
        // Scores 0.9 (+), 0.6 (−), 0.6 (+), 0.2 (−): of the 4 positive/negative pairs, 3 are
        // ordered right and one is a tie, so AUC = 3.5/4.
        let mut pairs = vec![(0.2, false), (0.6, true), (0.9, true), (0.6, false)];
        let m = classification_metrics(&mut pairs).unwrap();
        assert_eq!(m.roc_auc, Some(0.875));
        // Predicted positive: 0.9 and both 0.6: tp 2, fp 1, fn 0.
        assert_eq!((m.precision, m.recall, m.accuracy), (2.0 / 3.0, 1.0, 0.75));
        assert_eq!(m.f1_score, 0.8);
        let want = -(0.9f64.ln() + 0.6f64.ln() + 0.4f64.ln() + 0.8f64.ln()) / 4.0;
        assert!((m.log_loss - want).abs() < 1e-15);
        let mut with_nan = vec![(f64::NAN, true), (0.2, false), (f64::NAN, false)];
        assert!(classification_metrics(&mut with_nan).is_some());
        let mut one_class = vec![(0.3, true), (0.7, true)];
        assert_eq!(classification_metrics(&mut one_class).unwrap().roc_auc, None);
    }
}
