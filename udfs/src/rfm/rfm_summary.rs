//! `rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])`: the buy-till-you-die
//! summary of the Python `lifetimes` package, in SQL.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlanBuilder, cast, lit};
use datafusion::prelude::{col, ident};

use super::quantile_score::RFM_SECTION;
use crate::common::args::{SourceTable, check_arity, column_arg, is_numeric, source_table, time_column_arg};
use crate::common::constant::{literal_arg, string_arg};
use crate::function::DocumentedTableFunction;
use crate::internal::btyd::BtydAggregate;
use crate::plan::{day_number, day_of_literal, decimal_amount, period_index, scan, view};
use segsql_algo::cohort::periods::Grain;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "The buy-till-you-die summary (frequency, recency, T, monetary_value) that BG/NBD and \
         Gamma-Gamma models take, as the Python lifetimes package computes it. The definitions \
         are those of its summary_data_from_transaction_data: timestamps are truncated to grain periods (day, or Monday-based week); as_of (its \
         observation_period_end) defaults to the period of the latest timestamp and later \
         periods are dropped; frequency is the number of distinct periods with a purchase minus \
         one; recency is the last period minus the first; T (quote it: \"T\") is as_of minus the \
         first period; monetary_value is the mean of the per-period totals of the repeat \
         periods, 0 when there is none. All four are DOUBLE, in periods. Several orders in one \
         period count once (their amounts add up); zero and negative amounts are kept; rows \
         with a NULL customer or timestamp are skipped and a NULL amount adds nothing. Without \
         amount there is no monetary_value column.",
        "rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])",
    )
    .with_argument("source", "Table or view of transactions, by name.")
    .with_argument("customer", "Customer id column.")
    .with_argument("ts", "Transaction time: DATE, TIMESTAMP or ISO text.")
    .with_argument("amount", "Optional transaction value; NULL to skip it while giving as_of.")
    .with_argument("as_of", "Optional end of the observation period, e.g. '2025-06-30'.")
    .with_argument("grain", "'day' (default) or 'week'.")
    .with_sql_example(
        "SELECT customer_id, frequency, recency, \"T\", round(monetary_value, 2) AS monetary_value\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount)\nORDER BY customer_id\nLIMIT 5;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct RfmSummary;

fn window_max(value: Expr) -> Expr {
    Expr::from(WindowFunction::new(max_udaf(), vec![value]))
}

/// What `rfm_summary` was asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryArgs {
    pub customer: String,
    pub ts: (String, DataType),
    pub amount: Option<(String, DataType)>,
    pub as_of_day: Option<i32>,
    pub grain: Grain,
}

impl TableFunctionImpl for RfmSummary {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const SYNTAX: &str = "rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])";
        check_arity("rfm_summary", &args, 3, 6, SYNTAX)?;
        let source = source_table("rfm_summary", &args)?;
        let (customer, _) = column_arg("rfm_summary", &args, &source, 1, "customer")?;
        let ts = time_column_arg("rfm_summary", &args, &source, 2)?;
        let amount = match literal_arg("rfm_summary", &args, 3, "amount") {
            Ok(None) if args.exprs().len() > 3 => None,
            _ if args.exprs().len() <= 3 => None,
            _ => {
                let amount = column_arg("rfm_summary", &args, &source, 3, "amount")?;
                if !is_numeric(&amount.1) {
                    return plan_err!("rfm_summary: amount column '{}' must be numeric, got {}", amount.0, amount.1);
                }
                Some(amount)
            }
        };
        let as_of_day = match literal_arg("rfm_summary", &args, 4, "as_of")? {
            Some(value) => Some(day_of_literal("rfm_summary", "as_of", value)?),
            None => None,
        };
        let grain = btyd_grain("rfm_summary", &args, 5)?;
        let checked = SummaryArgs { customer, ts, amount, as_of_day, grain };
        let plan = summary_plan(&source, &checked, None)?.build()?;
        Ok(view(plan, format!("rfm_summary({}, ...)", source.reference)))
    }
}

/// One pass: a grouped accumulator gathers each customer's distinct periods with their exact
/// totals and reduces them to the summary. A (customer, period) aggregation followed by a
/// per-customer one would hash every order twice. `keep` filters the source's rows first.
pub fn summary_plan(source: &SourceTable, args: &SummaryArgs, keep: Option<Expr>) -> Result<LogicalPlanBuilder> {
    let (ts, ts_type) = (&args.ts.0, &args.ts.1);
    let customer = ident(&args.customer);
    let period = period_index(day_number(ts, ts_type), args.grain);
    // The amount's DECIMAL type carries its scale to segsql_btyd; without an amount, zero.
    let amount = match &args.amount {
        Some((amount, amount_type)) => decimal_amount("rfm_summary", ident(amount), amount_type),
        None => lit(ScalarValue::Decimal128(Some(0), 38, 0)),
    };
    let mut present = customer.clone().is_not_null().and(ident(ts).is_not_null());
    if let Some(keep) = keep {
        present = present.and(keep);
    }
    let mut builder = scan(source)?.filter(present)?.project(vec![
        customer.clone(),
        period.alias("__period"),
        amount.alias("__amount"),
    ])?;
    let as_of_period = args.as_of_day.map(|day| args.grain.index(day));
    if let Some(last) = as_of_period {
        builder = builder.filter(col("__period").lt_eq(lit(last)))?;
    }
    let summary = BtydAggregate::udaf().call(vec![col("__period"), col("__amount")]);
    builder = builder.aggregate(vec![customer.clone()], vec![summary.alias("__summary")])?.project(vec![
        customer.clone(),
        get_field(col("__summary"), "frequency").alias("frequency"),
        get_field(col("__summary"), "recency").alias("recency"),
        get_field(col("__summary"), "first").alias("__first"),
        get_field(col("__summary"), "last").alias("__last"),
        get_field(col("__summary"), "monetary_value").alias("monetary_value"),
    ])?;
    let end = match as_of_period {
        Some(last) => lit(last),
        None => {
            builder = builder.window(vec![window_max(col("__last")).alias("__end")])?;
            col("__end")
        }
    };
    let mut output =
        vec![customer, col("frequency"), col("recency"), cast(end - col("__first"), DataType::Float64).alias("T")];
    if args.amount.is_some() {
        output.push(col("monetary_value"));
    }
    builder.project(output)
}

/// The grain argument at `index`: day (default) or week, the periods lifetimes supports.
pub fn btyd_grain(function: &str, args: &TableFunctionArgs, index: usize) -> Result<Grain> {
    match string_arg(function, args, index, "grain")? {
        None => Ok(Grain::Day),
        Some(text) => match text.parse::<Grain>() {
            Ok(grain @ (Grain::Day | Grain::Week)) => Ok(grain),
            Ok(other) => {
                plan_err!("{function}: grain '{other}' has periods of unequal length; lifetimes supports day and week")
            }
            Err(message) => plan_err!("{function}: {message}"),
        },
    }
}

impl DocumentedTableFunction for RfmSummary {
    fn name(&self) -> &str {
        "rfm_summary"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
