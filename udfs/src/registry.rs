//! The one list of segsql's SQL functions.
//!
//! Adding a function means adding its module and one line to [`functions_for`]; registration,
//! the shell's `\functions` listing and the generated docs all read this list, so a
//! function cannot be registered without its documentation being published too. The
//! internal building blocks of table-function plans are listed by [`internal_functions`].

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::prelude::SessionContext;

pub use crate::function::{DocumentedTableFunction, FunctionKind, InternalFunction, SegFunction};
use crate::{cluster, clv, cohort, governance, internal, model, options, rfm, stats};

/// Every public segsql function, sorted by name. `rfm_segment` reads scheme tables through
/// `session` while planning; without one it knows only the default scheme.
pub fn functions_for(session: Option<&SessionContext>) -> Vec<SegFunction> {
    let handle = session.map(SessionContext::state_weak_ref);
    let mut all: Vec<SegFunction> = vec![
        SegFunction::Window(rfm::quantile_score::QuantileScore::udwf()),
        SegFunction::Window(rfm::rfm_score::RfmScore::udwf()),
        SegFunction::Scalar(rfm::rfm_segment::RfmSegment::udf(handle)),
        SegFunction::Table(Arc::new(rfm::rfm::Rfm)),
        SegFunction::Table(Arc::new(rfm::rfm_summary::RfmSummary)),
        SegFunction::Table(Arc::new(rfm::rfm_calibration_holdout::RfmCalibrationHoldout)),
        SegFunction::Table(Arc::new(rfm::lifecycle::Lifecycle)),
        SegFunction::Scalar(stats::prop_ztest::PropZtest::udf()),
        SegFunction::Scalar(stats::ab_sample_size::AbSampleSize::udf()),
        SegFunction::Table(Arc::new(cohort::cohort_retention::CohortRetention)),
        SegFunction::Table(Arc::new(cohort::cohort_revenue::CohortRevenue)),
        SegFunction::Table(Arc::new(cohort::funnel::Funnel)),
        SegFunction::Window(cluster::kmeans::KMeans::udwf()),
        SegFunction::Window(cluster::dbscan::Dbscan::udwf()),
        SegFunction::Window(cluster::hclust::Hclust::udwf()),
        SegFunction::Window(cluster::silhouette_sample::SilhouetteSample::udwf()),
        SegFunction::Aggregate(cluster::silhouette::Silhouette::udaf()),
        SegFunction::Aggregate(cluster::davies_bouldin::DaviesBouldin::udaf()),
        SegFunction::Aggregate(cluster::calinski_harabasz::CalinskiHarabasz::udaf()),
        SegFunction::Table(Arc::new(cluster::kmeans_elbow::KMeansElbow)),
        SegFunction::Scalar(model::kmeans_assign::KMeansAssign::udf()),
        SegFunction::Scalar(model::kmeans_distance::KMeansDistance::udf()),
        SegFunction::Table(Arc::new(model::model_centroids::ModelCentroids)),
        SegFunction::Scalar(clv::scoring::ScoringUdf::udf(&clv::p_alive::P_ALIVE)),
        SegFunction::Scalar(clv::scoring::ScoringUdf::udf(&clv::expected_purchases::EXPECTED_PURCHASES)),
        SegFunction::Scalar(clv::scoring::ScoringUdf::udf(&clv::expected_avg_value::EXPECTED_AVG_VALUE)),
        SegFunction::Scalar(clv::scoring::ScoringUdf::udf(&clv::clv::CLV)),
        SegFunction::Table(Arc::new(clv::model_params::ModelParams)),
        SegFunction::Table(Arc::new(clv::model_evaluate::ModelEvaluate)),
        SegFunction::Scalar(clv::predict_proba::PredictProba::udf()),
        SegFunction::Aggregate(governance::psi::Psi::udaf()),
        SegFunction::Aggregate(governance::adjusted_rand::AdjustedRand::udaf()),
        SegFunction::Aggregate(governance::mutual_info::MutualInfo::udaf()),
        SegFunction::Scalar(governance::pseudonymize::Pseudonymize::udf()),
        SegFunction::Table(Arc::new(governance::segment_transitions::SegmentTransitions)),
        SegFunction::Table(Arc::new(governance::feature_drift::FeatureDrift)),
        SegFunction::Table(Arc::new(governance::kmeans_stability::KMeansStability)),
        SegFunction::Table(Arc::new(governance::k_anonymous::KAnonymous)),
        SegFunction::Table(Arc::new(governance::model_compare::ModelCompare)),
        SegFunction::Statement("CREATE MODEL", &model::statements::CREATE_MODEL),
        SegFunction::Statement("DROP MODEL", &model::statements::DROP_MODEL),
        SegFunction::Statement("SHOW MODELS", &model::statements::SHOW_MODELS),
    ];
    all.sort_by(|a, b| a.name().cmp(b.name()));
    all
}

