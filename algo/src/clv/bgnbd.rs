//! BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam et al. 2007), with lifetimes
//! 0.11.3's likelihood, objective and predictions, the predictions kept in log space so
//! they are finite where lifetimes returns NaN.

use super::data::{Histories, whole_index};
use super::optimize::Objective;
use super::special::{
    digamma, ln_gamma, ln_hyp2f1_many_given, sigmoid, sigmoid_exp, sigmoid_given, softplus_factor_sigmoid, trigamma,
};
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// Which of the two beta-geometric models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// BG/NBD: a customer can drop out only after a repeat purchase.
    Bg,
    /// MBG/NBD: also at time 0, so P(alive) is below 1 even without repeats.
    Mbg,
}

/// r, α, a, b.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaGeo {
    pub variant: Variant,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Whole frequencies and times (rfm_summary's periods) that [`BetaGeoLogs`] tabulates:
/// 64 KB of logarithms, made once per model file in well under a millisecond.
const LOG_FREQUENCIES: usize = 1024;
const LOG_TIMES: usize = 8192;

/// ln a, ln of the odds' denominator by whole frequency, and ln(α + t) by whole t: P(alive)
/// of a history with whole numbers is then three table reads and one exp, where it would
/// be four logarithms and one exp.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaGeoLogs {
    ln_a: f64,
    ln_denominator: Vec<Option<f64>>,
    ln_alpha_plus: Vec<f64>,
}

/// Rows per likelihood chunk: the sums are per chunk, then over chunks in order.
const CHUNK: usize = 16_384;

/// lifetimes' objective on time scaled by 1/max(T): the mean negative log-likelihood plus
/// `penalizer`·Σθ², as a function of φ = ln θ.
pub struct BetaGeoObjective<'a> {
    pub variant: Variant,
    pub data: &'a Histories,
    /// The distinct recencies and ages of `data`, times the scale.
    pub recency: Vec<f64>,
    pub age: Vec<f64>,
    pub penalizer: f64,
    pub threads: Threads,
}

impl<'a> BetaGeoObjective<'a> {
    pub fn new(variant: Variant, data: &'a Histories, scale: f64, penalizer: f64, threads: Threads) -> Self {
        BetaGeoObjective {
            variant,
            data,
            recency: data.recencies.values.iter().map(|v| v * scale).collect(),
            age: data.ages.values.iter().map(|v| v * scale).collect(),
            penalizer,
            threads,
        }
    }
}

/// ln(α + v) and 1/(α + v) for every v.
fn logs(values: &[f64], alpha: f64) -> Vec<(f64, f64)> {
    values.iter().map(|v| ((alpha + v).ln(), 1.0 / (alpha + v))).collect()
}

/// The terms that depend on the parameters and the frequency only: ln Γ ratios and their
/// derivatives, once per distinct frequency.
struct FrequencyTerms {
    /// lnΓ(r+x) − lnΓ(r) + A2 (the beta part).
    constant: f64,
    d_r: f64,
    d_a: f64,
    d_b: f64,
    /// ln a − ln(b + x − 1) (BG/NBD; b + x for MBG/NBD), and 1/(b + x − 1) (or 1/(b + x)).
    ln_odds: f64,
    inv_bx: f64,
}

fn frequency_terms(variant: Variant, [r, _, a, b]: [f64; 4], x: f64) -> FrequencyTerms {
    // MBG/NBD's beta part is BG/NBD's with one more trial.
    let y = match variant {
        Variant::Bg => x,
        Variant::Mbg => x + 1.0,
    };
    let a2 = ln_gamma(a + b) + ln_gamma(b + y) - ln_gamma(b) - ln_gamma(a + b + y);
    // BG/NBD's odds term has b + x − 1, MBG/NBD's b + x: both are b + y − 1.
    let bx = b + y - 1.0;
    let psi_ab = digamma(a + b);
    let psi_aby = digamma(a + b + y);
    FrequencyTerms {
        constant: ln_gamma(r + x) - ln_gamma(r) + a2,
        d_r: digamma(r + x) - digamma(r),
        d_a: psi_ab - psi_aby,
        d_b: psi_ab + digamma(b + y) - digamma(b) - psi_aby,
        ln_odds: a.ln() - bx.ln(),
        inv_bx: 1.0 / bx,
    }
}

