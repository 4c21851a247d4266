//! `lifecycle(source, customer, ts [, as_of [, new_days [, at_risk_days [, lapsed_days]]]])`:
//! each customer's lifecycle stage on a day, from their order dates alone.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::functions_window::expr_fn::lag;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Documentation, Expr, ExprFunctionExt, LogicalPlan, cast, lit, when};
use datafusion::prelude::{col, ident};

use super::quantile_score::RFM_SECTION;
use crate::common::args::{SourceTable, check_arity, column_arg, source_table, time_column_arg};
use crate::common::constant::{int_arg, literal_arg};
use crate::function::DocumentedTableFunction;
use crate::plan::{day_number, day_of_literal, scan, view};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "Each customer's lifecycle stage on the day as_of, from the calendar days they ordered \
         on: one row per customer with stage, stage_since (the first day of the stage), \
         first_order, last_order (dates) and recency_days (as_of minus the last order's day, as \
         in rfm). Stages, checked in this order: 'lapsed' when recency_days > lapsed_days \
         (since the day after last_order + lapsed_days); 'at_risk' when recency_days > \
         at_risk_days (since the day after last_order + at_risk_days); 'new' when the first \
         order is at most new_days before as_of (since first_order); 'reactivated' when the \
         customer came back after more than lapsed_days without an order and that return is \
         at most new_days before as_of (since the return); otherwise 'active' (since the first \
         order after the last gap of more than at_risk_days, or first_order). as_of defaults \
         to the day after the latest order; orders dated after as_of are ignored, as are rows \
         with a NULL customer or timestamp.",
        "lifecycle(source, customer, ts [, as_of [, new_days [, at_risk_days [, lapsed_days]]]])",
    )
    .with_argument("source", "Table or view of orders, by name: orders or 'lake.orders'.")
    .with_argument("customer", "Customer id column.")
    .with_argument("ts", "Order time: DATE, TIMESTAMP (with or without time zone) or ISO text.")
    .with_argument("as_of", "The day the stages are taken on, e.g. '2026-01-01'; NULL for the default.")
    .with_argument("new_days", "How recent a first order or a return is to count as new or reactivated (default 30).")
    .with_argument("at_risk_days", "Days without an order after which a customer is at risk (default 90).")
    .with_argument("lapsed_days", "Days without an order after which a customer has lapsed (default 180).")
    .with_sql_example(
        "SELECT stage, count(*) AS customers\nFROM lifecycle(sample.orders, customer_id, order_ts, '2026-01-01')\nGROUP BY stage\nORDER BY customers DESC, stage;",
    )
    .build()
});

const SYNTAX: &str = "lifecycle(source, customer, ts [, as_of [, new_days [, at_risk_days [, lapsed_days]]]])";

#[derive(Debug, Default)]
pub struct Lifecycle;

/// What `lifecycle` was asked for, checked.
#[derive(Debug, Clone, PartialEq)]
struct LifecycleArgs {
    customer: String,
    ts: (String, DataType),
    as_of_day: Option<i32>,
    new_days: i64,
    at_risk_days: i64,
    lapsed_days: i64,
}

impl TableFunctionImpl for Lifecycle {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        check_arity("lifecycle", &args, 3, 7, SYNTAX)?;
        let source = source_table("lifecycle", &args)?;
        let (customer, _) = column_arg("lifecycle", &args, &source, 1, "customer")?;
        let ts = time_column_arg("lifecycle", &args, &source, 2)?;
        let as_of_day = match literal_arg("lifecycle", &args, 3, "as_of")? {
            Some(value) => Some(day_of_literal("lifecycle", "as_of", value)?),
            None => None,
        };
        let days = |index, role| int_arg("lifecycle", &args, index, role, 1..=36_500);
        let new_days = days(4, "new_days")?.unwrap_or(30);
        let at_risk_days = days(5, "at_risk_days")?.unwrap_or(90);
        let lapsed_days = days(6, "lapsed_days")?.unwrap_or(180);
        if lapsed_days <= at_risk_days {
            return plan_err!(
                "lifecycle: lapsed_days ({lapsed_days}) must be more than at_risk_days ({at_risk_days}); a customer is at risk before lapsing"
            );
        }
        let checked = LifecycleArgs { customer, ts, as_of_day, new_days, at_risk_days, lapsed_days };
        Ok(view(lifecycle_plan(&source, &checked)?, format!("lifecycle({}, ...)", source.reference)))
    }
}

