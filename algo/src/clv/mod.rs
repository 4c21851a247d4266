//! Predictive customer-lifetime-value models: BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma,
//! fitted by maximum likelihood with lifetimes 0.11.3's objectives and penalizer, by BFGS on
//! log-parameters from e^0.1 (from a fit on a subsample above 200,000 distinct histories, to
//! the same optimum; lifetimes fits Pareto/NBD by Nelder–Mead from random starts
//! and stops short of the optimum; this reaches it), and the discounted CLV sum.

pub mod bgnbd;
pub mod data;
pub mod evaluate;
pub mod gamma_gamma;
pub mod logistic;
pub mod optimize;
pub mod pareto;
pub mod special;

use crate::error::AlgoError;
use crate::parallel::Threads;
use bgnbd::{BetaGeo, BetaGeoLogs, BetaGeoObjective, Variant};
use data::Histories;
use gamma_gamma::{GammaGamma, GammaGammaObjective, Spends};
use optimize::{Objective, hessian, hessian_from, invert, minimize, minimize_warm};
use pareto::{ParetoNbd, ParetoObjective};

/// The unit recency and T are counted in, and so the length of a month in it for CLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Day,
    Week,
    Month,
}

impl TimeUnit {
    pub const NAMES: &'static str = "'day', 'week' or 'month'";

    pub fn parse(name: &str) -> Option<TimeUnit> {
        match name.to_ascii_lowercase().as_str() {
            "day" => Some(TimeUnit::Day),
            "week" => Some(TimeUnit::Week),
            "month" => Some(TimeUnit::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }

    /// lifetimes' month: 30 days, 4.345 weeks, 1 month.
    pub fn per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
            TimeUnit::Month => 1.0,
        }
    }
}

/// How to fit: lifetimes' `penalizer_coef` and an iteration cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitParams {
    pub penalizer: f64,
    pub max_iter: u64,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams { penalizer: 0.0, max_iter: 1000 }
    }
}

impl FitParams {
    pub fn check(self) -> Result<FitParams, AlgoError> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            return Err(AlgoError::parameter("penalizer", "a number >= 0", self.penalizer));
        }
        if self.max_iter == 0 {
            return Err(AlgoError::parameter("max_iter", "at least 1", 0));
        }
        Ok(self)
    }
}

/// One fitted parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub name: &'static str,
    pub value: f64,
    /// From the inverse Hessian; `None` when the Hessian is singular there.
    pub std_error: Option<f64>,
}

/// A fit's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub estimates: Vec<Estimate>,
    /// Σ log-likelihood in the data's own time unit.
    pub log_likelihood: f64,
    /// The objective lifetimes minimises, at the optimum.
    pub objective: f64,
    pub iterations: u64,
    pub customers: u64,
}

/// Start every parameter at e^0.1, as lifetimes does: no random start.
const START: f64 = 0.1;

/// Distinct histories past which a fit starts from a fit on a subsample of them.
const WARM_ROWS: usize = 200_000;

/// Distinct histories in that subsample, about.
const SUBSAMPLE_ROWS: usize = 50_000;

/// Iterations the subsample's fit may take.
const WARM_MAX_ITER: u64 = 200;

/// The subsample a large fit warms up on, if the data is large.
fn subsample(data: &Histories) -> Option<Histories> {
    (data.len() > WARM_ROWS).then(|| data.subsample(data.len() / SUBSAMPLE_ROWS))
}

/// Distinct histories in the first, smaller subsample of a BG/NBD warm start, about: from
/// e^0.1 the fit takes a hundred passes, cheaper on 5,000 histories than on 50,000, which
/// then take a handful from its optimum.
const FIRST_STAGE_ROWS: usize = 5_000;

/// The smaller subsample of [`FIRST_STAGE_ROWS`] a subsample warms up on.
fn first_stage(sub: &Histories) -> Option<Histories> {
    (sub.len() > 2 * FIRST_STAGE_ROWS).then(|| sub.subsample(sub.len() / FIRST_STAGE_ROWS))
}