/// One customer's log-likelihood and its gradient in θ (natural scale), given the
/// frequency terms and (ln, 1/) of α + T and of α + t_x. `ln_alpha` is ln α. The
/// log-likelihood comes as `(l, f)`: it is l + ln f, with f in [1, 2] (1 for a BG/NBD
/// customer without repeats), so that a sum over customers can take one logarithm for the
/// product of many rows' f.
#[inline]
fn row(
    variant: Variant,
    [r, alpha, a, _]: [f64; 4],
    ln_alpha: f64,
    f: &FrequencyTerms,
    x: f64,
    (ln_at, inv_at): (f64, f64),
    (ln_atx, inv_atx): (f64, f64),
) -> ((f64, f64), [f64; 4]) {
    let rx = r + x;
    let a3 = -rx * ln_at;
    let base = f.constant + r * ln_alpha;
    let mut g = [f.d_r + ln_alpha, r / alpha, f.d_a, f.d_b];
    match variant {
        Variant::Bg if x == 0.0 => {
            g[0] -= ln_at;
            g[1] -= rx * inv_at;
            ((base + a3, 1.0), g)
        }
        Variant::Bg => {
            // ll = base + ln(e^A3 + e^A4) = base + A3 + softplus(A4 − A3).
            let a4 = f.ln_odds - rx * ln_atx;
            let (linear, factor, w4) = softplus_factor_sigmoid(a4 - a3);
            let w3 = 1.0 - w4;
            g[0] += -w3 * ln_at - w4 * ln_atx;
            g[1] -= rx * (w3 * inv_at + w4 * inv_atx);
            g[2] += w4 / a;
            g[3] -= w4 * f.inv_bx;
            ((base + a3 + linear, factor), g)
        }
        Variant::Mbg => {
            let a4 = f.ln_odds + rx * (ln_at - ln_atx);
            // d softplus(A4) = σ(A4)·dA4.
            let (linear, factor, s) = softplus_factor_sigmoid(a4);
            g[0] += -ln_at + s * (ln_at - ln_atx);
            g[1] += -rx * inv_at + s * rx * (inv_at - inv_atx);
            g[2] += s / a;
            g[3] -= s * f.inv_bx;
            ((base + a3 + linear, factor), g)
        }
    }
}

/// Rows whose softplus factors (each at most 2) are multiplied before one logarithm: the
/// product stays below 2^512, far from f64's limit, and its rounding (half an ulp a row)
/// costs what adding 512 logarithms would.
const FACTORS_PER_LOG: u32 = 512;

/// What a pass over the customers at θ reads each row's terms from, made once per pass: the
/// frequency terms, and (ln, 1/) of α + t for the distinct recencies and ages.
struct Pass {
    theta: [f64; 4],
    ln_alpha: f64,
    terms: Vec<FrequencyTerms>,
    ages: Vec<(f64, f64)>,
    recencies: Vec<(f64, f64)>,
}

