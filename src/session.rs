//! Builds the DataFusion session segsql runs on. This is the one file that calls into
//! `segsql_udfs`: the rest of the shell uses the names re-exported here, so a change of
//! that crate's API is a change of this file.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use segsql_udfs::ModelStore;
pub use segsql_udfs::common::kernel_threads;
pub use segsql_udfs::model::{Standardize, TrainOptions, train_kmeans};
pub use segsql_udfs::options::SegsqlOptions;

use crate::data::csv::SniffingCsvFactory;
use crate::data::delta::DeltaFactory;
use crate::data::folder::DataSchema;
use crate::data::s3::LakeRegistry;
use crate::data::sample::{ROW_GROUP_ROWS, SAMPLE_SCHEMA, SampleSchema};
use crate::data::scan_parts::ScanParts;
use crate::data::string_groups::StringGroups;
pub use crate::distributed::Cluster;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Worker threads and partitions; `None` uses every core.
    pub threads: Option<usize>,
    /// Bytes of memory for sorts, joins and aggregations before they spill to disk.
    pub memory_limit: Option<usize>,
    pub models_dir: PathBuf,
    /// `--workers`: plan across these `segsql worker`s instead of running every task here.
    pub cluster: Option<Cluster>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            threads: None,
            memory_limit: None,
            models_dir: PathBuf::from(segsql_udfs::DEFAULT_MODELS_DIR),
            cluster: None,
        }
    }
}

/// Builds the DataFusion session segsql runs on: segsql's functions, the `sample` schema,
/// file tables from `--data` and quoted paths (`SELECT * FROM 'x.parquet'`), and the memory pool.
pub fn new_context(options: &SessionOptions) -> Result<(SessionContext, Arc<DataSchema>)> {
    let threads =
        options.threads.unwrap_or_else(|| std::thread::available_parallelism().map(NonZeroUsize::get).unwrap_or(1));
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true)
        .set_str("datafusion.catalog.default_catalog", "datafusion")
        .set_str("datafusion.format.null", "NULL")
        .set_usize("datafusion.execution.parquet.max_row_group_size", ROW_GROUP_ROWS);
    let mut runtime = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(LakeRegistry::default()));
    if let Some(limit) = options.memory_limit {
        // The fair pool lets every spilling operator have its share, and the tracking
        // wrapper names the largest consumers when memory runs out.
        let pool =
            TrackConsumersPool::new(FairSpillPool::new(limit), NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN));
        runtime = runtime.with_memory_pool(Arc::new(pool));
    }
    let runtime = runtime.build_arc()?;
    let builder =
        SessionStateBuilder::new().with_config(config).with_runtime_env(Arc::clone(&runtime)).with_default_features();
    let ctx = match &options.cluster {
        // Workers read their parts of a scan as the coordinator's planner cut it; the extra
        // cuts (object stores, and local scans in two parts a thread) are for one machine's
        // scans.
        None => SessionContext::new_with_state(
            builder
                .with_physical_optimizer_rule(Arc::new(ScanParts { runtime }))
                .with_physical_optimizer_rule(Arc::new(StringGroups))
                .build(),
        ),
        Some(cluster) => SessionContext::new_with_state(crate::distributed::coordinator(builder, cluster)?.build()),
    };
    // The clustering kernels size themselves by the Tokio runtime the CLI builds with
    // `--threads` workers; the models folder is a session setting that travels with plans.
    segsql_udfs::register_all(&ctx);
    // `CREATE EXTERNAL TABLE ... STORED AS CSV` sniffs the file as `--data` does.
    ctx.state_ref().write().table_factories_mut().insert("CSV".into(), Arc::new(SniffingCsvFactory));
    ctx.state_ref().write().table_factories_mut().insert("DELTATABLE".into(), Arc::new(DeltaFactory));
    segsql_udfs::set_models_dir(&ctx, options.models_dir.to_string_lossy());
    let data = Arc::new(DataSchema::default());
    data.attach(ctx.state_weak_ref());
    let catalog =
        ctx.catalog("datafusion").ok_or_else(|| DataFusionError::Internal("the default catalog is missing".into()))?;
    catalog.register_schema("public", data.clone())?;
    catalog.register_schema(SAMPLE_SCHEMA, Arc::new(SampleSchema::default()))?;
    Ok((ctx, data))
}

/// segsql's functions and settings on the session a worker builds for a task; the worker's
/// own models folder, when it has one, wins over the coordinator's.
pub fn add_functions(ctx: &SessionContext, models_dir: Option<&str>) {
    segsql_udfs::register_all(ctx);
    if let Some(dir) = models_dir {
        segsql_udfs::set_models_dir(ctx, dir);
    }
}

/// How many parts an object-store scan is cut into (`segsql.remote_scan_partitions`).
pub fn remote_scan_partitions(options: &datafusion::common::config::ConfigOptions) -> usize {
    segsql_udfs::options::remote_scan_partitions(options)
}

/// The session's models folder setting.
pub fn models_dir(ctx: &SessionContext) -> PathBuf {
    segsql_udfs::options::models_dir(ctx.state().config().options())
}

/// One line of `\functions`: a segsql function with its one-line doc and an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionHelp {
    pub name: String,
    pub kind: String,
    pub summary: String,
    pub syntax: String,
}

/// segsql's own functions, in the order their crate lists them.
pub fn function_help() -> Vec<FunctionHelp> {
    segsql_udfs::functions()
        .iter()
        .map(|function| {
            let doc = function.documentation();
            FunctionHelp {
                name: function.name().to_string(),
                kind: function.kind().to_string(),
                summary: doc.map(|d| segsql_udfs::docs::summary(&d.description).to_string()).unwrap_or_default(),
                syntax: doc.map(|d| d.syntax_example.clone()).unwrap_or_default(),
            }
        })
        .collect()
}
