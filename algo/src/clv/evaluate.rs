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