impl BetaGeoObjective<'_> {
    fn pass(&self, theta: [f64; 4]) -> Pass {
        Pass {
            theta,
            ln_alpha: theta[1].ln(),
            terms: self.data.frequencies.iter().map(|&x| frequency_terms(self.variant, theta, x)).collect(),
            ages: logs(&self.age, theta[1]),
            recencies: logs(&self.recency, theta[1]),
        }
    }

    /// Customer `i`'s [`row`] in `pass`.
    #[inline]
    fn row_at(&self, pass: &Pass, i: usize) -> ((f64, f64), [f64; 4]) {
        row(
            self.variant,
            pass.theta,
            pass.ln_alpha,
            &pass.terms[self.data.frequency_index[i] as usize],
            self.data.frequency[i],
            pass.ages[self.data.ages.index[i] as usize],
            pass.recencies[self.data.recencies.index[i] as usize],
        )
    }

    /// Σ w·ll and Σ w·∂ll/∂θ over the customers, at natural parameters `theta`, on the
    /// scaled times.
    fn sums(&self, theta: [f64; 4]) -> (f64, [f64; 4]) {
        let pass = self.pass(theta);
        let n = self.data.len();
        let parts = map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
            let mut ll = 0.0;
            let mut g = [0.0; 4];
            let (mut product, mut factors) = (1.0, 0);
            for i in chunk_range(c, CHUNK, n) {
                let w = self.data.weight[i];
                let ((l, factor), d) = self.row_at(&pass, i);
                ll += w * l;
                if w == 1.0 {
                    product *= factor;
                    factors += 1;
                    if factors == FACTORS_PER_LOG {
                        ll += product.ln();
                        (product, factors) = (1.0, 0);
                    }
                } else if factor != 1.0 {
                    ll += w * factor.ln();
                }
                for (acc, v) in g.iter_mut().zip(d) {
                    *acc += w * v;
                }
            }
            (ll + product.ln(), g)
        });
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        for (l, d) in parts {
            ll += l;
            for (acc, v) in g.iter_mut().zip(d) {
                *acc += v;
            }
        }
        (ll, g)
    }
}

/// The second derivatives of a frequency's ln Γ terms: ∂²/∂r², ∂²/∂a² (which is also
/// ∂²/∂a∂b) and ∂²/∂b².
fn frequency_curvature(variant: Variant, [r, _, a, b]: [f64; 4], x: f64) -> [f64; 3] {
    let y = match variant {
        Variant::Bg => x,
        Variant::Mbg => x + 1.0,
    };
    let (t_ab, t_aby) = (trigamma(a + b), trigamma(a + b + y));
    [trigamma(r + x) - trigamma(r), t_ab - t_aby, t_ab + trigamma(b + y) - trigamma(b) - t_aby]
}

/// Index of (j, k), j ≤ k, in a 4×4 upper triangle stored row by row.
const fn upper(j: usize, k: usize) -> usize {
    j * 4 - j * (j + 1) / 2 + k
}

/// One customer's Hessian of the log-likelihood in θ (the upper triangle), from the same
/// terms as [`row`]. With z = A4 − A3 (BG/NBD) or A4 (MBG/NBD), both
/// ln(a/(b+y−1)) − (r+x)·(ln(α+t_x) − ln(α+T)), the likelihood is base + A3 + softplus(z),
/// so its Hessian is that of base + A3, plus σ(z)·∇²z + σ(z)(1 − σ(z))·∇z∇zᵀ.
#[inline]
fn row_hessian(
    variant: Variant,
    [r, alpha, a, _]: [f64; 4],
    f: &FrequencyTerms,
    curvature: &[f64; 3],
    x: f64,
    (ln_at, inv_at): (f64, f64),
    (ln_atx, inv_atx): (f64, f64),
) -> [f64; 10] {
    let rx = r + x;
    let mut h = [0.0; 10];
    h[upper(0, 0)] = curvature[0];
    h[upper(0, 1)] = 1.0 / alpha - inv_at;
    h[upper(1, 1)] = -r / (alpha * alpha) + rx * inv_at * inv_at;
    h[upper(2, 2)] = curvature[1];
    h[upper(2, 3)] = curvature[1];
    h[upper(3, 3)] = curvature[2];
    if variant == Variant::Bg && x == 0.0 {
        return h;
    }
    let z = f.ln_odds - rx * (ln_atx - ln_at);
    // σ(z)(1 − σ(z)) = e/(1 + e)² with e = e^−|z|: no 1 − σ rounded to 0 for a large z.
    let e = (-z.abs()).exp();
    let s = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    let q = e / ((1.0 + e) * (1.0 + e));
    let d = inv_atx - inv_at;
    let gz = [ln_at - ln_atx, -rx * d, 1.0 / a, -f.inv_bx];
    h[upper(0, 1)] -= s * d;
    h[upper(1, 1)] += s * rx * (inv_atx * inv_atx - inv_at * inv_at);
    h[upper(2, 2)] -= s / (a * a);
    h[upper(3, 3)] += s * f.inv_bx * f.inv_bx;
    for j in 0..4 {
        for k in j..4 {
            h[upper(j, k)] += q * gz[j] * gz[k];
        }
    }
    h
}