/// A start for the whole fit from the optimum on a subsample, with the inverse Hessian
/// there: BFGS from it takes a handful of passes over the whole data instead of a few dozen.
/// The subsample's own fit starts from `from` (a smaller subsample's optimum) if given and
/// else, or if that does not converge, from e^0.1. Deterministic (a subsample is every k-th
/// distinct history); `None` when the subsample's fit does not converge, and the whole fit
/// starts from e^0.1.
fn warm_start<O: Objective>(
    objective: &O,
    from: Option<(Vec<f64>, Vec<Vec<f64>>)>,
    max_iter: u64,
) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
    // A subsample that will not settle is no guide: give up on it early.
    let max_iter = max_iter.min(WARM_MAX_ITER);
    let cold = || minimize(objective, vec![START; objective.dims()], max_iter);
    let optimum = match from {
        Some((phi, inverse)) => {
            let warmed = minimize_warm(objective, phi, inverse, max_iter);
            if warmed.converged { warmed } else { cold() }
        }
        None => cold(),
    };
    if !optimum.converged {
        return None;
    }
    let inverse = invert(&hessian(objective, &optimum.phi))?;
    let positive = (0..inverse.len()).all(|i| inverse[i][i] > 0.0 && inverse[i][i].is_finite());
    positive.then_some((optimum.phi, inverse))
}

/// Minimises (from `warm` if given, else from e^0.1 as lifetimes does), and turns the
/// optimum into estimates with lifetimes' standard errors: SE_i = θ_i·sqrt([H⁻¹]_ii / N),
/// H the Hessian of the objective in log-parameters.
fn estimate<O: Objective>(
    objective: &O,
    names: &[&'static str],
    params: FitParams,
    customers: u64,
    warm: Option<(Vec<f64>, Vec<Vec<f64>>)>,
    unscale: impl Fn(&mut [f64]),
) -> Result<(Vec<Estimate>, Vec<f64>, f64, u64), AlgoError> {
    let cold = || minimize(objective, vec![START; names.len()], params.max_iter);
    let optimum = match warm {
        Some((phi, inverse)) => {
            let warmed = minimize_warm(objective, phi, inverse, params.max_iter);
            if warmed.converged { warmed } else { cold() }
        }
        None => cold(),
    };
    if !optimum.converged {
        // f64::max drops a NaN; a NaN gradient is reported as such.
        let gradient = optimum
            .gradient
            .iter()
            .fold(0.0f64, |m, g| if g.is_nan() || m.is_nan() { f64::NAN } else { m.max(g.abs()) });
        return Err(AlgoError::NotConverged {
            iterations: optimum.iterations,
            gradient,
            hint: "try a penalizer such as penalizer = 0.001, or more iterations with max_iter",
        });
    }
    let mut theta: Vec<f64> = optimum.phi.iter().map(|p| p.exp()).collect();
    unscale(&mut theta);
    let inverse = invert(&hessian_from(objective, &optimum.phi, Some(&optimum.gradient)));
    let estimates = names
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let variance = inverse.as_ref().map(|h| h[i][i] / customers as f64);
            let std_error = variance.filter(|v| v.is_finite() && *v >= 0.0).map(|v| theta[i] * v.sqrt());
            Estimate { name, value: theta[i], std_error }
        })
        .collect();
    Ok((estimates, theta, optimum.value, optimum.iterations))
}

/// Fits BG/NBD or MBG/NBD on (frequency, recency, T) rows.
pub fn fit_beta_geo(
    variant: Variant,
    rows: &[[f64; 3]],
    params: FitParams,
    threads: Threads,
) -> Result<(BetaGeo, Fit), AlgoError> {
    let params = params.check()?;
    let data = Histories::with_threads(rows, threads)?;
    // lifetimes fits on T/max(T); an all-zero T leaves the times as they are.
    let scale = if data.max_age > 0.0 { 1.0 / data.max_age } else { 1.0 };
    let objective = BetaGeoObjective::new(variant, &data, scale, params.penalizer, threads);
    // Two stages: 5,000 histories from e^0.1, then 50,000 from there.
    fn on(variant: Variant, h: &Histories, scale: f64, penalizer: f64, threads: Threads) -> BetaGeoObjective<'_> {
        BetaGeoObjective::new(variant, h, scale, penalizer, threads)
    }
    let (penalizer, max_iter) = (params.penalizer, params.max_iter);
    let warm = subsample(&data).and_then(|sub| {
        let first = first_stage(&sub)
            .and_then(|small| warm_start(&on(variant, &small, scale, penalizer, threads), None, max_iter));
        warm_start(&on(variant, &sub, scale, penalizer, threads), first, max_iter)
    });
    let (estimates, theta, value, iterations) =
        estimate(&objective, &["r", "alpha", "a", "b"], params, data.customers, warm, |t| t[1] /= scale)?;
    let model = BetaGeo { variant, r: theta[0], alpha: theta[1], a: theta[2], b: theta[3] };
    let log_likelihood = model.log_likelihood_with(&data, threads);
    Ok((model, Fit { estimates, log_likelihood, objective: value, iterations, customers: data.customers }))
}

