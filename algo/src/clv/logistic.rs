//! Churn propensity: L2-penalised logistic regression with an unpenalised intercept, the
//! optimum of scikit-learn's `LogisticRegression(C = 1 / l2)`, fitted by BFGS from zero.

use super::optimize::{Objective, minimize_to};
use crate::error::AlgoError;
use crate::parallel::{Threads, chunk_count, chunk_range, map_chunks};

/// How to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticParams {
    /// The L2 penalty on the coefficients, scikit-learn's 1/C.
    pub l2: f64,
    pub max_iter: u64,
    /// Stop when every component of the gradient of the mean loss is this small.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { l2: 1.0, max_iter: 1000, tol: 1e-8 }
    }
}

impl LogisticParams {
    pub fn check(self) -> Result<LogisticParams, AlgoError> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(AlgoError::parameter("l2", "a number >= 0 (scikit-learn's 1/C)", self.l2));
        }
        if self.max_iter == 0 {
            return Err(AlgoError::parameter("max_iter", "at least 1", 0));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(AlgoError::parameter("tol", "a number > 0", self.tol));
        }
        Ok(self)
    }
}

/// A fitted model: P(label) = σ(intercept + x·coefficients), x in the fitted (scaled) space.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub iterations: u64,
    /// The penalised mean loss at the optimum.
    pub objective: f64,
}

pub use super::special::sigmoid;
use super::special::softplus;

const CHUNK: usize = 8_192;

/// (Σ log-loss + l2/2·‖w‖²) / n over the rows, in (intercept, w).
struct Loss<'a> {
    x: &'a [f64],
    y: &'a [bool],
    dims: usize,
    l2: f64,
    threads: Threads,
}

impl Objective for Loss<'_> {
    fn dims(&self) -> usize {
        self.dims + 1
    }

    fn value_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, n) = (self.dims, self.y.len());
        let parts = map_chunks(self.threads, chunk_count(n, CHUNK), |c| {
            let mut loss = 0.0;
            let mut g = vec![0.0; d + 1];
            for i in chunk_range(c, CHUNK, n) {
                let row = &self.x[i * d..(i + 1) * d];
                let z = theta[0] + row.iter().zip(&theta[1..]).map(|(a, b)| a * b).sum::<f64>();
                let y = f64::from(u8::from(self.y[i]));
                loss += softplus(z) - y * z;
                let r = sigmoid(z) - y;
                g[0] += r;
                for (gj, xj) in g[1..].iter_mut().zip(row) {
                    *gj += r * xj;
                }
            }
            (loss, g)
        });
        let mut loss = 0.0;
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (l, g) in parts {
            loss += l;
            for (acc, v) in grad.iter_mut().zip(g) {
                *acc += v;
            }
        }
        let w2: f64 = theta[1..].iter().map(|w| w * w).sum();
        for (gj, wj) in grad[1..].iter_mut().zip(&theta[1..]) {
            *gj += self.l2 * wj;
        }
        let n = n as f64;
        grad.iter_mut().for_each(|g| *g /= n);
        (loss + 0.5 * self.l2 * w2) / n
    }
}

/// The rows sorted by label and then features (total order), so that everything summed
/// over them (the scaler, the loss) is the same whatever order a query returned them in.
pub fn canonical_rows(x: &[f64], y: &[bool], dims: usize) -> (Vec<f64>, Vec<bool>) {
    let mut order: Vec<usize> = (0..y.len()).collect();
    let row = |i: usize| &x[i * dims..(i + 1) * dims];
    order.sort_unstable_by(|&a, &b| {
        y[a].cmp(&y[b]).then_with(|| {
            row(a)
                .iter()
                .zip(row(b))
                .map(|(p, q)| p.total_cmp(q))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    (order.iter().flat_map(|&i| row(i).iter().copied()).collect(), order.iter().map(|&i| y[i]).collect())
}

/// Fits on `x` (row-major, `dims` features a row) and labels `y`, summing in the order
/// given: pass [`canonical_rows`] for a result independent of the input order.
pub fn fit_logistic(
    x: &[f64],
    y: &[bool],
    dims: usize,
    params: LogisticParams,
    threads: Threads,
) -> Result<Logistic, AlgoError> {
    let params = params.check()?;
    if y.is_empty() {
        return Err(AlgoError::NoRows);
    }
    let loss = Loss { x, y, dims, l2: params.l2, threads };
    let optimum = minimize_to(&loss, vec![0.0; dims + 1], params.max_iter, params.tol, params.tol.max(1e-7));
    if !optimum.converged {
        let gradient = optimum.gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        return Err(AlgoError::NotConverged {
            iterations: optimum.iterations,
            gradient,
            hint: "try standardize = 'zscore', a larger l2, or more iterations with max_iter",
        });
    }
    Ok(Logistic {
        intercept: optimum.phi[0],
        coefficients: optimum.phi[1..].to_vec(),
        iterations: optimum.iterations,
        objective: optimum.value,
    })
}

impl Logistic {
    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.intercept + x.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_optimum_has_a_zero_gradient_and_the_penalty_shrinks() {
        // One feature; the label is true above 0 with some overlap.
        let x: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) / 25.0).collect();
        let y: Vec<bool> = (0..200).map(|i| (i * 37) % 200 < i * 2 - 80).collect();
        let loose =
            fit_logistic(&x, &y, 1, LogisticParams { l2: 0.0, ..LogisticParams::default() }, Threads::ONE).unwrap();
        let tight =
            fit_logistic(&x, &y, 1, LogisticParams { l2: 50.0, ..LogisticParams::default() }, Threads::ONE).unwrap();
        assert!(loose.coefficients[0] > 0.0 && tight.coefficients[0] > 0.0);
        assert!(tight.coefficients[0] < loose.coefficients[0]);
        // At the optimum, Σ(σ(z) − y) = 0: the intercept makes the mean prediction the base rate.
        let mean: f64 = x.iter().map(|&v| loose.probability(&[v])).sum::<f64>() / 200.0;
        let rate = y.iter().filter(|&&v| v).count() as f64 / 200.0;
        assert!((mean - rate).abs() < 1e-7, "{mean} vs {rate}");
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
    }

    #[test]
    fn canonical_rows_do_not_depend_on_the_input_order() {
        let x = [3.0, 1.0, 2.0, 2.0, 1.0, 5.0];
        let (a, la) = canonical_rows(&x, &[true, false, true], 2);
        let (b, lb) = canonical_rows(&[1.0, 5.0, 3.0, 1.0, 2.0, 2.0], &[true, true, false], 2);
        assert_eq!((a.clone(), la.clone()), (b, lb));
        assert_eq!((a, la), (vec![2.0, 2.0, 1.0, 5.0, 3.0, 1.0], vec![false, true, true]));
    }

    #[test]
    fn the_thread_count_changes_no_bit() {
        let x: Vec<f64> = (0..40_000).map(|i| ((i * 7919) % 1000) as f64 / 100.0).collect();
        let y: Vec<bool> = (0..20_000).map(|i| (i * 104_729) % 7 < 3).collect();
        let one = fit_logistic(&x, &y, 2, LogisticParams::default(), Threads::ONE).unwrap();
        assert_eq!(fit_logistic(&x, &y, 2, LogisticParams::default(), Threads::new(3)).unwrap(), one);
    }
}
