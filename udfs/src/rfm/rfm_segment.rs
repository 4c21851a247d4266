//! `rfm_segment(r_score, f_score [, scheme])`: the named segment of an R×F cell.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Weak};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_datafusion_err, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use datafusion::physical_plan::collect;

use super::quantile_score::RFM_SECTION;
use crate::common::args::{block_on, lookup_table};
use crate::common::constant::scalar_text;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "The named segment of a customer's R and F scores. The default scheme maps the 25 \
         cells of 1..5 scores to ten segments: Champions (R 5, F 4-5), Loyal Customers (R 3-4, \
         F 4-5), Potential Loyalists (R 4-5, F 2-3), New Customers (R 5, F 1), Promising (R 4, \
         F 1), Need Attention (R 3, F 3), About To Sleep (R 3, F 1-2), At Risk (R 1-2, F 3-4), \
         Can't Lose Them (R 1-2, F 5) and Hibernating (R 1-2, F 1-2). A scheme is a table \
         (segment, r_min, r_max, f_min, f_max) whose rows are tried in order, the first match \
         winning; it must cover every cell from 1 to its largest r_max and f_max, and one that \
         leaves a cell uncovered is rejected with the cells named. NULL scores give NULL; a \
         score outside the scheme's range is an error.",
        "rfm_segment(r_score, f_score [, scheme])",
    )
    .with_argument("r_score", "Recency score, 1 (long ago) to 5 (recent) in the default scheme.")
    .with_argument("f_score", "Frequency score, 1 (rare) to 5 (frequent) in the default scheme.")
    .with_argument("scheme", "Optional name of a scheme table (segment, r_min, r_max, f_min, f_max).")
    .with_sql_example("SELECT rfm_segment(5, 5) AS top, rfm_segment(1, 1) AS gone, rfm_segment(3, 3) AS middle;")
    .build()
});

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
    pub fn new(rules: Vec<SegmentRule>) -> std::result::Result<Self, String> {
        if rules.is_empty() {
            return Err("the scheme has no rows".into());
        }
        for rule in &rules {
            let (r, f) = (rule.r, rule.f);
            if r.0 < 1 || f.0 < 1 || r.0 > r.1 || f.0 > f.1 {
                return Err(format!(
                    "segment '{}' has an empty or invalid range (r {}..{}, f {}..{}); ranges start at 1 and min <= max",
                    rule.segment, r.0, r.1, f.0, f.1
                ));
            }
        }
        let max_r = rules.iter().map(|rule| rule.r.1).max().unwrap_or(1);
        let max_f = rules.iter().map(|rule| rule.f.1).max().unwrap_or(1);
        // Bounds come from a user's table, so the product may not fit an i64.
        if max_r.checked_mul(max_f).is_none_or(|cells| cells > 10_000) {
            return Err(format!("scores up to r={max_r}, f={max_f} are more cells than a scheme can list"));
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
            return Err(format!("the scheme leaves cells uncovered: {}{more}", shown.join(", ")));
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
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let rows: Vec<RuleRow> =
            serde_json::from_str(text).map_err(|e| format!("the scheme's rules are not readable: {e}"))?;
        SegmentScheme::new(
            rows.into_iter()
                .map(|(segment, r0, r1, f0, f1)| SegmentRule { segment, r: (r0, r1), f: (f0, f1) })
                .collect(),
        )
    }
}

/// The internal function `segsql_segment_rules(r_score, f_score, rules)`: `rfm_segment`
/// with a scheme table, once planning has read the table into `rules` (see
/// [`SegmentScheme::to_json`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentRules {
    signature: Signature,
}

impl SegmentRules {
    pub fn udf() -> Arc<ScalarUDF> {
        let signature = Signature::exact(vec![DataType::Int64, DataType::Int64, DataType::Utf8], Volatility::Immutable);
        Arc::new(ScalarUDF::from(SegmentRules { signature }))
    }
}

impl ScalarUDFImpl for SegmentRules {
    fn name(&self) -> &str {
        "segsql_segment_rules"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rules = scalar_text("rfm_segment", &args.args, 2, "scheme")?;
        let scheme = SegmentScheme::from_json(rules).or_else(|e| exec_err!("rfm_segment: {e}"))?;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..2])?;
        Ok(ColumnarValue::Array(Arc::new(segments(&scheme, &arrays[0], &arrays[1])?)))
    }
}