/// Fits Pareto/NBD on (frequency, recency, T) rows. lifetimes' Pareto objective is the
/// *sum* of the negative log-likelihoods plus the penalty, so the same penalizer weighs
/// about N times less than in the other models; `Fit::objective` is that sum.
pub fn fit_pareto_nbd(rows: &[[f64; 3]], params: FitParams, threads: Threads) -> Result<(ParetoNbd, Fit), AlgoError> {
    let params = params.check()?;
    let data = Histories::with_threads(rows, threads)?;
    let scale = if data.max_age > 0.0 { 1.0 / data.max_age } else { 1.0 };
    let objective = ParetoObjective::new(&data, scale, params.penalizer, threads);
    // The objective is divided by the customers, so the subsample's penalizer is scaled to
    // weigh as the whole data's does.
    let warm = subsample(&data).and_then(|sub| {
        let penalizer = params.penalizer * sub.customers as f64 / data.customers as f64;
        // One stage: fewer Pareto/NBD customers than 50,000 can show no dropout, and that
        // fit runs off to s, β → ∞ slowly.
        warm_start(&ParetoObjective::new(&sub, scale, penalizer, threads), None, params.max_iter)
    });
    let (estimates, theta, value, iterations) =
        estimate(&objective, &["r", "alpha", "s", "beta"], params, data.customers, warm, |t| {
            t[1] /= scale;
            t[3] /= scale;
        })?;
    let model = ParetoNbd { r: theta[0], alpha: theta[1], s: theta[2], beta: theta[3] };
    let Some(log_likelihood) = model.log_likelihood(&data) else {
        return Err(AlgoError::NotConverged {
            iterations,
            gradient: f64::NAN,
            hint: "the likelihood cannot be summed at the optimum found; try a penalizer such as penalizer = 1",
        });
    };
    let fit = Fit {
        estimates,
        log_likelihood,
        objective: value * data.customers as f64,
        iterations,
        customers: data.customers,
    };
    Ok((model, fit))
}

/// Fits Gamma-Gamma on (frequency, monetary value) rows, each with both above 0.
pub fn fit_gamma_gamma(rows: &[[f64; 2]], params: FitParams, threads: Threads) -> Result<(GammaGamma, Fit), AlgoError> {
    let params = params.check()?;
    if rows.is_empty() {
        return Err(AlgoError::NoRows);
    }
    let data = Spends::new(rows);
    let objective = GammaGammaObjective { data: &data, penalizer: params.penalizer, threads };
    let (estimates, theta, value, iterations) =
        estimate(&objective, &["p", "q", "v"], params, data.customers, None, |_| {})?;
    let model = GammaGamma { p: theta[0], q: theta[1], v: theta[2] };
    let log_likelihood = model.log_likelihood(&data);
    Ok((model, Fit { estimates, log_likelihood, objective: value, iterations, customers: data.customers }))
}

/// A transaction model with what scoring many customers with it reuses (made once per model
/// file): BG/NBD's P(alive) logarithms, tabulated.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionScorer {
    pub model: Transactions,
    logs: Option<BetaGeoLogs>,
}

impl TransactionScorer {
    pub fn new(model: Transactions) -> TransactionScorer {
        let logs = match model {
            Transactions::BetaGeo(m) => Some(m.logs()),
            Transactions::Pareto(_) => None,
        };
        TransactionScorer { model, logs }
    }

