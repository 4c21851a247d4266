//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987), with lifetimes 0.11.3's likelihood
//! (Hardie's note 009, eqs. 18–20), its summed objective, and its predictions, computed so
//! they are defined where lifetimes returns NaN: A0 = 0 exactly when the last purchase is at
//! T, and the s = 1 limit of the expectation.

use super::data::Histories;
use super::optimize::Objective;
use super::special::{digamma, ln_gamma, ln_hyp2f1, ln_hyp2f1_gradient, sigmoid, softplus};
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// r, α (purchase rate: shape, scale), s, β (dropout rate: shape, scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// Rows per likelihood chunk, summed per chunk and then over chunks in order.
const CHUNK: usize = 16_384;

/// One of A0's two terms, l(x, t) = ln ₂F₁(ρ, b; ρ+1; |α−β|/(m+t)) − ρ·ln(m+t) with
/// ρ = r+s+x, m = max(α, β) and b = s+1 (α ≥ β) or r+x (α < β), as lifetimes'
/// `_log_A_0` has it; with its gradient in θ = (r, α, s, β) when `GRADIENT`. `None` when
/// the series cannot be summed.
fn ln_piece<const GRADIENT: bool>([r, alpha, s, beta]: [f64; 4], x: f64, t: f64) -> Option<(f64, [f64; 4])> {
    let rho = r + s + x;
    let alpha_larger = alpha >= beta;
    let (m, other, b) = if alpha_larger { (alpha, beta, s + 1.0) } else { (beta, alpha, r + x) };
    let mt = m + t;
    let z = (m - other) / mt;
    let ln_mt = mt.ln();
    if !GRADIENT {
        let (ln_f, sign) = ln_hyp2f1(rho, b, rho + 1.0, z)?;
        return (sign > 0.0).then_some((ln_f - rho * ln_mt, [0.0; 4]));
    }
    let (ln_f, sign, [fa, fb, fc, fz]) = ln_hyp2f1_gradient(rho, b, rho + 1.0, z)?;
    if sign <= 0.0 {
        return None;
    }
    // ρ enters a and c; b is s+1 or r+x; z = (m − other)/(m + t).
    let shared = fa + fc - ln_mt;
    let dz_dm = (other + t) / (mt * mt);
    let dz_dother = -1.0 / mt;
    let d_m = fz * dz_dm - rho / mt;
    let d_other = fz * dz_dother;
    let gradient = if alpha_larger { [shared, d_m, shared + fb, d_other] } else { [shared + fb, d_other, shared, d_m] };
    Some((ln_f - rho * ln_mt, gradient))
}

/// ln A0 = ln(e^l1 − e^l2) from l1 = l(x, t_x) and l2 = l(x, T), and its gradient from
/// theirs; −∞ (A0 = 0) when the last purchase is at T, where lifetimes' signed logsumexp of
/// two equal terms gives −∞ or NaN, or when rounding makes the two terms equal.
fn ln_a0((l1, g1): (f64, [f64; 4]), (l2, g2): (f64, [f64; 4])) -> Option<(f64, [f64; 4])> {
    let d = l2 - l1;
    if d >= 0.0 {
        return None;
    }
    let gap = -d.exp_m1();
    let e = d.exp();
    let gradient = std::array::from_fn(|j| (g1[j] - e * g2[j]) / gap);
    Some((l1 + gap.ln(), gradient))
}

/// lifetimes' objective, −Σ ll + penalizer·Σθ² on time scaled by 1/max(T), divided by the
/// number of customers so that its gradient is of the same order as the other models' (the
/// optimum is the same), as a function of φ = ln θ.
pub struct ParetoObjective<'a> {
    pub data: &'a Histories,
    /// The distinct (frequency index, scaled time) pairs A0's terms are taken at: a history's
    /// recency and its T each name one, and many histories share them.
    pairs: Vec<(u32, f64)>,
    recency_pair: Vec<u32>,
    age_pair: Vec<u32>,
    /// Scaled T, per history.
    age: Vec<f64>,
    pub penalizer: f64,
    pub threads: Threads,
}

