//! How many users an A/B test needs, as statsmodels computes it: the power of a two-sided
//! z-test for two proportions on Cohen's h (`NormalIndPower().solve_power` on
//! `proportion_effectsize`), solved for the users per group.

use std::f64::consts::{PI, SQRT_2};

// statrs' erfc is off by a few parts in 10¹² (erfc(−1)); libm's (musl's) is within an ulp.
use libm::erfc;
use statrs::function::erf::erfc_inv;

use crate::AlgoError;

/// A conversion rate moving from `base_rate` to `base_rate + uplift`, tested two-sided at
/// level `alpha` with probability `power` of detecting it, in two groups of equal size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSizeParams {
    pub base_rate: f64,
    /// The change in the rate itself (0.02 is two percentage points), not relative.
    pub uplift: f64,
    pub alpha: f64,
    pub power: f64,
}

impl SampleSizeParams {
    pub const DEFAULT_ALPHA: f64 = 0.05;
    pub const DEFAULT_POWER: f64 = 0.8;

    pub fn new(base_rate: f64, uplift: f64) -> SampleSizeParams {
        SampleSizeParams { base_rate, uplift, alpha: Self::DEFAULT_ALPHA, power: Self::DEFAULT_POWER }
    }

    fn check(&self) -> Result<(), AlgoError> {
        let strictly_between = |name: &'static str, value: f64, low: f64, rule: &'static str| {
            if value > low && value < 1.0 {
                Ok(())
            } else {
                Err(AlgoError::Parameter { name, rule, got: value.to_string() })
            }
        };
        strictly_between("base_rate", self.base_rate, 0.0, "a rate between 0 and 1 (exclusive)")?;
        if self.uplift == 0.0 || !self.uplift.is_finite() {
            let got = self.uplift.to_string();
            return Err(AlgoError::Parameter { name: "uplift", rule: "a change of the rate other than 0", got });
        }
        strictly_between(
            "base_rate + uplift",
            self.base_rate + self.uplift,
            0.0,
            "a rate between 0 and 1 (exclusive); uplift is in rate units (0.02 = two percentage points)",
        )?;
        strictly_between("alpha", self.alpha, 0.0, "between 0 and 1 (exclusive)")?;
        strictly_between("power", self.power, self.alpha, "between alpha and 1 (exclusive)")
    }
}

/// P(Z > x) for a standard normal Z.
fn upper_tail(x: f64) -> f64 {
    0.5 * erfc(x / SQRT_2)
}

fn density(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Users per group (not rounded: round up for a head count), as statsmodels'
/// `NormalIndPower().solve_power(effect_size=proportion_effectsize(base_rate + uplift,
/// base_rate), alpha=alpha, power=power, ratio=1, alternative='two-sided')`.
pub fn ab_sample_size(params: &SampleSizeParams) -> Result<f64, AlgoError> {
    params.check()?;
    let SampleSizeParams { base_rate, uplift, alpha, power } = *params;
    let h = (2.0 * (base_rate + uplift).sqrt().asin() - 2.0 * base_rate.sqrt().asin()).abs();
    // norm.isf(alpha / 2) and norm.ppf(power).
    let critical = SQRT_2 * erfc_inv(alpha);
    let z_power = SQRT_2 * erfc_inv(2.0 * (1.0 - power));
    // The power of the two-sided test at t = h·√(n / 2): both tails, as statsmodels sums them.
    let shortfall = |t: f64| upper_tail(critical - t) + upper_tail(critical + t) - power;
    // Without the far tail the answer is t = critical + z_power; the far tail only adds
    // power, so the root lies in (0, critical + z_power]. Newton's steps, kept inside the
    // bracket by bisection when one would leave it.
    let (mut low, mut high) = (0.0, critical + z_power);
    let mut t = high;
    for _ in 0..200 {
        let gap = shortfall(t);
        if gap > 0.0 {
            high = t;
        } else {
            low = t;
        }
        let slope = density(critical - t) - density(critical + t);
        let newton = t - gap / slope;
        let next = if slope > 0.0 && newton > low && newton < high { newton } else { 0.5 * (low + high) };
        if (next - t).abs() <= 4.0 * f64::EPSILON * t {
            t = next;
            break;
        }
        t = next;
    }
    Ok(2.0 * (t / h) * (t / h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textbook_formula_up_to_the_far_tail() {
        // 10% → 12%: h = 2·asin(√0.12) − 2·asin(√0.10) = 0.0640...; one-tail formula
        // 2·((1.959964 + 0.841621) / h)² ≈ 3,835; the far tail's power (about 1e-6) takes about
        // a hundredth of a user off.
        let n = ab_sample_size(&SampleSizeParams::new(0.10, 0.02)).unwrap();
        let h = 2.0 * 0.12f64.sqrt().asin() - 2.0 * 0.10f64.sqrt().asin();
        let one_tail = 2.0 * ((1.959_963_984_540_054 + 0.841_621_233_572_914_3) / h).powi(2);
        assert!(n < one_tail && one_tail - n < 0.05, "{n} vs {one_tail}");
        // A drop of the same size in h needs the same users.
        let down = ab_sample_size(&SampleSizeParams::new(0.12, -0.02)).unwrap();
        assert!((down - n).abs() < 1e-9 * n, "{down} vs {n}");
    }

    #[test]
    fn smaller_changes_stricter_tests_and_more_power_need_more_users() {
        let base = ab_sample_size(&SampleSizeParams::new(0.05, 0.01)).unwrap();
        assert!(ab_sample_size(&SampleSizeParams::new(0.05, 0.005)).unwrap() > base);
        assert!(ab_sample_size(&SampleSizeParams { alpha: 0.01, ..SampleSizeParams::new(0.05, 0.01) }).unwrap() > base);
        assert!(ab_sample_size(&SampleSizeParams { power: 0.9, ..SampleSizeParams::new(0.05, 0.01) }).unwrap() > base);
        // Power just above alpha: almost no users, and the root is still found.
        let tiny = ab_sample_size(&SampleSizeParams { power: 0.050001, ..SampleSizeParams::new(0.05, 0.01) }).unwrap();
        assert!(tiny > 0.0 && tiny < 1.0, "{tiny}");
    }

    #[test]
    fn impossible_tests_say_what_to_fix() {
        let message = |p: SampleSizeParams| ab_sample_size(&p).unwrap_err().to_string();
        assert_eq!(
            message(SampleSizeParams::new(0.0, 0.1)),
            "base_rate must be a rate between 0 and 1 (exclusive), got 0"
        );
        assert_eq!(message(SampleSizeParams::new(0.5, 0.0)), "uplift must be a change of the rate other than 0, got 0");
        assert!(
            message(SampleSizeParams::new(0.95, 0.1)).starts_with("base_rate + uplift must be a rate between 0 and 1")
        );
        assert_eq!(
            message(SampleSizeParams { alpha: 1.5, ..SampleSizeParams::new(0.1, 0.1) }),
            "alpha must be between 0 and 1 (exclusive), got 1.5"
        );
        assert_eq!(
            message(SampleSizeParams { power: 0.05, ..SampleSizeParams::new(0.1, 0.1) }),
            "power must be between alpha and 1 (exclusive), got 0.05"
        );
        assert!(message(SampleSizeParams::new(f64::NAN, 0.1)).starts_with("base_rate must be"));
    }
}
