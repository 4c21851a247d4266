//! Special functions for the buy-till-you-die likelihoods. ln Γ and digamma come from
//! statrs; the Gauss hypergeometric function ₂F₁ has no Rust crate, so it is here.

pub use statrs::function::gamma::{digamma, ln_gamma};

/// The trigamma function ψ′(x) = d²/dx² ln Γ(x) for x > 0 (statrs has none): the
/// recurrence ψ′(x) = ψ′(x + 1) + 1/x² up to x ≥ 12, then the asymptotic series, whose
/// first omitted term is below 1e-16 relative there. NaN for x ≤ 0 or NaN.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let (mut x, mut sum) = (x, 0.0);
    while x < 12.0 {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    // 1/x + 1/(2x²) + Σ B₂ₖ/x^(2k+1), with B₂ₖ = 1/6, −1/30, 1/42, −1/30, 5/66, −691/2730, 7/6.
    let y = 1.0 / (x * x);
    let tail = 5.0 / 66.0 + y * (-691.0 / 2730.0 + y * 7.0 / 6.0);
    let series = y * (1.0 / 6.0 + y * (-1.0 / 30.0 + y * (1.0 / 42.0 + y * (-1.0 / 30.0 + y * tail))));
    sum + (1.0 + 0.5 / x + series) / x
}

/// ₂F₁(a, b; c; z) for 0 ≤ z < 1 as `(ln |F|, sign of F)`, so values beyond the range of
/// f64 (BG/NBD at thousands of purchases reaches e^700 and more) and negative values (BG/NBD
/// with a + b < 1 gives c < 0) both come out right. `None` when the series does not
/// converge within its term budget or c is 0 or a negative integer.
///
/// The power series is summed directly, rescaling the running sum whenever it passes 1e200
/// (a block of terms that overflows is summed again term by term). When a + b > c its terms
/// decay like k^(a+b−c−1)·z^k, slowly near z = 1, and Euler's transformation
/// ₂F₁(a, b; c; z) = (1−z)^(c−a−b)·₂F₁(c−a, c−b; c; z) gives a series whose terms decay like
/// k^(c−a−b−1)·z^k instead.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
    let mut out = [None];
    ln_hyp2f1_many(a, b, c, &[z], &mut out);
    out[0]
}

/// [`ln_hyp2f1`] at every z of `zs` into `out`, with the same a, b and c: the series'
/// coefficients are computed once for all of them (CLV sums a dozen horizons of one
/// customer), and each z gets the bits [`ln_hyp2f1`] gives it alone.
pub fn ln_hyp2f1_many(a: f64, b: f64, c: f64, zs: &[f64], out: &mut [Option<(f64, f64)>]) {
    many(a, b, c, zs, |i| (-zs[i]).ln_1p(), out);
}

/// [`ln_hyp2f1_many`] for a caller that has ln(1 − z) of every z already
/// (`ln_one_minus_z[i]`, as `(-zs[i]).ln_1p()` gives it), with the same bits.
pub fn ln_hyp2f1_many_given(
    a: f64,
    b: f64,
    c: f64,
    zs: &[f64],
    ln_one_minus_z: &[f64],
    out: &mut [Option<(f64, f64)>],
) {
    debug_assert_eq!(zs.len(), ln_one_minus_z.len());
    many(a, b, c, zs, |i| ln_one_minus_z[i], out);
}

