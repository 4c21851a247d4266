//! RFM and buy-till-you-die kernels.

pub mod btyd;
pub mod quantile;
pub mod segments;
