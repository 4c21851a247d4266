//! The Gamma-Gamma model of spend per transaction (Fader & Hardie, note 025), with
//! lifetimes 0.11.3's likelihood and objective, fitted on customers with repeat purchases.

use super::optimize::Objective;
use super::special::{digamma, ln_gamma};
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// p, q, v.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// Distinct (frequency, mean repeat spend) pairs with their counts, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Spends {
    pub frequency: Vec<f64>,
    pub monetary: Vec<f64>,
    pub weight: Vec<f64>,
    pub frequency_index: Vec<u32>,
    pub frequencies: Vec<f64>,
    pub customers: u64,
}

impl Spends {
    /// Rows must have frequency > 0 and spend > 0 (the caller skips and counts the rest).
    pub fn new(rows: &[[f64; 2]]) -> Spends {
        let mut sorted = rows.to_vec();
        sorted.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        let mut s = Spends {
            frequency: Vec::new(),
            monetary: Vec::new(),
            weight: Vec::new(),
            frequency_index: Vec::new(),
            frequencies: Vec::new(),
            customers: rows.len() as u64,
        };
        for [x, m] in sorted {
            if s.frequency.last() == Some(&x) && s.monetary.last() == Some(&m) {
                if let Some(w) = s.weight.last_mut() {
                    *w += 1.0;
                }
                continue;
            }
            if s.frequencies.last() != Some(&x) {
                s.frequencies.push(x);
            }
            s.frequency_index.push((s.frequencies.len() - 1) as u32);
            s.frequency.push(x);
            s.monetary.push(m);
            s.weight.push(1.0);
        }
        s
    }
}

const CHUNK: usize = 16_384;

/// Mean negative log-likelihood plus `penalizer`·Σθ², in φ = ln θ.
pub struct GammaGammaObjective<'a> {
    pub data: &'a Spends,
    pub penalizer: f64,
    pub threads: Threads,
}

impl GammaGammaObjective<'_> {
    fn sums(&self, [p, q, v]: [f64; 3]) -> (f64, [f64; 3]) {
        // Per distinct frequency: lnΓ(px+q) − lnΓ(px) and the digammas.
        let terms: Vec<[f64; 3]> = self
            .data
            .frequencies
            .iter()
            .map(|&x| {
                let (px, pq) = (p * x, p * x + q);
                [ln_gamma(pq) - ln_gamma(px) + px * x.ln(), digamma(pq), digamma(px)]
            })
            .collect();
        let (lg_q, psi_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
        let d = &self.data;
        let n = d.frequency.len();
        let parts = map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
            let mut ll = 0.0;
            let mut g = [0.0; 3];
            for i in chunk_range(c, CHUNK, n) {
                let [constant, psi_pq, psi_px] = terms[d.frequency_index[i] as usize];
                let (x, m, w) = (d.frequency[i], d.monetary[i], d.weight[i]);
                let (ln_m, ln_xmv) = (m.ln(), (x * m + v).ln());
                let l = constant - lg_q + q * ln_v + (p * x - 1.0) * ln_m - (p * x + q) * ln_xmv;
                ll += w * l;
                g[0] += w * x * (psi_pq - psi_px + ln_m + x.ln() - ln_xmv);
                g[1] += w * (psi_pq - psi_q + ln_v - ln_xmv);
                g[2] += w * (q / v - (p * x + q) / (x * m + v));
            }
            (ll, g)
        });
        let mut ll = 0.0;
        let mut g = [0.0; 3];
        for (l, d) in parts {
            ll += l;
            for (acc, v) in g.iter_mut().zip(d) {
                *acc += v;
            }
        }
        (ll, g)
    }
}

impl Objective for GammaGammaObjective<'_> {
    fn dims(&self) -> usize {
        3
    }

    fn value_and_gradient(&self, phi: &[f64], grad: &mut [f64]) -> f64 {
        let theta = [phi[0].exp(), phi[1].exp(), phi[2].exp()];
        let (ll, g) = self.sums(theta);
        let n = self.data.customers as f64;
        let mut value = -ll / n;
        for j in 0..3 {
            value += self.penalizer * theta[j] * theta[j];
            grad[j] = theta[j] * (-g[j] / n + 2.0 * self.penalizer * theta[j]);
        }
        value
    }
}

impl GammaGamma {
    pub fn log_likelihood(&self, data: &Spends) -> f64 {
        GammaGammaObjective { data, penalizer: 0.0, threads: Threads::ONE }.sums([self.p, self.q, self.v]).0
    }

    /// E[spend per transaction | x, m]: the population mean v·p/(q−1) shrunk towards the
    /// customer's own mean by w = px/(px+q−1). `None` when q ≤ 1, where the population mean
    /// is infinite and lifetimes' figure is negative or infinite.
    pub fn expected_average_value(&self, x: f64, m: f64) -> Option<f64> {
        let GammaGamma { p, q, v } = *self;
        if q <= 1.0 {
            return None;
        }
        let w = p * x / (p * x + q - 1.0);
        Some((1.0 - w) * (v * p / (q - 1.0)) + w * m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::optimize::assert_gradient_is_slope;

    #[test]
    fn expected_value_shrinks_towards_the_population_mean() {
        let m = GammaGamma { p: 6.25, q: 3.74, v: 15.44 };
        let population = 15.44 * 6.25 / 2.74;
        assert!((m.expected_average_value(0.0, 0.0).unwrap() - population).abs() < 1e-12);
        let w = 6.25 * 3.0 / (6.25 * 3.0 + 2.74);
        assert!((m.expected_average_value(3.0, 50.0).unwrap() - ((1.0 - w) * population + w * 50.0)).abs() < 1e-12);
        assert_eq!(GammaGamma { q: 1.0, ..m }.expected_average_value(3.0, 50.0), None);
    }

    #[test]
    fn the_gradient_is_the_objectives_slope() {
        let data = Spends::new(&[[1.0, 20.0], [3.0, 35.5], [3.0, 35.5], [7.0, 12.25]]);
        let objective = GammaGammaObjective { data: &data, penalizer: 0.05, threads: Threads::ONE };
        assert_gradient_is_slope(&objective, &[0.4, 0.9, 1.7]);
    }
}
