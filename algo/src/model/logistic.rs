//! The file of a churn-propensity model (logistic_reg): features, label, scaler and
//! coefficients, with no timestamps.

use serde::{Deserialize, Serialize};

use super::format::Scaler;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    pub format_version: u32,
    pub segsql_version: String,
    pub name: String,
    /// "logistic_reg".
    pub algorithm: String,
    pub features: Vec<String>,
    pub label: String,
    pub standardize: Scaler,
    pub l2: f64,
    pub max_iter: u64,
    pub tol: f64,
    pub intercept: f64,
    /// One per feature, in the scaled space the model was fitted in.
    pub coefficients: Vec<f64>,
    pub iterations: u64,
    /// The penalised mean log-loss at the optimum.
    pub objective: f64,
    pub training_rows: u64,
    pub positives: u64,
    /// Rows left out for a NULL, NaN or infinite feature or a NULL label.
    pub skipped_rows: u64,
}

impl LogisticModel {
    pub fn dims(&self) -> usize {
        self.features.len()
    }

    /// P(label) for one row of raw features; `scratch` holds the scaled row.
    pub fn probability(&self, raw: &[f64], scratch: &mut [f64]) -> f64 {
        self.standardize.scale_row(raw, scratch);
        crate::clv::logistic::sigmoid(
            self.intercept + scratch.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum::<f64>(),
        )
    }

    pub fn is_consistent(&self) -> bool {
        let dims = self.features.len();
        dims > 0
            && self.coefficients.len() == dims
            && self.standardize.center.len() == dims
            && self.standardize.scale.len() == dims
            && self.standardize.scale.iter().all(|s| *s != 0.0 && s.is_finite())
            && self.coefficients.iter().all(|c| c.is_finite())
            && self.intercept.is_finite()
    }
}
