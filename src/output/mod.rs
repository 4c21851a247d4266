//! Where results go and how they look: formats, tables and the progress line.

pub mod format;
pub mod progress;
pub mod sink;

pub use format::{Format, OutputSettings, cells, write_stream};
pub use sink::{Sink, terminal_width};
