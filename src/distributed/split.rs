//! How a file scan is split over a stage's tasks.
//!
//! datafusion-distributed 4.0.0's own splitter hands the file groups out round-robin, so when
//! the groups do not divide evenly (four files over three tasks, or an ordered scan whose files
//! cannot be cut) the tasks get different partition counts and planning fails with "Different
//! partition count where provided in two different variants of DistributedLeafExec". This one
//! cuts the files the same way and pads with empty groups, so every task has as many
//! partitions (an empty one reads nothing).

use std::sync::Arc;

use datafusion::catalog::memory::DataSourceExec;
use datafusion::common::Result;
use datafusion::datasource::physical_plan::{FileGroup, FileGroupPartitioner, FileScanConfig};
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion_distributed::{DistributedLeafExec, ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse};

pub fn split_file_scan(event: ScaleUpLeafNodeEvent) -> Option<Result<ScaleUpLeafNodeEventResponse>> {
    let scan = event.plan.downcast_ref::<DataSourceExec>()?;
    let files = scan.data_source().downcast_ref::<FileScanConfig>()?;
    let tasks = event.task_count.max(1);
    let target = event.plan.output_partitioning().partition_count() * tasks;
    let mut groups: Vec<FileGroup> = if files.output_partitioning.is_some() {
        // Hive-partitioned scans keep whole files; deal them out in order.
        let all: Vec<_> = files.file_groups.iter().flat_map(|g| g.iter().cloned()).collect();
        let mut groups = vec![Vec::new(); target];
        for (i, file) in all.into_iter().enumerate() {
            groups[i % target].push(file);
        }
        groups.into_iter().map(FileGroup::new).collect()
    } else {
        FileGroupPartitioner::new()
            .with_target_partitions(target)
            .with_repartition_file_min_size(0)
            .with_preserve_order_within_groups(!files.output_ordering.is_empty())
            .repartition_file_groups(&files.file_groups)
            .unwrap_or_else(|| files.file_groups.clone())
    };
    let per_task = groups.len().div_ceil(tasks).max(1);
    groups.resize_with(per_task * tasks, || FileGroup::new(Vec::new()));
    let mut template = files.clone();
    template.file_groups.clear();
    let mut scans = vec![template; tasks];
    for (i, group) in groups.into_iter().enumerate() {
        scans[i % tasks].file_groups.push(group);
    }
    let variants = scans.into_iter().map(|scan| DataSourceExec::from_data_source(scan) as _);
    Some(
        DistributedLeafExec::try_new(Arc::clone(event.plan), variants)
            .map(|leaf| ScaleUpLeafNodeEventResponse::new(Arc::new(leaf))),
    )
}
