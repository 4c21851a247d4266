//! Governance and privacy (SPEC 3.6): drift between snapshots, agreement of labelings, the
//! stability of k-means, segment migration, pseudonyms and k-anonymous exports.

pub mod adjusted_rand;
pub mod feature_drift;
pub mod k_anonymous;
pub mod kmeans_stability;
pub mod label_pairs;
pub mod model_compare;
pub mod mutual_info;
pub mod pseudonymize;
pub mod psi;
pub mod segment_transitions;
