//! `rfm_calibration_holdout(source, customer, ts, amount, calibration_end, observation_end
//! [, grain])`: the calibration/holdout split lifetimes validates BTYD models on.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{JoinType, Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, sum};
use datafusion::logical_expr::{Documentation, Expr, cast, lit};
use datafusion::prelude::{col, ident};

use super::quantile_score::RFM_SECTION;
use super::rfm_summary::{SummaryArgs, btyd_grain, summary_plan};
use crate::common::args::{check_arity, column_arg, is_numeric, source_table, time_column_arg};
use crate::common::constant::literal_arg;
use crate::function::DocumentedTableFunction;
use crate::plan::{
    amount_scale, day_number, decimal_amount, instant_of_literal, local_micros, period_index, scan, view,
};

const SYNTAX: &str =
    "rfm_calibration_holdout(source, customer, ts, amount, calibration_end, observation_end [, grain])";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "Splits transactions into a calibration period, summarised as rfm_summary does, and a \
         holdout period to check a model's predictions against: exactly lifetimes' \
         calibration_and_holdout_data. Columns: the customer column, frequency_cal, recency_cal, \
         T_cal, monetary_value_cal (rfm_summary as of calibration_end, of the transactions at or \
         before calibration_end), frequency_holdout (distinct purchase periods after \
         calibration_end up to observation_end), monetary_value_holdout (the mean amount of those \
         transactions, summed exactly) and duration_holdout (the holdout's length in periods), \
         one row per customer seen in the calibration period; customers with no holdout \
         purchase get 0. As in lifetimes the two ends are points in time: '2025-06-30' is \
         midnight, so a purchase at 10:00 that day falls in the holdout. Without an amount \
         (NULL) there are no monetary columns.",
        SYNTAX,
    )
    .with_argument("source", "Table or view of transactions, by name.")
    .with_argument("customer", "Customer id column.")
    .with_argument("ts", "Transaction time: DATE, TIMESTAMP or ISO text.")
    .with_argument("amount", "Transaction value, or NULL.")
    .with_argument("calibration_end", "The end of the calibration period, e.g. '2025-03-31'.")
    .with_argument("observation_end", "The end of the holdout period, after calibration_end.")
    .with_argument("grain", "'day' (default) or 'week'.")
    .with_sql_example(
        "SELECT customer_id, frequency_cal, recency_cal, \"T_cal\", frequency_holdout, duration_holdout\nFROM rfm_calibration_holdout(sample.orders, customer_id, order_ts, amount, '2025-03-31', '2025-06-30')\nORDER BY customer_id\nLIMIT 5;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct RfmCalibrationHoldout;

impl TableFunctionImpl for RfmCalibrationHoldout {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "rfm_calibration_holdout";
        check_arity(NAME, &args, 6, 7, SYNTAX)?;
        let source = source_table(NAME, &args)?;
        let (customer, _) = column_arg(NAME, &args, &source, 1, "customer")?;
        let ts = time_column_arg(NAME, &args, &source, 2)?;
        let amount = match literal_arg(NAME, &args, 3, "amount") {
            Ok(None) => None,
            _ => {
                let amount = column_arg(NAME, &args, &source, 3, "amount")?;
                if !is_numeric(&amount.1) {
                    return plan_err!("{NAME}: amount column '{}' must be numeric, got {}", amount.0, amount.1);
                }
                Some(amount)
            }
        };
        let end = |index: usize, role: &str| -> Result<(i64, i32)> {
            match literal_arg(NAME, &args, index, role)? {
                Some(value) => instant_of_literal(NAME, role, value),
                None => plan_err!("{NAME}: give {role} as a date such as '2025-06-30'; {SYNTAX}"),
            }
        };
        let (calibration_end, calibration_day) = end(4, "calibration_end")?;
        let (observation_end, observation_day) = end(5, "observation_end")?;
        if observation_end <= calibration_end {
            return plan_err!(
                "{NAME}: observation_end ({}) must be after calibration_end ({}); give a calibration_end before it \
                 (in the report: --param calibration_end=...)",
                literal_arg(NAME, &args, 5, "observation_end")?.map(ToString::to_string).unwrap_or_default(),
                literal_arg(NAME, &args, 4, "calibration_end")?.map(ToString::to_string).unwrap_or_default()
            );
        }
        let grain = btyd_grain(NAME, &args, 6)?;
        let micros = |us: i64| lit(ScalarValue::TimestampMicrosecond(Some(us), None));
        let instant = local_micros(&ts.0, &ts.1);

        // The calibration summary: rfm_summary as of calibration_end, of the transactions at
        // or before it (as points in time, as pandas compares them).
        let summary = SummaryArgs {
            customer: customer.clone(),
            ts: ts.clone(),
            amount: amount.clone(),
            as_of_day: Some(calibration_day),
            grain,
        };
        let calibration = summary_plan(&source, &summary, Some(instant.clone().lt_eq(micros(calibration_end))))?;
        let mut calibration_columns = vec![
            ident(&customer),
            col("frequency").alias("frequency_cal"),
            col("recency").alias("recency_cal"),
            ident("T").alias("T_cal"),
        ];
        if amount.is_some() {
            calibration_columns.push(col("monetary_value").alias("monetary_value_cal"));
        }
        let calibration = calibration.project(calibration_columns)?;

        // The holdout: distinct periods and the exact mean amount after calibration_end.
        let key = ident(&customer);
        let in_holdout = key
            .clone()
            .is_not_null()
            .and(ident(&ts.0).is_not_null())
            .and(instant.clone().gt(micros(calibration_end)))
            .and(instant.lt_eq(micros(observation_end)));
        let mut holdout_columns =
            vec![key.clone().alias("__customer"), period_index(day_number(&ts.0, &ts.1), grain).alias("__period")];
        if let Some((name, data_type)) = &amount {
            holdout_columns.push(decimal_amount(NAME, ident(name), data_type).alias("__amount"));
        }
        let mut aggregates = vec![count_distinct(col("__period")).alias("__frequency")];
        if amount.is_some() {
            aggregates.push(sum(col("__amount")).alias("__total"));
            aggregates.push(count(col("__amount")).alias("__amounts"));
        }
        let holdout = scan(&source)?
            .filter(in_holdout)?
            .project(holdout_columns)?
            .aggregate(vec![col("__customer")], aggregates)?
            .build()?;

        let duration = grain.index(observation_day) - grain.index(calibration_day);
        let mut output = vec![ident(&customer), col("frequency_cal"), col("recency_cal"), ident("T_cal")];
        if amount.is_some() {
            output.push(col("monetary_value_cal"));
        }
        output.push(cast(coalesce(vec![col("__frequency"), lit(0i64)]), DataType::Float64).alias("frequency_holdout"));
        if let Some((_, data_type)) = &amount {
            // Exact total over the count, so the mean is the same at any thread count.
            let total =
                cast(cast(col("__total"), DataType::Decimal128(38, amount_scale(data_type))), DataType::Float64);
            let mean = Expr::Case(datafusion::logical_expr::Case::new(
                None,
                vec![(
                    Box::new(col("__amounts").gt(lit(0i64))),
                    Box::new(total / cast(col("__amounts"), DataType::Float64)),
                )],
                Some(Box::new(lit(0.0f64))),
            ));
            output.push(coalesce(vec![mean, lit(0.0f64)]).alias("monetary_value_holdout"));
        }
        output.push(lit(f64::from(duration)).alias("duration_holdout"));
        let plan = calibration
            .join(holdout, JoinType::Left, (vec![customer.clone()], vec!["__customer".to_string()]), None)?
            .project(output)?
            .build()?;
        Ok(view(plan, format!("{NAME}({}, ...)", source.reference)))
    }
}

impl DocumentedTableFunction for RfmCalibrationHoldout {
    fn name(&self) -> &str {
        "rfm_calibration_holdout"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
