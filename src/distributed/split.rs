//! How a file scan is split over a stage's tasks.
//!
//! datafusion-distributed 4.0.0's own splitter hands the file groups out round-robin, so when
//! the groups do not divide evenly (four files over three tasks, or an ordered scan whose files
//! cannot be cut) the tasks get different partition counts and planning fails with "Different
//! partition count where provided in two different variants of DistributedLeafExec". It also
//! cuts files its format says must stay whole (CSV with newlines in quoted values, compressed
//! files) and breaks up the groups of a scan that declares hash partitioning. Compressed
//! CSV and JSON are refused: the plan format loses their compression. This one asks
//! the format how to cut (as a local scan does), keeps declared partitions whole, and pads
//! with empty groups, so every task has as many partitions (an empty one reads nothing).

use std::sync::Arc;

use datafusion::catalog::memory::DataSourceExec;
use datafusion::common::{Result, plan_err};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion_distributed::{DistributedLeafExec, ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse};

pub fn split_file_scan(event: ScaleUpLeafNodeEvent) -> Option<Result<ScaleUpLeafNodeEventResponse>> {
    let scan = event.plan.downcast_ref::<DataSourceExec>()?;
    let files = scan.data_source().downcast_ref::<FileScanConfig>()?;
    Some(split(event.plan, files, event.task_count.max(1)))
}

fn split(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    files: &FileScanConfig,
    tasks: usize,
) -> Result<ScaleUpLeafNodeEventResponse> {
    if files.file_compression_type.is_compressed() {
        // datafusion-proto 55 does not carry a scan's compression: a worker would read the
        // compressed bytes as text. Better no answer than a wrong one.
        let file = files.file_groups.iter().flat_map(|g| g.iter()).next().map(|f| f.object_meta.location.to_string());
        return plan_err!(
            "workers: {} is compressed ({:?}), and workers cannot read compressed CSV or JSON files \
             (DataFusion 55's plan format leaves the compression out); decompress it, or run this query \
             without --workers",
            file.unwrap_or_else(|| "a file".into()),
            files.file_compression_type.get_variant()
        );
    }
    let target = plan.output_partitioning().partition_count() * tasks;
    let mut groups: Vec<FileGroup> = if files.output_partitioning.is_some() {
        // A scan that declares hash partitioning (hive partitions kept apart): each group holds
        // all rows of its keys, and the plan above relies on it, so groups move whole.
        files.file_groups.clone()
    } else {
        // The format decides whether and where its files may be cut.
        let ordering = files.output_ordering.first().cloned();
        match files.file_source.repartitioned(target, 0, ordering, files)? {
            Some(cut) => cut.file_groups,
            None => files.file_groups.clone(),
        }
    };
    let per_task = groups.len().div_ceil(tasks).max(1);
    groups.resize_with(per_task * tasks, || FileGroup::new(Vec::new()));
    let mut template = files.clone();
    template.file_groups.clear();
    let mut scans = vec![template; tasks];
    // Group g goes to task g mod tasks, at position g div tasks: two co-partitioned scans of
    // the same shape put the same keys in the same task and partition.
    for (i, group) in groups.into_iter().enumerate() {
        scans[i % tasks].file_groups.push(group);
    }
    let variants = scans.into_iter().map(|scan| DataSourceExec::from_data_source(scan) as _);
    let leaf = DistributedLeafExec::try_new(Arc::clone(plan), variants)?;
    Ok(ScaleUpLeafNodeEventResponse::new(Arc::new(leaf)))
}
