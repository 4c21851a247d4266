//! Cohort retention, cohort revenue and funnels.

pub mod cohort_retention;
pub mod cohort_revenue;
pub mod funnel;
