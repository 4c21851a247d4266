//! The deterministic generator behind the built-in sample data and `segsql generate`.
//!
//! Customers behave like the buy-till-you-die story that RFM and CLV models assume: each
//! has a latent purchase rate and a chance to churn after every order, both shaped by the
//! acquisition channel, so cohorts decay, segments differ and the clustering has structure
//! to find. Every customer draws from an RNG seeded by `(seed, customer_id)` alone, so the
//! output does not depend on chunking or thread count.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp1, Gamma, LogNormal, Poisson};

/// 2024-01-01T00:00:00 in microseconds since the Unix epoch: the start of the two years.
pub const START_MICROS: i64 = 1_704_067_200_000_000;
/// 2026-01-01T00:00:00: the end of the two years, exclusive.
pub const END_MICROS: i64 = 1_767_225_600_000_000;
/// The months covered, for `marketing_spend`.
pub const MONTHS: usize = 24;

/// Keeps the spend noise apart from every customer's stream.
const SPEND_STREAM: u64 = 0x5EED_0000_0000_0001;
const EVENT_STREAM: u64 = 0x5EED_0000_0000_0002;
const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: f64 = 86_400.0 * 1_000_000.0;

pub const COUNTRIES: [(&str, f64, f64); 8] = [
    // (code, share of customers, spend multiplier)
    ("US", 0.40, 1.00),
    ("GB", 0.15, 0.90),
    ("DE", 0.12, 0.95),
    ("FR", 0.10, 0.90),
    ("CA", 0.08, 0.95),
    ("AU", 0.06, 1.05),
    ("NL", 0.05, 0.90),
    ("ES", 0.04, 0.80),
];

/// How the acquisition channel shapes a customer: purchase rate, churn and basket size.
pub struct AcquisitionChannel {
    pub name: &'static str,
    pub share: f64,
    pub rate: f64,
    pub churn: f64,
    pub basket: f64,
    /// Cost per acquired customer; `None` for channels with no marketing spend.
    pub cac: Option<f64>,
}

pub const ACQUISITION_CHANNELS: [AcquisitionChannel; 6] = [
    AcquisitionChannel { name: "organic", share: 0.30, rate: 1.00, churn: 1.00, basket: 1.00, cac: None },
    AcquisitionChannel { name: "paid_search", share: 0.25, rate: 0.90, churn: 1.15, basket: 0.95, cac: Some(48.0) },
    AcquisitionChannel { name: "social", share: 0.20, rate: 0.75, churn: 1.40, basket: 0.85, cac: Some(36.0) },
    AcquisitionChannel { name: "email", share: 0.10, rate: 1.25, churn: 0.80, basket: 1.00, cac: Some(9.0) },
    AcquisitionChannel { name: "referral", share: 0.10, rate: 1.30, churn: 0.70, basket: 1.10, cac: Some(22.0) },
    AcquisitionChannel { name: "affiliate", share: 0.05, rate: 0.85, churn: 1.20, basket: 0.90, cac: Some(27.0) },
];

pub const ORDER_CHANNELS: [(&str, f64); 4] = [("web", 0.45), ("app", 0.35), ("store", 0.15), ("marketplace", 0.05)];

/// What the generator is asked for.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorConfig {
    pub customers: u64,
    pub seed: u64,
    pub with_events: bool,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct CustomerRows {
    pub customer_id: Vec<i64>,
    pub signup_ts: Vec<i64>,
    pub country: Vec<Option<&'static str>>,
    pub acquisition_channel: Vec<&'static str>,
}

/// Orders before `order_id` is assigned; ids are numbered when a block is written so that
/// they follow time within the block.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OrderRows {
    pub customer_id: Vec<i64>,
    pub order_ts: Vec<i64>,
    pub amount: Vec<f64>,
    pub channel: Vec<&'static str>,
    pub country: Vec<Option<&'static str>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventRows {
    pub user_id: Vec<i64>,
    pub ts: Vec<i64>,
    pub event: Vec<&'static str>,
}

/// One block of consecutive customers with their orders and events.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Block {
    pub customers: CustomerRows,
    pub orders: OrderRows,
    pub events: EventRows,
    /// New customers per (month index, acquisition channel index), for `marketing_spend`.
    pub signups: BTreeMap<(usize, usize), u64>,
}

