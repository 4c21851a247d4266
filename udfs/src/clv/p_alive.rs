//! `p_alive('model', frequency, recency, T)`: the chance a customer has not churned.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::memo::Planes;
use super::scoring::{Alive, Loaded, Out, Rows, Scoring};
use crate::function::CLV_SECTION;
use segsql_algo::model::clv::TRANSACTION_ALGORITHMS;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "P(alive): the probability that a customer with this history is still a customer, under \
         a BG/NBD, MBG/NBD or Pareto/NBD model made by CREATE MODEL, as lifetimes' \
         conditional_probability_alive. Under BG/NBD it is exactly 1 for a customer with no \
         repeat purchase, under Pareto/NBD for one whose last purchase falls at T (lifetimes \
         gives NaN there for frequent buyers). Computed in log space, so very frequent buyers \
         get 0, not NaN. recency \
         and T are in the model's time_unit. NULL when an input is NULL; an error for a history \
         no model can come from (negative values, recency > T, frequency 0 with recency ≠ 0, a \
         fractional frequency).",
        "p_alive('model', frequency, recency, T)",
    )
    .with_argument("model", "A bgnbd, mbgnbd or pareto_nbd model's name, a constant string.")
    .with_argument("frequency", "Repeat purchase periods, as rfm_summary gives.")
    .with_argument("recency", "First to last purchase, in the model's time unit.")
    .with_argument("T", "First purchase to the end of the data, in the model's time unit.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency, recency, \"T\" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');\nSELECT customer_id, round(p_alive('buyers', frequency, recency, \"T\"), 4) AS p_alive\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\nORDER BY customer_id LIMIT 5;",
    )
    .build()
});

fn score(models: &[Loaded], rows: &Rows, alive: &mut [Alive], _: &mut Planes, out: &mut Out) -> Result<(), String> {
    let [x, tx, t] = rows.columns(0);
    if !rows.valid().all(|i| alive[i].fine(x[i], tx[i], t[i])) {
        for i in rows.valid() {
            alive[i].check(x[i], tx[i], t[i])?;
        }
    }
    models[0].fill_alive(rows, [x, tx, t], alive);
    for i in rows.valid() {
        out.put(i, alive[i].value());
    }
    Ok(())
}

pub static P_ALIVE: Scoring = Scoring {
    name: "p_alive",
    models: &[&TRANSACTION_ALGORITHMS],
    numbers: &["frequency", "recency", "T"],
    optional: &[],
    alive: Some([0, 1, 2]),
    syntax: "p_alive('model', frequency, recency, T)",
    score,
    doc: &DOC,
};
