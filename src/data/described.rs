//! A table with what `\\d NAME` says of how it was read: a sniffed CSV file's dialect, a
//! Delta table's version. Everything else is the wrapped table's.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use super::sniff::Dialect;

/// How a table's data was read.
#[derive(Debug, Clone)]
pub enum HowRead {
    /// A CSV file (or folder of them), with the dialect sniffed from `sniffed_from`.
    Csv { dialect: Dialect, sniffed_from: String },
    /// A Delta table at `version`.
    Delta { version: i64, location: String },
}

/// A table and how it was read. A base table whatever it wraps (a sniffed CSV file with
/// converted columns is a view underneath), so `information_schema` lists it as one.
#[derive(Debug)]
pub struct Described {
    inner: Arc<dyn TableProvider>,
    how: HowRead,
}

impl Described {
    pub fn new(inner: Arc<dyn TableProvider>, how: HowRead) -> Described {
        Described { inner, how }
    }

    pub fn how(&self) -> &HowRead {
        &self.how
    }
}

#[async_trait]
impl TableProvider for Described {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: datafusion::catalog::ScanArgs<'a>,
    ) -> Result<datafusion::catalog::ScanResult> {
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        None
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }
}
