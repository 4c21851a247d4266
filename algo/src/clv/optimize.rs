//! Maximum likelihood by BFGS (argmin) on log-parameters, as lifetimes fits its models, and
//! standard errors from the Hessian there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Error, Executor, Gradient, KV, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::BFGS;

/// A smooth objective of log-parameters with its gradient, evaluated together.
pub trait Objective: Sync {
    fn dims(&self) -> usize;
    /// The objective at `phi` and its gradient (written into `grad`); non-finite when the
    /// parameters are outside where it is defined.
    fn value_and_gradient(&self, phi: &[f64], grad: &mut [f64]) -> f64;

    /// The Hessian at `phi` in closed form, given the gradient there; `None` (the default)
    /// when the objective has none, and [`hessian`] takes differences of gradients instead.
    fn closed_hessian(&self, _phi: &[f64], _gradient: &[f64]) -> Option<Vec<Vec<f64>>> {
        None
    }
}

/// Where the optimiser stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimum {
    pub phi: Vec<f64>,
    pub value: f64,
    pub gradient: Vec<f64>,
    pub iterations: u64,
    pub evaluations: u64,
    pub converged: bool,
}

/// Stop when every gradient component is this small (the objectives are means over
/// customers, of order 1): lifetimes' scipy BFGS stops at a gradient norm of 1e-7, so this
/// lands on the optimum at least as closely.
pub const GRADIENT_TOLERANCE: f64 = 1e-9;

/// Accept a stop as converged when the gradient is this small but the line search could
/// make no more progress (the objective's rounding noise is reached).
const ACCEPT_GRADIENT: f64 = 1e-6;

/// A point, the objective there and its gradient.
type Evaluated = Option<(Vec<f64>, f64, Vec<f64>)>;

struct Problem<'a, O> {
    objective: &'a O,
    /// The last point evaluated, its value and gradient: argmin asks for the cost and the
    /// gradient separately, and each costs a pass over the data.
    last: Mutex<Evaluated>,
    /// The best point seen, kept for when the line search gives up (outside the problem,
    /// which argmin keeps when it fails).
    best: &'a Mutex<Evaluated>,
    evaluations: &'a Mutex<u64>,
    tolerance: f64,
}

/// The largest gradient component.
fn largest(gradient: &[f64]) -> f64 {
    gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()))
}

/// What stops argmin as soon as any point it evaluates meets the gradient tolerance, a
/// trial point of the line search included: near the optimum the objective's values differ
/// by rounding only, and the line search would go on stepping back and forth in that noise
/// (a hundred passes over a million customers) rather than accept the point that is there.
const AT_OPTIMUM: &str = "the gradient tolerance is met";

impl<O: Objective> Problem<'_, O> {
    fn evaluate(&self, phi: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, v, g)) = last.as_ref()
            && p.as_slice() == phi
        {
            return Ok((*v, g.clone()));
        }
        let mut grad = vec![0.0; self.objective.dims()];
        let mut value = self.objective.value_and_gradient(phi, &mut grad);
        if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            // Outside the domain: an infinite value makes the line search step back.
            value = f64::INFINITY;
            grad.iter_mut().for_each(|g| *g = 0.0);
        }
        *self.evaluations.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let mut best = self.best.lock().unwrap_or_else(|e| e.into_inner());
        // A point within the tolerance beats one that is not; then the lower value wins.
        let at_optimum = value.is_finite() && largest(&grad) <= self.tolerance;
        let better = best.as_ref().is_none_or(|(_, b, g)| {
            let best_at_optimum = largest(g) <= self.tolerance;
            (at_optimum && !best_at_optimum) || (at_optimum == best_at_optimum && value < *b)
        });
        if value.is_finite() && better {
            *best = Some((phi.to_vec(), value, grad.clone()));
        }
        if at_optimum {
            return Err(Error::msg(AT_OPTIMUM));
        }
        *last = Some((phi.to_vec(), value, grad.clone()));
        Ok((value, grad))
    }
}