fn many(a: f64, b: f64, c: f64, zs: &[f64], ln_one_minus_z: impl Fn(usize) -> f64, out: &mut [Option<(f64, f64)>]) {
    debug_assert_eq!(zs.len(), out.len());
    out.fill(None);
    if !a.is_finite() || !b.is_finite() || !c.is_finite() || (c <= 0.0 && c.fract() == 0.0) {
        return;
    }
    let euler = a + b > c;
    // z = 0 is 1 in either form, but only the direct series gives exactly that; it never
    // joins the transformed lanes.
    let eligible = zs
        .iter()
        .enumerate()
        .filter(|(_, z)| (0.0..1.0).contains(*z) && !(euler && **z == 0.0))
        .map(|(index, &z)| Lane::new(index, z));
    // On the stack for the usual few z (Pareto/NBD's P(alive) sums two series a row).
    let mut stack = [Lane::new(0, 0.0); STACK_LANES];
    let mut heap = Vec::new();
    let lanes: &mut [Lane] = if zs.len() <= STACK_LANES {
        let mut n = 0;
        for lane in eligible {
            stack[n] = lane;
            n += 1;
        }
        &mut stack[..n]
    } else {
        heap.extend(eligible);
        &mut heap
    };
    if euler {
        series(c - a, c - b, c, lanes);
        for lane in lanes.iter() {
            out[lane.index] = lane.done.map(|(ln, sign)| ((c - a - b) * ln_one_minus_z(lane.index) + ln, sign));
        }
        if let Some(zero) = zs.iter().position(|z| *z == 0.0) {
            let mut plain = [Lane::new(zero, 0.0)];
            series(a, b, c, &mut plain);
            for (index, z) in zs.iter().enumerate() {
                if *z == 0.0 {
                    out[index] = plain[0].done;
                }
            }
        }
    } else {
        series(a, b, c, lanes);
        for lane in lanes.iter() {
            out[lane.index] = lane.done;
        }
    }
}

/// Terms after which the series is given up: z = 0.999 needs about 40,000.
const MAX_TERMS: usize = 200_000;

/// Rescale the running sum when it passes this, so that no term overflows.
const RESCALE: f64 = 1e200;

/// Lanes kept on the stack: CLV's twelve months and horizon 0 fit.
const STACK_LANES: usize = 16;

/// Terms added to every open lane between two looks at each (is it done, does it need
/// rescaling): in between, the lanes go through the same multiplications side by side, with
/// no branch, which the compiler makes vector operations. A lane looked at only every few
/// terms may take a few more terms than it needed; those are below a quarter of its last
/// bit, and the count depends on the lane alone, so a z summed with others or alone gets
/// the same bits.
const BLOCK_TERMS: usize = 8;

/// Lanes summed side by side through a block (two SSE2 vectors); [`STACK_LANES`] is a
/// multiple of it.
const WIDTH: usize = 4;

/// One z of a series, and its result once summed.
#[derive(Clone, Copy)]
struct Lane {
    index: usize,
    z: f64,
    /// Summed: `(ln |F|, sign)`, or `None` when the sum is 0 or not finite.
    done: Option<(f64, f64)>,
}

impl Lane {
    fn new(index: usize, z: f64) -> Lane {
        Lane { index, z, done: None }
    }
}

/// Sums the power series of ₂F₁(a, b; c; z) for every lane; a lane still unfinished after
/// the term budget is left with `done = None`. Lanes go [`STACK_LANES`] at a time.
fn series(a: f64, b: f64, c: f64, lanes: &mut [Lane]) {
    for group in lanes.chunks_mut(STACK_LANES) {
        series_group(a, b, c, group);
    }
}

