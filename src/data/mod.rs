//! Where tables come from: data folders (`--data`, `\load`) and the built-in sample.

pub mod csv;
pub mod delta;
pub mod described;
pub mod excel;
pub mod folder;
pub mod read_ahead;
pub mod s3;
pub mod sample;
pub mod scan_parts;
pub mod sniff;
pub mod string_groups;