/// How the function reaches scheme tables while planning: the session it was registered
/// into. A scalar function's simplifier is given no session, so this handle is how the
/// scheme's name becomes its rules; the planned call carries the rules themselves
/// ([`SegmentRules`]), so a plan never depends on it.
pub type SessionHandle = Weak<parking_lot::RwLock<SessionState>>;

#[derive(Debug)]
pub struct RfmSegment {
    signature: Signature,
    session: Option<SessionHandle>,
}

// The session handle is how a name is looked up, not part of what the function computes.
impl PartialEq for RfmSegment {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for RfmSegment {}

impl Hash for RfmSegment {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "rfm_segment".hash(state);
    }
}

impl RfmSegment {
    pub fn new(session: Option<SessionHandle>) -> Self {
        RfmSegment { signature: Signature::user_defined(Volatility::Immutable), session }
    }

    pub fn udf(session: Option<SessionHandle>) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(Self::new(session)))
    }

    fn load_scheme(&self, name: &str) -> Result<SegmentScheme> {
        let state =
            self.session.as_ref().and_then(Weak::upgrade).map(|state| state.read().clone()).ok_or_else(|| {
                plan_datafusion_err!(
                    "rfm_segment: scheme tables need the function registered with segsql_udfs::register_all"
                )
            })?;
        let table = lookup_table("rfm_segment", &state, name)?;
        let plan = block_on(table.provider.scan(&state, None, &[], None))?;
        let batches = block_on(collect(plan, state.task_ctx()))?;
        let wrong_columns = || {
            plan_datafusion_err!(
                "rfm_segment: scheme table '{name}' must have columns segment, r_min, r_max, f_min, f_max; it has {}",
                table.column_list()
            )
        };
        let mut rules = Vec::new();
        for batch in &batches {
            let column =
                |wanted: &str| -> Result<ArrayRef> { batch.column_by_name(wanted).cloned().ok_or_else(wrong_columns) };
            let segment =
                datafusion::arrow::compute::cast(&column("segment")?, &DataType::Utf8).map_err(|_| wrong_columns())?;
            let segment = segment.as_string::<i32>();
            let mut bounds = Vec::new();
            for wanted in ["r_min", "r_max", "f_min", "f_max"] {
                let values = column(wanted)?;
                if !values.data_type().is_integer() {
                    return plan_err!(
                        "rfm_segment: scheme column {wanted} must hold whole numbers, got {}",
                        values.data_type()
                    );
                }
                bounds.push(datafusion::arrow::compute::cast(&values, &DataType::Int64)?);
            }
            for row in 0..batch.num_rows() {
                let get = |i: usize| {
                    let array = bounds[i].as_primitive::<Int64Type>();
                    (!array.is_null(row)).then(|| array.value(row))
                };
                let (Some(r_min), Some(r_max), Some(f_min), Some(f_max)) = (get(0), get(1), get(2), get(3)) else {
                    return plan_err!("rfm_segment: scheme table '{name}' has a NULL bound in row {}", row + 1);
                };
                if segment.is_null(row) {
                    return plan_err!("rfm_segment: scheme table '{name}' has a NULL segment in row {}", row + 1);
                }
                rules.push(SegmentRule {
                    segment: segment.value(row).to_string(),
                    r: (r_min, r_max),
                    f: (f_min, f_max),
                });
            }
        }
        SegmentScheme::new(rules).map_err(|e| plan_datafusion_err!("rfm_segment: scheme table '{name}': {e}"))
    }
}