impl BetaGeoObjective<'_> {
    /// Σ w·∇²ll over the customers in θ (the upper triangle), at natural parameters `theta`.
    fn hessian_sums(&self, theta: [f64; 4]) -> [f64; 10] {
        let pass = self.pass(theta);
        let curvatures: Vec<[f64; 3]> =
            self.data.frequencies.iter().map(|&x| frequency_curvature(self.variant, theta, x)).collect();
        let n = self.data.len();
        let parts = map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
            let mut sum = [0.0; 10];
            for i in chunk_range(c, CHUNK, n) {
                let x = self.data.frequency_index[i] as usize;
                let h = row_hessian(
                    self.variant,
                    theta,
                    &pass.terms[x],
                    &curvatures[x],
                    self.data.frequency[i],
                    pass.ages[self.data.ages.index[i] as usize],
                    pass.recencies[self.data.recencies.index[i] as usize],
                );
                let w = self.data.weight[i];
                for (acc, v) in sum.iter_mut().zip(h) {
                    *acc += w * v;
                }
            }
            sum
        });
        let mut sum = [0.0; 10];
        for part in parts {
            for (acc, v) in sum.iter_mut().zip(part) {
                *acc += v;
            }
        }
        sum
    }
}

impl Objective for BetaGeoObjective<'_> {
    fn dims(&self) -> usize {
        4
    }

    /// One pass over the data, where differences of gradients take four (five without the
    /// gradient at `phi`).
    fn closed_hessian(&self, phi: &[f64], gradient: &[f64]) -> Option<Vec<Vec<f64>>> {
        let theta = [phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp()];
        let sums = self.hessian_sums(theta);
        let n = self.data.customers as f64;
        // The objective's Hessian in θ is −Σ∇²ll/n + 2·penalizer·I; in φ = ln θ it is
        // θ_j·θ_k·H_jk, plus the gradient in φ on the diagonal.
        let hessian = (0..4)
            .map(|j| {
                (0..4)
                    .map(|k| {
                        let (lo, hi) = (j.min(k), j.max(k));
                        let in_theta = -sums[upper(lo, hi)] / n + if j == k { 2.0 * self.penalizer } else { 0.0 };
                        theta[j] * theta[k] * in_theta + if j == k { gradient[j] } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        Some(hessian)
    }

    fn value_and_gradient(&self, phi: &[f64], grad: &mut [f64]) -> f64 {
        let theta = [phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp()];
        let (ll, g) = self.sums(theta);
        let n = self.data.customers as f64;
        let mut value = -ll / n;
        for j in 0..4 {
            value += self.penalizer * theta[j] * theta[j];
            // Chain rule to φ = ln θ: ∂/∂φ = θ·∂/∂θ.
            grad[j] = theta[j] * (-g[j] / n + 2.0 * self.penalizer * theta[j]);
        }
        value
    }
}

impl BetaGeo {
    fn theta(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }

    /// Σ log-likelihood over `data` in its own time unit, the figure the papers report.
    pub fn log_likelihood(&self, data: &Histories) -> f64 {
        self.log_likelihood_with(data, Threads::ONE)
    }

    /// [`BetaGeo::log_likelihood`] on up to `threads` threads, with the same bits.
    pub fn log_likelihood_with(&self, data: &Histories, threads: Threads) -> f64 {
        let objective = BetaGeoObjective::new(self.variant, data, 1.0, 0.0, threads);
        objective.sums(self.theta()).0
    }

    /// The denominator of the dropout odds' first factor, a/(b+x−1) or a/(b+x); `None` for
    /// BG/NBD without a repeat purchase, who cannot have dropped out.
    fn odds_denominator(&self, x: f64) -> Option<f64> {
        match self.variant {
            Variant::Bg if x == 0.0 => None,
            Variant::Bg => Some(self.b + x - 1.0),
            Variant::Mbg => Some(self.b + x),
        }
    }

    /// ln of the odds that the customer has dropped out, from its logarithms: each is taken
    /// either afresh or from [`BetaGeoLogs`], with the same bits.
    fn ln_dropout_odds_from(
        &self,
        x: f64,
        tx: f64,
        t: f64,
        ln_a: f64,
        ln_denominator: impl FnOnce() -> Option<f64>,
        ln_alpha_plus: impl Fn(f64) -> f64,
    ) -> f64 {
        let Some(ln_denominator) = ln_denominator() else {
            return f64::NEG_INFINITY;
        };
        ln_a - ln_denominator + (self.r + x) * (ln_alpha_plus(t) - ln_alpha_plus(tx))
    }

    /// ln of the odds term a/(b+x−1)·((α+T)/(α+t_x))^(r+x) (BG/NBD; b+x for MBG/NBD), or
    /// −∞ where the model has none (BG/NBD without repeats).
    fn ln_dropout_odds(&self, x: f64, tx: f64, t: f64) -> f64 {
        let ln_denominator = || self.odds_denominator(x).map(f64::ln);
        self.ln_dropout_odds_from(x, tx, t, self.a.ln(), ln_denominator, |v| (self.alpha + v).ln())
    }

    /// P(the customer is still alive | x, t_x, T).
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        // 1/(1+e^odds), so that large odds give 0, not NaN.
        sigmoid(-self.ln_dropout_odds(x, tx, t))
    }

    /// The logarithms P(alive) takes, tabulated for scoring many customers.
    pub fn logs(&self) -> BetaGeoLogs {
        BetaGeoLogs {
            ln_a: self.a.ln(),
            ln_denominator: (0..LOG_FREQUENCIES).map(|x| self.odds_denominator(x as f64).map(f64::ln)).collect(),
            ln_alpha_plus: (0..LOG_TIMES).map(|t| (self.alpha + t as f64).ln()).collect(),
        }
    }

    /// [`BetaGeo::p_alive`] with its logarithms read from `logs` (made by this model's
    /// [`BetaGeo::logs`]) where the history's numbers are whole and in the tables' range;
    /// the same bits.
    pub fn p_alive_with(&self, logs: &BetaGeoLogs, x: f64, tx: f64, t: f64) -> f64 {
        sigmoid(-self.ln_dropout_odds_with(logs, x, tx, t))
    }

    /// [`BetaGeo::ln_dropout_odds`] with its logarithms read from `logs` where the history's
    /// numbers are whole and in the tables' range; the same bits.
    #[inline]
    fn ln_dropout_odds_with(&self, logs: &BetaGeoLogs, x: f64, tx: f64, t: f64) -> f64 {
        let ln_denominator = || match whole_index(x, LOG_FREQUENCIES) {
            Some(i) => logs.ln_denominator[i],
            None => self.odds_denominator(x).map(f64::ln),
        };
        let ln_alpha_plus = |v: f64| match whole_index(v, LOG_TIMES) {
            Some(i) => logs.ln_alpha_plus[i],
            None => (self.alpha + v).ln(),
        };
        self.ln_dropout_odds_from(x, tx, t, logs.ln_a, ln_denominator, ln_alpha_plus)
    }

    /// [`BetaGeo::p_alive_with`] of every history `(x[i], tx[i], t[i])` into `out[i]`, with
    /// the same bits: the log-odds of every row first, then their exponentials, then the
    /// sigmoids, each in a loop of its own, so that one row's exponential need not wait for
    /// the row before it to be divided out, and the sigmoid takes no branch.
    pub fn p_alive_many_with(&self, logs: &BetaGeoLogs, [x, tx, t]: [&[f64]; 3], out: &mut [f64]) {
        debug_assert!(x.len() == out.len() && tx.len() == out.len() && t.len() == out.len());
        for (i, out) in out.iter_mut().enumerate() {
            // sigmoid(z) with z = −(log-odds), as p_alive_with takes it.
            *out = -self.ln_dropout_odds_with(logs, x[i], tx[i], t[i]);
        }
        let e: Vec<f64> = out.iter().map(|z| sigmoid_exp(*z)).collect();
        for (out, e) in out.iter_mut().zip(e) {
            *out = sigmoid_given(*out, e);
        }
    }

    /// E[purchases in the next `horizon` | x, t_x, T]; `None` where the hypergeometric
    /// series cannot be summed.
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> Option<f64> {
        Some(self.expected_if_alive(horizon, x, t)? * self.p_alive(x, tx, t))
    }

    /// The expectation for a customer known to be alive: it depends on x and T, not t_x, so
    /// scoring can share it between customers.
    pub fn expected_if_alive(&self, horizon: f64, x: f64, t: f64) -> Option<f64> {
        let mut out = [None];
        self.expected_if_alive_many(&[horizon], x, t, &mut out);
        out[0]
    }

    /// [`BetaGeo::expected_if_alive`] at every horizon of `horizons` into `out`, bit for bit,
    /// with the hypergeometric series of all of them summed together.
    pub fn expected_if_alive_many(&self, horizons: &[f64], x: f64, t: f64, out: &mut [Option<f64>]) {
        let BetaGeo { r, alpha, a, b, .. } = *self;
        let (hyp_b, hyp_c, lead) = match self.variant {
            Variant::Bg => (b + x, a + b + x - 1.0, (a + b + x - 1.0) / (a - 1.0)),
            Variant::Mbg => (b + x + 1.0, a + b + x, (a + b + x) / (a - 1.0)),
        };
        let zs: Vec<f64> = horizons.iter().map(|h| h / (alpha + t + h)).collect();
        // ln(1 − z) twice a horizon: in Euler's transformation of the series, and below.
        let ln_one_minus_z: Vec<f64> = zs.iter().map(|z| (-z).ln_1p()).collect();
        let mut series = vec![None; zs.len()];
        ln_hyp2f1_many_given(r + x, hyp_b, hyp_c, &zs, &ln_one_minus_z, &mut series);
        for ((out, &horizon), (&ln_one_minus_z, series)) in
            out.iter_mut().zip(horizons).zip(ln_one_minus_z.iter().zip(series))
        {
            if horizon == 0.0 {
                *out = Some(0.0);
                continue;
            }
            *out = series.map(|(ln_f, sign)| {
                // 1 − sign·e^u with u = ln ₂F₁ + (r+x)·ln((α+T)/(α+T+t)), without cancellation.
                let u = ln_f + (r + x) * ln_one_minus_z;
                let bracket = if sign > 0.0 { -u.exp_m1() } else { 1.0 + u.exp() };
                lead * bracket
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::optimize::assert_gradient_is_slope;

    fn bg(r: f64, alpha: f64, a: f64, b: f64) -> BetaGeo {
        BetaGeo { variant: Variant::Bg, r, alpha, a, b }
    }

    #[test]
    fn p_alive_is_one_without_repeats_and_zero_far_out() {
        let m = bg(0.243, 4.414, 0.793, 2.426);
        assert_eq!(m.p_alive(0.0, 0.0, 39.0), 1.0);
        assert_eq!(m.p_alive(1000.0, 10.0, 100.0), 0.0);
        // Hand-computed: 1/(1 + 0.793/(2.426+2−1)·((4.414+39)/(4.414+30))^2.243).
        let odds = 0.793 / 3.426 * ((4.414f64 + 39.0) / (4.414 + 30.0)).powf(2.243);
        let got = m.p_alive(2.0, 30.0, 39.0);
        assert!((got - 1.0 / (1.0 + odds)).abs() < 1e-14, "{got}");
    }

    #[test]
    fn expectations_at_many_horizons_are_each_horizons_own() {
        let horizons = [0.0, 30.0, 60.0, 90.0, 360.0, 1e-9];
        for m in [bg(0.243, 4.414, 0.793, 2.426), BetaGeo { variant: Variant::Mbg, ..bg(1.2, 0.3, 1.5, 0.7) }] {
            for (x, t) in [(0.0, 39.0), (3.0, 30.0), (150.0, 700.0)] {
                let mut many = [None; 6];
                m.expected_if_alive_many(&horizons, x, t, &mut many);
                for (h, got) in horizons.iter().zip(many) {
                    let alone = m.expected_if_alive(*h, x, t);
                    assert_eq!(got.map(f64::to_bits), alone.map(f64::to_bits), "{x} {t} {h}");
                }
                assert_eq!(many[0], Some(0.0));
            }
        }
        // More time, more purchases.
        let mut rising = [None; 6];
        bg(0.243, 4.414, 0.793, 2.426).expected_if_alive_many(
            &[0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0],
            2.0,
            30.0,
            &mut rising,
        );
        let values: Vec<f64> = rising.iter().map(|v| v.expect("finite")).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    #[test]
    fn tabled_logs_give_p_alive_bit_for_bit() {
        for m in [bg(0.243, 4.414, 0.793, 2.426), BetaGeo { variant: Variant::Mbg, ..bg(1.2, 0.3, 1.5, 0.7) }] {
            let logs = m.logs();
            // Whole numbers inside the tables, at their ends, past them, fractional, −0.
            let histories = [
                (0.0, 0.0, 39.0),
                (2.0, 30.0, 39.0),
                (1023.0, 8000.0, 8191.0),
                (1024.0, 8191.0, 8192.0),
                (3.0, 2.5, 7.25),
                (1.0, -0.0, 0.0),
                (155.0, 700.0, 730.0),
            ];
            for (x, tx, t) in histories {
                assert_eq!(m.p_alive_with(&logs, x, tx, t).to_bits(), m.p_alive(x, tx, t).to_bits(), "{x} {tx} {t}");
            }
            // Many at once: the same bits, P(alive) near 0 and near 1 (either branch of the
            // sigmoid), and a NaN input.
            let mut many: Vec<(f64, f64, f64)> = histories.to_vec();
            many.extend([(200.0, 1.0, 730.0), (1.0, 729.0, 730.0), (f64::NAN, 1.0, 2.0), (-f64::NAN, 1.0, 2.0)]);
            many.extend([(5.0, 3.0, f64::INFINITY), (1.0, f64::INFINITY, f64::INFINITY), (-3.0, 1.0, 2.0)]);
            let columns: [Vec<f64>; 3] = [
                many.iter().map(|h| h.0).collect(),
                many.iter().map(|h| h.1).collect(),
                many.iter().map(|h| h.2).collect(),
            ];
            let mut out = vec![-1.0; many.len()];
            m.p_alive_many_with(&logs, [&columns[0], &columns[1], &columns[2]], &mut out);
            for ((x, tx, t), got) in many.iter().zip(&out) {
                assert_eq!(got.to_bits(), m.p_alive_with(&logs, *x, *tx, *t).to_bits(), "{x} {tx} {t}");
            }
            assert!(out.iter().any(|p| *p < 0.01) && out.iter().any(|p| *p > 0.99), "{out:?}");
        }
        assert_eq!((whole_index(3.0, 4), whole_index(4.0, 4), whole_index(-1.0, 4)), (Some(3), None, None));
        assert_eq!((whole_index(f64::NAN, 4), whole_index(0.5, 4), whole_index(-0.0, 4)), (None, None, Some(0)));
    }

    #[test]
    fn the_gradient_is_the_objectives_slope() {
        let data = Histories::new(&[[0.0, 0.0, 30.0], [2.0, 10.0, 35.0], [5.0, 30.0, 39.0], [1.0, 1.0, 2.0]]).unwrap();
        for variant in [Variant::Bg, Variant::Mbg] {
            let objective = BetaGeoObjective::new(variant, &data, 1.0 / 39.0, 0.1, Threads::ONE);
            assert_gradient_is_slope(&objective, &[-0.3, 0.2, 0.5, -0.1]);
        }
    }

    #[test]
    fn one_logarithm_for_many_rows_sums_what_a_logarithm_a_row_sums() {
        // Thousands of distinct histories (weight 1) and repeated ones (weight > 1), more
        // than a chunk, so products are cut at FACTORS_PER_LOG and at chunk ends.
        let rows: Vec<[f64; 3]> = (0..40_000u64)
            .map(|i| {
                let h = (i % 37_000).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                let t = 1.0 + (h % 700) as f64;
                let x = (h / 700 % 30) as f64;
                [x, if x == 0.0 { 0.0 } else { ((h / 21_000) as f64) % t }, t]
            })
            .collect();
        let data = Histories::new(&rows).unwrap();
        assert!(data.weight.iter().filter(|w| **w == 1.0).count() > 4 * FACTORS_PER_LOG as usize);
        assert!(data.weight.iter().any(|w| *w > 1.0) && data.len() > CHUNK);
        for variant in [Variant::Bg, Variant::Mbg] {
            let theta = [0.8, 0.05, 0.6, 2.5];
            let objective = BetaGeoObjective::new(variant, &data, 1.0 / 700.0, 0.0, Threads::ONE);
            let (ll, _) = objective.sums(theta);
            let pass = objective.pass(theta);
            let one_by_one: f64 = (0..data.len())
                .map(|i| {
                    let ((l, factor), _) = objective.row_at(&pass, i);
                    data.weight[i] * (l + (factor - 1.0).ln_1p())
                })
                .sum();
            assert!((ll - one_by_one).abs() <= 1e-13 * one_by_one.abs(), "{variant:?}: {ll} vs {one_by_one}");
        }
    }

    #[test]
    fn the_closed_hessian_is_the_gradients_slope() {
        let data = Histories::new(&[
            [0.0, 0.0, 30.0],
            [2.0, 10.0, 35.0],
            [5.0, 30.0, 39.0],
            [1.0, 1.0, 2.0],
            [40.0, 38.0, 39.0],
            [2.0, 10.0, 35.0],
        ])
        .unwrap();
        for variant in [Variant::Bg, Variant::Mbg] {
            for (penalizer, phi) in [(0.1, [-0.3, 0.2, 0.5, -0.1]), (0.0, [0.4, -1.2, -0.7, 1.3])] {
                let objective = BetaGeoObjective::new(variant, &data, 1.0 / 39.0, penalizer, Threads::ONE);
                let mut gradient = [0.0; 4];
                objective.value_and_gradient(&phi, &mut gradient);
                let closed = objective.closed_hessian(&phi, &gradient).unwrap();
                // Central differences of the analytic gradient, column by column.
                let (mut up, mut down) = ([0.0; 4], [0.0; 4]);
                for k in 0..4 {
                    let (mut p, mut m) = (phi, phi);
                    p[k] += 1e-5;
                    m[k] -= 1e-5;
                    objective.value_and_gradient(&p, &mut up);
                    objective.value_and_gradient(&m, &mut down);
                    for j in 0..4 {
                        let slope = (up[j] - down[j]) / 2e-5;
                        let scale = slope.abs().max(1e-3);
                        assert!(
                            (closed[j][k] - slope).abs() < 1e-6 * scale,
                            "{variant:?} ({j}, {k}): {} vs {slope}",
                            closed[j][k]
                        );
                    }
                }
            }
        }
    }
}
