//! RFM scoring and the buy-till-you-die summary.

pub mod lifecycle;
pub mod quantile_score;
// One file per function, named after it, even where that is the family's name.
#[allow(clippy::module_inception)]
pub mod rfm;
pub mod rfm_calibration_holdout;
pub mod rfm_score;
pub mod rfm_segment;
pub mod rfm_summary;
