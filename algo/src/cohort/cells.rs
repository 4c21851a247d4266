//! The arithmetic of cohort tables, on plain slices: folding users' active periods into
//! per-offset counts, and laying counts out as the cells users see.

use super::periods::Grain;
use crate::error::AlgoError;

/// Whether a user counts in period p when active exactly then, or then or later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionMode {
    On,
    OnOrAfter,
}

impl std::str::FromStr for RetentionMode {
    type Err = AlgoError;
    fn from_str(text: &str) -> Result<Self, AlgoError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(RetentionMode::On),
            "on_or_after" | "on-or-after" => Ok(RetentionMode::OnOrAfter),
            _ => {
                Err(AlgoError::UnknownChoice { what: "mode", got: text.to_string(), choices: "'on' or 'on_or_after'" })
            }
        }
    }
}

impl std::fmt::Display for RetentionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RetentionMode::On => "on",
            RetentionMode::OnOrAfter => "on_or_after",
        })
    }
}

/// Sorts and dedups a user's periods in place.
pub fn normalize_periods(periods: &mut Vec<i32>) {
    periods.sort_unstable();
    periods.dedup();
}

/// Adds one user of cohort `cohort` with sorted distinct `periods` to `counts` (indexed by
/// offset from the cohort).
pub fn add_user(counts: &mut Vec<i64>, cohort: i32, periods: &[i32], mode: RetentionMode) {
    let Some(&last) = periods.last() else { return };
    let last_offset = (last - cohort).max(0) as usize;
    if counts.len() <= last_offset {
        counts.resize(last_offset + 1, 0);
    }
    match mode {
        RetentionMode::On => {
            for &period in periods {
                if period >= cohort {
                    counts[(period - cohort) as usize] += 1;
                }
            }
        }
        RetentionMode::OnOrAfter => {
            for count in &mut counts[..=last_offset] {
                *count += 1;
            }
        }
    }
}

/// Adds `other` into `counts` elementwise.
pub fn merge_counts<T: Copy + std::ops::AddAssign + Default>(counts: &mut Vec<T>, other: &[T]) {
    if counts.len() < other.len() {
        counts.resize(other.len(), T::default());
    }
    for (count, value) in counts.iter_mut().zip(other) {
        *count += *value;
    }
}

/// How many offsets a cohort shows: up to the period holding the latest day, capped.
pub fn offsets_shown(cohort: i32, latest_day: i32, grain: Grain, cap: Option<i64>) -> usize {
    let last_offset = (grain.index(latest_day) - cohort).max(0) as i64;
    let last_offset = cap.map_or(last_offset, |cap| last_offset.min(cap));
    (last_offset + 1) as usize
}

/// True when period `cohort + offset` ends after the latest day, so its numbers are partial.
pub fn is_incomplete(cohort: i32, offset: usize, latest_day: i32, grain: Grain) -> bool {
    grain.end_day(cohort + offset as i32) > latest_day
}

/// One cell of a retention table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetentionCell {
    pub period: i32,
    pub active_users: Option<i64>,
    pub retention: Option<f64>,
}

/// The cells of one cohort: zeros where nobody was active, NULL where the period is not over.
pub fn retention_cells(
    counts: &[i64],
    size: i64,
    cohort: i32,
    latest_day: i32,
    grain: Grain,
    cap: Option<i64>,
) -> Vec<RetentionCell> {
    (0..offsets_shown(cohort, latest_day, grain, cap))
        .map(|offset| {
            if is_incomplete(cohort, offset, latest_day, grain) {
                return RetentionCell { period: offset as i32, active_users: None, retention: None };
            }
            let active = counts.get(offset).copied().unwrap_or(0);
            RetentionCell {
                period: offset as i32,
                active_users: Some(active),
                retention: Some(active as f64 / size as f64),
            }
        })
        .collect()
}

/// One cell of a revenue cohort table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RevenueCell {
    pub period: i32,
    pub revenue: Option<f64>,
    pub cumulative_revenue_per_user: Option<f64>,
}

/// Revenue cells from exact per-offset totals in `scale`-decimal units.
pub fn revenue_cells(
    totals: &[i128],
    scale: i8,
    size: i64,
    cohort: i32,
    latest_day: i32,
    grain: Grain,
) -> Vec<RevenueCell> {
    let unit = 10f64.powi(scale as i32);
    let mut cumulative: i128 = 0;
    (0..offsets_shown(cohort, latest_day, grain, None))
        .map(|offset| {
            let total = totals.get(offset).copied().unwrap_or(0);
            cumulative += total;
            if is_incomplete(cohort, offset, latest_day, grain) {
                return RevenueCell { period: offset as i32, revenue: None, cumulative_revenue_per_user: None };
            }
            RevenueCell {
                period: offset as i32,
                revenue: Some(total as f64 / unit),
                cumulative_revenue_per_user: Some(cumulative as f64 / unit / size as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::periods::days_from_civil;

    #[test]
    fn on_counts_each_active_period() {
        let mut counts = vec![];
        add_user(&mut counts, 10, &[10, 12], RetentionMode::On);
        add_user(&mut counts, 10, &[10, 11, 12], RetentionMode::On);
        add_user(&mut counts, 10, &[10], RetentionMode::On);
        assert_eq!(counts, vec![3, 1, 2]);
    }

    #[test]
    fn on_or_after_counts_up_to_the_last_activity() {
        let mut counts = vec![];
        add_user(&mut counts, 10, &[10, 12], RetentionMode::OnOrAfter);
        add_user(&mut counts, 10, &[10], RetentionMode::OnOrAfter);
        assert_eq!(counts, vec![2, 1, 1]);
    }

    #[test]
    fn cells_fill_zeros_and_null_the_open_period() {
        // Monthly cohort of January 2025; latest data on 2025-03-15, so March is open.
        let cohort = Grain::Month.index(days_from_civil(2025, 1, 1));
        let latest = days_from_civil(2025, 3, 15);
        let cells = retention_cells(&[4], 4, cohort, latest, Grain::Month, None);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[0], RetentionCell { period: 0, active_users: Some(4), retention: Some(1.0) });
        assert_eq!(cells[1], RetentionCell { period: 1, active_users: Some(0), retention: Some(0.0) });
        assert_eq!(cells[2].active_users, None);
        // On the last day of March the month is complete.
        let closed = retention_cells(&[4, 2, 1], 4, cohort, days_from_civil(2025, 3, 31), Grain::Month, None);
        assert_eq!(closed[2].retention, Some(0.25));
        assert_eq!(retention_cells(&[4, 2, 1], 4, cohort, latest, Grain::Month, Some(1)).len(), 2);
    }

    #[test]
    fn revenue_accumulates_per_user() {
        let cohort = Grain::Month.index(days_from_civil(2025, 1, 1));
        let cells = revenue_cells(&[1000, 500], 2, 2, cohort, days_from_civil(2025, 2, 28), Grain::Month);
        assert_eq!(cells[0].revenue, Some(10.0));
        assert_eq!(cells[0].cumulative_revenue_per_user, Some(5.0));
        assert_eq!(cells[1].cumulative_revenue_per_user, Some(7.5));
    }

    #[test]
    fn modes_parse() {
        assert_eq!("on_or_after".parse::<RetentionMode>(), Ok(RetentionMode::OnOrAfter));
        assert!("sometimes".parse::<RetentionMode>().unwrap_err().to_string().contains("'on' or 'on_or_after'"));
    }
}
