//! `rfm(source, customer, ts, amount [, as_of [, bins]])`: one row per customer with
//! recency, frequency, monetary value, their scores and the segment.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::{coalesce, get_field};
use datafusion::functions::string::expr_fn::{concat, concat_ws};
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Documentation, Expr, cast, lit};
use datafusion::prelude::{col, ident};

use super::quantile_score::RFM_SECTION;
use super::rfm_score::RfmScore;
use super::rfm_segment::RfmSegment;
use crate::common::args::{check_arity, column_arg, is_numeric, source_table, time_column_arg};
use crate::common::constant::{int_arg, literal_arg};
use crate::function::DocumentedTableFunction;
use crate::plan::{
    day_number, day_number_of, day_of_literal, scan, summable_amount, timestamp_type, timestamp_value, view,
};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "RFM analysis of an orders table: one row per customer with recency, frequency, \
         monetary value, their scores and the segment. The columns are first_order, last_order, recency_days, \
         frequency, monetary, avg_order_value, tenure_days, r_score, f_score, m_score, \
         rfm_score and segment, with the customer column named as in the source. recency_days \
         and tenure_days count calendar days from the date of the last and first order to the \
         date of as_of (DuckDB's date_diff('day', ...)); frequency counts order rows and \
         monetary sums amount. as_of defaults to the day after the latest order; rows dated \
         after as_of are ignored. Scores are quantile_score over all customers (R on reversed \
         recency), so they equal DuckDB's rank-based formula, ties included; segment uses the \
         default rfm_segment grid when bins is 5 and is NULL otherwise. Rows with a NULL \
         customer or timestamp are skipped; negative amounts (refunds) are kept and lower \
         monetary; a NULL amount counts as an order worth nothing. Float amounts are summed \
         exactly at 10 decimal places, so results do not depend on the thread count.",
        "rfm(source, customer, ts, amount [, as_of [, bins]])",
    )
    .with_argument("source", "Table or view of orders, by name: orders or 'lake.orders'.")
    .with_argument("customer", "Customer id column.")
    .with_argument("ts", "Order time: DATE, TIMESTAMP (with or without time zone) or ISO text.")
    .with_argument("amount", "Order value: integer, decimal or float.")
    .with_argument("as_of", "The day the analysis looks back from, e.g. '2025-06-30'; NULL for the default.")
    .with_argument("bins", "Scores per dimension, 2 to 100; default 5.")
    .with_sql_example(
        "SELECT segment, count(*) AS customers, round(avg(monetary), 2) AS avg_monetary\nFROM rfm(sample.orders, customer_id, order_ts, amount, '2026-01-01')\nGROUP BY segment\nORDER BY customers DESC;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct Rfm;

/// What `rfm` was asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmArgs {
    pub customer: String,
    pub ts: (String, DataType),
    pub amount: (String, DataType),
    pub as_of_day: Option<i32>,
    pub bins: i64,
}

fn window(function: impl Into<datafusion::logical_expr::expr::WindowFunctionDefinition>, args: Vec<Expr>) -> Expr {
    Expr::from(WindowFunction::new(function, args))
}

impl TableFunctionImpl for Rfm {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const SYNTAX: &str = "rfm(source, customer, ts, amount [, as_of [, bins]])";
        check_arity("rfm", &args, 4, 6, SYNTAX)?;
        let source = source_table("rfm", &args)?;
        let (customer, _) = column_arg("rfm", &args, &source, 1, "customer")?;
        let ts = time_column_arg("rfm", &args, &source, 2)?;
        let amount = column_arg("rfm", &args, &source, 3, "amount")?;
        if !is_numeric(&amount.1) {
            return plan_err!("rfm: amount column '{}' must be numeric, got {}", amount.0, amount.1);
        }
        let as_of_day = match literal_arg("rfm", &args, 4, "as_of")? {
            Some(value) => Some(day_of_literal("rfm", "as_of", value)?),
            None => None,
        };
        let bins = int_arg("rfm", &args, 5, "bins", 2..=100)?.unwrap_or(5);
        let checked = RfmArgs { customer, ts, amount, as_of_day, bins };
        let plan = rfm_plan(&source, &checked)?;
        Ok(view(plan, format!("rfm({}, ...)", source.reference)))
    }
}