/// Every public segsql function, for listings and docs.
pub fn functions() -> Vec<SegFunction> {
    functions_for(None)
}

/// The internal `segsql_*` functions that table functions build their plans from, sorted
/// by name. Each is fully defined by its name and arguments.
pub fn internal_functions() -> Vec<InternalFunction> {
    let internal = |function, syntax, purpose| InternalFunction { function, syntax, purpose };
    let mut all = vec![
        internal(
            SegFunction::Aggregate(internal::evaluation::ClassificationMetrics::udaf()),
            "segsql_classification_metrics(probability, label)",
            "model_evaluate's scores of a logistic_reg model: rows, roc_auc, log_loss, accuracy, precision, recall, f1_score.",
        ),
        internal(
            SegFunction::Aggregate(internal::evaluation::PredictionErrors::udaf()),
            "segsql_prediction_errors(predicted, actual)",
            "model_evaluate's holdout check of a BTYD model: customers, totals, MAE and RMSE, summed in sorted order.",
        ),
        internal(
            SegFunction::Aggregate(internal::feature_drift::FeatureDriftFold::udaf()),
            "segsql_feature_drift(side, value, feature, bins)",
            "feature_drift's row for one feature: side 0 is the previous snapshot, 1 the current.",
        ),
        internal(
            SegFunction::Aggregate(internal::kmeans_stability::KMeansStabilityFold::udaf()),
            "segsql_kmeans_stability(features, k, resamples, seed)",
            "kmeans_stability's rows: the adjusted Rand index of two half-sample fits per resample.",
        ),
        internal(
            SegFunction::Aggregate(internal::transitions::TransitionsFold::udaf()),
            "segsql_transitions(customer, side, segment)",
            "segment_transitions' cells: customers by (from, to); side 0 is the previous snapshot, 1 the current; a customer twice in one snapshot is an error.",
        ),
        internal(
            SegFunction::Aggregate(internal::kmeans_elbow::KMeansElbowFold::udaf()),
            "segsql_kmeans_elbow(features, k_min, k_max, seed)",
            "kmeans_elbow's rows: a k-means fit per k with its validity indices and the knee.",
        ),
        internal(
            SegFunction::Scalar(internal::amounts::ExactAmount::udf()),
            "segsql_exact_amount(amount, function)",
            "A float amount as DECIMAL(38, 10), as the cast gives it but faster; the error names the function.",
        ),
        internal(
            SegFunction::Scalar(internal::periods::DayOfTimestamp::udf()),
            "segsql_day(timestamp)",
            "The day number of a timestamp without time zone.",
        ),
        internal(
            SegFunction::Scalar(internal::periods::PeriodIndex::udf()),
            "segsql_period(day, grain)",
            "The period index of a day number for a grain ('week', 'month', 'quarter').",
        ),
        internal(
            SegFunction::Scalar(internal::periods::PeriodStart::udf()),
            "segsql_period_start(period, grain)",
            "The first day of a period, as a DATE.",
        ),
        internal(
            SegFunction::Window(rfm::rfm_score::RfmScore::scores_udwf()),
            "segsql_rfm_scores(recency, frequency, monetary, bins)",
            "rfm's three scores in one window, as a struct.",
        ),
        internal(
            SegFunction::Scalar(internal::segment_rules::SegmentRules::udf()),
            "segsql_segment_rules(r_score, f_score, rules)",
            "rfm_segment with a scheme table's rules, read while planning, as JSON.",
        ),
        internal(
            SegFunction::Aggregate(internal::btyd::BtydAggregate::udaf()),
            "segsql_btyd(period, amount)",
            "A customer's buy-till-you-die summary (rfm_summary).",
        ),
        internal(
            SegFunction::Aggregate(internal::cohort_folds::UserPeriods::udaf()),
            "segsql_user_periods(period)",
            "A user's sorted distinct active periods.",
        ),
        internal(
            SegFunction::Aggregate(internal::cohort_folds::RetentionFold::udaf()),
            "segsql_retention_fold(periods, cohort, mode)",
            "Users' periods folded into per-offset counts of a cohort ('on' or 'on_or_after').",
        ),
        internal(
            SegFunction::Aggregate(internal::cohort_folds::UserPeriodTotals::udaf()),
            "segsql_user_period_totals(period, amount)",
            "A user's exact (period, total) pairs.",
        ),
        internal(
            SegFunction::Aggregate(internal::cohort_folds::RevenueFold::udaf()),
            "segsql_revenue_fold(pairs, cohort)",
            "Users' pairs folded into a cohort's exact per-offset revenue.",
        ),
        internal(
            SegFunction::Scalar(internal::cohort_cells::RetentionCells::udf()),
            "segsql_retention_cells(counts, size, cohort, latest_day, grain, cap)",
            "A cohort's retention cells, NULL where the period is not over.",
        ),
        internal(
            SegFunction::Scalar(internal::cohort_cells::RevenueCells::udf()),
            "segsql_revenue_cells(totals, size, cohort, latest_day, grain)",
            "A cohort's revenue cells, NULL where the period is not over.",
        ),
        internal(
            SegFunction::Aggregate(internal::funnel_folds::UserFunnelDepth::udaf()),
            "segsql_funnel_depth(ts, name, steps, window)",
            "The deepest funnel step a user reached.",
        ),
        internal(
            SegFunction::Aggregate(internal::funnel_folds::FunnelFold::udaf()),
            "segsql_funnel_fold(depth, steps)",
            "Users' depths folded into the funnel's rows.",
        ),
    ];
    all.sort_by(|a, b| a.function.name().cmp(b.function.name()));
    all
}