/// [`series`] for at most [`STACK_LANES`] lanes, held as arrays (slot s is lane `at[s]`),
/// the open ones in the first `open` slots: a lane that finishes is swapped past them
/// (lanes are independent, so the order they are kept in changes no bit).
fn series_group(a: f64, b: f64, c: f64, lanes: &mut [Lane]) {
    let mut at = [0usize; STACK_LANES];
    let (mut z, mut term, mut sum, mut scale) =
        ([0.0f64; STACK_LANES], [0.0; STACK_LANES], [0.0; STACK_LANES], [0.0; STACK_LANES]);
    for (s, lane) in lanes.iter().enumerate() {
        (at[s], z[s], term[s], sum[s]) = (s, lane.z, 1.0, 1.0);
    }
    let mut open = lanes.len();
    let mut k = 0;
    while open > 0 && k < MAX_TERMS {
        let coefficients: [f64; BLOCK_TERMS] = std::array::from_fn(|j| {
            let k = (k + j) as f64;
            (a + k) * (b + k) / ((c + k) * (k + 1.0))
        });
        let (mut term_before, mut sum_before) = (term, sum);
        // Four slots at a time, the open ones and up to three past them (finished lanes or
        // unused slots, whose sums are never read), each group's running values held in
        // registers through the block.
        let groups = open.div_ceil(WIDTH);
        let (z_groups, term_groups, sum_groups) =
            (z.as_chunks::<WIDTH>().0, term.as_chunks_mut::<WIDTH>().0, sum.as_chunks_mut::<WIDTH>().0);
        for ((z, term), sum) in z_groups.iter().zip(term_groups.iter_mut()).zip(sum_groups.iter_mut()).take(groups) {
            let (mut t, mut s) = (*term, *sum);
            for coefficient in coefficients {
                for l in 0..WIDTH {
                    t[l] *= coefficient * z[l];
                    s[l] += t[l];
                }
            }
            (*term, *sum) = (t, s);
        }
        let last = (k + BLOCK_TERMS - 1) as f64;
        let mut s = 0;
        while s < open {
            if !(term[s].is_finite() && sum[s].is_finite()) {
                // It overflowed within the block (or a polynomial's zero term met an infinite
                // coefficient after its end): the block again, term by term, rescaling the
                // moment the sum passes the bound and stopping at a zero term.
                (term[s], sum[s]) = (term_before[s], sum_before[s]);
                for coefficient in coefficients {
                    term[s] *= coefficient * z[s];
                    sum[s] += term[s];
                    rescale(&mut term[s], &mut sum[s], &mut scale[s]);
                    if term[s] == 0.0 {
                        break;
                    }
                }
            } else {
                rescale(&mut term[s], &mut sum[s], &mut scale[s]);
            }
            // A zero term: a non-positive integer a or b, and the series is a polynomial,
            // now complete. Otherwise, past the largest term the ratios tend to z, from above
            // or below: the rest of the series is at most |term|·q/(1−q) with q the larger of
            // the two (compared without dividing).
            let ratio = coefficients[BLOCK_TERMS - 1] * z[s];
            let q = ratio.abs().max(z[s]);
            let done = term[s] == 0.0
                || (q < 1.0 && c + last > 0.0 && term[s].abs() * q <= f64::EPSILON * 0.25 * sum[s].abs() * (1.0 - q));
            if done {
                lanes[at[s]].done = finish(sum[s], scale[s]);
                open -= 1;
                at.swap(s, open);
                z.swap(s, open);
                term.swap(s, open);
                sum.swap(s, open);
                scale.swap(s, open);
                // The lane moved into slot s may still need its own block start.
                term_before.swap(s, open);
                sum_before.swap(s, open);
            } else {
                s += 1;
            }
        }
        k += BLOCK_TERMS;
    }
}

/// Divides a running sum and its last term by [`RESCALE`] once the sum passes it, keeping
/// the logarithm of what was taken out.
fn rescale(term: &mut f64, sum: &mut f64, ln_scale: &mut f64) {
    if sum.abs() > RESCALE {
        *sum /= RESCALE;
        *term /= RESCALE;
        *ln_scale += RESCALE.ln();
    }
}

fn finish(sum: f64, ln_scale: f64) -> Option<(f64, f64)> {
    if sum == 0.0 || !sum.is_finite() {
        return None;
    }
    Some((sum.abs().ln() + ln_scale, sum.signum()))
}

