//! `funnel(source, user, ts, event, steps [, window])`: how many users reach each step.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlan, cast, lit, when};
use datafusion::prelude::{col, ident};

use super::cohort_retention::COHORT_SECTION;
use crate::common::args::{SourceTable, check_arity, column_arg, source_table, time_column_arg};
use crate::common::constant::{literal_arg, string_arg};
use crate::function::DocumentedTableFunction;
use crate::internal::funnel_folds::{FunnelFold, UserFunnelDepth};
use crate::plan::{scan, view};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        COHORT_SECTION,
        "A conversion funnel: one row per step with step (1, 2, ...), event, users (users who \
         reached the step), conversion_from_previous and conversion_from_first. steps is a \
         comma-separated list of event names in order; each step must happen at or after the \
         previous one, and within window of the funnel's first step. A user counts once per \
         step and only for the steps reached in order: skipping a step stops the count there. \
         With a window, every first-step event may start the funnel and the deepest one \
         counts (ClickHouse's windowFunnel). Events at the same moment are taken in step \
         order. Rows with a NULL user, time or event are skipped. Conversions are NULL when \
         the step they divide by has no users.",
        "funnel(source, user, ts, event, steps [, window])",
    )
    .with_argument("source", "Table or view of events, by name.")
    .with_argument("user", "User id column.")
    .with_argument("ts", "Event time: DATE, TIMESTAMP or ISO text.")
    .with_argument("event", "Event name column.")
    .with_argument("steps", "At least two event names in order, e.g. 'view,cart,purchase'.")
    .with_argument("window", "Optional time limit from the first step, e.g. '7 days' or '2 hours'.")
    .with_sql_example(
        "SELECT step, event, users, round(conversion_from_first, 3) AS from_first\nFROM funnel(sample.events, user_id, ts, event, 'view,cart,checkout,purchase', '1 day')\nORDER BY step;",
    )
    .build()
});

/// The window argument as microseconds.
fn window_micros(value: &ScalarValue) -> Result<i64> {
    let interval = match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) => Some(*v),
        ScalarValue::Utf8(Some(_)) | ScalarValue::LargeUtf8(Some(_)) | ScalarValue::Utf8View(Some(_)) => {
            match value.cast_to(&DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano)) {
                Ok(ScalarValue::IntervalMonthDayNano(Some(v))) => Some(v),
                _ => None,
            }
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(IntervalMonthDayNano::new(0, v.days, v.milliseconds as i64 * 1_000_000))
        }
        _ => None,
    };
    match interval {
        Some(v) if v.months != 0 => {
            plan_err!("funnel: window must be in days, hours or minutes (months vary in length), got {value}")
        }
        Some(v) if v.days < 0 || v.nanoseconds < 0 || (v.days == 0 && v.nanoseconds == 0) => {
            plan_err!("funnel: window must be positive, got {value}")
        }
        // A window longer than any two timestamps can be apart is no limit at all, so the
        // microseconds saturate rather than overflow.
        Some(v) => Ok((v.days as i64).saturating_mul(86_400_000_000).saturating_add(v.nanoseconds / 1000)),
        None => plan_err!("funnel: window must be an interval such as '7 days' or '2 hours', got {value}"),
    }
}

#[derive(Debug, Default)]
pub struct Funnel;

impl TableFunctionImpl for Funnel {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "funnel";
        check_arity(NAME, &args, 5, 6, "funnel(source, user, ts, event, steps [, window])")?;
        let source = source_table(NAME, &args)?;
        let (user, _) = column_arg(NAME, &args, &source, 1, "user")?;
        let ts = time_column_arg(NAME, &args, &source, 2)?;
        let (event, _) = column_arg(NAME, &args, &source, 3, "event")?;
        let Some(steps) = string_arg(NAME, &args, 4, "steps")? else {
            return plan_err!("{NAME}: steps must list at least two events, e.g. 'view,cart,purchase'");
        };
        let steps: Vec<String> = steps.split(',').map(|s| s.trim().to_string()).collect();
        if steps.len() < 2 || steps.iter().any(String::is_empty) {
            return plan_err!("{NAME}: steps must list at least two non-empty event names, e.g. 'view,cart,purchase'");
        }
        let window = match literal_arg(NAME, &args, 5, "window")? {
            Some(value) => Some(window_micros(value)?),
            None => None,
        };
        let plan = funnel_plan(&source, &user, &ts, &event, &steps, window)?;
        Ok(view(plan, format!("{NAME}({}, ...)", source.reference)))
    }
}

fn funnel_plan(
    source: &SourceTable,
    user: &str,
    ts: &(String, DataType),
    event: &str,
    steps: &[String],
    window: Option<i64>,
) -> Result<LogicalPlan> {
    let mut names: Vec<String> = Vec::new();
    for step in steps {
        if !names.contains(step) {
            names.push(step.clone());
        }
    }
    let step_names: Vec<u32> = steps.iter().map(|s| names.iter().position(|n| n == s).unwrap_or(0) as u32).collect();
    let event_col = cast(ident(event), DataType::Utf8);
    let mut name_index = when(event_col.clone().eq(lit(names[0].clone())), lit(0i32));
    for (index, name) in names.iter().enumerate().skip(1) {
        name_index = name_index.when(event_col.clone().eq(lit(name.clone())), lit(index as i32));
    }
    let name_index: Expr = name_index.end()?;
    let micros = match &ts.1 {
        DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => {
            cast(cast(ident(&ts.0), DataType::Timestamp(TimeUnit::Microsecond, None)), DataType::Int64)
        }
        other => return plan_err!("funnel: unsupported time type {other}"),
    };
    let user = ident(user);
    let in_steps = event_col.in_list(names.iter().map(|n| lit(n.clone())).collect(), false);
    let step_names: Vec<String> = step_names.iter().map(u32::to_string).collect();
    let depth = UserFunnelDepth::udaf().call(vec![
        col("__ts"),
        col("__name"),
        lit(step_names.join(",")),
        lit(ScalarValue::Int64(window)),
    ]);
    let fold = FunnelFold::udaf().call(vec![col("__depth"), lit(steps.join(","))]);
    scan(source)?
        .filter(user.clone().is_not_null().and(ident(&ts.0).is_not_null()).and(in_steps))?
        .project(vec![user.clone(), micros.alias("__ts"), name_index.alias("__name")])?
        .aggregate(vec![user], vec![depth.alias("__depth")])?
        .aggregate(Vec::<Expr>::new(), vec![fold.alias("__steps")])?
        .unnest_column("__steps")?
        .project(vec![
            get_field(col("__steps"), "step").alias("step"),
            get_field(col("__steps"), "event").alias("event"),
            get_field(col("__steps"), "users").alias("users"),
            get_field(col("__steps"), "conversion_from_previous").alias("conversion_from_previous"),
            get_field(col("__steps"), "conversion_from_first").alias("conversion_from_first"),
        ])?
        .build()
}

impl DocumentedTableFunction for Funnel {
    fn name(&self) -> &str {
        "funnel"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