fn scheme_name(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn segments(scheme: &SegmentScheme, r: &ArrayRef, f: &ArrayRef) -> Result<StringArray> {
    let r = datafusion::arrow::compute::cast(r, &DataType::Int64)?;
    let f = datafusion::arrow::compute::cast(f, &DataType::Int64)?;
    let (r, f) = (r.as_primitive::<Int64Type>(), f.as_primitive::<Int64Type>());
    let (max_r, max_f) = scheme.max_scores();
    let mut out = Vec::with_capacity(r.len());
    for (r, f) in r.iter().zip(f.iter()) {
        let (Some(r), Some(f)) = (r, f) else {
            out.push(None);
            continue;
        };
        if !(1..=max_r).contains(&r) || !(1..=max_f).contains(&f) {
            return exec_err!(
                "rfm_segment: scores (r={r}, f={f}) are outside the scheme's 1..{max_r} × 1..{max_f}; score with bins = {max_r} or pass a scheme for these scores"
            );
        }
        out.push(scheme.classify(r, f));
    }
    Ok(out.into_iter().collect())
}

impl ScalarUDFImpl for RfmSegment {
    fn name(&self) -> &str {
        "rfm_segment"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (scores, scheme) = match arg_types {
            [r, f] => ([r, f], None),
            [r, f, scheme] => ([r, f], Some(scheme)),
            _ => {
                return plan_err!(
                    "rfm_segment: expected rfm_segment(r_score, f_score [, scheme]), got {} arguments",
                    arg_types.len()
                );
            }
        };
        for (name, data_type) in ["r_score", "f_score"].iter().zip(scores) {
            if !(data_type.is_integer() || data_type.is_null()) {
                return plan_err!("rfm_segment: {name} must be a whole number, got {data_type}");
            }
        }
        let mut coerced = vec![DataType::Int64, DataType::Int64];
        if let Some(scheme) = scheme {
            if !matches!(scheme, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
                return plan_err!("rfm_segment: scheme must be a table name in quotes, got {scheme}");
            }
            coerced.push(DataType::Utf8);
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    /// Loads a scheme table once while planning, so execution does not read it per batch
    /// and a bad scheme fails before any data is read; the call becomes
    /// `segsql_segment_rules(r, f, rules)`.
    fn simplify(&self, mut args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        if args.len() != 3 {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let name = match &args[2] {
            Expr::Literal(value, _) => match scheme_name(value) {
                Some(name) => name,
                None => {
                    return plan_err!("rfm_segment: scheme must be a table name in quotes, got {value}");
                }
            },
            _ => return Ok(ExprSimplifyResult::Original(args)),
        };
        let scheme = self.load_scheme(&name)?;
        args.truncate(2);
        args.push(lit(scheme.to_json()));
        Ok(ExprSimplifyResult::Simplified(SegmentRules::udf().call(args)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..2])?;
        let scheme: Arc<SegmentScheme> = match args.args.get(2) {
            None => Arc::new(DEFAULT_SCHEME.clone()),
            Some(ColumnarValue::Scalar(value)) => match scheme_name(value) {
                Some(name) => Arc::new(self.load_scheme(&name)?),
                None => {
                    return exec_err!("rfm_segment: scheme must be a table name in quotes, got {value}");
                }
            },
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("rfm_segment: scheme must be a constant table name, not a column");
            }
        };
        let result = segments(&scheme, &arrays[0], &arrays[1])?;
        debug_assert_eq!(result.len(), rows);
        Ok(ColumnarValue::Array(Arc::new(result)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
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
        let error = SegmentScheme::new(rules).unwrap_err();
        assert_eq!(error, "the scheme leaves cells uncovered: (r=2, f=2)");
    }

    #[test]
    fn huge_bounds_are_refused_not_overflowed() {
        // r_max * f_max does not fit an i64: it used to overflow (a panic in debug builds).
        let rules = vec![SegmentRule { segment: "All".into(), r: (1, i64::MAX / 2), f: (1, 4) }];
        assert!(SegmentScheme::new(rules).unwrap_err().contains("more cells than a scheme can list"));
    }

    #[test]
    fn rules_survive_their_json() {
        let json = DEFAULT_SCHEME.to_json();
        assert_eq!(SegmentScheme::from_json(&json).unwrap(), *DEFAULT_SCHEME);
        assert!(SegmentScheme::from_json("[1]").unwrap_err().contains("not readable"));
    }

    #[test]
    fn invalid_ranges_are_rejected() {
        let rules = vec![SegmentRule { segment: "Odd".into(), r: (3, 1), f: (1, 1) }];
        assert!(SegmentScheme::new(rules).unwrap_err().contains("empty or invalid range"));
        assert!(SegmentScheme::new(vec![]).unwrap_err().contains("no rows"));
    }
}
