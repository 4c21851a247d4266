//! The knee of a decreasing, convex curve (inertia against k) by the Kneedle rule:
//! scale both axes to [0, 1] and take the point farthest below the straight line from the
//! first point to the last.

/// The index of the knee, or `None` when the curve has fewer than three points or no
/// point lies below the chord.
pub fn knee(x: &[f64], y: &[f64]) -> Option<usize> {
    if x.len() < 3 || x.len() != y.len() {
        return None;
    }
    let (x_min, x_max) = min_max(x);
    let (y_min, y_max) = min_max(y);
    if x_max == x_min || y_max == y_min {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let xn = (xi - x_min) / (x_max - x_min);
        // Flipping y turns "decreasing, convex" into "increasing, concave".
        let yn = (y_max - yi) / (y_max - y_min);
        let difference = yn - xn;
        if difference > 0.0 && best.is_none_or(|(_, d)| difference > d) {
            best = Some((i, difference));
        }
    }
    best.map(|(i, _)| i)
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elbow_at_the_bend() {
        let k = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let inertia = [1000.0, 400.0, 120.0, 100.0, 90.0, 85.0];
        assert_eq!(knee(&k, &inertia), Some(2));
    }

    #[test]
    fn straight_lines_and_short_curves_have_no_knee() {
        assert_eq!(knee(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), None);
        assert_eq!(knee(&[1.0, 2.0], &[5.0, 1.0]), None);
    }
}
