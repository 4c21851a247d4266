//! segsql: a SQL shell on Apache DataFusion for customer-segmentation analytics.
//!
//! The binary is a thin wrapper around [`cli::main`]; everything else is a library so the
//! tests drive the same code as users.

pub mod cli;
pub mod completion;
pub mod data;
pub mod meta;
pub mod models;
pub mod output;
pub mod params;
pub mod parser;
pub mod progress;
pub mod repl;
pub mod report;
pub mod sample;
pub mod shell;
pub mod splitter;

pub use segsql_udfs;
