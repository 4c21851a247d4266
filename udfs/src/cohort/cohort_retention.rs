//! `cohort_retention(source, user, ts [, grain [, mode [, periods]]])`: the retention
//! triangle, one row per cohort and period.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlan, lit};
use datafusion::prelude::{col, ident};

use crate::common::args::{SourceTable, check_arity, column_arg, source_table, time_column_arg};
use crate::common::constant::{int_arg, string_arg};
use crate::function::DocumentedTableFunction;
use crate::internal::cohort_cells::RetentionCells;
use crate::internal::cohort_folds::{RetentionFold, UserPeriods};
use crate::plan::{day_number, period_index, period_start, scan, view};
use segsql_algo::cohort::cells::RetentionMode;
use segsql_algo::cohort::periods::Grain;

pub use crate::function::COHORT_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        COHORT_SECTION,
        "Cohort retention: one row per cohort and period with cohort (the first day of the \
         cohort's period), period (0, 1, ...), cohort_size, active_users and retention \
         (active_users / cohort_size). A user's cohort is the period of their first event. \
         In mode 'on' (the default) a user counts in period p when active in it; in \
         'on_or_after' when active in p or any later period (Amplitude's and Mixpanel's terms). \
         Every period from 0 to the one holding the latest timestamp is shown, 0 where nobody \
         came back; a cell whose period ends after the date of the latest timestamp is NULL, \
         not 0, since that period is not over. periods caps the period numbers shown \
         (0..periods). Weeks start on Monday. Rows with a NULL user or timestamp are skipped. \
         Each user's periods are gathered in one pass over the events, with no join.",
        "cohort_retention(source, user, ts [, grain [, mode [, periods]]])",
    )
    .with_argument("source", "Table or view of events or orders, by name.")
    .with_argument("user", "User id column.")
    .with_argument("ts", "Event time: DATE, TIMESTAMP or ISO text.")
    .with_argument("grain", "'day', 'week', 'month' (default) or 'quarter'.")
    .with_argument("mode", "'on' (default) or 'on_or_after'.")
    .with_argument("periods", "Largest period number shown; default all.")
    .with_sql_example(
        "SELECT cohort, period, cohort_size, round(retention, 3) AS retention\nFROM cohort_retention(sample.orders, customer_id, order_ts, 'quarter')\nWHERE cohort = DATE '2024-01-01'\nORDER BY period;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct CohortRetention;

/// What `cohort_retention` was asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionArgs {
    pub user: String,
    pub ts: (String, datafusion::arrow::datatypes::DataType),
    pub grain: Grain,
    pub mode: RetentionMode,
    pub periods: Option<i64>,
}

/// Parses an optional grain argument.
pub fn grain_arg(function: &str, args: &TableFunctionArgs, index: usize) -> Result<Grain> {
    match string_arg(function, args, index, "grain")? {
        None => Ok(Grain::Month),
        Some(text) => text.parse().or_else(|message| plan_err!("{function}: {message}")),
    }
}

/// `max(value) OVER ()`.
pub fn overall_max(value: Expr) -> Expr {
    Expr::from(WindowFunction::new(max_udaf(), vec![value]))
}

impl TableFunctionImpl for CohortRetention {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "cohort_retention";
        check_arity(NAME, &args, 3, 6, "cohort_retention(source, user, ts [, grain [, mode [, periods]]])")?;
        let source = source_table(NAME, &args)?;
        let (user, _) = column_arg(NAME, &args, &source, 1, "user")?;
        let ts = time_column_arg(NAME, &args, &source, 2)?;
        let grain = grain_arg(NAME, &args, 3)?;
        let mode = match string_arg(NAME, &args, 4, "mode")? {
            None => RetentionMode::On,
            Some(text) => text.parse().or_else(|message| plan_err!("{NAME}: {message}"))?,
        };
        let periods = int_arg(NAME, &args, 5, "periods", 0..=100_000)?;
        let checked = RetentionArgs { user, ts, grain, mode, periods };
        Ok(view(retention_plan(&source, &checked)?, format!("{NAME}({}, ...)", source.reference)))
    }
}

fn retention_plan(source: &SourceTable, args: &RetentionArgs) -> Result<LogicalPlan> {
    let (ts, ts_type) = (&args.ts.0, &args.ts.1);
    let user = ident(&args.user);
    let day = day_number(ts, ts_type);
    let cells = RetentionCells::call(
        col("__counts"),
        col("__size"),
        col("__cohort"),
        col("__latest"),
        args.grain,
        args.periods,
    );
    scan(source)?
        .filter(user.clone().is_not_null().and(ident(ts).is_not_null()))?
        .project(vec![user.clone(), period_index(day.clone(), args.grain).alias("__period"), day.alias("__day")])?
        .aggregate(
            vec![user],
            vec![
                min(col("__period")).alias("__cohort"),
                UserPeriods::udaf().call(vec![col("__period")]).alias("__periods"),
                max(col("__day")).alias("__last_day"),
            ],
        )?
        .aggregate(
            vec![col("__cohort")],
            vec![
                RetentionFold::call(col("__periods"), col("__cohort"), args.mode).alias("__counts"),
                count(lit(1)).alias("__size"),
                max(col("__last_day")).alias("__max_day"),
            ],
        )?
        .window(vec![overall_max(col("__max_day")).alias("__latest")])?
        .project(vec![
            period_start(col("__cohort"), args.grain).alias("cohort"),
            col("__size"),
            cells.alias("__cells"),
        ])?
        .unnest_column("__cells")?
        .project(vec![
            col("cohort"),
            get_field(col("__cells"), "period").alias("period"),
            col("__size").alias("cohort_size"),
            get_field(col("__cells"), "active_users").alias("active_users"),
            get_field(col("__cells"), "retention").alias("retention"),
        ])?
        .sort(vec![col("cohort").sort(true, false), col("period").sort(true, false)])?
        .build()
}

impl DocumentedTableFunction for CohortRetention {
    fn name(&self) -> &str {
        "cohort_retention"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
