//! Calendar periods and the arithmetic of cohort tables.

pub mod cells;
pub mod funnel;
pub mod periods;