impl<'a> ParetoObjective<'a> {
    pub fn new(data: &'a Histories, scale: f64, penalizer: f64, threads: Threads) -> Self {
        let key = |i: usize, t: f64| (data.frequency_index[i], t * scale);
        let mut pairs: Vec<(u32, f64)> =
            (0..data.len()).flat_map(|i| [key(i, data.recency[i]), key(i, data.age[i])]).collect();
        let order = |a: &(u32, f64), b: &(u32, f64)| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1));
        pairs.sort_unstable_by(order);
        pairs.dedup_by(|a, b| order(a, b).is_eq());
        let find = |k: (u32, f64)| pairs.binary_search_by(|p| order(p, &k)).unwrap_or_default() as u32;
        let recency_pair = (0..data.len()).map(|i| find(key(i, data.recency[i]))).collect();
        let age_pair = (0..data.len()).map(|i| find(key(i, data.age[i]))).collect();
        let age = data.age.iter().map(|t| t * scale).collect();
        ParetoObjective { data, pairs, recency_pair, age_pair, age, penalizer, threads }
    }

    /// Σ w·ll and Σ w·∂ll/∂θ at natural parameters `theta`; `None` where a series fails.
    fn sums(&self, theta: [f64; 4]) -> Option<(f64, [f64; 4])> {
        let [r, alpha, s, beta] = theta;
        let frequencies = &self.data.frequencies;
        let pieces: Vec<Option<(f64, [f64; 4])>> = {
            let n = self.pairs.len();
            map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
                chunk_range(c, CHUNK, n)
                    .map(|p| {
                        let (f, t) = self.pairs[p];
                        ln_piece::<true>(theta, frequencies[f as usize], t)
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect()
        };
        // lnΓ(r+x) − lnΓ(r) and its r-derivative, once per distinct frequency.
        let gammas: Vec<(f64, f64)> =
            frequencies.iter().map(|&x| (ln_gamma(r + x) - ln_gamma(r), digamma(r + x) - digamma(r))).collect();
        let (ln_alpha, ln_beta) = (alpha.ln(), beta.ln());
        let n = self.data.len();
        let parts = map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
            let mut ll = 0.0;
            let mut g = [0.0; 4];
            for i in chunk_range(c, CHUNK, n) {
                let x = self.data.frequency[i];
                let (lg, dg) = gammas[self.data.frequency_index[i] as usize];
                let age = self.age[i];
                let (ln_at, ln_bt) = ((alpha + age).ln(), (beta + age).ln());
                let a1 = lg + r * ln_alpha + s * ln_beta;
                let b = -(r + x) * ln_at - s * ln_bt;
                let mut d = [
                    dg + ln_alpha - ln_at,
                    r / alpha - (r + x) / (alpha + age),
                    ln_beta - ln_bt,
                    s / beta - s / (beta + age),
                ];
                let mut l = a1 + b;
                if self.recency_pair[i] != self.age_pair[i] {
                    let a0 = ln_a0(pieces[self.recency_pair[i] as usize]?, pieces[self.age_pair[i] as usize]?);
                    if let Some((ln_a0, d_a0)) = a0 {
                        let rho = r + s + x;
                        let cc = s.ln() + ln_a0 - rho.ln();
                        let w = sigmoid(cc - b);
                        l += softplus(cc - b);
                        let d_b = [-ln_at, -(r + x) / (alpha + age), -ln_bt, -s / (beta + age)];
                        let d_c = [d_a0[0] - 1.0 / rho, d_a0[1], d_a0[2] + 1.0 / s - 1.0 / rho, d_a0[3]];
                        // d = ∂A1 + (1−w)·∂B + w·∂C, with ∂A1 + ∂B already in d.
                        for j in 0..4 {
                            d[j] += w * (d_c[j] - d_b[j]);
                        }
                    }
                }
                let w = self.data.weight[i];
                ll += w * l;
                for (acc, v) in g.iter_mut().zip(d) {
                    *acc += w * v;
                }
            }
            Some((ll, g))
        });
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        for part in parts {
            let (l, d) = part?;
            ll += l;
            for (acc, v) in g.iter_mut().zip(d) {
                *acc += v;
            }
        }
        Some((ll, g))
    }
}

impl Objective for ParetoObjective<'_> {
    fn dims(&self) -> usize {
        4
    }

    fn value_and_gradient(&self, phi: &[f64], grad: &mut [f64]) -> f64 {
        let theta = [phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp()];
        let Some((ll, g)) = self.sums(theta) else {
            grad.iter_mut().for_each(|g| *g = f64::NAN);
            return f64::NAN;
        };
        let n = self.data.customers as f64;
        let mut value = -ll / n;
        for j in 0..4 {
            value += self.penalizer / n * theta[j] * theta[j];
            grad[j] = theta[j] * (-g[j] / n + 2.0 * self.penalizer / n * theta[j]);
        }
        value
    }
}

impl ParetoNbd {
    fn theta(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }

    /// Σ log-likelihood over `data` in its own time unit; `None` where a series fails.
    pub fn log_likelihood(&self, data: &Histories) -> Option<f64> {
        ParetoObjective::new(data, 1.0, 0.0, Threads::ONE).sums(self.theta()).map(|s| s.0)
    }

    /// ln of s/ρ·(α+T)^(r+x)·(β+T)^s·A0, the odds that the customer has dropped out; −∞ when
    /// the last purchase is at T. `None` where a series fails.
    fn ln_dropout_odds(&self, x: f64, tx: f64, t: f64) -> Option<f64> {
        if tx == t {
            return Some(f64::NEG_INFINITY);
        }
        let theta = self.theta();
        let Some((ln_a0, _)) = ln_a0(ln_piece::<false>(theta, x, tx)?, ln_piece::<false>(theta, x, t)?) else {
            return Some(f64::NEG_INFINITY);
        };
        let ParetoNbd { r, alpha, s, beta } = *self;
        Some(s.ln() - (r + s + x).ln() + (r + x) * (alpha + t).ln() + s * (beta + t).ln() + ln_a0)
    }

