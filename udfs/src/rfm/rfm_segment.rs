//! `rfm_segment(r_score, f_score [, scheme])`: the named segment of an R×F cell.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Weak};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
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
use crate::common::constant::text_value;
use crate::internal::segment_rules::{SegmentRules, segments};
use segsql_algo::rfm::segments::{DEFAULT_SCHEME, SegmentRule, SegmentScheme};

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
    text_value(value).map(str::to_string)
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
