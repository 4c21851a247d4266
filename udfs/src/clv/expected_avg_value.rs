//! `expected_avg_value('gg_model', frequency, monetary_value)`: spend per purchase to expect.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::memo::Planes;
use super::scoring::{Alive, Loaded, Out, Rows, Scoring};
use crate::function::CLV_SECTION;
use segsql_algo::clv::data::is_whole;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "The expected spend per future purchase under a gamma_gamma model: the population mean \
         v·p/(q−1) shrunk towards the customer's own mean repeat spend by the weight \
         p·x/(p·x+q−1), as lifetimes' conditional_expected_average_profit. A customer with no \
         repeat purchase gets the population mean. NULL when an input is NULL, and when the \
         model's q ≤ 1, where the population mean is infinite (lifetimes gives a negative or \
         infinite figure there); an error for a negative or fractional frequency.",
        "expected_avg_value('gg_model', frequency, monetary_value)",
    )
    .with_argument("gg_model", "A gamma_gamma model's name, a constant string.")
    .with_argument("frequency", "Repeat purchase periods.")
    .with_argument("monetary_value", "The mean spend of the repeat periods, as rfm_summary gives.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL spend USING gamma_gamma\n  AS SELECT frequency, monetary_value FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\n  WHERE frequency > 0 AND monetary_value > 0;\nSELECT customer_id, frequency, round(monetary_value, 2) AS monetary_value,\n       round(expected_avg_value('spend', frequency, monetary_value), 2) AS expected_spend\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\nORDER BY customer_id LIMIT 5;",
    )
    .build()
});

pub fn frequency_check(frequency: f64) -> Result<(), String> {
    if !(is_whole(frequency) && frequency >= 0.0) {
        return Err(format!("frequency counts repeat purchases and must be a whole number >= 0, got {frequency}"));
    }
    Ok(())
}

/// A mean spend the models can take: finite (its sign is the data's business; Gamma-Gamma is
/// fitted on positive spends only, but the shrunk mean is defined for any).
pub fn monetary_check(monetary_value: f64) -> Result<(), String> {
    if !monetary_value.is_finite() {
        return Err(format!("monetary_value must be a finite number, got {monetary_value}"));
    }
    Ok(())
}

fn score(models: &[Loaded], rows: &Rows, _: &mut [Alive], _: &mut Planes, out: &mut Out) -> Result<(), String> {
    let [x, m] = rows.columns(0);
    for i in rows.valid() {
        frequency_check(x[i])?;
        monetary_check(m[i])?;
    }
    if let Some(spend) = models[0].spend {
        for i in rows.valid() {
            out.put(i, spend.expected_average_value(x[i], m[i]));
        }
    }
    Ok(())
}

pub static EXPECTED_AVG_VALUE: Scoring = Scoring {
    name: "expected_avg_value",
    models: &[&["gamma_gamma"]],
    numbers: &["frequency", "monetary_value"],
    optional: &[],
    alive: None,
    syntax: "expected_avg_value('gg_model', frequency, monetary_value)",
    score,
    doc: &DOC,
};
