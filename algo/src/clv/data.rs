//! The customers a buy-till-you-die model is fitted on, checked as lifetimes checks them
//! and folded into distinct rows with weights, so that each likelihood pass does the
//! special functions once per distinct frequency and the rest once per distinct history.

use crate::error::AlgoError;

/// Distinct (frequency, recency, T) histories with their counts, sorted, and the distinct
/// frequencies they use.
#[derive(Debug, Clone, PartialEq)]
pub struct Histories {
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub age: Vec<f64>,
    pub weight: Vec<f64>,
    /// Index of each row's frequency in `frequencies`.
    pub frequency_index: Vec<u32>,
    pub frequencies: Vec<f64>,
    /// Customers (the sum of the weights).
    pub customers: u64,
    pub max_age: f64,
}

/// Checks one customer's history: what lifetimes refuses is refused here, with the row.
pub fn check_history(frequency: f64, recency: f64, age: f64) -> Result<(), AlgoError> {
    let bad = |rule: &'static str| Err(AlgoError::BadHistory { rule, frequency, recency, age });
    if frequency < 0.0 || recency < 0.0 || age < 0.0 {
        return bad("frequency, recency and T must not be negative");
    }
    if frequency.fract() != 0.0 {
        return bad("frequency counts repeat purchases and must be a whole number");
    }
    if recency > age {
        return bad("recency (first to last purchase) cannot exceed T (first purchase to the end)");
    }
    if frequency == 0.0 && recency != 0.0 {
        return bad("a customer with frequency 0 has recency 0");
    }
    Ok(())
}

impl Histories {
    /// Folds the rows (finite values only; the caller skips the rest) after checking each.
    pub fn new(rows: &[[f64; 3]]) -> Result<Histories, AlgoError> {
        if rows.is_empty() {
            return Err(AlgoError::NoRows);
        }
        let mut sorted: Vec<[f64; 3]> = rows.to_vec();
        sorted.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])).then(a[2].total_cmp(&b[2])));
        let mut h = Histories {
            frequency: Vec::new(),
            recency: Vec::new(),
            age: Vec::new(),
            weight: Vec::new(),
            frequency_index: Vec::new(),
            frequencies: Vec::new(),
            customers: rows.len() as u64,
            max_age: 0.0,
        };
        // Checked in sorted order, so the row an error names does not depend on the order
        // the query returned them in.
        for row in sorted {
            check_history(row[0], row[1], row[2])?;
            let same = h.frequency.last() == Some(&row[0])
                && h.recency.last() == Some(&row[1])
                && h.age.last() == Some(&row[2]);
            if same {
                if let Some(w) = h.weight.last_mut() {
                    *w += 1.0;
                }
                continue;
            }
            if h.frequencies.last() != Some(&row[0]) {
                h.frequencies.push(row[0]);
            }
            h.frequency_index.push((h.frequencies.len() - 1) as u32);
            h.frequency.push(row[0]);
            h.recency.push(row[1]);
            h.age.push(row[2]);
            h.weight.push(1.0);
            h.max_age = h.max_age.max(row[2]);
        }
        Ok(h)
    }

    pub fn len(&self) -> usize {
        self.frequency.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_repeated_histories_in_sorted_order() {
        let h = Histories::new(&[[2.0, 5.0, 9.0], [0.0, 0.0, 4.0], [2.0, 5.0, 9.0], [1.0, 3.0, 9.0]]).unwrap();
        assert_eq!(h.frequency, vec![0.0, 1.0, 2.0]);
        assert_eq!(h.weight, vec![1.0, 1.0, 2.0]);
        assert_eq!(h.frequencies, vec![0.0, 1.0, 2.0]);
        assert_eq!(h.frequency_index, vec![0, 1, 2]);
        assert_eq!((h.customers, h.max_age), (4, 9.0));
    }

    #[test]
    fn refuses_what_lifetimes_refuses() {
        for (row, says) in [
            ([-1.0, 0.0, 1.0], "must not be negative"),
            ([1.0, 5.0, 4.0], "cannot exceed T"),
            ([0.0, 2.0, 4.0], "frequency 0 has recency 0"),
            ([1.5, 2.0, 4.0], "whole number"),
        ] {
            let e = Histories::new(&[row]).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        assert_eq!(Histories::new(&[]).unwrap_err(), AlgoError::NoRows);
    }
}