/// The plan: one aggregation per customer, then the scores in one window over all customers.
fn rfm_plan(
    source: &crate::common::args::SourceTable,
    args: &RfmArgs,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    let (ts, ts_type) = (&args.ts.0, &args.ts.1);
    let customer = ident(&args.customer);
    let mut keep = customer.clone().is_not_null().and(ident(ts).is_not_null());
    if let Some(day) = args.as_of_day {
        keep = keep.and(day_number(ts, ts_type).lt_eq(lit(day)));
    }
    let amount_is_float = args.amount.1.is_floating();
    // A customer whose amounts are all NULL has spent nothing, not an unknown amount.
    let total = coalesce(vec![sum(col("__amount")), lit(0)]);
    let monetary = if amount_is_float { cast(total, DataType::Float64) } else { total };
    let rows = scan(source)?.filter(keep)?.project(vec![
        customer.clone(),
        timestamp_value(ts, ts_type).alias("__ts"),
        summable_amount("rfm", &args.amount.0, &args.amount.1).alias("__amount"),
    ])?;
    let builder = rows.aggregate(
        vec![customer.clone()],
        vec![
            min(col("__ts")).alias("first_order"),
            max(col("__ts")).alias("last_order"),
            count(lit(1)).alias("frequency"),
            monetary.alias("monetary"),
        ],
    )?;
    // Days are taken of the first and last order per customer, not of every order row.
    let out_type = timestamp_type(ts_type);
    let builder = builder.project(vec![
        customer.clone(),
        col("first_order"),
        col("last_order"),
        col("frequency"),
        col("monetary"),
        day_number_of(col("first_order"), &out_type).alias("__first_day"),
        day_number_of(col("last_order"), &out_type).alias("__last_day"),
    ])?;
    // Recency is as_of minus the last day, so ranking the negated last day ranks recency,
    // ties included, without knowing as_of. The scores and the default as_of (the day after
    // the latest order) then come from one window: all customers are held once, not twice.
    let scores = window(
        RfmScore::scores_udwf(),
        vec![-cast(col("__last_day"), DataType::Int64), col("frequency"), col("monetary"), lit(args.bins)],
    );
    let mut windows = vec![scores.alias("__scores")];
    let as_of = match args.as_of_day {
        Some(day) => lit(day as i64),
        None => {
            windows.push(window(max_udaf(), vec![col("__last_day")]).alias("__max_day"));
            cast(col("__max_day"), DataType::Int64) + lit(1i64)
        }
    };
    let recency = as_of.clone() - cast(col("__last_day"), DataType::Int64);
    let tenure = as_of - cast(col("__first_day"), DataType::Int64);
    let score_columns = ["r_score", "f_score", "m_score"];
    let builder = builder.window(windows)?.project(
        [
            customer.clone(),
            col("first_order"),
            col("last_order"),
            recency.alias("recency_days"),
            col("frequency"),
            col("monetary"),
            (cast(col("monetary"), DataType::Float64) / cast(col("frequency"), DataType::Float64))
                .alias("avg_order_value"),
            tenure.alias("tenure_days"),
        ]
        .into_iter()
        .chain(score_columns.map(|s| get_field(col("__scores"), s).alias(s))),
    )?;
    // Every per-customer column, passed through the projection that follows.
    let passthrough = || {
        std::iter::once(customer.clone()).chain(
            ["first_order", "last_order", "recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]
                .into_iter()
                .map(col),
        )
    };
    let scores: Vec<Expr> = score_columns.iter().map(|s| cast(col(*s), DataType::Utf8)).collect();
    let code = if args.bins <= 9 { concat(scores) } else { concat_ws(lit("-"), scores) };
    let segment = if args.bins == 5 {
        RfmSegment::udf(None).call(vec![col("r_score"), col("f_score")])
    } else {
        cast(lit(datafusion::common::ScalarValue::Utf8(None)), DataType::Utf8)
    };
    builder
        .project(
            passthrough().chain(score_columns.map(col)).chain([code.alias("rfm_score"), segment.alias("segment")]),
        )?
        .build()
}

impl DocumentedTableFunction for Rfm {
    fn name(&self) -> &str {
        "rfm"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