impl<O: Objective> CostFunction for Problem<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, phi: &Vec<f64>) -> Result<f64, Error> {
        Ok(self.evaluate(phi)?.0)
    }
}

impl<O: Objective> Gradient for Problem<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, phi: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.evaluate(phi)?.1)
    }
}

/// Counts iterations, which argmin's result does not carry when the run ends in an error.
struct IterationCounter(Arc<AtomicU64>);

impl<I: State> Observe<I> for IterationCounter {
    fn observe_iter(&mut self, state: &I, _kv: &KV) -> Result<(), Error> {
        self.0.store(state.get_iter() + 1, Ordering::Relaxed);
        Ok(())
    }
}

/// Minimises `objective` from `start` with BFGS and a Moré–Thuente line search, for at most
/// `max_iter` iterations in all. When the line search gives up before the optimum (a
/// curvature estimate gone bad on a long, flat ridge), BFGS starts again from the best point
/// with a fresh identity Hessian, up to [`RESTARTS`] times. Deterministic: no random start,
/// and the objective's own sums are in a fixed order.
pub fn minimize<O: Objective>(objective: &O, start: Vec<f64>, max_iter: u64) -> Optimum {
    minimize_to(objective, start, max_iter, GRADIENT_TOLERANCE, ACCEPT_GRADIENT)
}

/// [`minimize`] to a gradient tolerance of one's own: stop when every gradient component is
/// at most `tolerance`, and accept `accept` where the line search can go no further.
pub fn minimize_to<O: Objective>(
    objective: &O,
    start: Vec<f64>,
    max_iter: u64,
    tolerance: f64,
    accept: f64,
) -> Optimum {
    minimize_inner(objective, start, None, max_iter, tolerance, accept)
}

/// [`minimize`] from a start near the optimum with an estimate of the inverse Hessian there
/// (BFGS's first curvature, in place of the identity), as a fit on a subsample gives: the
/// first steps are then Newton's, and few are needed.
pub fn minimize_warm<O: Objective>(
    objective: &O,
    start: Vec<f64>,
    inverse_hessian: Vec<Vec<f64>>,
    max_iter: u64,
) -> Optimum {
    minimize_inner(objective, start, Some(inverse_hessian), max_iter, GRADIENT_TOLERANCE, ACCEPT_GRADIENT)
}

fn minimize_inner<O: Objective>(
    objective: &O,
    start: Vec<f64>,
    mut inverse_hessian: Option<Vec<Vec<f64>>>,
    max_iter: u64,
    tolerance: f64,
    accept: f64,
) -> Optimum {
    let dims = start.len();
    let best = Mutex::new(None);
    let evaluations = Mutex::new(0);
    let mut iterations = 0;
    let mut from = start.clone();
    let mut converged = false;
    for _ in 0..=RESTARTS {
        let (done, hit_cap) = run_bfgs(
            objective,
            from.clone(),
            inverse_hessian.take(),
            max_iter.saturating_sub(iterations),
            tolerance,
            &best,
            &evaluations,
        );
        iterations += done;
        let Some((phi, _, gradient)) = best.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            break;
        };
        let worst = largest(&gradient);
        // The line search may give up in the objective's rounding noise before the gradient
        // tolerance: a small gradient there is the optimum all the same.
        converged = worst <= tolerance || (worst <= accept.max(tolerance) && !hit_cap);
        if converged || hit_cap || iterations >= max_iter || phi == from {
            break;
        }
        from = phi;
    }
    let evaluations = evaluations.into_inner().unwrap_or_else(|e| e.into_inner());
    match best.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((phi, value, gradient)) => Optimum { phi, value, gradient, iterations, evaluations, converged },
        None => Optimum {
            phi: start,
            value: f64::NAN,
            gradient: vec![f64::NAN; dims],
            iterations,
            evaluations,
            converged: false,
        },
    }
}

