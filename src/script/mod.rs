//! Running scripts: splitting them into statements, substituting parameters, parsing, and
//! the shell that executes them.

pub mod conditional;
pub mod copy;
pub mod outline;
pub mod params;
pub mod parser;
pub mod shell;
pub mod splitter;
pub mod summarize;

pub use crate::command::Flow;
pub use shell::{Origin, Shell, StatementOutput, read_script};
