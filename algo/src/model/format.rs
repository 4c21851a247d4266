//! The model file: readable JSON, no timestamps, floats written in their shortest exact
//! form, so retraining on the same data writes the same bytes.

use serde::{Deserialize, Serialize};

use crate::error::AlgoError;

/// The file format this segsql writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standardize {
    None,
    Zscore,
    Minmax,
}

impl Standardize {
    pub const NAMES: &'static str = "'none', 'zscore' or 'minmax'";

    pub fn parse(name: &str) -> Option<Standardize> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(Standardize::None),
            "zscore" => Some(Standardize::Zscore),
            "minmax" => Some(Standardize::Minmax),
            _ => None,
        }
    }
}

/// scaled = (raw − center) / scale, per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub method: Standardize,
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    pub fn scale_row(&self, raw: &[f64], out: &mut [f64]) {
        for (((o, r), c), s) in out.iter_mut().zip(raw).zip(&self.center).zip(&self.scale) {
            *o = (r - c) / s;
        }
    }

    pub fn unscale_row(&self, scaled: &[f64]) -> Vec<f64> {
        scaled.iter().zip(&self.center).zip(&self.scale).map(|((v, c), s)| v * s + c).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOptions {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    /// "k-means++", or where the starting centres came from.
    pub init: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub cluster_id: u32,
    pub size: u64,
    /// In the model's (standardized) feature space.
    pub centroid_scaled: Vec<f64>,
    /// In the features' own units.
    pub centroid: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansModel {
    pub format_version: u32,
    pub segsql_version: String,
    pub name: String,
    pub algorithm: String,
    pub features: Vec<String>,
    pub standardize: Scaler,
    pub options: ModelOptions,
    pub training_rows: u64,
    /// Rows left out for a NULL, NaN or infinite feature.
    pub skipped_rows: u64,
    pub inertia: f64,
    pub iterations: usize,
    pub clusters: Vec<Cluster>,
}

/// Any model file: which one is told by its `algorithm`.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    KMeans(KMeansModel),
    Clv(super::clv::ClvModel),
    Logistic(super::logistic::LogisticModel),
}

impl Model {
    pub fn name(&self) -> &str {
        match self {
            Model::KMeans(m) => &m.name,
            Model::Clv(m) => &m.name,
            Model::Logistic(m) => &m.name,
        }
    }

    /// The algorithm, as `USING` names it.
    pub fn kind(&self) -> &str {
        match self {
            Model::KMeans(_) => "kmeans",
            Model::Clv(m) => &m.algorithm,
            Model::Logistic(_) => "logistic_reg",
        }
    }

    pub fn training_rows(&self) -> u64 {
        match self {
            Model::KMeans(m) => m.training_rows,
            Model::Clv(m) => m.training_rows,
            Model::Logistic(m) => m.training_rows,
        }
    }

    /// How well the fit did, for comparing a retrained model with the one it replaces: the
    /// measure's name and value (k-means: inertia, lower is better; CLV models: the
    /// log-likelihood, higher is better; logistic_reg: the penalised mean log-loss it
    /// minimised, lower is better).
    pub fn fit_measure(&self) -> (&'static str, f64) {
        match self {
            Model::KMeans(m) => ("inertia", m.inertia),
            Model::Clv(m) => ("log_likelihood", m.log_likelihood),
            Model::Logistic(m) => ("objective", m.objective),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = match self {
            Model::KMeans(m) => serde_json::to_string_pretty(m),
            Model::Clv(m) => serde_json::to_string_pretty(m),
            Model::Logistic(m) => serde_json::to_string_pretty(m),
        }
        .unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses any model file, refusing newer formats and files that do not hold together.
    pub fn from_json(text: &str) -> Result<Model, AlgoError> {
        #[derive(Deserialize)]
        struct Header {
            format_version: u32,
            #[serde(default)]
            algorithm: Option<String>,
        }
        let header: Header = serde_json::from_str(text).map_err(|e| AlgoError::NotAModel(e.to_string()))?;
        if header.format_version > FORMAT_VERSION {
            return Err(AlgoError::NewerModel { found: header.format_version, supported: FORMAT_VERSION });
        }
        match header.algorithm.as_deref() {
            Some(kind) if super::clv::CLV_ALGORITHMS.contains(&kind) => {
                let model: super::clv::ClvModel =
                    serde_json::from_str(text).map_err(|e| AlgoError::NotAModel(e.to_string()))?;
                if !model.is_consistent() {
                    return Err(AlgoError::DamagedModel);
                }
                Ok(Model::Clv(model))
            }
            Some("logistic_reg") => {
                let model: super::logistic::LogisticModel =
                    serde_json::from_str(text).map_err(|e| AlgoError::NotAModel(e.to_string()))?;
                if !model.is_consistent() {
                    return Err(AlgoError::DamagedModel);
                }
                Ok(Model::Logistic(model))
            }
            _ => KMeansModel::from_json(text).map(Model::KMeans),
        }
    }
}

impl KMeansModel {
    pub fn dims(&self) -> usize {
        self.features.len()
    }

    /// Centroids in the scaled space, row-major.
    pub fn scaled_centroids(&self) -> Vec<f64> {
        self.clusters.iter().flat_map(|c| c.centroid_scaled.iter().copied()).collect()
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a model file, refusing files from a newer segsql and files that do not hold
    /// together (wrong lengths), so scoring never indexes out of bounds.
    pub fn from_json(text: &str) -> Result<KMeansModel, AlgoError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(|e| AlgoError::NotAModel(e.to_string()))?;
        if version.format_version > FORMAT_VERSION {
            return Err(AlgoError::NewerModel { found: version.format_version, supported: FORMAT_VERSION });
        }
        let model: KMeansModel = serde_json::from_str(text).map_err(|e| AlgoError::NotAModel(e.to_string()))?;
        let dims = model.features.len();
        let consistent = dims > 0
            && !model.clusters.is_empty()
            && model.standardize.center.len() == dims
            && model.standardize.scale.len() == dims
            && model.standardize.scale.iter().all(|s| *s != 0.0 && s.is_finite())
            && model.clusters.iter().all(|c| c.centroid_scaled.len() == dims && c.centroid.len() == dims);
        if !consistent {
            return Err(AlgoError::DamagedModel);
        }
        Ok(model)
    }
}
