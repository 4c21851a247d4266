//! The buy-till-you-die summary of one customer, as the Python lifetimes package's
//! `summary_data_from_transaction_data` defines it, from their distinct purchase periods.

/// One customer's summary, in periods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BtydSummary {
    /// Distinct purchase periods minus one.
    pub frequency: f64,
    /// The last purchase period minus the first.
    pub recency: f64,
    pub first: i32,
    pub last: i32,
    /// The mean total of the repeat periods, 0 when there is none.
    pub monetary_value: f64,
}

/// The summary from the customer's sorted distinct `periods`, the exact total spent in the
/// first of them and the exact grand total, both in units of 10^-`scale`. Only those two
/// totals are needed, since the repeat total is their difference; `None` for a customer
/// with no period.
pub fn summary(periods: &[i32], first_total: i128, total: i128, scale: i8) -> Option<BtydSummary> {
    let (&first, &last) = (periods.first()?, periods.last()?);
    let repeats = periods.len() - 1;
    let monetary_value = if repeats > 0 {
        // Subtracting exact integers first keeps the mean independent of the order in
        // which amounts were added (and so of the thread count).
        (total - first_total) as f64 / 10f64.powi(scale as i32) / repeats as f64
    } else {
        0.0
    };
    Some(BtydSummary { frequency: repeats as f64, recency: (last - first) as f64, first, last, monetary_value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_period_is_no_repeat() {
        let one = summary(&[10], 500, 500, 2).unwrap();
        assert_eq!((one.frequency, one.recency, one.monetary_value), (0.0, 0.0, 0.0));
        assert_eq!((one.first, one.last), (10, 10));
    }

    #[test]
    fn repeat_periods_average_their_totals() {
        // Periods 10, 12, 20 with totals 1.00, 3.00, 5.00: two repeats worth 8.00.
        let s = summary(&[10, 12, 20], 100, 900, 2).unwrap();
        assert_eq!((s.frequency, s.recency, s.monetary_value), (2.0, 10.0, 4.0));
        assert_eq!((s.first, s.last), (10, 20));
    }

    #[test]
    fn refunds_lower_the_mean_and_no_period_is_none() {
        let s = summary(&[1, 2], 1_000, 1_000 - 250, 3).unwrap();
        assert_eq!(s.monetary_value, -0.25);
        assert_eq!(summary(&[], 0, 0, 0), None);
    }
}
