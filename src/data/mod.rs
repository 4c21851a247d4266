//! Where tables come from: data folders (`--data`, `\load`) and the built-in sample.

pub mod folder;
pub mod sample;
