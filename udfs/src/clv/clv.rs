//! `clv('txn_model', 'gg_model', frequency, recency, T, monetary_value [, months [, rate]])`.

use std::cell::OnceCell;
use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::expected_avg_value::{frequency_check, monetary_check};
use super::memo::{Planes, key};
use super::scoring::{Alive, Loaded, Out, Rows, Scoring};
use crate::function::CLV_SECTION;
use segsql_algo::clv::data::is_whole;
use segsql_algo::clv::{Discounts, clv_of};
use segsql_algo::model::clv::TRANSACTION_ALGORITHMS;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLV_SECTION,
        "Customer lifetime value over the next `months`: lifetimes' customer_lifetime_value, the \
         sum over months k = 1..months of expected_avg_value × (purchases expected by the end of \
         month k − by the end of month k−1) / (1 + monthly_discount_rate)^k. A month is the \
         transaction model's time_unit: 30 days, 4.345 weeks or 1 month, so a weekly model's \
         12 months are 52.14 weeks (lifetimes' default of 30 units silently makes them 360 \
         weeks). Defaults: 12 months at 0.01 a month. NULL when an input is NULL or the spend \
         model's q ≤ 1; an error for months that are not a whole number from 0 to 1200, a rate \
         ≤ −1, or a history no model can come from.",
        "clv('txn_model', 'gg_model', frequency, recency, T, monetary_value [, months [, monthly_discount_rate]])",
    )
    .with_argument("txn_model", "A bgnbd, mbgnbd or pareto_nbd model's name, a constant string.")
    .with_argument("gg_model", "A gamma_gamma model's name, a constant string.")
    .with_argument("frequency", "Repeat purchase periods.")
    .with_argument("recency", "First to last purchase, in the transaction model's time unit.")
    .with_argument("T", "First purchase to the end of the data, in that unit.")
    .with_argument("monetary_value", "The mean spend of the repeat periods.")
    .with_argument("months", "How many months ahead; default 12.")
    .with_argument("monthly_discount_rate", "Default 0.01.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL buyers USING bgnbd (time_unit = 'week')\n  AS SELECT frequency, recency, \"T\" FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week');\nCREATE OR REPLACE MODEL spend USING gamma_gamma\n  AS SELECT frequency, monetary_value FROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\n  WHERE frequency > 0 AND monetary_value > 0;\nSELECT customer_id, round(clv('buyers', 'spend', frequency, recency, \"T\", monetary_value), 2) AS clv_12m\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')\nORDER BY clv_12m DESC, customer_id LIMIT 5;",
    )
    .build()
});

/// The memo tag of the discounted sum if alive; the months are in its low bits.
const DISCOUNTED: u64 = 2 << 32;

fn score(
    models: &[Loaded],
    rows: &Rows,
    alive: &mut [Alive],
    planes: &mut Planes,
    out: &mut Out,
) -> Result<(), String> {
    let [frequency, recency, age, monetary, months, rate] = rows.columns(0);
    // Constant months and rate that pass are not checked again row by row; ones that fail
    // are, so the error is still the first bad row's first broken rule.
    let constants_pass = rows.constants_pass(&[4, 5], |i| months_and_rate(months[i], rate[i]).is_ok());
    // A fine history has a whole frequency >= 0, so it passes frequency_check too.
    let fine = |i: usize| monetary[i].is_finite() && alive[i].fine(frequency[i], recency[i], age[i]);
    if !(constants_pass && rows.valid().all(fine)) {
        for i in rows.valid() {
            // A history whose P(alive) is known was checked: its frequency is whole and >= 0.
            if alive[i] == Alive::UNKNOWN {
                frequency_check(frequency[i])?;
            }
            monetary_check(monetary[i])?;
            alive[i].check(frequency[i], recency[i], age[i])?;
            if !constants_pass {
                months_and_rate(months[i], rate[i])?;
            }
        }
    }
    models[0].fill_alive(rows, [frequency, recency, age], alive);
    let (Some(transactions), Some(spend)) = (models[0].transactions, models[1].spend) else {
        return Ok(());
    };
    let unit = models[0].unit;
    let value: Vec<Option<f64>> = (0..rows.valid.len())
        .map(|i| rows.valid[i].then(|| spend.expected_average_value(frequency[i], monetary[i])).flatten())
        .collect();
    // spend × P(alive) × the discounted sum if alive; that sum depends on frequency and T
    // only, and many customers share it. The months and rate are nearly always the same
    // on every row: their discounts are then worked out once for the chunk, when its first
    // missing key is computed (a chunk whose keys are all kept needs none).
    let shared: OnceCell<Option<Discounts>> = OnceCell::new();
    let shared = || {
        shared
            .get_or_init(|| {
                let mut valid = rows.valid();
                let first = valid.next()?;
                let same = |i: usize| {
                    months[i].to_bits() == months[first].to_bits() && rate[i].to_bits() == rate[first].to_bits()
                };
                valid.all(same).then(|| Discounts::new(months[first] as u32, rate[first], unit))
            })
            .as_ref()
    };
    let mut discounted = vec![None; rows.valid.len()];
    models[0].memo.get_many(
        planes,
        |i| value[i].map(|_| key(DISCOUNTED | u64::from(months[i] as u32), rate[i], frequency[i], age[i])),
        |i| match shared() {
            Some(discounts) => transactions.discounted_if_alive_with(discounts, frequency[i], age[i]),
            None => transactions.discounted_if_alive(frequency[i], age[i], months[i] as u32, rate[i], unit),
        },
        &mut discounted,
    );
    for i in rows.valid() {
        if let (Some(value), Some(p_alive), Some(discounted)) = (value[i], alive[i].value(), discounted[i]) {
            out.put(i, Some(clv_of(value, p_alive, discounted)));
        }
    }
    Ok(())
}

fn months_and_rate(months: f64, rate: f64) -> Result<(), String> {
    if !(is_whole(months) && (0.0..=1200.0).contains(&months)) {
        return Err(format!("months must be a whole number from 0 to 1200, got {months}"));
    }
    if !(rate.is_finite() && rate > -1.0) {
        return Err(format!("monthly_discount_rate must be a number above -1, such as 0.01, got {rate}"));
    }
    Ok(())
}

pub static CLV: Scoring = Scoring {
    name: "clv",
    models: &[&TRANSACTION_ALGORITHMS, &["gamma_gamma"]],
    numbers: &["frequency", "recency", "T", "monetary_value"],
    optional: &[("months", 12.0), ("monthly_discount_rate", 0.01)],
    alive: Some([0, 1, 2]),
    syntax: "clv('txn_model', 'gg_model', frequency, recency, T, monetary_value [, months [, monthly_discount_rate]])",
    score,
    doc: &DOC,
};
