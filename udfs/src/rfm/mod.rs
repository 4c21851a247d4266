//! RFM scoring and the buy-till-you-die summary.

pub mod quantile_score;
pub mod rfm;
pub mod rfm_score;
pub mod rfm_segment;
pub mod rfm_summary;
