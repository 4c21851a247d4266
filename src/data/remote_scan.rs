//! More requests in flight for scans of files on object stores.
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
//! their files are ones DataFusion's format rules allow to cut.

use std::sync::Arc;

use datafusion::catalog::memory::DataSourceExec;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// Runs after DataFusion's own rules (its `EnforceDistribution` makes the first split).
#[derive(Debug, Default)]
pub struct RemoteScanParts;

impl PhysicalOptimizerRule for RemoteScanParts {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let parts = crate::session::remote_scan_partitions(config);
        if parts <= config.execution.target_partitions || !config.optimizer.repartition_file_scans {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            if !is_remote_file_scan(&node) || node.fetch().is_some() {
                // A scan with a pushed-down LIMIT reads a few rows: one request is enough.
                return Ok(Transformed::no(node));
            }
            if node.output_partitioning().partition_count() < 2 {
                // DataFusion left it whole (one thread, a small file, a file that may not be
                // cut, an operator that wants the files' order): the plan above relies on one
                // partition, and merging parts would give rows in no fixed order.
                return Ok(Transformed::no(node));
            }
            Ok(match node.repartitioned(parts, config)? {
                Some(cut) => Transformed::yes(cut),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "segsql_remote_scan_parts"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A file scan whose files are not on the local file system. Scans that declare hash
/// partitioning are left out by `FileScanConfig::repartitioned` itself.
fn is_remote_file_scan(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let Some(scan) = plan.downcast_ref::<DataSourceExec>() else {
        return false;
    };
    let Some(files) = scan.data_source().downcast_ref::<FileScanConfig>() else {
        return false;
    };
    files.object_store_url.as_str() != "file:///"
}
