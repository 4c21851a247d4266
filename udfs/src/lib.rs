//! `segsql-udfs`: the customer-segmentation SQL functions of segsql, usable from any
//! DataFusion program.
//!
//! ```ignore
//! let ctx = datafusion::prelude::SessionContext::new();
//! segsql_udfs::register_all(&ctx);
//! ```
//!
//! Every function lives in its own module with its documentation first; the registry
//! in [`registry`] is the one list that registration, `\functions` and the generated
//! docs read from.

pub mod cluster;
pub mod clv;
pub mod cohort;
pub mod common;
pub mod docs;
pub mod function;
pub mod governance;
pub mod internal;
pub mod model;
pub mod options;
pub mod plan;
pub mod registry;
pub mod rfm;
pub mod stats;

pub use model::ModelStore;
pub use options::{DEFAULT_MODELS_DIR, SegsqlOptions, models_dir, set_models_dir};
pub use registry::{
    DocumentedTableFunction, FunctionKind, InternalFunction, SegFunction, functions, internal_functions, register_all,
};