/// ln |₂F₁(a, b; c; z)|, its sign, and the derivatives of ln |₂F₁| in a, b, c and z, for
/// 0 ≤ z < 1: what a likelihood with ₂F₁ terms needs for its gradient (Pareto/NBD's A0).
/// The parameter derivatives have no closed form; they are summed with the series, term k
/// weighted by ψ(a+k) − ψ(a) = Σ_{j<k} 1/(a+j) (and likewise for b, c), and ∂/∂z by k/z.
/// Euler's transformation is used where [`ln_hyp2f1`] uses it, and the chain rule maps its
/// derivatives back. `None` where [`ln_hyp2f1`] gives `None`, and where a series parameter
/// is a non-positive integer (its derivative there is not the truncated polynomial's).
pub fn ln_hyp2f1_gradient(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64, [f64; 4])> {
    if !(0.0..1.0).contains(&z) || !a.is_finite() || !b.is_finite() || !c.is_finite() {
        return None;
    }
    if c <= 0.0 && c.fract() == 0.0 {
        return None;
    }
    if z == 0.0 {
        return Some((0.0, 1.0, [0.0, 0.0, 0.0, a * b / c]));
    }
    if a + b > c {
        // ln F = (c−a−b)·ln(1−z) + ln G(c−a, c−b; c; z).
        let (ln, sign, [ga, gb, gc, gz]) = series_gradient(c - a, c - b, c, z)?;
        let l = (-z).ln_1p();
        let d = [-l - ga, -l - gb, l + ga + gb + gc, gz - (c - a - b) / (1.0 - z)];
        return Some(((c - a - b) * l + ln, sign, d));
    }
    series_gradient(a, b, c, z)
}

fn series_gradient(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64, [f64; 4])> {
    if [a, b].iter().any(|p| *p <= 0.0 && p.fract() == 0.0) {
        return None;
    }
    // Σ t_k, Σ t_k·H_a(k), Σ t_k·H_b(k), Σ t_k·H_c(k), Σ k·t_k, all rescaled together.
    let (mut sum, mut sa, mut sb, mut sc, mut sk) = (1.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut ha, mut hb, mut hc) = (0.0f64, 0.0f64, 0.0f64);
    let mut term = 1.0f64;
    let mut ln_scale = 0.0f64;
    for k in 0..MAX_TERMS {
        let k = k as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        ha += 1.0 / (a + k);
        hb += 1.0 / (b + k);
        hc += 1.0 / (c + k);
        term *= ratio;
        sum += term;
        sa += term * ha;
        sb += term * hb;
        sc += term * hc;
        sk += term * (k + 1.0);
        if sum.abs() > RESCALE {
            for v in [&mut sum, &mut sa, &mut sb, &mut sc, &mut sk, &mut term] {
                *v /= RESCALE;
            }
            ln_scale += RESCALE.ln();
        }
        let done = if term == 0.0 {
            true
        } else {
            // The weights grow like ln k (the H's) and k (for z): the tails of the weighted
            // sums are at most the plain tail times the largest weight, over (1−q) once more.
            let q = ratio.abs().max(z);
            let weight = (k + 1.0).max(ha.abs()).max(hb.abs()).max(hc.abs());
            q < 1.0
                && c + k > 0.0
                && term.abs() * weight * q / ((1.0 - q) * (1.0 - q)) <= f64::EPSILON * 0.25 * sum.abs()
        };
        if done {
            if sum == 0.0 || !sum.is_finite() {
                return None;
            }
            let d = [sa / sum, sb / sum, -sc / sum, sk / (z * sum)];
            return Some((sum.abs().ln() + ln_scale, sum.signum(), d));
        }
    }
    None
}

/// ln(1 + e^x) without overflow.
#[inline]
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// softplus(x) as max(x, 0) + ln(f) with its factor f = 1 + e^−|x| in (1, 2] left to
/// take the logarithm of, and sigmoid(x), from one exponential: a sum of many softplus
/// terms multiplies the factors of hundreds of rows and takes one logarithm for them
/// (a logarithm a row was a sixth of a BG/NBD fit). The sigmoid has [`sigmoid`]'s bits.
#[inline]
pub fn softplus_factor_sigmoid(x: f64) -> (f64, f64, f64) {
    let e = sigmoid_exp(x);
    (x.max(0.0), 1.0 + e, sigmoid_given(x, e))
}

/// 1/(1 + e^−x) without overflow.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    sigmoid_given(x, sigmoid_exp(x))
}

