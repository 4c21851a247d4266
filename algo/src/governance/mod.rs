//! Governance: how far two snapshots or two labelings of the same customers are apart.
//! Drift (PSI over bins, per-feature drift over the previous snapshot's quantiles), agreement
//! of labelings (adjusted Rand, normalised mutual information, as scikit-learn computes them),
//! the stability of k-means under resampling, and the one-to-one matching of two models'
//! clusters.

pub mod agreement;
pub mod drift;
pub mod matching;
pub mod stability;

pub use agreement::{Contingency, adjusted_rand, normalized_mutual_info};
pub use drift::{FeatureDrift, feature_drift, psi, quantile_sorted};
pub use matching::match_one_to_one;
pub use stability::{StabilityParams, kmeans_stability};