    /// [`Transactions::p_alive`], bit for bit.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> Option<f64> {
        match (&self.model, &self.logs) {
            (Transactions::BetaGeo(m), Some(logs)) => Some(m.p_alive_with(logs, x, tx, t)),
            (model, _) => model.p_alive(x, tx, t),
        }
    }

    /// [`TransactionScorer::p_alive`] of each history `(x[i], tx[i], t[i])` that `wanted(i)`
    /// into `out[i]`, bit for bit. BG/NBD's are computed for every row, in loops over the
    /// rows ([`BetaGeo::p_alive_many_with`]): a row costs the same whatever its numbers.
    /// Pareto/NBD's sum series whose length depends on the numbers (those of a row with a
    /// NULL input are arbitrary), so only the wanted rows are computed, the rest left `None`.
    pub fn p_alive_many(&self, histories: [&[f64]; 3], wanted: impl Fn(usize) -> bool, out: &mut [Option<f64>]) {
        let [x, tx, t] = histories;
        match (&self.model, &self.logs) {
            (Transactions::BetaGeo(m), Some(logs)) => {
                let mut p = vec![0.0; out.len()];
                m.p_alive_many_with(logs, histories, &mut p);
                for (out, p) in out.iter_mut().zip(p) {
                    *out = Some(p);
                }
            }
            (model, _) => {
                for (i, out) in out.iter_mut().enumerate() {
                    *out = if wanted(i) { model.p_alive(x[i], tx[i], t[i]) } else { None };
                }
            }
        }
    }
}

/// A fitted transaction model, as the scoring functions take it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transactions {
    BetaGeo(BetaGeo),
    Pareto(ParetoNbd),
}

impl Transactions {
    /// P(alive | x, t_x, T); `None` where a hypergeometric series cannot be summed.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> Option<f64> {
        match self {
            Transactions::BetaGeo(m) => Some(m.p_alive(x, tx, t)),
            Transactions::Pareto(m) => m.p_alive(x, tx, t),
        }
    }

    /// E[purchases in the next `horizon` | x, t_x, T]: P(alive) times
    /// [`Transactions::expected_if_alive`].
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> Option<f64> {
        match self {
            Transactions::BetaGeo(m) => m.expected_purchases(horizon, x, tx, t),
            Transactions::Pareto(m) => m.expected_purchases(horizon, x, tx, t),
        }
    }

    /// E[purchases in the next `horizon` | alive, x, T]: in both models the expectation is
    /// P(alive | x, t_x, T) times this, which does not depend on t_x.
    pub fn expected_if_alive(&self, horizon: f64, x: f64, t: f64) -> Option<f64> {
        match self {
            Transactions::BetaGeo(m) => m.expected_if_alive(horizon, x, t),
            Transactions::Pareto(m) => Some(m.expected_if_alive(horizon, x, t)),
        }
    }

    /// The discounted CLV of one unit of spend per purchase for a customer known to be alive:
    /// Σ_{k=1..months} (A(k·f) − A(k·f − f))/(1+d)^k, A = [`Transactions::expected_if_alive`].
    /// lifetimes' CLV is spend × P(alive) × this.
    pub fn discounted_if_alive(
        &self,
        x: f64,
        t: f64,
        months: u32,
        monthly_discount: f64,
        unit: TimeUnit,
    ) -> Option<f64> {
        self.discounted_if_alive_with(&Discounts::new(months, monthly_discount, unit), x, t)
    }

    /// [`Transactions::discounted_if_alive`] with the months, rate and unit of `discounts`.
    pub fn discounted_if_alive_with(&self, discounts: &Discounts, x: f64, t: f64) -> Option<f64> {
        discounts.value(|h, out| self.expected_if_alive_many(h, x, t, out), 1.0)
    }

    /// [`Transactions::expected_if_alive`] at every horizon of `horizons`, bit for bit.
    pub fn expected_if_alive_many(&self, horizons: &[f64], x: f64, t: f64, out: &mut [Option<f64>]) {
        match self {
            Transactions::BetaGeo(m) => m.expected_if_alive_many(horizons, x, t, out),
            Transactions::Pareto(m) => {
                for (out, h) in out.iter_mut().zip(horizons) {
                    *out = Some(m.expected_if_alive(*h, x, t));
                }
            }
        }
    }

    /// lifetimes' `customer_lifetime_value` for one customer with expected spend `value`.
    #[allow(clippy::too_many_arguments)]
    pub fn clv(
        &self,
        value: f64,
        x: f64,
        tx: f64,
        t: f64,
        months: u32,
        monthly_discount: f64,
        unit: TimeUnit,
    ) -> Option<f64> {
        let discounted = self.discounted_if_alive(x, t, months, monthly_discount, unit)?;
        Some(clv_of(value, self.p_alive(x, tx, t)?, discounted))
    }
}

