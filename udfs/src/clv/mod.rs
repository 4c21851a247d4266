//! Predictive CLV and churn propensity in SQL: scoring with BG/NBD, MBG/NBD, Pareto/NBD,
//! Gamma-Gamma and logistic_reg models made by `CREATE MODEL`, their parameters and their
//! evaluation. Fitting and the formulas are in `segsql_algo::clv`.

// One file per function, named after it, even where that is the family's name.
#[allow(clippy::module_inception)]
pub mod clv;
pub mod expected_avg_value;
pub mod expected_purchases;
pub mod memo;
pub mod model_evaluate;
pub mod model_params;
pub mod p_alive;
pub mod predict_proba;
pub mod scoring;