/// The distributions every customer draws from.
struct Population {
    rate: Gamma<f64>,
    churn: Beta<f64>,
    basket: LogNormal<f64>,
    order_noise: LogNormal<f64>,
}

impl Population {
    fn new() -> Self {
        // Parameters are constants that are known to be valid; a failure here is a typo.
        Population {
            rate: Gamma::new(2.0, 7.5).expect("valid gamma"),
            churn: Beta::new(1.0, 9.0).expect("valid beta"),
            basket: LogNormal::new(55f64.ln(), 0.45).expect("valid lognormal"),
            order_noise: LogNormal::new(0.0, 0.30).expect("valid lognormal"),
        }
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn customer_rng(seed: u64, customer_id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(customer_id)))
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> f64) -> (usize, &'a T) {
    let total: f64 = items.iter().map(&weight).sum();
    let mut target = rng.random::<f64>() * total;
    for (index, item) in items.iter().enumerate() {
        target -= weight(item);
        if target < 0.0 {
            return (index, item);
        }
    }
    let last = items.len() - 1;
    (last, &items[last])
}

fn days(d: f64) -> i64 {
    (d * MICROS_PER_DAY) as i64
}

fn minutes(m: f64) -> i64 {
    (m * 60.0) as i64 * MICROS_PER_SECOND
}

