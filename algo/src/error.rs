//! The one error type of the algorithms. Messages are written for the analyst who passed
//! the parameter, without the SQL function's name, which the glue adds in front.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum AlgoError {
    /// A parameter outside its allowed range, e.g. `k must be at least 1, got 0`.
    #[error("{name} must be {rule}, got {got}")]
    Parameter { name: &'static str, rule: &'static str, got: String },
    /// More clusters asked for than there are points.
    #[error("k = {k} is more than the {rows} rows with features; lower k")]
    TooFewRows { k: usize, rows: usize },
    /// An elbow range reaching past the rows.
    #[error("k_max = {k_max} is more than the {rows} rows with complete features; lower k_max")]
    KMaxTooLarge { k_max: usize, rows: usize },
    /// More rows than an algorithm that keeps all pairwise distances can hold.
    #[error(
        "{rows} rows is more than the {max} it can cluster (it keeps all n²/2 pairwise distances in memory); \
         cluster a sample, or use kmeans"
    )]
    TooManyRows { rows: usize, max: usize },
    /// Starting centres that do not fit the data.
    #[error("init gives {values} values; it needs k = {k} centres of {dims} features")]
    InitShape { values: usize, k: usize, dims: usize },
    #[error("init centres must be finite numbers")]
    InitNotFinite,
    /// Training found nothing to train on.
    #[error("no rows to train on: all {skipped} rows have a NULL, NaN or infinite feature")]
    AllRowsSkipped { skipped: u64 },
    #[error("the query returned no rows to train on")]
    NoRows,
    /// A model file that cannot be used, and why.
    #[error("not a segsql model file ({0})")]
    NotAModel(String),
    #[error("written by a newer segsql (model format {found}; this segsql reads up to {supported}): upgrade segsql")]
    NewerModel { found: u32, supported: u32 },
    #[error("the file is damaged (its parts do not match: features, scaler and centroids, or parameters)")]
    DamagedModel,
    /// A segment scheme that does not cover its cells or cannot be read, and why.
    #[error("{0}")]
    Scheme(String),
    /// A customer history no buy-till-you-die model can come from.
    #[error("{rule} (found frequency = {frequency}, recency = {recency}, T = {age}); fix or filter out such rows")]
    BadHistory { rule: &'static str, frequency: f64, recency: f64, age: f64 },
    /// A fit that stopped before the optimum.
    #[error("the fit did not converge after {iterations} iterations (largest gradient {gradient:.1e}); {hint}")]
    NotConverged { iterations: u64, gradient: f64, hint: &'static str },
    /// Counts or snapshots that no drift measure can come from, and why.
    #[error("{0}")]
    Drift(String),
    /// A word that names none of the choices, e.g. an unknown grain.
    #[error("unknown {what} '{got}'; use {choices}")]
    UnknownChoice { what: &'static str, got: String, choices: &'static str },
}

impl AlgoError {
    pub(crate) fn parameter(name: &'static str, rule: &'static str, got: impl ToString) -> AlgoError {
        AlgoError::Parameter { name, rule, got: got.to_string() }
    }
}
