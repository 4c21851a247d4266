//! `segsql-algo`: the algorithms behind segsql's SQL functions, as plain Rust over slices
//! and ndarray views, with no DataFusion or Arrow anywhere in the dependency tree.
//!
//! The rules every module follows:
//! - parameters arrive as a struct and are checked into a `Checked*` value before any
//!   work starts, with each default written once, on the struct;
//! - errors are [`AlgoError`], whose messages say what to fix; the SQL glue prefixes the
//!   function's name;
//! - parallel kernels take a [`Threads`] count from the caller and reduce fixed-size
//!   chunks in chunk order, so the count changes speed, never a bit of a result;
//! - randomness comes from a seeded ChaCha8 generator.

pub mod cluster;
pub mod clv;
pub mod cohort;
pub mod error;
pub mod governance;
pub mod model;
pub mod parallel;
pub mod rfm;
pub mod stats;

pub use error::AlgoError;
pub use parallel::Threads;