fn window(function: impl Into<datafusion::logical_expr::expr::WindowFunctionDefinition>, args: Vec<Expr>) -> Expr {
    Expr::from(WindowFunction::new(function, args))
}

/// Distinct order days per customer, each with the gap since the customer's previous order
/// day; then one aggregation per customer, and the stage from its first and last day and
/// the last long gaps.
fn lifecycle_plan(source: &SourceTable, args: &LifecycleArgs) -> Result<LogicalPlan> {
    let (ts, ts_type) = (&args.ts.0, &args.ts.1);
    let customer = ident(&args.customer);
    let mut keep = customer.clone().is_not_null().and(ident(ts).is_not_null());
    if let Some(day) = args.as_of_day {
        keep = keep.and(day_number(ts, ts_type).lt_eq(lit(day)));
    }
    let day = || cast(col("__day"), DataType::Int64);
    let previous = lag(day(), Some(1), None)
        .partition_by(vec![customer.clone()])
        .order_by(vec![col("__day").sort(true, false)])
        .build()?;
    let days = scan(source)?
        .filter(keep)?
        .project(vec![customer.clone(), day_number(ts, ts_type).alias("__day")])?
        .distinct()?
        .window(vec![previous.alias("__previous")])?
        .project(vec![customer.clone(), day().alias("__day"), (day() - col("__previous")).alias("__gap")])?;
    let last_day_after_gap =
        |days: i64| -> Result<Expr> { max(col("__day")).filter(col("__gap").gt(lit(days))).build() };
    let per_customer = days.aggregate(
        vec![customer.clone()],
        vec![
            min(col("__day")).alias("__first"),
            max(col("__day")).alias("__last"),
            last_day_after_gap(args.lapsed_days)?.alias("__return"),
            last_day_after_gap(args.at_risk_days)?.alias("__streak"),
        ],
    )?;
    let (per_customer, as_of) = match args.as_of_day {
        Some(day) => (per_customer, lit(day as i64)),
        None => (
            per_customer.window(vec![window(max_udaf(), vec![col("__last")]).alias("__max_day")])?,
            col("__max_day") + lit(1i64),
        ),
    };
    let recency = as_of.clone() - col("__last");
    let is_new = (as_of.clone() - col("__first")).lt_eq(lit(args.new_days));
    let returned = col("__return").is_not_null().and((as_of - col("__return")).lt_eq(lit(args.new_days)));
    let stage = when(recency.clone().gt(lit(args.lapsed_days)), lit("lapsed"))
        .when(recency.clone().gt(lit(args.at_risk_days)), lit("at_risk"))
        .when(is_new.clone(), lit("new"))
        .when(returned.clone(), lit("reactivated"))
        .otherwise(lit("active"))?;
    let since = when(recency.clone().gt(lit(args.lapsed_days)), col("__last") + lit(args.lapsed_days + 1))
        .when(recency.clone().gt(lit(args.at_risk_days)), col("__last") + lit(args.at_risk_days + 1))
        .when(is_new, col("__first"))
        .when(returned, col("__return"))
        .otherwise(datafusion::functions::core::expr_fn::coalesce(vec![col("__streak"), col("__first")]))?;
    let date = |e: Expr| cast(cast(e, DataType::Int32), DataType::Date32);
    per_customer
        .project(vec![
            customer,
            stage.alias("stage"),
            date(since).alias("stage_since"),
            date(col("__first")).alias("first_order"),
            date(col("__last")).alias("last_order"),
            recency.alias("recency_days"),
        ])?
        .build()
}

impl DocumentedTableFunction for Lifecycle {
    fn name(&self) -> &str {
        "lifecycle"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
