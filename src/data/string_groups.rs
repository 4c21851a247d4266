//! The first half of a `GROUP BY` on one text column with few distinct values, done faster
//! than DataFusion's own.
//!
//! Reports group by text all the time (`GROUP BY segment`, `GROUP BY channel`), over every
//! customer and with a dozen groups. DataFusion 55's partial aggregate finds each row's group
//! by hashing the row's text and probing a table of texts (`GroupValuesBytesView`): about
//! 25 ns a row, most of a `GROUP BY segment` over a Parquet file. But a text column read as
//! `Utf8View` is 16-byte views, and equal views are equal texts: a text of up to 12 bytes is
//! inside its view, and a longer one read from a dictionary-encoded Parquet page (how every
//! writer stores a low-cardinality column) points at the one copy in the page's dictionary.
//! So a batch's rows are looked up by their view, a 16-byte integer, in a small table; only
//! a view not seen before in the batch looks up its text. Two equal texts with different
//! views (two copies in a buffer) are still one group: the text lookup makes them so.
//!
//! [`StringGroups`] swaps a partial `AggregateExec` for [`StringGroupsExec`] when the one
//! group key is `Utf8View` and every aggregate has a groups accumulator and no `DISTINCT`,
//! `ORDER BY` or dynamic filter. The operator feeds the same accumulators with the same group
//! numbers (groups numbered as first seen, as DataFusion numbers them), and emits the same
//! schema, so the final aggregate above it gives the same results. Partial aggregates may emit a group more than once, which keeps it simple: when
//! memory is short it emits what it has and starts again, and once a partition has more than
//! [`MAX_GROUPS`] groups, or a batch has more than a quarter of its rows' views new (not
//! few, or not repeating, so no faster here), it emits what it has and hands the rest
//! of its input to DataFusion's own partial aggregate, with its probe that skips partial
//! aggregation of unique keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringViewArray, StringViewBuilder};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, evaluate_many};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::StreamExt;
use parking_lot::Mutex;

/// Groups a partition finds before it hands the rest of its input to DataFusion's aggregate.
pub const MAX_GROUPS: usize = 4096;

/// Runs after DataFusion's own rules, which choose the aggregates' modes.
#[derive(Debug, Default)]
pub struct StringGroups;