/// Timestamps in real systems are rarely finer than a second; keep them readable.
fn whole_seconds(micros: i64) -> i64 {
    micros - micros.rem_euclid(MICROS_PER_SECOND)
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The month index (0..24) of a timestamp inside the two years.
pub fn month_index(micros: i64) -> usize {
    let date = chrono::DateTime::from_timestamp_micros(micros).map(|t| t.date_naive()).unwrap_or_default();
    use chrono::Datelike;
    (((date.year() - 2024) * 12 + date.month0() as i32).clamp(0, MONTHS as i32 - 1)) as usize
}

/// Generates customers `first..first + count` (ids start at 1).
pub fn generate_block(config: &GeneratorConfig, first: u64, count: u64) -> Block {
    let population = Population::new();
    let mut block = Block::default();
    for id in first..first + count {
        generate_customer(config, &population, id, &mut block);
    }
    block
}

fn generate_customer(config: &GeneratorConfig, population: &Population, id: u64, block: &mut Block) {
    let rng = &mut customer_rng(config.seed, id);
    // Events draw from their own stream so that orders are the same with or without them.
    let event_rng = &mut customer_rng(config.seed ^ EVENT_STREAM, id);
    let customer_id = id as i64;
    let span = (END_MICROS - START_MICROS) as f64;
    // Signups grow over the two years, as a young shop's do.
    let signup = START_MICROS + (rng.random::<f64>().powf(0.8) * span) as i64;
    let country_draw = pick(rng, &COUNTRIES, |c| c.1).1;
    let country = (rng.random::<f64>() >= 0.01).then_some(country_draw.0);
    let (channel_index, acquisition) = pick(rng, &ACQUISITION_CHANNELS, |c| c.share);

    block.customers.customer_id.push(customer_id);
    block.customers.signup_ts.push(whole_seconds(signup));
    block.customers.country.push(country);
    block.customers.acquisition_channel.push(acquisition.name);
    *block.signups.entry((month_index(signup), channel_index)).or_default() += 1;

    let rate_per_day = population.rate.sample(rng) * acquisition.rate / 365.0;
    let churn = (population.churn.sample(rng) * acquisition.churn).min(0.95);
    let basket = population.basket.sample(rng) * acquisition.basket * country_draw.2;
    let preferred_channel = pick(rng, &ORDER_CHANNELS, |c| c.1).1.0;
    let buyer = rng.random::<f64>() < 0.80;

    let mut last_activity = signup;
    if buyer {
        let mut ts = signup + days(rng.sample::<f64, _>(Exp1) * 2.0);
        while ts < END_MICROS {
            let amount = cents((basket * population.order_noise.sample(rng)).max(1.0));
            let channel =
                if rng.random::<f64>() < 0.8 { preferred_channel } else { pick(rng, &ORDER_CHANNELS, |c| c.1).1.0 };
            push_order(block, customer_id, ts, amount, channel, country);
            if config.with_events {
                push_purchase_session(event_rng, block, customer_id, ts);
            }
            last_activity = ts;
            if rng.random::<f64>() < 0.03 {
                // A partial or full refund a few days later: negative amounts are real data.
                let refund_ts = ts + days(2.0 + rng.random::<f64>() * 18.0);
                if refund_ts < END_MICROS {
                    let refund = -cents(amount * (0.2 + 0.8 * rng.random::<f64>()));
                    push_order(block, customer_id, refund_ts, refund, channel, country);
                }
            }
            if rng.random::<f64>() < churn {
                break;
            }
            ts += days(rng.sample::<f64, _>(Exp1) / rate_per_day).max(minutes(30.0));
        }
    }
    if config.with_events {
        push_browsing_sessions(event_rng, block, customer_id, signup, last_activity, buyer);
    }
}

fn push_order(
    block: &mut Block,
    customer_id: i64,
    ts: i64,
    amount: f64,
    channel: &'static str,
    country: Option<&'static str>,
) {
    let orders = &mut block.orders;
    orders.customer_id.push(customer_id);
    orders.order_ts.push(whole_seconds(ts));
    orders.amount.push(amount);
    orders.channel.push(channel);
    orders.country.push(country);
}

fn push_event(block: &mut Block, user_id: i64, ts: i64, event: &'static str) {
    // A session that starts just before the end of the data loses its later steps.
    if ts >= END_MICROS {
        return;
    }
    block.events.user_id.push(user_id);
    block.events.ts.push(whole_seconds(ts));
    block.events.event.push(event);
}

/// view → cart → checkout → purchase in the minutes before an order.
fn push_purchase_session(rng: &mut ChaCha8Rng, block: &mut Block, user_id: i64, order_ts: i64) {
    let checkout = order_ts - minutes(1.0 + rng.random::<f64>() * 4.0);
    let cart = checkout - minutes(1.0 + rng.random::<f64>() * 10.0);
    let view = cart - minutes(1.0 + rng.random::<f64>() * 20.0);
    if rng.random::<f64>() < 0.5 {
        push_event(block, user_id, view - minutes(2.0 + rng.random::<f64>() * 30.0), "view");
    }
    push_event(block, user_id, view.max(START_MICROS), "view");
    push_event(block, user_id, cart.max(START_MICROS), "cart");
    push_event(block, user_id, checkout.max(START_MICROS), "checkout");
    push_event(block, user_id, order_ts, "purchase");
}

/// Sessions that end without a purchase, from signup until a while after the last order.
fn push_browsing_sessions(
    rng: &mut ChaCha8Rng,
    block: &mut Block,
    user_id: i64,
    signup: i64,
    last_activity: i64,
    buyer: bool,
) {
    let active_until = (last_activity + days(60.0)).min(END_MICROS);
    let active_days = (active_until - signup) as f64 / MICROS_PER_DAY;
    let expected = if buyer { 4.0 + active_days * 6.0 / 365.0 } else { 1.5 };
    let sessions = Poisson::new(expected).map_or(0.0, |p| p.sample(rng)) as u64;
    for _ in 0..sessions {
        let mut ts = signup + (rng.random::<f64>() * (active_until - signup) as f64) as i64;
        for _ in 0..1 + rng.random_range(0..3) {
            push_event(block, user_id, ts, "view");
            ts += minutes(1.0 + rng.random::<f64>() * 5.0);
        }
        if rng.random::<f64>() < 0.30 {
            push_event(block, user_id, ts, "cart");
            if rng.random::<f64>() < 0.40 {
                push_event(block, user_id, ts + minutes(2.0 + rng.random::<f64>() * 5.0), "checkout");
            }
        }
    }
}

/// One `marketing_spend` row.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendRow {
    pub month: usize,
    pub channel: &'static str,
    pub spend: f64,
}

/// Monthly spend per paid channel: new customers times the channel's cost per customer,
/// with some month-to-month noise.
pub fn marketing_spend(seed: u64, signups: &BTreeMap<(usize, usize), u64>) -> Vec<SpendRow> {
    let mut rows = Vec::new();
    for month in 0..MONTHS {
        for (channel_index, channel) in ACQUISITION_CHANNELS.iter().enumerate() {
            let Some(cac) = channel.cac else { continue };
            let mut rng = customer_rng(seed ^ SPEND_STREAM, (month * 16 + channel_index) as u64);
            let customers = signups.get(&(month, channel_index)).copied().unwrap_or(0) as f64;
            let noise = 0.85 + 0.3 * rng.random::<f64>();
            rows.push(SpendRow { month, channel: channel.name, spend: cents(customers * cac * noise) });
        }
    }
    rows
}