    /// P(alive | x, t_x, T); exactly 1 when the last purchase is at T.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> Option<f64> {
        self.ln_dropout_odds(x, tx, t).map(|odds| sigmoid(-odds))
    }

    /// E[purchases in the next `horizon` | x, t_x, T]: P(alive)·(r+x)(β+T)/(α+T)·
    /// (1 − ((β+T)/(β+T+horizon))^(s−1))/(s−1), which at s = 1 is its limit
    /// ln((β+T+horizon)/(β+T)) (lifetimes gives 0/0 = NaN there).
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> Option<f64> {
        Some(self.p_alive(x, tx, t)? * self.expected_if_alive(horizon, x, t))
    }

    /// The expectation for a customer known to be alive (it does not depend on t_x).
    pub fn expected_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let ln_ratio = (horizon / (beta + t)).ln_1p();
        let e = s - 1.0;
        // (1 − e^(−e·L))/e, which tends to L as e → 0.
        let growth = if (e * ln_ratio).abs() < 1e-8 {
            ln_ratio * (1.0 - 0.5 * e * ln_ratio)
        } else {
            -(-e * ln_ratio).exp_m1() / e
        };
        (r + x) * (beta + t) / (alpha + t) * growth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::optimize::assert_gradient_is_slope;

    /// The CDNOW fit the papers report.
    const CDNOW: ParetoNbd = ParetoNbd { r: 0.5534, alpha: 10.5802, s: 0.6061, beta: 11.6562 };

    #[test]
    fn a0_is_the_integral_it_stands_for() {
        // A0 = (r+s+x)·∫_{t_x}^T (α+τ)^−(r+x)·(β+τ)^−(s+1) dτ: check against Simpson's rule,
        // with α above and below β.
        for m in [CDNOW, ParetoNbd { alpha: 20.0, beta: 3.0, ..CDNOW }] {
            let (x, tx, t) = (3.0, 12.0, 39.0);
            let theta = m.theta();
            let (ln, _) =
                ln_a0(ln_piece::<false>(theta, x, tx).unwrap(), ln_piece::<false>(theta, x, t).unwrap()).unwrap();
            let f = |u: f64| (m.alpha + u).powf(-(m.r + x)) * (m.beta + u).powf(-(m.s + 1.0));
            let steps = 20_000;
            let h = (t - tx) / steps as f64;
            let mut integral = f(tx) + f(t);
            for k in 1..steps {
                integral += f(tx + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
            }
            integral *= h / 3.0 * (m.r + m.s + x);
            assert!((ln.exp() / integral - 1.0).abs() < 1e-10, "{} vs {integral}", ln.exp());
        }
    }

    #[test]
    fn the_last_purchase_at_t_and_s_one_are_defined() {
        assert_eq!(CDNOW.p_alive(132.0, 200.0, 200.0), Some(1.0));
        let e = CDNOW.expected_purchases(10.0, 132.0, 200.0, 200.0).unwrap();
        let want = (CDNOW.r + 132.0) * (CDNOW.beta + 200.0) / (CDNOW.alpha + 200.0)
            * (1.0 - ((CDNOW.beta + 200.0) / (CDNOW.beta + 210.0)).powf(CDNOW.s - 1.0))
            / (CDNOW.s - 1.0);
        assert!((e - want).abs() < 1e-12 * want, "{e} vs {want}");
        let one = ParetoNbd { s: 1.0, ..CDNOW };
        let near = ParetoNbd { s: 1.0 + 1e-9, ..CDNOW };
        let (a, b) = (one.expected_if_alive(10.0, 2.0, 30.0), near.expected_if_alive(10.0, 2.0, 30.0));
        let limit = (CDNOW.r + 2.0) * (CDNOW.beta + 30.0) / (CDNOW.alpha + 30.0) * (10.0 / (CDNOW.beta + 30.0)).ln_1p();
        assert!((a - limit).abs() < 1e-15 * limit && (b - a).abs() < 1e-8 * a, "{a} {b} {limit}");
    }

    #[test]
    fn the_gradient_is_the_objectives_slope() {
        let data = Histories::new(&[
            [0.0, 0.0, 30.0],
            [2.0, 10.0, 35.0],
            [5.0, 30.0, 39.0],
            [1.0, 1.0, 2.0],
            [4.0, 39.0, 39.0],
            [40.0, 20.0, 39.0],
        ])
        .unwrap();
        let objective = ParetoObjective::new(&data, 1.0 / 39.0, 0.1, Threads::ONE);
        // α above β, and below.
        for phi in [[-0.3, 0.2, 0.5, -0.1], [-0.3, -0.4, 0.5, 0.6]] {
            assert_gradient_is_slope(&objective, &phi);
        }
    }
}
