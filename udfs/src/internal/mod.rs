//! The internal `segsql_*` functions: the building blocks that table functions plan with.
//!
//! Each is fully defined by its name and arguments (a grain, a mode, a funnel's steps are
//! literal arguments; a decimal scale is read from the argument types), so a plan that
//! calls them can be serialised and run by any session that ran `register_all`. The
//! registry lists them in [`crate::registry::internal_functions`]. They import `common`
//! and `segsql_algo` only, never a function family.

pub mod amounts;
pub mod btyd;
pub mod cohort_cells;
pub mod cohort_folds;
pub mod evaluation;
pub mod feature_drift;
pub mod funnel_folds;
pub mod kmeans_elbow;
pub mod kmeans_stability;
pub mod periods;
pub mod points_fold;
pub mod segment_rules;
pub mod transitions;
