//! Scans cut into more parts than DataFusion cuts them, for two reasons.
//!
//! DataFusion cuts a file scan into as many parts as the session has target partitions (the
//! CPU threads), and each part reads its row groups one request after the other: it asks for
//! a row group's column chunks, waits, decodes them, asks for the next. On a local disk the
//! wait is nothing; on an object store every request waits for a round trip and the server,
//! so with two threads two requests are in flight and the CPUs mostly idle. RFM over 10M
//! order lines on S3 took 3.1 s at two parts against 0.8 s from disk, and 1.1 s at sixteen
//! (BENCHMARKS.md). This rule cuts object-store scans into `segsql.remote_scan_partitions`
//! parts; the operators above take any number of input partitions (the aggregates'
//! repartitioning brings them back to the target), so only the scan changes. Only scans that
//! DataFusion already cut are cut further: their rows already arrive in no fixed order, and
//! their files are ones DataFusion's format rules allow to cut. A Parquet scan with fewer
//! parts than that (left whole, or not cuttable) reads row groups ahead instead
//! (`read_ahead.rs`), so that each part has that many requests in flight between them.
//!
//! Local scans are cut into [`LOCAL_PARTS_PER_THREAD`] parts a thread (any format DataFusion
//! cuts; `datafusion.optimizer.repartition_file_scans = false` turns it off with DataFusion's
//! own cut). A Parquet part is whole row groups (a row group goes where its middle byte
//! falls), so parts as many as the threads can be far from equal: a 1.28M-row file of eleven
//! row groups went 737k and 538k rows, and the thread with the smaller part then waited for
//! the other through the last third of the query. With twice as many parts, the runtime's
//! threads take whichever part has work, and finish together: CLV scoring over that file
//! 0.91× the time, RFM, cohort retention, rfm_summary, segment_transitions and pseudonymize
//! over the bench files 0.81–0.95× (BENCHMARKS.md, session 18).

use std::sync::Arc;

use datafusion::catalog::memory::DataSourceExec;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder, ParquetSource};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use super::read_ahead::ReadAheadFactory;

/// Parts a thread for a local file scan that DataFusion cut.
pub const LOCAL_PARTS_PER_THREAD: usize = 2;

/// Runs after DataFusion's own rules (its `EnforceDistribution` makes the first split).
#[derive(Debug)]
pub struct ScanParts {
    /// Where the scans' object stores are found (for the read-ahead's own requests).
    pub runtime: Arc<RuntimeEnv>,
}

impl PhysicalOptimizerRule for ScanParts {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.repartition_file_scans {
            return Ok(plan);
        }
        let target = config.execution.target_partitions;
        let parts = crate::session::remote_scan_partitions(config);
        plan.transform_up(|node| {
            let Some((_, files)) = file_scan(&node) else {
                return Ok(Transformed::no(node));
            };
            if node.fetch().is_some() {
                // A scan with a pushed-down LIMIT reads a few rows: one part, one request.
                return Ok(Transformed::no(node));
            }
            if is_local(files) {
                // A scan DataFusion left whole keeps its one part (and its rows' order).
                if node.output_partitioning().partition_count() < 2 {
                    return Ok(Transformed::no(node));
                }
                return Ok(match node.repartitioned(target * LOCAL_PARTS_PER_THREAD, config)? {
                    Some(cut) => Transformed::yes(cut),
                    None => Transformed::no(node),
                });
            }
            if parts <= target {
                return Ok(Transformed::no(node));
            }
            if node.output_partitioning().partition_count() < 2 {
                // DataFusion left it whole (one thread, a small file, a file that may not be
                // cut, an operator that wants the files' order): the plan above relies on one
                // partition, and merging parts would give rows in no fixed order. Its one
                // part reads ahead instead.
                return self.read_ahead(node, parts);
            }
            match node.repartitioned(parts, config)? {
                Some(cut) => {
                    let cut_parts = cut.output_partitioning().partition_count();
                    Ok(Transformed::yes(self.read_ahead(cut, parts / cut_parts.max(1))?.data))
                }
                None => {
                    let whole = node.output_partitioning().partition_count();
                    self.read_ahead(node, parts / whole.max(1))
                }
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "segsql_scan_parts"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

impl ScanParts {
    /// The scan with each part's Parquet reader fetching up to `requests - 1` row groups
    /// ahead; other formats, and one request per part, as they are.
    fn read_ahead(&self, node: Arc<dyn ExecutionPlan>, requests: usize) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
        let depth = requests.saturating_sub(1);
        let Some((scan, files)) = file_scan(&node).filter(|(_, files)| !is_local(files)) else {
            return Ok(Transformed::no(node));
        };
        let Some(parquet) = files.file_source.downcast_ref::<ParquetSource>() else {
            return Ok(Transformed::no(node));
        };
        if depth == 0 {
            return Ok(Transformed::no(node));
        }
        let store = self.runtime.object_store(&files.object_store_url)?;
        let inner = parquet
            .parquet_file_reader_factory()
            .cloned()
            .unwrap_or_else(|| Arc::new(DefaultParquetFileReaderFactory::new(Arc::clone(&store))));
        let factory = Arc::new(ReadAheadFactory::new(inner, store, depth));
        let source = parquet.clone().with_parquet_file_reader_factory(factory);
        let config = FileScanConfigBuilder::from(files.clone()).with_source(Arc::new(source)).build();
        Ok(Transformed::yes(Arc::new(scan.clone().with_data_source(Arc::new(config)))))
    }
}

/// The scan and its files, for a file scan. Scans that declare hash partitioning are left
/// out by `FileScanConfig::repartitioned` itself.
fn file_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<(&DataSourceExec, &FileScanConfig)> {
    let scan = plan.downcast_ref::<DataSourceExec>()?;
    let files = scan.data_source().downcast_ref::<FileScanConfig>()?;
    Some((scan, files))
}

/// Whether the scan's files are on the local file system.
fn is_local(files: &FileScanConfig) -> bool {
    files.object_store_url.as_str() == "file:///"
}
