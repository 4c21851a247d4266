//! `cohort_revenue(source, user, ts, amount [, grain])`: revenue and LTV curves per cohort.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::logical_expr::{Documentation, LogicalPlan, lit};
use datafusion::prelude::{col, ident};

use super::cohort_retention::{COHORT_SECTION, grain_arg, overall_max};
use crate::common::args::{SourceTable, check_arity, column_arg, is_numeric, source_table, time_column_arg};
use crate::function::DocumentedTableFunction;
use crate::internal::cohort_cells::RevenueCells;
use crate::internal::cohort_folds::{RevenueFold, UserPeriodTotals};
use crate::plan::{day_number, decimal_amount, period_index, period_start, scan, view};
use segsql_algo::cohort::periods::Grain;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        COHORT_SECTION,
        "Revenue by cohort and period, for LTV curves: cohort (the first day of the period of \
         each user's first row), period (0, 1, ...), revenue (the cohort's total amount in that \
         period) and cumulative_revenue_per_user (revenue of periods 0..period divided by the \
         cohort's size). Like cohort_retention, every period up to the one holding the latest \
         timestamp is shown and a period that is not over yet is NULL. Amounts are summed \
         exactly (floats at 10 decimal places) and returned as DOUBLE; negative amounts \
         (refunds) are kept; rows with a NULL user or timestamp are skipped and NULL amounts \
         add nothing.",
        "cohort_revenue(source, user, ts, amount [, grain])",
    )
    .with_argument("source", "Table or view of orders, by name.")
    .with_argument("user", "Customer id column.")
    .with_argument("ts", "Order time: DATE, TIMESTAMP or ISO text.")
    .with_argument("amount", "Order value: integer, decimal or float.")
    .with_argument("grain", "'day', 'week', 'month' (default) or 'quarter'.")
    .with_sql_example(
        "SELECT period, round(revenue, 2) AS revenue, round(cumulative_revenue_per_user, 2) AS ltv\nFROM cohort_revenue(sample.orders, customer_id, order_ts, amount, 'quarter')\nWHERE cohort = DATE '2024-01-01'\nORDER BY period;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct CohortRevenue;

impl TableFunctionImpl for CohortRevenue {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "cohort_revenue";
        check_arity(NAME, &args, 4, 5, "cohort_revenue(source, user, ts, amount [, grain])")?;
        let source = source_table(NAME, &args)?;
        let (user, _) = column_arg(NAME, &args, &source, 1, "user")?;
        let ts = time_column_arg(NAME, &args, &source, 2)?;
        let amount = column_arg(NAME, &args, &source, 3, "amount")?;
        if !is_numeric(&amount.1) {
            return plan_err!("{NAME}: amount column '{}' must be numeric, got {}", amount.0, amount.1);
        }
        let grain = grain_arg(NAME, &args, 4)?;
        let plan = revenue_plan(&source, &user, &ts, &amount, grain)?;
        Ok(view(plan, format!("{NAME}({}, ...)", source.reference)))
    }
}

fn revenue_plan(
    source: &SourceTable,
    user: &str,
    ts: &(String, DataType),
    amount: &(String, DataType),
    grain: Grain,
) -> Result<LogicalPlan> {
    let user = ident(user);
    let day = day_number(&ts.0, &ts.1);
    let cells = RevenueCells::call(col("__totals"), col("__size"), col("__cohort"), col("__latest"), grain);
    scan(source)?
        .filter(user.clone().is_not_null().and(ident(&ts.0).is_not_null()))?
        .project(vec![
            user.clone(),
            period_index(day.clone(), grain).alias("__period"),
            day.alias("__day"),
            decimal_amount("cohort_revenue", ident(&amount.0), &amount.1).alias("__amount"),
        ])?
        .aggregate(
            vec![user],
            vec![
                min(col("__period")).alias("__cohort"),
                UserPeriodTotals::udaf().call(vec![col("__period"), col("__amount")]).alias("__pairs"),
                max(col("__day")).alias("__last_day"),
            ],
        )?
        .aggregate(
            vec![col("__cohort")],
            vec![
                RevenueFold::udaf().call(vec![col("__pairs"), col("__cohort")]).alias("__totals"),
                count(lit(1)).alias("__size"),
                max(col("__last_day")).alias("__max_day"),
            ],
        )?
        .window(vec![overall_max(col("__max_day")).alias("__latest")])?
        .project(vec![period_start(col("__cohort"), grain).alias("cohort"), cells.alias("__cells")])?
        .unnest_column("__cells")?
        .project(vec![
            col("cohort"),
            get_field(col("__cells"), "period").alias("period"),
            get_field(col("__cells"), "revenue").alias("revenue"),
            get_field(col("__cells"), "cumulative_revenue_per_user").alias("cumulative_revenue_per_user"),
        ])?
        .sort(vec![col("cohort").sort(true, false), col("period").sort(true, false)])?
        .build()
}

impl DocumentedTableFunction for CohortRevenue {
    fn name(&self) -> &str {
        "cohort_revenue"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