/// Sorts a block's orders by time (then customer) so ids can follow time.
pub fn sort_orders_by_time(orders: &mut OrderRows) {
    let mut index: Vec<usize> = (0..orders.order_ts.len()).collect();
    index.sort_by_key(|&i| (orders.order_ts[i], orders.customer_id[i]));
    orders.customer_id = index.iter().map(|i| orders.customer_id[*i]).collect();
    orders.order_ts = index.iter().map(|i| orders.order_ts[*i]).collect();
    orders.amount = index.iter().map(|i| orders.amount[*i]).collect();
    orders.channel = index.iter().map(|i| orders.channel[*i]).collect();
    orders.country = index.iter().map(|i| orders.country[*i]).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(customers: u64) -> GeneratorConfig {
        GeneratorConfig { customers, seed: 42, with_events: true }
    }

    #[test]
    fn time_constants_match_the_calendar() {
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(start.and_utc().timestamp_micros(), START_MICROS);
        assert_eq!(end.and_utc().timestamp_micros(), END_MICROS);
        assert_eq!(month_index(START_MICROS), 0);
        assert_eq!(month_index(END_MICROS - 1), 23);
    }

    #[test]
    fn orders_do_not_depend_on_events() {
        let with = generate_block(&config(100), 1, 100);
        let without = generate_block(&GeneratorConfig { with_events: false, ..config(100) }, 1, 100);
        assert_eq!(with.orders, without.orders);
        assert!(without.events.ts.is_empty());
    }

    #[test]
    fn blocks_do_not_depend_on_chunking() {
        let whole = generate_block(&config(40), 1, 40);
        let first = generate_block(&config(40), 1, 15);
        let second = generate_block(&config(40), 16, 25);
        assert_eq!(whole.customers.customer_id.len(), 40);
        assert_eq!(&whole.orders.amount[..first.orders.amount.len()], &first.orders.amount[..]);
        assert_eq!(whole.orders.amount.len(), first.orders.amount.len() + second.orders.amount.len());
    }

    #[test]
    fn rows_stay_inside_the_two_years_and_funnels_are_ordered() {
        let block = generate_block(&config(300), 1, 300);
        assert!(block.orders.order_ts.iter().all(|&t| (START_MICROS..END_MICROS).contains(&t)));
        assert!(block.events.ts.iter().all(|&t| (START_MICROS..END_MICROS).contains(&t)));
        // Every purchase event is an order.
        let purchases = block.events.event.iter().filter(|e| **e == "purchase").count();
        let sales = block.orders.amount.iter().filter(|a| **a > 0.0).count();
        assert_eq!(purchases, sales);
        assert!(block.orders.amount.iter().any(|a| *a < 0.0), "some refunds");
        assert!(block.orders.amount.iter().all(|a| *a != 0.0 && ((a * 100.0).round() - a * 100.0).abs() < 1e-6));
    }

    #[test]
    fn customers_repeat_and_churn() {
        let block = generate_block(&config(2000), 1, 2000);
        let orders_per_customer = block.orders.customer_id.len() as f64 / 2000.0;
        assert!((4.0..9.0).contains(&orders_per_customer), "{orders_per_customer}");
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for id in &block.orders.customer_id {
            *counts.entry(*id).or_default() += 1;
        }
        let one_timers = counts.values().filter(|&&n| n == 1).count();
        assert!(one_timers > 100, "churn leaves one-time buyers: {one_timers}");
        assert!(counts.len() < 2000, "some signups never buy");
    }

    #[test]
    fn spend_follows_signups() {
        let block = generate_block(&config(500), 1, 500);
        let spend = marketing_spend(42, &block.signups);
        assert_eq!(spend.len(), MONTHS * 5);
        assert!(spend.iter().all(|row| row.spend >= 0.0));
        assert!(spend.iter().map(|row| row.spend).sum::<f64>() > 0.0);
    }

    #[test]
    fn sorting_keeps_rows_together() {
        let mut block = generate_block(&config(50), 1, 50);
        let total: f64 = block.orders.amount.iter().sum();
        sort_orders_by_time(&mut block.orders);
        assert!(block.orders.order_ts.windows(2).all(|w| w[0] <= w[1]));
        assert!((block.orders.amount.iter().sum::<f64>() - total).abs() < 1e-6);
    }
}
