//! Delta Lake tables (`deltalake` 1.1): a folder with `_delta_log/`, local or on S3, read at
//! its latest version or at a pinned one, so last month's report reruns on last month's
//! snapshot.
//!
//! The table's files are read through the session's own object store (the same S3 client as
//! every other `s3://` location), so Delta needs no credentials of its own.

use std::sync::{Arc, Once};

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{Result, exec_datafusion_err, plan_err};
use datafusion::execution::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::CreateExternalTable;
use deltalake::DeltaTableBuilder;
use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use url::Url;

use super::described::{Described, HowRead};

/// True when `location` (a local folder) holds a Delta log.
pub fn is_delta_folder(path: &std::path::Path) -> bool {
    path.join("_delta_log").is_dir()
}

/// The table URL of a location: `s3://...` as given, a local path made absolute.
fn table_url(location: &str) -> Result<Url> {
    if crate::data::s3::is_url(location) {
        let with_slash = if location.ends_with('/') { location.to_string() } else { format!("{location}/") };
        return Url::parse(&with_slash).map_err(|e| exec_datafusion_err!("{location} is not a URL: {e}"));
    }
    let path = std::path::absolute(location).map_err(|e| exec_datafusion_err!("{location}: {e}"))?;
    Url::from_directory_path(&path).map_err(|_| exec_datafusion_err!("{location} is not a folder path"))
}

/// Opens the Delta table at `location`, at `version` or the latest.
pub async fn delta_table(
    state: &SessionState,
    name: &str,
    location: &str,
    version: Option<i64>,
) -> Result<Arc<dyn TableProvider>> {
    // Reading needs no commit coordination, so the plain log store serves S3 as it does
    // local folders (deltalake's own S3 log store would pull in the AWS SDK for its lock).
    static S3_LOGS: Once = Once::new();
    S3_LOGS.call_once(|| {
        if let Ok(s3) = Url::parse("s3://") {
            logstore_factories().insert(s3, Arc::new(PlainLogStores));
        }
    });
    let url = table_url(location)?;
    let describe = |e: String| exec_datafusion_err!("cannot open Delta table {name} from {location}: {e}");
    let store_url = ObjectStoreUrl::parse(&url[..url::Position::BeforePath]).map_err(|e| describe(e.to_string()))?;
    let store = state.runtime_env().object_store(store_url)?;
    let mut builder =
        DeltaTableBuilder::from_url(url.clone()).map_err(|e| describe(e.to_string()))?.with_storage_backend(store, url);
    if let Some(version) = version {
        builder = builder.with_version(version.unsigned_abs());
    }
    let table = builder.load().await.map_err(|e| describe(e.to_string()))?;
    let opened = table.version().and_then(|v| i64::try_from(v).ok()).unwrap_or(0);
    let inner =
        table.table_provider().with_session(Arc::new(state.clone())).await.map_err(|e| describe(e.to_string()))?;
    Ok(Arc::new(Described::new(inner, HowRead::Delta { version: opened, location: location.to_string() })))
}

/// deltalake's default log store, for schemes it has no factory for without its AWS crate.
struct PlainLogStores;

impl LogStoreFactory for PlainLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

/// `CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION '...' [OPTIONS ('version' 'N')]`.
#[derive(Debug, Default)]
pub struct DeltaFactory;

#[async_trait]
impl TableProviderFactory for DeltaFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let [location] = cmd.locations.as_slice() else {
            return plan_err!("CREATE EXTERNAL TABLE ... STORED AS DELTATABLE takes one location");
        };
        let mut version = None;
        for (key, value) in &cmd.options {
            match key.strip_prefix("format.").unwrap_or(key) {
                "version" => {
                    version = Some(value.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                        exec_datafusion_err!(
                            "CREATE EXTERNAL TABLE: 'version' must be a Delta version number (0, 1, ...), not '{value}'"
                        )
                    })?)
                }
                other => {
                    return plan_err!(
                        "CREATE EXTERNAL TABLE: a Delta table takes OPTIONS ('version' 'N') and aws.* settings, not '{other}'"
                    );
                }
            }
        }
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("CREATE EXTERNAL TABLE ... STORED AS DELTATABLE needs a full session");
        };
        delta_table(state, cmd.name.table(), location, version).await
    }
}
