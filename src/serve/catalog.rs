//! Each connection's own view of the shared catalog.
//!
//! The tables, views and schemas the server set up (`--data`, `-f` setup scripts, the
//! sample, `pg_catalog`) are shared by every connection and read-only for them; whatever a
//! connection creates (`CREATE VIEW`, `CREATE TABLE`, `CREATE EXTERNAL TABLE`, `CREATE
//! SCHEMA`) lives in a layer of its own above them, as PostgreSQL's temporary objects do, and
//! is gone when it disconnects. A connection cannot drop or replace a shared table.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::TableType;
use parking_lot::RwLock;

/// The catalogs as one connection sees them: the default catalog layered, any other shared.
#[derive(Debug)]
pub struct ConnectionCatalogs {
    shared: Arc<dyn CatalogProviderList>,
    default_name: String,
    default: Arc<ConnectionCatalog>,
}

impl ConnectionCatalogs {
    pub fn new(shared: Arc<dyn CatalogProviderList>, default_name: &str) -> Result<ConnectionCatalogs> {
        let Some(catalog) = shared.catalog(default_name) else {
            return exec_err!("serve: the catalog {default_name} is missing");
        };
        Ok(ConnectionCatalogs {
            shared,
            default_name: default_name.to_string(),
            default: Arc::new(ConnectionCatalog::new(catalog)),
        })
    }

    /// The connection's layered default catalog, where its own `pg_catalog` goes.
    pub fn default_catalog(&self) -> Arc<dyn CatalogProvider> {
        self.default.clone()
    }
}

impl CatalogProviderList for ConnectionCatalogs {
    fn register_catalog(&self, name: String, _catalog: Arc<dyn CatalogProvider>) -> Option<Arc<dyn CatalogProvider>> {
        // Catalogs are the server's; DataFusion's SQL has no CREATE DATABASE that reaches here.
        log_refused(&format!("register catalog {name}"));
        None
    }

    fn catalog_names(&self) -> Vec<String> {
        self.shared.catalog_names()
    }

    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        if name == self.default_name {
            return Some(self.default.clone());
        }
        self.shared.catalog(name)
    }
}

fn log_refused(what: &str) {
    super::log::detail(|| format!("refused: {what} (the catalog is the server's)"));
}

/// A catalog whose schemas are the shared ones, each layered under the connection's own
/// tables, plus the schemas the connection created.
#[derive(Debug)]
pub struct ConnectionCatalog {
    shared: Arc<dyn CatalogProvider>,
    schemas: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl ConnectionCatalog {
    fn new(shared: Arc<dyn CatalogProvider>) -> ConnectionCatalog {
        let schemas = shared
            .schema_names()
            .into_iter()
            .filter_map(|name| {
                let schema = shared.schema(&name)?;
                Some((name, Arc::new(LayeredSchema::new(schema)) as Arc<dyn SchemaProvider>))
            })
            .collect();
        ConnectionCatalog { shared, schemas: RwLock::new(schemas) }
    }
}

impl CatalogProvider for ConnectionCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.schemas.read().keys().cloned().collect();
        // A schema the server registered after this connection started (none today) shows too.
        for name in self.shared.schema_names() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(schema) = self.schemas.read().get(name) {
            return Some(schema.clone());
        }
        self.shared.schema(name)
    }

    fn register_schema(&self, name: &str, schema: Arc<dyn SchemaProvider>) -> Result<Option<Arc<dyn SchemaProvider>>> {
        Ok(self.schemas.write().insert(name.to_string(), schema))
    }

    fn deregister_schema(&self, name: &str, cascade: bool) -> Result<Option<Arc<dyn SchemaProvider>>> {
        let mut schemas = self.schemas.write();
        let Some(schema) = schemas.get(name) else {
            return Ok(None);
        };
        // Dropping a layer would leave the shared schema bare, and this connection's next
        // CREATE would land where every connection sees it.
        if (schema.as_ref() as &dyn Any).is::<LayeredSchema>() {
            return plan_err!(
                "DROP SCHEMA: the schema {name} is the server's, shared by every connection; a connection cannot drop it"
            );
        } else if !cascade && !schema.table_names().is_empty() {
            return plan_err!("DROP SCHEMA: the schema {name} is not empty; add CASCADE to drop its tables too");
        }
        Ok(schemas.remove(name))
    }
}

/// One shared schema with the connection's own tables above it.
#[derive(Debug)]
pub struct LayeredSchema {
    shared: Arc<dyn SchemaProvider>,
    own: MemorySchemaProvider,
}

impl LayeredSchema {
    fn new(shared: Arc<dyn SchemaProvider>) -> LayeredSchema {
        LayeredSchema { shared, own: MemorySchemaProvider::new() }
    }
}

#[async_trait]
impl SchemaProvider for LayeredSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.shared.table_names();
        for name in self.own.table_names() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.own.table(name).await? {
            return Ok(Some(table));
        }
        self.shared.table(name).await
    }

    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        if self.own.table_exist(name) {
            return self.own.table_type(name).await;
        }
        self.shared.table_type(name).await
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        // `CREATE OR REPLACE` deregisters first, so a shared name never gets this far.
        self.own.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.own.deregister_table(name)? {
            return Ok(Some(table));
        }
        if self.shared.table_exist(name) {
            return plan_err!(
                "{name} is the server's (from --data or a setup script), shared by every connection: \
                 a connection cannot drop or replace it; create yours under another name"
            );
        }
        Ok(None)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.own.table_exist(name) || self.shared.table_exist(name)
    }
}
