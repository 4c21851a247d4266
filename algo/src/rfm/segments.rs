//! RFM segment schemes: named rectangles of R×F score cells, tried in order.

use std::sync::LazyLock;

use crate::error::AlgoError;

/// One row of a scheme: a name for a rectangle of R×F cells.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentRule {
    pub segment: String,
    pub r: (i64, i64),
    pub f: (i64, i64),
}

/// A rule as JSON carries it: (segment, r_min, r_max, f_min, f_max).
type RuleRow = (String, i64, i64, i64, i64);

/// A checked segment scheme: every cell of 1..=max_r × 1..=max_f is covered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentScheme {
    rules: Vec<SegmentRule>,
    max_r: i64,
    max_f: i64,
}

/// A segment name with its R and F score ranges.
type GridCell = (&'static str, (i64, i64), (i64, i64));

const DEFAULT_GRID: [GridCell; 10] = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal Customers", (3, 4), (4, 5)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("New Customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About To Sleep", (3, 3), (1, 2)),
    ("At Risk", (1, 2), (3, 4)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("Hibernating", (1, 2), (1, 2)),
];

pub static DEFAULT_SCHEME: LazyLock<SegmentScheme> = LazyLock::new(|| {
    let rules =
        DEFAULT_GRID.iter().map(|(segment, r, f)| SegmentRule { segment: segment.to_string(), r: *r, f: *f }).collect();
    SegmentScheme::new(rules).expect("the default grid covers every cell")
});

impl SegmentScheme {
    /// Checks the rules and returns the scheme, or a message naming what is wrong.
    pub fn new(rules: Vec<SegmentRule>) -> Result<Self, AlgoError> {
        if rules.is_empty() {
            return Err(AlgoError::Scheme("the scheme has no rows".into()));
        }
        for rule in &rules {
            let (r, f) = (rule.r, rule.f);
            if r.0 < 1 || f.0 < 1 || r.0 > r.1 || f.0 > f.1 {
                return Err(AlgoError::Scheme(format!(
                    "segment '{}' has an empty or invalid range (r {}..{}, f {}..{}); ranges start at 1 and min <= max",
                    rule.segment, r.0, r.1, f.0, f.1
                )));
            }
        }
        let max_r = rules.iter().map(|rule| rule.r.1).max().unwrap_or(1);
        let max_f = rules.iter().map(|rule| rule.f.1).max().unwrap_or(1);
        // Bounds come from a user's table, so the product may not fit an i64.
        if max_r.checked_mul(max_f).is_none_or(|cells| cells > 10_000) {
            return Err(AlgoError::Scheme(format!(
                "scores up to r={max_r}, f={max_f} are more cells than a scheme can list"
            )));
        }
        let scheme = SegmentScheme { rules, max_r, max_f };
        let uncovered: Vec<String> = (1..=max_r)
            .flat_map(|r| (1..=max_f).map(move |f| (r, f)))
            .filter(|&(r, f)| scheme.classify(r, f).is_none())
            .map(|(r, f)| format!("(r={r}, f={f})"))
            .collect();
        if !uncovered.is_empty() {
            let shown: Vec<&str> = uncovered.iter().take(20).map(String::as_str).collect();
            let more = if uncovered.len() > 20 { format!(" and {} more", uncovered.len() - 20) } else { String::new() };
            return Err(AlgoError::Scheme(format!("the scheme leaves cells uncovered: {}{more}", shown.join(", "))));
        }
        Ok(scheme)
    }

    /// The first segment whose ranges hold (r, f).
    pub fn classify(&self, r: i64, f: i64) -> Option<&str> {
        self.rules
            .iter()
            .find(|rule| (rule.r.0..=rule.r.1).contains(&r) && (rule.f.0..=rule.f.1).contains(&f))
            .map(|rule| rule.segment.as_str())
    }

    pub fn max_scores(&self) -> (i64, i64) {
        (self.max_r, self.max_f)
    }

    /// The rules as JSON, `[["segment", r_min, r_max, f_min, f_max], ...]`: how a planned
    /// call carries a user's scheme.
    pub fn to_json(&self) -> String {
        let rows: Vec<(&str, i64, i64, i64, i64)> =
            self.rules.iter().map(|r| (r.segment.as_str(), r.r.0, r.r.1, r.f.0, r.f.1)).collect();
        serde_json::to_string(&rows).unwrap_or_default()
    }

    /// The scheme `to_json` wrote, checked again.
    pub fn from_json(text: &str) -> Result<Self, AlgoError> {
        let rows: Vec<RuleRow> = serde_json::from_str(text)
            .map_err(|e| AlgoError::Scheme(format!("the scheme's rules are not readable: {e}")))?;
        SegmentScheme::new(
            rows.into_iter()
                .map(|(segment, r0, r1, f0, f1)| SegmentRule { segment, r: (r0, r1), f: (f0, f1) })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_covers_each_cell_once() {
        for r in 1..=5 {
            for f in 1..=5 {
                let hits = DEFAULT_GRID
                    .iter()
                    .filter(|(_, rr, ff)| (rr.0..=rr.1).contains(&r) && (ff.0..=ff.1).contains(&f))
                    .count();
                assert_eq!(hits, 1, "cell r={r} f={f}");
            }
        }
        assert_eq!(DEFAULT_SCHEME.classify(5, 5), Some("Champions"));
        assert_eq!(DEFAULT_SCHEME.classify(1, 5), Some("Can't Lose Them"));
        assert_eq!(DEFAULT_SCHEME.classify(3, 3), Some("Need Attention"));
        assert_eq!(DEFAULT_SCHEME.classify(4, 1), Some("Promising"));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            SegmentRule { segment: "VIP".into(), r: (2, 2), f: (2, 2) },
            SegmentRule { segment: "Everyone".into(), r: (1, 2), f: (1, 2) },
        ];
        let scheme = SegmentScheme::new(rules).unwrap();
        assert_eq!(scheme.classify(2, 2), Some("VIP"));
        assert_eq!(scheme.classify(1, 2), Some("Everyone"));
    }

    #[test]
    fn gaps_are_named() {
        let rules = vec![
            SegmentRule { segment: "Low".into(), r: (1, 2), f: (1, 1) },
            SegmentRule { segment: "High".into(), r: (1, 1), f: (2, 2) },
        ];
        let error = SegmentScheme::new(rules).unwrap_err().to_string();
        assert_eq!(error, "the scheme leaves cells uncovered: (r=2, f=2)");
    }

    #[test]
    fn huge_bounds_are_refused_not_overflowed() {
        // r_max * f_max does not fit an i64: it used to overflow (a panic in debug builds).
        let rules = vec![SegmentRule { segment: "All".into(), r: (1, i64::MAX / 2), f: (1, 4) }];
        assert!(SegmentScheme::new(rules).unwrap_err().to_string().contains("more cells than a scheme can list"));
    }

    #[test]
    fn rules_survive_their_json() {
        let json = DEFAULT_SCHEME.to_json();
        assert_eq!(SegmentScheme::from_json(&json).unwrap(), *DEFAULT_SCHEME);
        assert!(SegmentScheme::from_json("[1]").unwrap_err().to_string().contains("not readable"));
    }

    #[test]
    fn invalid_ranges_are_rejected() {
        let rules = vec![SegmentRule { segment: "Odd".into(), r: (3, 1), f: (1, 1) }];
        assert!(SegmentScheme::new(rules).unwrap_err().to_string().contains("empty or invalid range"));
        assert!(SegmentScheme::new(vec![]).unwrap_err().to_string().contains("no rows"));
    }
}