/// Fresh starts after a line search gives up.
pub const RESTARTS: usize = 4;

/// One BFGS run; returns its iterations and whether it stopped at the iteration cap.
fn run_bfgs<O: Objective>(
    objective: &O,
    start: Vec<f64>,
    inverse_hessian: Option<Vec<Vec<f64>>>,
    max_iter: u64,
    tolerance: f64,
    best: &Mutex<Evaluated>,
    evaluations: &Mutex<u64>,
) -> (u64, bool) {
    let dims = start.len();
    let problem = Problem { objective, last: Mutex::new(None), best, evaluations, tolerance };
    let first_inverse: Vec<Vec<f64>> = inverse_hessian
        .unwrap_or_else(|| (0..dims).map(|i| (0..dims).map(|j| f64::from(u8::from(i == j))).collect()).collect());
    let solver = BFGS::new(MoreThuenteLineSearch::new())
        // argmin stops on the gradient's L2 norm; the caller judges by its largest component.
        .with_tolerance_grad(tolerance)
        .and_then(|s| s.with_tolerance_cost(0.0));
    let counter = Arc::new(AtomicU64::new(0));
    let run = solver.and_then(|solver| {
        Executor::new(problem, solver)
            .add_observer(IterationCounter(Arc::clone(&counter)), ObserverMode::Always)
            .configure(|state| state.param(start).inv_hessian(first_inverse).max_iters(max_iter))
            .run()
            .map(|result| result.state)
    });
    match &run {
        Ok(state) => {
            (state.get_iter(), matches!(state.get_termination_reason(), Some(TerminationReason::MaxItersReached)))
        }
        // The line search refuses a direction that rounding or a bad curvature estimate made
        // non-descending, or a point met the tolerance ([`AT_OPTIMUM`]); the caller judges by
        // the gradient.
        Err(_) => (counter.load(Ordering::Relaxed), false),
    }
}

/// The Hessian at `phi`: the objective's closed form if it has one (one pass over the
/// data), else forward differences of the analytic gradient, symmetrised: one pass over the
/// data per parameter and one at `phi` (central differences would take two per parameter for
/// a standard error closer than its 1e-5 or so that nobody needs).
pub fn hessian<O: Objective>(objective: &O, phi: &[f64]) -> Vec<Vec<f64>> {
    hessian_from(objective, phi, None)
}

/// [`hessian`], given the gradient at `phi` when the caller has it (one pass fewer).
pub fn hessian_from<O: Objective>(objective: &O, phi: &[f64], gradient: Option<&[f64]>) -> Vec<Vec<f64>> {
    let dims = phi.len();
    let mut columns = Vec::with_capacity(dims);
    let mut at = vec![0.0; dims];
    let mut finite = match gradient {
        Some(g) if g.len() == dims => {
            at.copy_from_slice(g);
            true
        }
        _ => objective.value_and_gradient(phi, &mut at).is_finite(),
    };
    if finite && let Some(closed) = objective.closed_hessian(phi, &at) {
        return if closed.iter().flatten().all(|v| v.is_finite()) { closed } else { vec![vec![f64::NAN; dims]; dims] };
    }
    let mut up = vec![0.0; dims];
    for j in 0..dims {
        // A step of 1e-6 relative to the scale of φ: smaller ones (towards √ε ≈ 1.5e-8) meet
        // the rounding noise of sums over a million customers.
        let h = 1e-6 * phi[j].abs().max(1.0);
        let mut p = phi.to_vec();
        p[j] = phi[j] + h;
        up.iter_mut().for_each(|g| *g = f64::NAN);
        finite &= objective.value_and_gradient(&p, &mut up).is_finite();
        columns.push(up.iter().zip(&at).map(|(u, a)| (u - a) / h).collect::<Vec<f64>>());
    }
    // A point where the objective is not defined gives no curvature: NaN, which `invert`
    // refuses, rather than a column left over from the step before.
    if !finite || columns.iter().flatten().any(|v| !v.is_finite()) {
        return vec![vec![f64::NAN; dims]; dims];
    }
    (0..dims).map(|i| (0..dims).map(|j| 0.5 * (columns[j][i] + columns[i][j])).collect()).collect()
}