impl PhysicalOptimizerRule for StringGroups {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !eligible(aggregate)? {
                return Ok(Transformed::no(node));
            }
            let aggregate = Arc::new(aggregate.clone());
            Ok(Transformed::yes(Arc::new(StringGroupsExec::new(aggregate)) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "segsql_string_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partial aggregate of raw rows by one `Utf8View` key, whose aggregates all take group
/// numbers and need nothing the operator does not give them (distinct values, an order).
fn eligible(aggregate: &AggregateExec) -> Result<bool> {
    let group_by = aggregate.group_expr();
    if *aggregate.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.expr().len() != 1
        || aggregate.limit_options().is_some()
        || !aggregate.dynamic_expressions_produced().is_empty()
        || *aggregate.input_order_mode() != InputOrderMode::Linear
    {
        return Ok(false);
    }
    // A key whose type cannot be told is left to DataFusion, which reports it.
    if !matches!(group_by.expr()[0].0.data_type(&aggregate.input_schema()), Ok(DataType::Utf8View)) {
        return Ok(false);
    }
    Ok(aggregate
        .aggr_expr()
        .iter()
        .all(|aggr| aggr.groups_accumulator_supported() && !aggr.is_distinct() && aggr.order_bys().is_empty()))
}

/// DataFusion's partial `AggregateExec`, run by the view lookup above; it shows as
/// `StringGroupsExec (AggregateExec: mode=Partial, ...)` in plans.
#[derive(Debug)]
pub struct StringGroupsExec {
    aggregate: Arc<AggregateExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl StringGroupsExec {
    fn new(aggregate: Arc<AggregateExec>) -> Self {
        Self { aggregate, metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl DisplayAs for StringGroupsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        if let DisplayFormatType::TreeRender = t {
            // The tree's title is the name; its lines are the aggregate's key=value pairs.
            return self.aggregate.fmt_as(t, f);
        }
        write!(f, "StringGroupsExec (")?;
        self.aggregate.fmt_as(t, f)?;
        write!(f, ")")
    }
}

impl ExecutionPlan for StringGroupsExec {
    fn name(&self) -> &str {
        "StringGroupsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let replaced = Arc::clone(&self.aggregate).replace_children(children, options)?;
        match replaced.downcast_ref::<AggregateExec>() {
            Some(aggregate) if eligible(aggregate)? => Ok(Arc::new(StringGroupsExec::new(Arc::new(aggregate.clone())))),
            _ => Ok(replaced),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.aggregate.input().execute(partition, Arc::clone(&context))?;
        let aggregate = &self.aggregate;
        let mut accumulators = Vec::with_capacity(aggregate.aggr_expr().len());
        let mut arguments = Vec::with_capacity(aggregate.aggr_expr().len());
        for aggr in aggregate.aggr_expr() {
            accumulators.push(aggr.create_groups_accumulator()?);
            arguments.push(aggr.expressions());
        }
        let reservation = MemoryConsumer::new(format!("StringGroupsExec[{partition}]"))
            .with_can_spill(true)
            .register(context.memory_pool());
        let state = State {
            aggregate: Arc::clone(aggregate),
            schema: aggregate.schema(),
            key: Arc::clone(&aggregate.group_expr().expr()[0].0),
            arguments,
            filters: aggregate.filter_expr().to_vec(),
            accumulators,
            groups: Groups::default(),
            indices: Vec::new(),
            reservation,
            context,
            metrics: BaselineMetrics::new(&self.metrics, partition),
        };
        let schema = aggregate.schema();
        let stream = futures::stream::unfold(Step::Own(Box::new(state), input), |step| async move {
            match step {
                Step::Own(mut state, mut input) => loop {
                    let Some(batch) = input.next().await else {
                        // The input is done: what the partition found, then nothing more.
                        return state.emit_all().map(|out| (out, Step::Done));
                    };
                    match batch.and_then(|batch| state.add(&batch)) {
                        Err(e) => return Some((Err(e), Step::Done)),
                        Ok(Flush::No) => {}
                        Ok(Flush::MemoryShort) => match state.emit_all() {
                            // A failed emit leaves the accumulators out of step: stop.
                            Some(Err(e)) => return Some((Err(e), Step::Done)),
                            Some(out) => return Some((out, Step::Own(state, input))),
                            None => {}
                        },
                        Ok(Flush::ManyGroups) => {
                            // What this operator found, then DataFusion's aggregate of the rest.
                            let theirs = match state.hand_over(input) {
                                Ok(theirs) => theirs,
                                Err(e) => return Some((Err(e), Step::Done)),
                            };
                            match state.emit_all() {
                                Some(Err(e)) => return Some((Err(e), Step::Done)),
                                Some(out) => return Some((out, Step::Theirs(theirs))),
                                None => return Step::next_of(theirs).await,
                            }
                        }
                    }
                },
                Step::Theirs(theirs) => Step::next_of(theirs).await,
                Step::Done => None,
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream.fuse())))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Where a partition's output comes from next.
enum Step {
    /// This operator, aggregating its input.
    Own(Box<State>, SendableRecordBatchStream),
    /// DataFusion's partial aggregate of the rest of the input.
    Theirs(SendableRecordBatchStream),
    Done,
}

impl Step {
    async fn next_of(mut theirs: SendableRecordBatchStream) -> Option<(Result<RecordBatch>, Step)> {
        theirs.next().await.map(|out| (out, Step::Theirs(theirs)))
    }
}

/// Why a batch ends the partition's aggregation so far.
enum Flush {
    No,
    MemoryShort,
    ManyGroups,
}

/// One partition's aggregation.
struct State {
    aggregate: Arc<AggregateExec>,
    schema: SchemaRef,
    key: Arc<dyn PhysicalExpr>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    groups: Groups,
    /// Each row's group number in the batch at hand.
    indices: Vec<usize>,
    reservation: MemoryReservation,
    context: Arc<TaskContext>,
    metrics: BaselineMetrics,
}

impl State {
    fn add(&mut self, batch: &RecordBatch) -> Result<Flush> {
        let _timer = self.metrics.elapsed_compute().timer();
        let rows = batch.num_rows();
        let keys = self.key.evaluate(batch)?.into_array(rows)?;
        let Some(keys) = keys.as_string_view_opt() else {
            return internal_err!("StringGroupsExec: the group key is {}, not Utf8View", keys.data_type());
        };
        let misses = self.groups.intern(keys, &mut self.indices);
        let values = evaluate_many(&self.arguments, batch)?;
        let total = self.groups.len();
        for ((accumulator, values), filter) in self.accumulators.iter_mut().zip(&values).zip(&self.filters) {
            let filter = match filter {
                Some(filter) => Some(filter.evaluate(batch)?.into_array(rows)?),
                None => None,
            };
            let filter: Option<&BooleanArray> = match &filter {
                Some(filter) => match filter.as_boolean_opt() {
                    Some(filter) => Some(filter),
                    None => return internal_err!("StringGroupsExec: a FILTER is {}", filter.data_type()),
                },
                None => None,
            };
            accumulator.update_batch(values, &self.indices, filter, total)?;
        }
        // Views that do not repeat (long texts each in its own copy: computed keys, Parquet
        // without a dictionary) make every row a text lookup, no faster than DataFusion's.
        if self.groups.len() > MAX_GROUPS || (misses > 256 && misses * 4 > rows) {
            return Ok(Flush::ManyGroups);
        }
        if self.reservation.try_resize(self.size()).is_err() {
            return Ok(Flush::MemoryShort);
        }
        Ok(Flush::No)
    }

    fn size(&self) -> usize {
        self.groups.size()
            + self.indices.capacity() * size_of::<usize>()
            + self.accumulators.iter().map(|accumulator| accumulator.size()).sum::<usize>()
    }

    /// The groups found so far with their aggregates' states, and a fresh start; `None` when
    /// there are none.
    fn emit_all(&mut self) -> Option<Result<RecordBatch>> {
        if self.groups.len() == 0 {
            return None;
        }
        let timer = self.metrics.elapsed_compute().timer();
        let mut columns = vec![self.groups.take_column()];
        for accumulator in &mut self.accumulators {
            match accumulator.state(EmitTo::All) {
                Ok(state) => columns.extend(state),
                Err(e) => return Some(Err(e)),
            }
        }
        // Shrinking always succeeds.
        let _ = self.reservation.try_resize(self.size());
        drop(timer);
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(Into::into);
        if let Ok(batch) = &batch {
            self.metrics.record_output(batch.num_rows());
            self.metrics.output_batches().add(1);
        }
        Some(batch)
    }

    /// DataFusion's partial aggregate, the same as this one, over the rest of `input`.
    fn hand_over(&self, input: SendableRecordBatchStream) -> Result<SendableRecordBatchStream> {
        let schema = input.schema();
        let rest = Arc::new(Rest { schema: Arc::clone(&schema), stream: Mutex::new(Some(input)) });
        let source = StreamingTableExec::try_new(schema, vec![rest], None, Vec::new(), false, None)?;
        // The original aggregate over the rest: the same schema, keys, aggregates and filters.
        let theirs = Arc::clone(&self.aggregate)
            .replace_children(vec![Arc::new(source)], ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))?;
        theirs.execute(0, Arc::clone(&self.context))
    }
}

/// The rest of a partition's input, as the one partition of a source plan.
struct Rest {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl fmt::Debug for Rest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rest").finish_non_exhaustive()
    }
}

impl PartitionStream for Rest {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _context: Arc<TaskContext>) -> SendableRecordBatchStream {
        match self.stream.lock().take() {
            Some(stream) => stream,
            None => Box::pin(RecordBatchStreamAdapter::new(
                Arc::clone(&self.schema),
                futures::stream::once(async { internal_err!("StringGroupsExec: the rest of an input was read twice") }),
            )),
        }
    }
}

/// The groups of one partition, numbered as first seen.
#[derive(Default)]
struct Groups {
    /// Each group's text by number; `None` for the group of NULL keys.
    texts: Vec<Option<Box<str>>>,
    by_text: HashMap<Box<str>, usize>,
    null_group: Option<usize>,
    text_bytes: usize,
    /// The batch at hand's views seen so far, and their groups.
    views: ViewTable,
}

impl Groups {
    fn len(&self) -> usize {
        self.texts.len()
    }

    /// Each row's group into `indices`; returns how many distinct views the batch had.
    fn intern(&mut self, keys: &StringViewArray, indices: &mut Vec<usize>) -> usize {
        indices.clear();
        indices.reserve(keys.len());
        // A view names a text only within its own array's buffers.
        self.views.start();
        let views = keys.views();
        match keys.nulls().filter(|nulls| nulls.null_count() > 0) {
            None => {
                for (row, &view) in views.iter().enumerate() {
                    let group = match self.views.get(view) {
                        Some(group) => group,
                        None => self.group_of_text(keys, row, view),
                    };
                    indices.push(group);
                }
            }
            Some(nulls) => {
                for (row, &view) in views.iter().enumerate() {
                    let group = if nulls.is_null(row) {
                        self.group_of_null()
                    } else {
                        match self.views.get(view) {
                            Some(group) => group,
                            None => self.group_of_text(keys, row, view),
                        }
                    };
                    indices.push(group);
                }
            }
        }
        self.views.len
    }

    #[cold]
    fn group_of_text(&mut self, keys: &StringViewArray, row: usize, view: u128) -> usize {
        let text = keys.value(row);
        let group = match self.by_text.get(text) {
            Some(&group) => group,
            None => {
                let group = self.texts.len();
                self.texts.push(Some(text.into()));
                self.by_text.insert(text.into(), group);
                self.text_bytes += text.len();
                group
            }
        };
        self.views.insert(view, group);
        group
    }

    fn group_of_null(&mut self) -> usize {
        *self.null_group.get_or_insert_with(|| {
            self.texts.push(None);
            self.texts.len() - 1
        })
    }

    /// The groups' keys as a column, in group order, and no groups.
    fn take_column(&mut self) -> ArrayRef {
        let mut column = StringViewBuilder::with_capacity(self.texts.len());
        for text in self.texts.drain(..) {
            column.append_option(text);
        }
        self.by_text.clear();
        self.null_group = None;
        self.text_bytes = 0;
        self.views.start();
        Arc::new(column.finish())
    }

    fn size(&self) -> usize {
        self.texts.capacity() * size_of::<Option<Box<str>>>()
            + self.by_text.capacity() * (size_of::<Box<str>>() + size_of::<usize>() + 8)
            + 2 * self.text_bytes
            + self.views.size()
    }
}

/// An open-addressing table from a view (16 bytes) to a group, emptied in constant time by
/// moving to the next stamp: a slot holds an entry only when its stamp is the table's.
struct ViewTable {
    views: Vec<u128>,
    groups: Vec<usize>,
    stamps: Vec<u32>,
    stamp: u32,
    /// 64 less the log2 of the slots.
    shift: u32,
    len: usize,
}

impl Default for ViewTable {
    fn default() -> Self {
        Self::with_slots_log2(6)
    }
}

impl ViewTable {
    fn with_slots_log2(bits: u32) -> Self {
        let slots = 1usize << bits;
        Self {
            views: vec![0; slots],
            groups: vec![0; slots],
            stamps: vec![0; slots],
            stamp: 1,
            shift: 64 - bits,
            len: 0,
        }
    }

    fn start(&mut self) {
        self.len = 0;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.stamps.fill(0);
            self.stamp = 1;
        }
    }

    #[inline]
    fn slot(&self, view: u128) -> usize {
        let mixed = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, view: u128) -> Option<usize> {
        let mask = self.views.len() - 1;
        let mut slot = self.slot(view);
        loop {
            if self.stamps[slot] != self.stamp {
                return None;
            }
            if self.views[slot] == view {
                return Some(self.groups[slot]);
            }
            slot = (slot + 1) & mask;
        }
    }

    fn insert(&mut self, view: u128, group: usize) {
        if (self.len + 1) * 2 > self.views.len() {
            self.grow();
        }
        let mask = self.views.len() - 1;
        let mut slot = self.slot(view);
        while self.stamps[slot] == self.stamp {
            slot = (slot + 1) & mask;
        }
        self.views[slot] = view;
        self.groups[slot] = group;
        self.stamps[slot] = self.stamp;
        self.len += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(self, Self::with_slots_log2(bits));
        for slot in 0..old.views.len() {
            if old.stamps[slot] == old.stamp {
                self.insert(old.views[slot], old.groups[slot]);
            }
        }
    }

    fn size(&self) -> usize {
        self.views.capacity() * (size_of::<u128>() + size_of::<usize>() + size_of::<u32>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Two partitions of (k, v): short texts (inside their views), long ones (in buffers),
    /// the same long text twice in one batch (two views, one group), NULL keys and values.
    fn table(rows: usize, distinct: usize) -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8View, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let part = |offset: usize| {
            let keys: Vec<Option<String>> = (0..rows)
                .map(|row| {
                    let i = (row * 7 + offset) % distinct;
                    match i % 5 {
                        0 => None,
                        1 => Some(format!("s{i}")),
                        _ => Some(format!("a segment name longer than twelve bytes {i}")),
                    }
                })
                .collect();
            let values: Vec<Option<i64>> =
                (0..rows).map(|row| if row % 11 == 3 { None } else { Some((row % 17) as i64 - 4) }).collect();
            // Long texts stored once, as a Parquet dictionary page gives them, so that views
            // repeat; the last batch of a partition stores each row's copy (no view repeats).
            let mut builder = StringViewBuilder::new();
            if offset % 3 != 2 {
                builder = builder.with_deduplicate_strings();
            }
            for key in &keys {
                builder.append_option(key.as_deref());
            }
            let keys = builder.finish();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(keys), Arc::new(Int64Array::from(values))])
                .expect("a batch")
        };
        let batches = |offset: usize| (0..3).map(|b| part(offset + b)).collect::<Vec<_>>();
        MemTable::try_new(Arc::clone(&schema), vec![batches(0), batches(1)]).expect("a table")
    }

    async fn run(rule: bool, table: MemTable, sql: &str) -> (String, String) {
        let config = SessionConfig::new().with_target_partitions(2).with_batch_size(1000);
        let mut builder = SessionStateBuilder::new().with_config(config).with_default_features();
        if rule {
            builder = builder.with_physical_optimizer_rule(Arc::new(StringGroups));
        }
        let ctx = SessionContext::new_with_state(builder.build());
        ctx.register_table("t", Arc::new(table)).expect("registered");
        let frame = ctx.sql(sql).await.expect("planned");
        let plan = frame.clone().create_physical_plan().await.expect("a plan");
        let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string();
        let batches = frame.collect().await.expect("ran");
        (pretty_format_batches(&batches).expect("shown").to_string(), shown)
    }

    /// The same rows as DataFusion's own aggregate, from a plan that used this one.
    async fn same_as_datafusion(rows: usize, distinct: usize, sql: &str, used: bool) {
        let (ours, plan) = run(true, table(rows, distinct), sql).await;
        let (theirs, _) = run(false, table(rows, distinct), sql).await;
        assert_eq!(ours, theirs, "{sql}");
        assert_eq!(plan.contains("StringGroupsExec"), used, "{plan}");
    }

    #[tokio::test]
    async fn aggregates_equal_datafusions() {
        let sql = "SELECT k, count(*), count(v), sum(v), avg(v), min(v), max(v), min(k), \
                   count(*) FILTER (WHERE v > 3), sum(v) FILTER (WHERE k LIKE 'a%') \
                   FROM t GROUP BY k ORDER BY k NULLS FIRST";
        same_as_datafusion(5000, 40, sql, true).await;
    }

    #[tokio::test]
    async fn keys_alone_nulls_and_empty_input() {
        same_as_datafusion(5000, 40, "SELECT DISTINCT k FROM t ORDER BY k", true).await;
        same_as_datafusion(5000, 40, "SELECT k, count(*) FROM t WHERE v > 100 GROUP BY k ORDER BY k", true).await;
        same_as_datafusion(5000, 40, "SELECT count(*) FROM (SELECT k FROM t GROUP BY k)", true).await;
    }

    #[tokio::test]
    async fn many_groups_are_handed_to_datafusion() {
        let sql = "SELECT count(*), sum(n), sum(s), count(k) FROM \
                   (SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k)";
        same_as_datafusion(3000, 3 * MAX_GROUPS, sql, true).await;
    }

    #[tokio::test]
    async fn distinct_and_ordered_aggregates_are_left_alone() {
        // DataFusion plans a DISTINCT count as a GROUP BY k, v under a count by k: the outer
        // partial aggregate has a plain count, and this operator runs it.
        let sql = "SELECT k, count(DISTINCT v) FROM t GROUP BY k ORDER BY k";
        same_as_datafusion(2000, 40, sql, true).await;
        let sql = "SELECT k, count(DISTINCT v), sum(DISTINCT v), count(*) FROM t GROUP BY k ORDER BY k";
        same_as_datafusion(2000, 40, sql, false).await;
        let sql = "SELECT k, array_agg(v ORDER BY v) FROM t GROUP BY k ORDER BY k";
        same_as_datafusion(200, 10, sql, false).await;
        let sql = "SELECT v, count(*) FROM t GROUP BY v ORDER BY v";
        same_as_datafusion(2000, 40, sql, false).await;
    }

    #[test]
    fn views_of_one_text_are_one_group_and_tables_grow() {
        let texts: Vec<Option<String>> = (0..300)
            .map(|i| match i % 3 {
                0 => None,
                _ => Some(format!("{} a long text that lives in a buffer", i % 150)),
            })
            .collect();
        let keys = StringViewArray::from_iter(texts.iter().map(|t| t.as_deref()));
        let mut groups = Groups::default();
        let mut indices = Vec::new();
        groups.intern(&keys, &mut indices);
        for (row, text) in texts.iter().enumerate() {
            assert_eq!(groups.texts[indices[row]].as_deref(), text.as_deref(), "row {row}");
        }
        // 100 texts and NULL; every copy of a text (its own view) found its group.
        assert_eq!(groups.len(), 101);
        assert!(groups.views.views.len() >= 256, "the view table grew past its first 64 slots");
        let again = indices.clone();
        groups.intern(&keys, &mut indices);
        assert_eq!(indices, again);
        let column = groups.take_column();
        assert_eq!(column.len(), 101);
        assert_eq!(column.null_count(), 1);
        assert_eq!(groups.len(), 0);
    }
}
