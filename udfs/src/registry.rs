//! The one list of segsql's SQL functions.
//!
//! Adding a function means adding its module and one line to [`functions`]; registration,
//! the shell's `\functions` listing and the generated docs all read this list, so a
//! function cannot be registered without its documentation being published too.

use std::fmt;
use std::sync::{Arc, LazyLock};

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

use crate::model::ModelStore;
use crate::{cluster, cohort, model, rfm, stats};

/// A table function that carries its own documentation.
///
/// DataFusion's `TableFunctionImpl` has no documentation hook, unlike scalar, aggregate and
/// window functions, so segsql's table functions implement this instead.
pub trait DocumentedTableFunction: TableFunctionImpl {
    fn name(&self) -> &str;
    fn documentation(&self) -> &Documentation;
}

/// The kind of a SQL function, as shown by `\functions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FunctionKind {
    Scalar,
    Aggregate,
    Window,
    Table,
    Statement,
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunctionKind::Scalar => "scalar",
            FunctionKind::Aggregate => "aggregate",
            FunctionKind::Window => "window",
            FunctionKind::Table => "table",
            FunctionKind::Statement => "statement",
        })
    }
}

/// One segsql function, ready to register.
#[derive(Clone)]
pub enum SegFunction {
    Scalar(Arc<ScalarUDF>),
    Aggregate(Arc<AggregateUDF>),
    Window(Arc<WindowUDF>),
    Table(Arc<dyn DocumentedTableFunction>),
    /// A statement the shell runs itself (`CREATE MODEL`), listed for its documentation.
    Statement(&'static str, &'static LazyLock<Documentation>),
}

impl SegFunction {
    pub fn name(&self) -> &str {
        match self {
            SegFunction::Scalar(f) => f.name(),
            SegFunction::Aggregate(f) => f.name(),
            SegFunction::Window(f) => f.name(),
            SegFunction::Table(f) => f.name(),
            SegFunction::Statement(name, _) => name,
        }
    }

    pub fn kind(&self) -> FunctionKind {
        match self {
            SegFunction::Scalar(_) => FunctionKind::Scalar,
            SegFunction::Aggregate(_) => FunctionKind::Aggregate,
            SegFunction::Window(_) => FunctionKind::Window,
            SegFunction::Table(_) => FunctionKind::Table,
            SegFunction::Statement(..) => FunctionKind::Statement,
        }
    }

    /// `None` only for a function that forgot its docs; a test forbids that.
    pub fn documentation(&self) -> Option<&Documentation> {
        match self {
            SegFunction::Scalar(f) => f.documentation(),
            SegFunction::Aggregate(f) => f.documentation(),
            SegFunction::Window(f) => f.documentation(),
            SegFunction::Table(f) => Some(f.documentation()),
            SegFunction::Statement(_, doc) => Some(doc),
        }
    }
}

impl fmt::Debug for SegFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} function {}", self.kind(), self.name())
    }
}

/// Every segsql function, sorted by name. Functions that read other tables (a segment
/// scheme) reach them through `session`; without one they work on their defaults only.
/// Model functions read and write `models`.
pub fn functions_for(session: Option<&SessionContext>, models: Arc<ModelStore>) -> Vec<SegFunction> {
    let handle = session.map(SessionContext::state_weak_ref);
    let mut all: Vec<SegFunction> = vec![
        SegFunction::Window(rfm::quantile_score::QuantileScore::udwf()),
        SegFunction::Window(rfm::rfm_score::RfmScore::udwf()),
        SegFunction::Scalar(rfm::rfm_segment::RfmSegment::udf(handle)),
        SegFunction::Table(Arc::new(rfm::rfm::Rfm)),
        SegFunction::Table(Arc::new(rfm::rfm_summary::RfmSummary)),
        SegFunction::Scalar(stats::prop_ztest::PropZtest::udf()),
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
        SegFunction::Scalar(model::kmeans_assign::KMeansAssign::udf(Arc::clone(&models))),
        SegFunction::Scalar(model::kmeans_distance::KMeansDistance::udf(Arc::clone(&models))),
        SegFunction::Table(Arc::new(model::model_centroids::ModelCentroids::new(models))),
        SegFunction::Statement("CREATE MODEL", &model::statements::CREATE_MODEL),
        SegFunction::Statement("DROP MODEL", &model::statements::DROP_MODEL),
        SegFunction::Statement("SHOW MODELS", &model::statements::SHOW_MODELS),
    ];
    all.sort_by(|a, b| a.name().cmp(b.name()));
    all
}

/// Every segsql function, for listings and docs.
pub fn functions() -> Vec<SegFunction> {
    functions_for(None, Arc::new(ModelStore::new(DEFAULT_MODELS_DIR)))
}

/// Where models live unless told otherwise.
pub const DEFAULT_MODELS_DIR: &str = "models";

/// Registers every segsql function into `ctx`, with models in `./models`.
pub fn register_all(ctx: &SessionContext) {
    register_all_with_models(ctx, Arc::new(ModelStore::new(DEFAULT_MODELS_DIR)));
}

/// Registers every segsql function into `ctx`, with models in `models`.
pub fn register_all_with_models(ctx: &SessionContext, models: Arc<ModelStore>) {
    for function in functions_for(Some(ctx), models) {
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
        let all = functions();
        let mut names: Vec<&str> = all.iter().map(SegFunction::name).collect();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