/// The inverse of a small symmetric matrix by Gauss–Jordan with partial pivoting; `None`
/// when it is singular to working precision (a pivot below n·ε times the largest entry:
/// rounding, not information, would decide what such an inverse holds).
pub fn invert(matrix: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = matrix.len();
    let largest = matrix.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let tiny = n as f64 * f64::EPSILON * largest;
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() <= tiny || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..n {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for row in 0..n {
            if row != col {
                let f = a[row][col];
                for j in 0..n {
                    a[row][j] -= f * a[col][j];
                    inv[row][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// Asserts that `objective`'s gradient at `phi` is its slope, by central differences.
#[cfg(test)]
pub(crate) fn assert_gradient_is_slope<O: Objective>(objective: &O, phi: &[f64]) {
    let dims = phi.len();
    let mut g = vec![0.0; dims];
    objective.value_and_gradient(phi, &mut g);
    let mut scratch = vec![0.0; dims];
    for j in 0..dims {
        let (mut up, mut down) = (phi.to_vec(), phi.to_vec());
        up[j] += 1e-6;
        down[j] -= 1e-6;
        let slope = (objective.value_and_gradient(&up, &mut scratch)
            - objective.value_and_gradient(&down, &mut scratch))
            / 2e-6;
        assert!((slope - g[j]).abs() < 1e-7, "at {phi:?}, ∂{j}: slope {slope}, gradient {}", g[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's valley: a classic hard case for line searches.
    struct Rosenbrock;
    impl Objective for Rosenbrock {
        fn dims(&self) -> usize {
            2
        }
        fn value_and_gradient(&self, p: &[f64], g: &mut [f64]) -> f64 {
            let (x, y) = (p[0], p[1]);
            g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            g[1] = 200.0 * (y - x * x);
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        }
    }

    #[test]
    fn finds_the_minimum_and_its_curvature() {
        let optimum = minimize(&Rosenbrock, vec![-1.2, 1.0], 500);
        assert!(optimum.converged, "{optimum:?}");
        assert!((optimum.phi[0] - 1.0).abs() < 1e-8 && (optimum.phi[1] - 1.0).abs() < 1e-8, "{optimum:?}");
        // The Hessian at (1, 1) is [[802, −400], [−400, 200]].
        let h = hessian(&Rosenbrock, &optimum.phi);
        // Forward differences: off by about the step times the third derivative.
        assert!(
            (h[0][0] - 802.0).abs() < 1e-2 && (h[0][1] + 400.0).abs() < 1e-2 && (h[1][1] - 200.0).abs() < 1e-2,
            "{h:?}"
        );
        let inv = invert(&h).unwrap();
        // [[802, −400], [−400, 200]]⁻¹ = [[0.5, 1], [1, 2.005]].
        // Nearly singular (determinant 400 of entries near 10⁵): the inverse magnifies the
        // differences' error 400-fold.
        assert!(
            (inv[0][0] - 0.5).abs() < 1e-2 && (inv[0][1] - 1.0).abs() < 1e-2 && (inv[1][1] - 2.005).abs() < 1e-2,
            "{inv:?}"
        );
    }

    #[test]
    fn too_few_iterations_is_not_converged() {
        assert!(!minimize(&Rosenbrock, vec![-1.2, 1.0], 3).converged);
        assert_eq!(invert(&[vec![1.0, 2.0], vec![2.0, 4.0]]), None);
        // Singular but for rounding: 0.1 + 0.2 ≠ 0.3 leaves a pivot of about 1e-17.
        assert_eq!(invert(&[vec![0.1, 0.2, 0.3], vec![0.2, 0.4, 0.6], vec![0.3, 0.6, 0.9 + 1e-17]]), None);
    }
}
