//! Statistical tests for KPI comparisons.

pub mod ab_sample_size;
pub mod prop_ztest;