/// Registers segsql's settings (`segsql.models_dir`, default `./models`) and every segsql
/// function, public and internal, into `ctx`. Works on any `SessionContext`: nothing is
/// configured here that a plan would need to carry.
pub fn register_all(ctx: &SessionContext) {
    options::register_options(ctx);
    let internal = internal_functions().into_iter().map(|f| f.function);
    for function in functions_for(Some(ctx)).into_iter().chain(internal) {
        match function {
            SegFunction::Scalar(f) => ctx.register_udf(f.as_ref().clone()),
            SegFunction::Aggregate(f) => ctx.register_udaf(f.as_ref().clone()),
            SegFunction::Window(f) => ctx.register_udwf(f.as_ref().clone()),
            SegFunction::Table(f) => {
                let name = f.name().to_string();
                let table_function: Arc<dyn TableFunctionImpl> = f;
                ctx.register_udtf(&name, table_function)
            }
            SegFunction::Statement(..) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_complete_docs() {
        for function in functions() {
            let doc = function.documentation().unwrap_or_else(|| panic!("{} has no documentation", function.name()));
            assert!(!doc.description.trim().is_empty(), "{}: empty description", function.name());
            assert!(
                doc.syntax_example.starts_with(function.name()),
                "{}: syntax must start with the function name",
                function.name()
            );
            let example = doc.sql_example.as_deref().unwrap_or_default();
            assert!(example.contains(function.name()), "{}: needs a SQL example that calls it", function.name());
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> = functions().iter().map(|f| f.name().to_string()).collect();
        names.extend(internal_functions().iter().map(|f| f.function.name().to_string()));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn internal_functions_are_named_as_internal() {
        for internal in internal_functions() {
            let name = internal.function.name();
            assert!(name.starts_with("segsql_"), "{name}");
            assert!(internal.syntax.starts_with(name), "{name}: syntax must start with the name");
        }
        assert!(functions().iter().all(|f| !f.name().starts_with("segsql_")));
    }

    #[test]
    fn register_all_works_on_a_plain_session() {
        let ctx = SessionContext::new();
        register_all(&ctx);
        let state = ctx.state();
        for internal in internal_functions() {
            let name = internal.function.name();
            let found = state.scalar_functions().contains_key(name)
                || state.aggregate_functions().contains_key(name)
                || state.window_functions().contains_key(name);
            assert!(found, "{name} is not registered");
        }
        assert_eq!(options::models_dir(state.config_options()), std::path::PathBuf::from("models"));
    }
}
