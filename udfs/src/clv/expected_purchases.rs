//! `expected_purchases('model', t, frequency, recency, T)`: repeat purchases to expect.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::memo::{Planes, key};
use super::scoring::{Alive, Loaded, Out, Rows, Scoring};
use crate::function::CLV_SECTION;
use segsql_algo::model::clv::TRANSACTION_ALGORITHMS;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "The number of purchases a customer with this history is expected to make in the next t \
         periods of the model's time_unit, under a BG/NBD, MBG/NBD or Pareto/NBD model: \
         lifetimes' conditional_expected_number_of_purchases_up_to_time. The hypergeometric \
         terms are summed in log space with their signs, so it is finite where lifetimes \
         returns NaN (BG/NBD with a + b < 1 and no repeat purchase; thousands of purchases; \
         Pareto/NBD with the last purchase at T, or s = 1, where it takes the limit). NULL when \
         an input is NULL or a series cannot be summed; \
         an error for a negative t or a history no model can come from.",
        "expected_purchases('model', t, frequency, recency, T)",
    )
    .with_argument("model", "A bgnbd, mbgnbd or pareto_nbd model's name, a constant string.")
    .with_argument("t", "The horizon, in the model's time unit.")
    .with_argument("frequency", "Repeat purchase periods.")
    .with_argument("recency", "First to last purchase.")
    .with_argument("T", "First purchase to the end of the data.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency, recency, \"T\" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');\nSELECT customer_id, round(expected_purchases('buyers', 26, frequency, recency, \"T\"), 3) AS next_26_weeks\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\nORDER BY customer_id LIMIT 5;",
    )
    .build()
});

/// The memo tag of expected_if_alive(t, x, T).
const IF_ALIVE: u64 = 1;

fn score(
    models: &[Loaded],
    rows: &Rows,
    alive: &mut [Alive],
    planes: &mut Planes,
    out: &mut Out,
) -> Result<(), String> {
    let [horizon, x, tx, age] = rows.columns(0);
    // A constant horizon that passes is not checked again row by row.
    let constant_passes = rows.constants_pass(&[0], |i| horizon_check(horizon[i]).is_ok());
    if !(constant_passes && rows.valid().all(|i| alive[i].fine(x[i], tx[i], age[i]))) {
        for i in rows.valid() {
            if !constant_passes {
                horizon_check(horizon[i])?;
            }
            alive[i].check(x[i], tx[i], age[i])?;
        }
    }
    models[0].fill_alive(rows, [x, tx, age], alive);
    let Some(model) = models[0].transactions else {
        return Ok(());
    };
    // P(alive) × the expectation if alive, which many customers share: kept in the memo.
    let mut if_alive = vec![None; rows.valid.len()];
    models[0].memo.get_many(
        planes,
        |i| rows.valid[i].then(|| key(IF_ALIVE, horizon[i], x[i], age[i])),
        |i| model.expected_if_alive(horizon[i], x[i], age[i]),
        &mut if_alive,
    );
    for i in rows.valid() {
        out.put(i, if_alive[i].and_then(|e| alive[i].value().map(|p| e * p)));
    }
    Ok(())
}

fn horizon_check(t: f64) -> Result<(), String> {
    if !(t.is_finite() && t >= 0.0) {
        return Err(format!("t (the horizon) must be a number >= 0, got {t}"));
    }
    Ok(())
}

pub static EXPECTED_PURCHASES: Scoring = Scoring {
    name: "expected_purchases",
    models: &[&TRANSACTION_ALGORITHMS],
    numbers: &["t", "frequency", "recency", "T"],
    optional: &[],
    alive: Some([1, 2, 3]),
    syntax: "expected_purchases('model', t, frequency, recency, T)",
    score,
    doc: &DOC,
};
