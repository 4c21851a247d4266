//! Statistical tests for KPI comparisons.

pub mod prop_ztest;
