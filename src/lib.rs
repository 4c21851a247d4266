//! segsql: a SQL shell on Apache DataFusion for customer-segmentation analytics.
//!
//! The binary is a thin wrapper around [`cli::main`]; everything else is a library so the
//! tests drive the same code as users.

pub mod cli;
pub mod command;
pub mod data;
pub mod distributed;
pub mod error;
pub mod model;
pub mod output;
pub mod repl;
pub mod report;
pub mod runlog;
pub mod script;
pub mod serve;
pub mod session;

pub use segsql_udfs;
