//! The file of a fitted CLV model (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma): parameters with standard
//! errors, the fit's figures and the rows it skipped, with no timestamps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::format::FORMAT_VERSION;
use crate::clv::bgnbd::{BetaGeo, Variant};
use crate::clv::gamma_gamma::GammaGamma;
use crate::clv::pareto::ParetoNbd;
use crate::clv::{Fit, FitParams, TimeUnit, Transactions};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub value: f64,
    pub std_error: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvModel {
    pub format_version: u32,
    pub segsql_version: String,
    pub name: String,
    /// "bgnbd", "mbgnbd", "pareto_nbd" or "gamma_gamma".
    pub algorithm: String,
    /// The query's columns, by position: frequency, recency, T (or frequency, monetary value).
    pub columns: Vec<String>,
    /// The unit of recency and T; none for Gamma-Gamma.
    pub time_unit: Option<String>,
    pub penalizer: f64,
    pub max_iter: u64,
    pub parameters: Vec<Parameter>,
    /// Σ log-likelihood over the training rows, in the data's own time unit.
    pub log_likelihood: f64,
    /// lifetimes' objective at the optimum: the mean negative log-likelihood plus the penalty
    /// (the sum for pareto_nbd, as lifetimes has it).
    pub objective: f64,
    pub iterations: u64,
    pub converged: bool,
    pub training_rows: u64,
    pub skipped_rows: u64,
    /// Why rows were skipped, with counts.
    pub skipped: BTreeMap<String, u64>,
}

/// The algorithms this file holds.
pub const CLV_ALGORITHMS: [&str; 4] = ["bgnbd", "mbgnbd", "pareto_nbd", "gamma_gamma"];

/// The transaction models: what `p_alive`, `expected_purchases` and `clv` take.
pub const TRANSACTION_ALGORITHMS: [&str; 3] = ["bgnbd", "mbgnbd", "pareto_nbd"];

impl ClvModel {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        algorithm: &str,
        columns: Vec<String>,
        time_unit: Option<TimeUnit>,
        params: FitParams,
        fit: Fit,
        skipped: BTreeMap<String, u64>,
    ) -> ClvModel {
        ClvModel {
            format_version: FORMAT_VERSION,
            segsql_version: env!("CARGO_PKG_VERSION").to_string(),
            name: name.to_string(),
            algorithm: algorithm.to_string(),
            columns,
            time_unit: time_unit.map(|u| u.name().to_string()),
            penalizer: params.penalizer,
            max_iter: params.max_iter,
            parameters: fit
                .estimates
                .iter()
                .map(|e| Parameter { name: e.name.to_string(), value: e.value, std_error: e.std_error })
                .collect(),
            log_likelihood: fit.log_likelihood,
            objective: fit.objective,
            iterations: fit.iterations,
            converged: true,
            training_rows: fit.customers,
            skipped_rows: skipped.values().sum(),
            skipped,
        }
    }

    pub fn parameter(&self, name: &str) -> Option<f64> {
        self.parameters.iter().find(|p| p.name == name).map(|p| p.value)
    }

    pub fn time_unit(&self) -> Option<TimeUnit> {
        self.time_unit.as_deref().and_then(TimeUnit::parse)
    }

    /// The transaction model, for BG/NBD and MBG/NBD files.
    pub fn beta_geo(&self) -> Option<BetaGeo> {
        let variant = match self.algorithm.as_str() {
            "bgnbd" => Variant::Bg,
            "mbgnbd" => Variant::Mbg,
            _ => return None,
        };
        Some(BetaGeo {
            variant,
            r: self.parameter("r")?,
            alpha: self.parameter("alpha")?,
            a: self.parameter("a")?,
            b: self.parameter("b")?,
        })
    }

    pub fn pareto(&self) -> Option<ParetoNbd> {
        if self.algorithm != "pareto_nbd" {
            return None;
        }
        Some(ParetoNbd {
            r: self.parameter("r")?,
            alpha: self.parameter("alpha")?,
            s: self.parameter("s")?,
            beta: self.parameter("beta")?,
        })
    }

    /// The transaction model of a BG/NBD, MBG/NBD or Pareto/NBD file.
    pub fn transactions(&self) -> Option<Transactions> {
        self.beta_geo().map(Transactions::BetaGeo).or_else(|| self.pareto().map(Transactions::Pareto))
    }

    pub fn gamma_gamma(&self) -> Option<GammaGamma> {
        if self.algorithm != "gamma_gamma" {
            return None;
        }
        Some(GammaGamma { p: self.parameter("p")?, q: self.parameter("q")?, v: self.parameter("v")? })
    }

    /// Whether the file holds together: the parameters its algorithm needs, all positive.
    pub fn is_consistent(&self) -> bool {
        let positive = self.parameters.iter().all(|p| p.value.is_finite() && p.value > 0.0);
        let complete = match self.algorithm.as_str() {
            "bgnbd" | "mbgnbd" | "pareto_nbd" => self.transactions().is_some() && self.time_unit().is_some(),
            "gamma_gamma" => self.gamma_gamma().is_some(),
            _ => false,
        };
        positive && complete
    }
}