/// The exponential [`sigmoid`] is made from: e^−x for x ≥ 0, else e^x (at most 1, so
/// nothing overflows), a NaN's sign kept. Apart from [`sigmoid_given`] for a caller that
/// takes many exponentials in a loop of their own or uses e for more than the sigmoid.
#[inline]
pub fn sigmoid_exp(x: f64) -> f64 {
    (if x >= 0.0 { -x } else { x }).exp()
}

/// sigmoid(x) from e = [`sigmoid_exp`]`(x)`: 1/(1+e) for x ≥ 0, else e/(1+e).
#[inline]
pub fn sigmoid_given(x: f64, e: f64) -> f64 {
    (if x >= 0.0 { 1.0 } else { e }) / (1.0 + e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(a: f64, b: f64, c: f64, z: f64) -> f64 {
        let (ln, sign) = ln_hyp2f1(a, b, c, z).unwrap();
        sign * ln.exp()
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!((got - want).abs() <= rel * want.abs(), "got {got}, want {want}");
    }

    #[test]
    fn closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1−z)/z; ₂F₁(a, b; b; z) = (1−z)^−a.
        for z in [0.0f64, 0.1, 0.5, 0.9, 0.99, 0.999] {
            let want = if z == 0.0 { 1.0 } else { -(-z).ln_1p() / z };
            close(value(1.0, 1.0, 2.0, z), want, 1e-13);
            close(value(2.5, 3.0, 3.0, z), (1.0 - z).powf(-2.5), 1e-13);
        }
        // ₂F₁(−2, b; c; z) is the polynomial 1 − 2bz/c + b(b+1)z²/(c(c+1)).
        let (b, c, z) = (1.5, 0.25, 0.7);
        close(value(-2.0, b, c, z), 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0)), 1e-14);
    }

    #[test]
    fn negative_c_keeps_its_sign() {
        // c = −0.19: the first-order term is negative and dominates (mpmath: −1.3569255722938291).
        let (a, b, c, z) = (0.11, 0.5, -0.19, 30.0 / 33.24);
        let direct: f64 = {
            let (mut s, mut t) = (1.0, 1.0);
            for k in 0..5000 {
                let k = k as f64;
                t *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
                s += t;
            }
            s
        };
        close(direct, -1.356_925_572_293_829_1, 1e-12);
        close(value(a, b, c, z), -1.356_925_572_293_829_1, 1e-14);
    }

    #[test]
    fn huge_values_stay_finite_in_log_space() {
        // ₂F₁(a, b; b; z) = (1−z)^−a also for a = 5000, far beyond f64.
        let (ln, sign) = ln_hyp2f1(5000.0, 7.0, 7.0, 0.4).unwrap();
        assert_eq!(sign, 1.0);
        close(ln, -5000.0 * (0.6f64).ln(), 1e-13);
    }

    #[test]
    fn the_gradient_is_the_slope_of_ln_f() {
        // Both branches (Euler when a + b > c), a negative c, and z near 1.
        for (a, b, c, z) in [
            (0.75, 1.25, 3.5, 0.3),
            (2.3, 7.25, 1.5, 0.6),
            (0.11, 0.5, -0.19, 0.9),
            (3.2, 1.6, 4.2, 0.97),
            (40.5, 1.0, 41.5, 0.2),
        ] {
            let (ln, sign, g) = ln_hyp2f1_gradient(a, b, c, z).unwrap();
            let (plain, plain_sign) = ln_hyp2f1(a, b, c, z).unwrap();
            assert_eq!(sign, plain_sign);
            close(ln, plain, 1e-13);
            let at = |p: [f64; 4]| ln_hyp2f1(p[0], p[1], p[2], p[3]).unwrap().0;
            for j in 0..4 {
                let h = 1e-6;
                let (mut up, mut down) = ([a, b, c, z], [a, b, c, z]);
                up[j] += h;
                down[j] -= h;
                let slope = (at(up) - at(down)) / (2.0 * h);
                assert!(
                    (slope - g[j]).abs() <= 1e-6 * slope.abs().max(1.0),
                    "{a} {b} {c} {z} ∂{j}: {slope} vs {}",
                    g[j]
                );
            }
        }
        assert_eq!(ln_hyp2f1_gradient(1.5, 2.0, 4.0, 0.0), Some((0.0, 1.0, [0.0, 0.0, 0.0, 0.75])));
    }

    #[test]
    fn trigamma_at_known_values() {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        // ψ′(1) = π²/6, ψ′(1/2) = π²/2, ψ′(2) = π²/6 − 1, ψ′(1/4) = π² + 8G (Catalan's G).
        let catalan = 0.915_965_594_177_219;
        for (x, want) in [(1.0, pi2 / 6.0), (0.5, pi2 / 2.0), (2.0, pi2 / 6.0 - 1.0), (0.25, pi2 + 8.0 * catalan)] {
            assert!((trigamma(x) - want).abs() <= 1e-15 * want, "{x}: {} vs {want}", trigamma(x));
        }
        // It is the slope of digamma, far out too.
        for x in [0.003, 0.7, 11.99, 12.0, 37.5, 1e4] {
            let h = 1e-5 * x;
            let slope = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!((trigamma(x) - slope).abs() < 1e-7 * trigamma(x), "{x}");
        }
        assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan() && trigamma(f64::NAN).is_nan());
    }

    #[test]
    fn softplus_factor_and_sigmoid_agree_with_each_alone() {
        for x in [-800.0, -30.0, -1.5, -1e-300, -0.0, 0.0, 1e-300, 0.7, 36.0, 800.0] {
            let (linear, factor, s) = softplus_factor_sigmoid(x);
            assert_eq!(s.to_bits(), sigmoid(x).to_bits(), "{x}");
            assert!((1.0..=2.0).contains(&factor), "{x}");
            // ln of the rounded factor is within an ulp of 1 of log1p: absolute, not relative.
            assert!((linear + factor.ln() - softplus(x)).abs() <= f64::EPSILON * softplus(x).max(1.0), "{x}");
        }
        // NaNs of either sign keep sigmoid's bits.
        for x in [f64::NAN, -f64::NAN] {
            assert_eq!(softplus_factor_sigmoid(x).2.to_bits(), sigmoid(x).to_bits());
        }
    }

    #[test]
    fn refuses_what_it_cannot_sum() {
        assert_eq!(ln_hyp2f1(1.0, 1.0, -2.0, 0.5), None);
        assert_eq!(ln_hyp2f1(1.0, 1.0, 2.0, 1.0), None);
        assert_eq!(ln_hyp2f1(f64::NAN, 1.0, 2.0, 0.5), None);
    }

    /// The series term by term, rescaled the moment the sum passes the bound and looked at
    /// after every term: what [`series`] summed before it went by blocks.
    fn term_by_term(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
        let (mut sum, mut term, mut ln_scale) = (1.0f64, 1.0f64, 0.0);
        for k in 0..MAX_TERMS {
            let k = k as f64;
            let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
            term *= ratio;
            sum += term;
            rescale(&mut term, &mut sum, &mut ln_scale);
            let q = ratio.abs().max(z);
            if term == 0.0 || (q < 1.0 && c + k > 0.0 && term.abs() * q <= f64::EPSILON * 0.25 * sum.abs() * (1.0 - q))
            {
                return finish(sum, ln_scale);
            }
        }
        None
    }

    #[test]
    fn blocks_of_terms_sum_what_term_by_term_sums() {
        let summed = |a, b, c, z| {
            let mut lane = [Lane::new(0, z)];
            series(a, b, c, &mut lane);
            lane[0].done
        };
        // Both directions of convergence, a polynomial, negative c, z near 1, huge terms.
        for (a, b, c) in
            [(0.5, 0.7, 3.0), (10.52, 0.061, 11.52), (-3.0, 2.0, 1.5), (0.11, 0.5, -0.19), (300.0, 2.0, 1.5)]
        {
            for z in [0.0, 0.01, 0.3, 0.7, 0.93, 0.999] {
                let (got, want) = (summed(a, b, c, z), term_by_term(a, b, c, z));
                match (got, want) {
                    (Some((ln, sign)), Some((want_ln, want_sign))) => {
                        assert_eq!(sign, want_sign, "{a} {b} {c} {z}");
                        assert!(
                            (ln - want_ln).abs() <= 1e-13 * want_ln.abs().max(1.0),
                            "{a} {b} {c} {z}: {ln} vs {want_ln}"
                        );
                    }
                    _ => assert_eq!(got, want, "{a} {b} {c} {z}"),
                }
            }
        }
        // A polynomial whose coefficients overflow after its last term (0 × ∞ there).
        let got = summed(-3.0, -5e307, 1.0, 1e-300);
        let want = term_by_term(-3.0, -5e307, 1.0, 1e-300);
        assert!(want.is_some());
        assert_eq!(got, want);
        // A first block that overflows (its plain sum of eight terms is infinite): summed
        // again term by term, rescaled as it goes, it gives what term by term gives.
        let (a, b, c, z) = (1.5, 1.5, 1e-306, 0.99);
        let (mut plain, mut term) = (1.0f64, 1.0f64);
        for k in 0..BLOCK_TERMS {
            let k = k as f64;
            term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
            plain += term;
        }
        assert!(plain.is_infinite());
        let (ln, sign) = summed(a, b, c, z).expect("finite in log space");
        let (want_ln, want_sign) = term_by_term(a, b, c, z).expect("finite in log space");
        assert_eq!(sign, want_sign);
        assert!((ln - want_ln).abs() <= 1e-13 * want_ln.abs(), "{ln} vs {want_ln}");
    }

    #[test]
    fn many_z_give_each_z_its_own_bits() {
        // Direct and transformed series, a polynomial (a = −3), negative c, z = 0 among
        // transformed lanes, out-of-range z, and lanes that finish far apart.
        let zs = [0.0, 0.3, 0.999, 0.05, 1.0, -0.1, 0.7, 0.0, 0.9];
        for (a, b, c) in [(0.5, 0.7, 3.0), (2.3, 40.0, 41.5), (-3.0, 2.0, 1.5), (1.2, 0.8, -0.5), (3.0, 4.0, 2.0)] {
            let mut many = [None; 9];
            ln_hyp2f1_many(a, b, c, &zs, &mut many);
            for (z, got) in zs.iter().zip(many) {
                let mut alone = [None];
                ln_hyp2f1_many(a, b, c, &[*z], &mut alone);
                let bits = |v: Option<(f64, f64)>| v.map(|(l, s)| (l.to_bits(), s.to_bits()));
                assert_eq!(bits(got), bits(alone[0]), "{a} {b} {c} {z}");
                assert_eq!(got.is_some(), (0.0..1.0).contains(z), "{a} {b} {c} {z}");
            }
        }
        // A lane that finishes in the block where another, moved into its slot, overflows:
        // the second starts again from its own values (a polynomial with a huge b).
        let mut both = [None; 2];
        ln_hyp2f1_many(-12.0, -1e42, 1e-20, &[1e-40, 0.3], &mut both);
        let alone = ln_hyp2f1(-12.0, -1e42, 1e-20, 0.3).expect("a finite polynomial");
        assert_eq!(both[1], Some(alone));
        assert!((alone.0 - 1174.6).abs() < 0.1, "{alone:?}");
        // Twenty z: two groups of lanes, each z with its own bits.
        let zs: Vec<f64> = (0..20).map(|i| i as f64 / 21.0).collect();
        let mut many = vec![None; zs.len()];
        ln_hyp2f1_many(0.7, 2.5, 1.9, &zs, &mut many);
        for (z, got) in zs.iter().zip(&many) {
            assert_eq!(*got, ln_hyp2f1(0.7, 2.5, 1.9, *z), "{z}");
        }
        assert_eq!(ln_hyp2f1(2.0, 3.0, 4.0, 0.0), Some((0.0, 1.0)));
        let mut none = [Some((1.0, 1.0)); 2];
        ln_hyp2f1_many(1.0, 1.0, -2.0, &[0.1, 0.2], &mut none);
        assert_eq!(none, [None, None]);
    }
}