/// CLV from its three factors, in the one order that every caller multiplies them in (so a
/// shared discounted sum gives the same bits as computing it afresh).
pub fn clv_of(value: f64, p_alive: f64, discounted_if_alive: f64) -> f64 {
    value * p_alive * discounted_if_alive
}

/// lifetimes' CLV: Σ_{k=1..months} value·(E(k·f) − E(k·f − f))/(1+d)^k, with f the month
/// in the model's time unit and E the expected purchases by then, which `expected` gives
/// for a slice of horizons at once. `None` where an expectation cannot be computed.
pub fn discounted_value(
    expected: impl FnOnce(&[f64], &mut [Option<f64>]),
    value: f64,
    months: u32,
    monthly_discount: f64,
    unit: TimeUnit,
) -> Option<f64> {
    Discounts::new(months, monthly_discount, unit).value(expected, value)
}

/// The horizons and discounts of a CLV over some months at a rate: made once for every
/// customer a query scores with the same months and rate (twelve `powf` a customer were a
/// tenth of filling the memo), with the bits each customer's own would have.
#[derive(Debug, Clone, PartialEq)]
pub struct Discounts {
    /// 0, f, 2f, ..., months·f, with f the month in the model's time unit.
    horizons: Vec<f64>,
    /// (1+d)^k for month k (at k = 0 unused).
    divisors: Vec<f64>,
}

impl Discounts {
    pub fn new(months: u32, monthly_discount: f64, unit: TimeUnit) -> Discounts {
        let factor = unit.per_month();
        // lifetimes evaluates E(k·f − f) afresh; this takes the previous month's E((k−1)·f),
        // which differs from it by rounding only, and E(f − f) = E(0) for the first month.
        let mut horizons = Vec::with_capacity(months as usize + 1);
        horizons.push(0.0);
        horizons.extend((1..=months).map(|k| f64::from(k) * factor));
        let divisors = horizons.iter().map(|t| (1.0 + monthly_discount).powf(t / factor)).collect();
        Discounts { horizons, divisors }
    }

    /// [`discounted_value`] with these months and rate.
    pub fn value(&self, expected: impl FnOnce(&[f64], &mut [Option<f64>]), value: f64) -> Option<f64> {
        let months = self.horizons.len() - 1;
        let mut at = vec![None; self.horizons.len()];
        if months > 0 {
            expected(&self.horizons, &mut at);
        }
        let mut total = 0.0;
        for k in 1..=months {
            let (now, before) = (at[k]?, at[k - 1]?);
            total += value * (now - before) / self.divisors[k];
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clv_discounts_each_months_purchases() {
        // E(t) = t/30 purchases: one a month, worth 10, discounted at 1% a month.
        let by_30 = |h: &[f64], out: &mut [Option<f64>]| h.iter().zip(out).for_each(|(h, o)| *o = Some(h / 30.0));
        let clv = discounted_value(by_30, 10.0, 3, 0.01, TimeUnit::Day).unwrap();
        let want: f64 = (1..=3).map(|k| 10.0 / 1.01f64.powi(k)).sum();
        assert!((clv - want).abs() < 1e-12);
        assert_eq!(discounted_value(|_, _| {}, 10.0, 3, 0.01, TimeUnit::Week), None);
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = FitParams { penalizer: -1.0, ..FitParams::default() };
        assert!(bad.check().unwrap_err().to_string().contains("penalizer must be a number >= 0"));
        assert_eq!(fit_gamma_gamma(&[], FitParams::default(), Threads::ONE).unwrap_err(), AlgoError::NoRows);
    }
}

#[cfg(test)]
mod parity;
