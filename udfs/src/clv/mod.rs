//! Predictive CLV in SQL: scoring with BG/NBD, MBG/NBD and Gamma-Gamma models made by
//! `CREATE MODEL`, and their parameters. Fitting and the formulas are in `segsql_algo::clv`.

// One file per function, named after it, even where that is the family's name.
#[allow(clippy::module_inception)]
pub mod clv;
pub mod expected_avg_value;
pub mod expected_purchases;
pub mod model_evaluate;
pub mod model_params;
pub mod p_alive;
pub mod scoring;
