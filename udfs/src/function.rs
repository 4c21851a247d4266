//! What a segsql function is, for registration and documentation: the kinds, the doc
//! sections, and the documentation hook table functions lack. A leaf: it imports nothing
//! of segsql's, so every function module and the registry can import it.

use std::fmt;
use std::sync::{Arc, LazyLock};

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, DocSection, Documentation, ScalarUDF, WindowUDF};

pub const RFM_SECTION: DocSection = DocSection { include: true, label: "RFM", description: None };
pub const COHORT_SECTION: DocSection = DocSection { include: true, label: "Cohorts and funnels", description: None };
pub const CLUSTER_SECTION: DocSection = DocSection { include: true, label: "Clustering", description: None };
pub const CLV_SECTION: DocSection = DocSection { include: true, label: "Predictive CLV", description: None };
pub const STATS_SECTION: DocSection = DocSection { include: true, label: "Statistics", description: None };
pub const GOVERNANCE_SECTION: DocSection =
    DocSection { include: true, label: "Governance and privacy", description: None };

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

/// An internal function: the building block of a table function's plan, registered so that
/// plans that call it can be decoded by name anywhere, and listed (not advertised) in the docs.
#[derive(Debug, Clone)]
pub struct InternalFunction {
    pub function: SegFunction,
    pub syntax: &'static str,
    pub purpose: &'static str,
}
