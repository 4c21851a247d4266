//! The interactive shell: the line editor, completion and history.

pub mod completion;
pub mod editor;

pub use editor::{history_path, run};
