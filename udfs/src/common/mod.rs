//! Pieces every segsql function family shares.

pub mod args;
pub mod grouped;
pub mod periods;
pub mod plan;
pub mod window;
