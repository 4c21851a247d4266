//! Internal aggregates behind the cohort table functions. They are not registered as SQL
//! functions: the table functions put them into their plans directly.
//!
//! `user_periods` collects each user's active periods in one pass over the events (a
//! grouped accumulator, so millions of users cost no per-user allocation of an
//! accumulator object); `retention_fold` and `revenue_fold` then fold users into per-offset
//! totals per cohort. No join of the events with a first-event table is needed.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Int32Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Fields, Int32Type, Int64Type};
use datafusion::common::{Result, ScalarValue, internal_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, Expr, GroupsAccumulator, Signature, Volatility, lit,
};

use crate::common::constant::{check_internal_types, decimal_scale, internal_text, types};
use crate::common::grouped::{Buckets, GroupedItems, distinct_periods, is_selected, list_array};
use segsql_algo::cohort::cells::{RetentionMode, add_user, merge_counts, normalize_periods};

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// Periods as a list array, one list per user.
fn periods_array(groups: Vec<Vec<i32>>) -> Result<ArrayRef> {
    let lengths: Vec<usize> = groups.iter().map(Vec::len).collect();
    let values: Int32Array = groups.into_iter().flatten().collect::<Vec<_>>().into();
    list_array(DataType::Int32, lengths, Arc::new(values))
}

/// Adds a period, keeping lists short for users with many events.
fn push_period(periods: &mut Vec<i32>, period: i32) {
    if periods.last() == Some(&period) {
        return;
    }
    periods.push(period);
    if periods.len() >= 64 && periods.len().is_power_of_two() {
        normalize_periods(periods);
    }
}

/// `user_periods(period)`: the sorted distinct periods of a group.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UserPeriods {
    signature: Signature,
}

impl UserPeriods {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(UserPeriods {
            signature: Signature::exact(vec![DataType::Int32], Volatility::Immutable),
        }))
    }
}

impl AggregateUDFImpl for UserPeriods {
    fn name(&self) -> &str {
        "segsql_user_periods"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Int32))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "periods"), list_of(DataType::Int32), true))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(UserPeriodsAccumulator::default()))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(UserPeriodsGroups::default()))
    }
}

#[derive(Debug, Default)]
struct UserPeriodsGroups {
    periods: GroupedItems<i32>,
    /// Each group's latest pushed period. Events mostly arrive in time order, so a user's
    /// repeat events in one period are dropped here instead of stored: 9.6M order lines
    /// hold 5.4M distinct (user, month) pairs.
    last_pushed: Vec<i32>,
}

impl UserPeriodsGroups {
    fn resize(&mut self, total_num_groups: usize) {
        self.periods.resize(total_num_groups);
        if self.last_pushed.len() < total_num_groups {
            self.last_pushed.resize(total_num_groups, i32::MIN);
        }
    }

    fn push(&mut self, group: usize, period: i32) {
        if self.last_pushed[group] != period {
            self.last_pushed[group] = period;
            self.periods.push(group, period);
        }
    }

    fn take(&mut self, emit_to: EmitTo) -> Buckets<i32> {
        match emit_to {
            EmitTo::All => self.last_pushed = Vec::new(),
            EmitTo::First(n) => drop(self.last_pushed.drain(..n.min(self.last_pushed.len()))),
        }
        self.periods.take(emit_to)
    }
}

impl GroupsAccumulator for UserPeriodsGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let input = values[0].as_primitive::<Int32Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if input.is_valid(row) && is_selected(opt_filter, row) {
                self.push(group, input.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (lengths, distinct) = distinct_periods(self.take(emit_to));
        list_array(DataType::Int32, lengths, Arc::new(Int32Array::from(distinct)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.resize(total_num_groups);
        let lists = values[0].as_list::<i32>();
        let items = lists.values().as_primitive::<Int32Type>();
        let offsets = lists.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_valid(row) {
                for index in offsets[row] as usize..offsets[row + 1] as usize {
                    self.push(group, items.value(index));
                }
            }
        }
        Ok(())
    }

    /// Lets DataFusion skip partial aggregation when nearly every user is new to a batch.
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let input = values[0].as_primitive::<Int32Type>();
        let groups = (0..input.len())
            .map(
                |row| if input.is_valid(row) && is_selected(opt_filter, row) { vec![input.value(row)] } else { vec![] },
            )
            .collect();
        Ok(vec![periods_array(groups)?])
    }

    fn size(&self) -> usize {
        self.periods.size() + self.last_pushed.capacity() * size_of::<i32>()
    }
}

#[derive(Debug, Default)]
struct UserPeriodsAccumulator {
    periods: Vec<i32>,
}

impl Accumulator for UserPeriodsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for period in values[0].as_primitive::<Int32Type>().iter().flatten() {
            push_period(&mut self.periods, period);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for list in lists.iter().flatten() {
            for period in list.as_primitive::<Int32Type>().iter().flatten() {
                push_period(&mut self.periods, period);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        normalize_periods(&mut self.periods);
        let array = periods_array(vec![self.periods.clone()])?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.periods.capacity() * 4
    }
}

/// `segsql_retention_fold(periods, cohort, mode)`: users' period lists folded into
/// per-offset counts; `mode` is `'on'` or `'on_or_after'`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RetentionFold {
    signature: Signature,
}

impl RetentionFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(RetentionFold {
            signature: Signature::exact(
                vec![list_of(DataType::Int32), DataType::Int32, DataType::Utf8],
                Volatility::Immutable,
            ),
        }))
    }

    /// The call for `mode`.
    pub fn call(periods: Expr, cohort: Expr, mode: RetentionMode) -> Expr {
        Self::udaf().call(vec![periods, cohort, lit(mode.to_string())])
    }

    fn mode(args: &AccumulatorArgs) -> Result<RetentionMode> {
        let text = internal_text("segsql_retention_fold", args.exprs, 2)?;
        text.parse().or_else(|e| internal_err!("segsql_retention_fold: {e}"))
    }
}

impl AggregateUDFImpl for RetentionFold {
    fn name(&self) -> &str {
        "segsql_retention_fold"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Int64))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "counts"), list_of(DataType::Int64), true))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RetentionFoldAccumulator { mode: Self::mode(&args)?, counts: vec![] }))
    }

    // Without a grouped accumulator DataFusion copies every batch's period lists apart by
    // cohort before folding them: 0.36 s of the 50M-line retention, growing faster than the rows.
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(RetentionFoldGroups { mode: Self::mode(&args)?, counts: vec![] }))
    }
}

/// Per-offset counts of each cohort (the groups are cohorts: a few hundred at most).
#[derive(Debug)]
struct RetentionFoldGroups {
    mode: RetentionMode,
    counts: Vec<Vec<i64>>,
}

impl RetentionFoldGroups {
    fn take(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let taken = emit_to.take_needed(&mut self.counts);
        let lengths: Vec<usize> = taken.iter().map(Vec::len).collect();
        let values: Int64Array = taken.into_iter().flatten().collect::<Vec<_>>().into();
        list_array(DataType::Int64, lengths, Arc::new(values))
    }
}

impl GroupsAccumulator for RetentionFoldGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize_with(total_num_groups, Vec::new);
        let lists = values[0].as_list::<i32>();
        let cohorts = values[1].as_primitive::<Int32Type>();
        let items = lists.values().as_primitive::<Int32Type>();
        let offsets = lists.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_null(row) || cohorts.is_null(row) || !is_selected(opt_filter, row) {
                continue;
            }
            let periods = &items.values()[offsets[row] as usize..offsets[row + 1] as usize];
            add_user(&mut self.counts[group], cohorts.value(row), periods, self.mode);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.take(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(emit_to)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.counts.resize_with(total_num_groups, Vec::new);
        let lists = values[0].as_list::<i32>();
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_valid(row) {
                merge_counts(&mut self.counts[group], lists.value(row).as_primitive::<Int64Type>().values());
            }
        }
        Ok(())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let mut each = RetentionFoldGroups { mode: self.mode, counts: vec![] };
        let selected = (0..rows).collect::<Vec<_>>();
        each.update_batch(values, &selected, opt_filter, rows)?;
        Ok(vec![each.take(EmitTo::All)?])
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.iter().map(|c| c.capacity() * 8 + size_of::<Vec<i64>>()).sum::<usize>()
    }
}

#[derive(Debug)]
struct RetentionFoldAccumulator {
    mode: RetentionMode,
    counts: Vec<i64>,
}

impl Accumulator for RetentionFoldAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let lists = values[0].as_list::<i32>();
        let cohorts = values[1].as_primitive::<Int32Type>();
        let items = lists.values().as_primitive::<Int32Type>();
        let offsets = lists.value_offsets();
        for row in 0..lists.len() {
            if lists.is_null(row) || cohorts.is_null(row) {
                continue;
            }
            let periods = &items.values()[offsets[row] as usize..offsets[row + 1] as usize];
            add_user(&mut self.counts, cohorts.value(row), periods, self.mode);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for list in states[0].as_list::<i32>().iter().flatten() {
            merge_counts(&mut self.counts, list.as_primitive::<Int64Type>().values());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let values = Arc::new(Int64Array::from(self.counts.clone()));
        let array = list_array(DataType::Int64, [self.counts.len()], values)?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.capacity() * 8
    }
}

/// `segsql_user_period_totals(period, amount)`: each group's (period, total) pairs, by
/// period. Amounts are DECIMAL(38, s) and the totals keep their scale.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UserPeriodTotals {
    signature: Signature,
}

/// The struct of one (period, total) pair; totals are DECIMAL(38, scale).
pub fn pair_fields(scale: i8) -> Fields {
    Fields::from(vec![
        Field::new("period", DataType::Int32, false),
        Field::new("total", DataType::Decimal128(38, scale), false),
    ])
}

impl UserPeriodTotals {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(UserPeriodTotals {
            // Any decimal precision: the unscaled values are read as they are.
            signature: Signature::any(2, Volatility::Immutable),
        }))
    }

    fn output_type(scale: i8) -> DataType {
        list_of(DataType::Struct(pair_fields(scale)))
    }
}

/// Reads (period, total) pairs from row `row` of a list-of-pairs array.
pub(crate) fn read_pairs(lists: &ListArray, row: usize, mut each: impl FnMut(i32, i128)) {
    if lists.is_null(row) {
        return;
    }
    let offsets = lists.value_offsets();
    let pairs = lists.values().as_struct();
    let periods = pairs.column(0).as_primitive::<Int32Type>();
    let totals = pairs.column(1).as_primitive::<Decimal128Type>();
    for index in offsets[row] as usize..offsets[row + 1] as usize {
        each(periods.value(index), totals.value(index));
    }
}

impl AggregateUDFImpl for UserPeriodTotals {
    fn name(&self) -> &str {
        "segsql_user_period_totals"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_internal_types(self.name(), arg_types, &[types::int32, types::decimal])?;
        Ok(Self::output_type(decimal_scale(self.name(), &arg_types[1])?))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let scale = decimal_scale(self.name(), args.input_fields[1].data_type())?;
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "pairs"), Self::output_type(scale), true))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        plan_err!("segsql_user_period_totals runs grouped only; it is internal, use the table function that plans it")
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let scale = decimal_scale(self.name(), args.expr_fields[1].data_type())?;
        Ok(Box::new(PairGroups::new(scale, MergedPairs::into_array)))
    }
}

/// A grouped accumulator of (period, amount) histories. Its intermediate state is the
/// merged pairs; `finish` turns them into the aggregate's result (the pairs themselves for
/// `user_period_totals`, the summary for `rfm_summary`'s aggregate).
#[derive(Debug)]
pub(crate) struct PairGroups {
    scale: i8,
    pairs: PairArena,
    finish: fn(MergedPairs, i8) -> Result<ArrayRef>,
}

impl PairGroups {
    pub(crate) fn new(scale: i8, finish: fn(MergedPairs, i8) -> Result<ArrayRef>) -> Self {
        PairGroups { scale, pairs: PairArena::default(), finish }
    }
}

impl GroupsAccumulator for PairGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        push_pair_rows(&mut self.pairs, values, group_indices, opt_filter, total_num_groups);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        (self.finish)(self.pairs.take(emit_to), self.scale)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.pairs.take(emit_to).into_array(self.scale)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        merge_pair_lists(&mut self.pairs, values, group_indices, total_num_groups);
        Ok(())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        Ok(vec![pair_rows_as_state(values, opt_filter, self.scale)?])
    }

    fn size(&self) -> usize {
        self.pairs.size()
    }
}

/// Each group's (period, total) pairs sorted by period with equal periods added up, flat.
pub(crate) struct MergedPairs {
    pub lengths: Vec<usize>,
    pub periods: Vec<i32>,
    pub totals: Vec<i128>,
}

impl MergedPairs {
    fn merge<T: Copy + Into<i128>>(mut buckets: Buckets<(i32, T)>) -> Self {
        let mut merged = MergedPairs {
            lengths: Vec::with_capacity(buckets.len()),
            periods: Vec::with_capacity(buckets.items.len()),
            totals: Vec::with_capacity(buckets.items.len()),
        };
        for group in 0..buckets.len() {
            let pairs = buckets.group_mut(group);
            pairs.sort_unstable_by_key(|pair| pair.0);
            let before = merged.periods.len();
            for &(period, total) in pairs.iter() {
                let total: i128 = total.into();
                match (merged.periods.last(), merged.totals.last_mut()) {
                    (Some(&last), Some(sum)) if merged.periods.len() > before && last == period => *sum += total,
                    _ => {
                        merged.periods.push(period);
                        merged.totals.push(total);
                    }
                }
            }
            merged.lengths.push(merged.periods.len() - before);
        }
        merged
    }
}

/// Each group's (period, amount) rows. Amounts are kept in 64 bits, which halves the
/// memory the histories take, until one does not fit; then all widen to 128 bits.
#[derive(Debug)]
pub(crate) enum PairArena {
    Narrow(GroupedItems<(i32, i64)>),
    Wide(GroupedItems<(i32, i128)>),
}

impl Default for PairArena {
    fn default() -> Self {
        PairArena::Narrow(GroupedItems::default())
    }
}

impl PairArena {
    pub(crate) fn resize(&mut self, total_num_groups: usize) {
        match self {
            PairArena::Narrow(items) => items.resize(total_num_groups),
            PairArena::Wide(items) => items.resize(total_num_groups),
        }
    }

    pub(crate) fn push(&mut self, group: usize, period: i32, total: i128) {
        if let PairArena::Narrow(items) = self {
            if let Ok(narrow) = i64::try_from(total) {
                items.push(group, (period, narrow));
                return;
            }
            let widened = std::mem::take(items).map(|(period, total)| (period, i128::from(total)));
            *self = PairArena::Wide(widened);
        }
        if let PairArena::Wide(items) = self {
            items.push(group, (period, total));
        }
    }

    /// The groups `emit_to` asks for, merged by period.
    pub(crate) fn take(&mut self, emit_to: EmitTo) -> MergedPairs {
        match self {
            PairArena::Narrow(items) => MergedPairs::merge(items.take(emit_to)),
            PairArena::Wide(items) => MergedPairs::merge(items.take(emit_to)),
        }
    }

    pub(crate) fn size(&self) -> usize {
        match self {
            PairArena::Narrow(items) => items.size(),
            PairArena::Wide(items) => items.size(),
        }
    }
}

impl MergedPairs {
    pub(crate) fn into_array(self, scale: i8) -> Result<ArrayRef> {
        let totals = Decimal128Array::from(self.totals).with_precision_and_scale(38, scale)?;
        let pairs = StructArray::try_new(
            pair_fields(scale),
            vec![Arc::new(Int32Array::from(self.periods)), Arc::new(totals)],
            None,
        )?;
        list_array(DataType::Struct(pair_fields(scale)), self.lengths, Arc::new(pairs))
    }
}

/// Appends the (period, amount) rows of a batch; a NULL amount is a period worth nothing.
fn push_pair_rows(
    pairs: &mut PairArena,
    values: &[ArrayRef],
    group_indices: &[usize],
    opt_filter: Option<&BooleanArray>,
    total_num_groups: usize,
) {
    pairs.resize(total_num_groups);
    let periods = values[0].as_primitive::<Int32Type>();
    let totals = values[1].as_primitive::<Decimal128Type>();
    for (row, &group) in group_indices.iter().enumerate() {
        if periods.is_valid(row) && is_selected(opt_filter, row) {
            let total = if totals.is_valid(row) { totals.value(row) } else { 0 };
            pairs.push(group, periods.value(row), total);
        }
    }
}

/// Appends the pairs of intermediate state lists.
fn merge_pair_lists(pairs: &mut PairArena, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) {
    pairs.resize(total_num_groups);
    let lists = values[0].as_list::<i32>();
    for (row, &group) in group_indices.iter().enumerate() {
        read_pairs(lists, row, |period, total| pairs.push(group, period, total));
    }
}

/// Input rows as one-pair state lists, for when DataFusion skips partial aggregation: the
/// input arrays become the list values as they are, with no per-row allocation.
fn pair_rows_as_state(values: &[ArrayRef], opt_filter: Option<&BooleanArray>, scale: i8) -> Result<ArrayRef> {
    let periods = values[0].as_primitive::<Int32Type>();
    let keep: Vec<bool> = (0..periods.len()).map(|row| periods.is_valid(row) && is_selected(opt_filter, row)).collect();
    let mask = BooleanArray::from(keep.clone());
    let kept_periods = datafusion::arrow::compute::filter(periods, &mask)?;
    let totals = values[1].as_primitive::<Decimal128Type>();
    // A NULL amount is a period worth nothing.
    let totals: Decimal128Array = totals.iter().map(|t| Some(t.unwrap_or(0))).collect();
    let kept_totals = datafusion::arrow::compute::filter(&totals.with_precision_and_scale(38, scale)?, &mask)?;
    let pairs = StructArray::try_new(pair_fields(scale), vec![kept_periods, kept_totals], None)?;
    list_array(DataType::Struct(pair_fields(scale)), keep.iter().map(|&k| usize::from(k)), Arc::new(pairs))
}

/// `segsql_revenue_fold(pairs, cohort)`: per-offset revenue totals of a cohort, exact, at
/// the scale of the pairs' totals.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RevenueFold {
    signature: Signature,
}

impl RevenueFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        // The pairs' decimal scale varies, so the types are checked by the plan that builds them.
        Arc::new(AggregateUDF::from(RevenueFold { signature: Signature::any(2, Volatility::Immutable) }))
    }
}

impl AggregateUDFImpl for RevenueFold {
    fn name(&self) -> &str {
        "segsql_revenue_fold"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_internal_types(self.name(), arg_types, &[types::list_of_pairs, types::int32])?;
        Ok(list_of(DataType::Decimal128(38, decimal_scale(self.name(), &arg_types[0])?)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let scale = decimal_scale(self.name(), args.input_fields[0].data_type())?;
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "totals"),
            list_of(DataType::Decimal128(38, scale)),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let scale = decimal_scale(self.name(), args.expr_fields[0].data_type())?;
        Ok(Box::new(RevenueFoldAccumulator { scale, totals: vec![] }))
    }
}

#[derive(Debug)]
struct RevenueFoldAccumulator {
    scale: i8,
    totals: Vec<i128>,
}

impl Accumulator for RevenueFoldAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let lists = values[0].as_list::<i32>();
        let cohorts = values[1].as_primitive::<Int32Type>();
        for row in 0..lists.len() {
            if cohorts.is_null(row) {
                continue;
            }
            let cohort = cohorts.value(row);
            let totals = &mut self.totals;
            read_pairs(lists, row, |period, total| {
                let offset = (period - cohort).max(0) as usize;
                if totals.len() <= offset {
                    totals.resize(offset + 1, 0);
                }
                totals[offset] += total;
            });
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for list in states[0].as_list::<i32>().iter().flatten() {
            merge_counts(&mut self.totals, list.as_primitive::<Decimal128Type>().values());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let values = Decimal128Array::from(self.totals.clone()).with_precision_and_scale(38, self.scale)?;
        let array = list_array(DataType::Decimal128(38, self.scale), [self.totals.len()], Arc::new(values))?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.totals.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_merge_by_period() {
        let mut arena = PairArena::default();
        arena.resize(2);
        for (group, (period, total)) in [(0, (3, 5)), (0, (1, 2)), (1, (7, 1)), (0, (3, 1)), (0, (1, 10))] {
            arena.push(group, period, total);
        }
        let merged = arena.take(EmitTo::All);
        assert_eq!(merged.lengths, vec![2, 1]);
        assert_eq!(merged.periods, vec![1, 3, 7]);
        assert_eq!(merged.totals, vec![12, 6, 1]);
    }

    #[test]
    fn pairs_widen_when_an_amount_needs_128_bits() {
        let mut arena = PairArena::default();
        arena.resize(1);
        arena.push(0, 1, 5);
        arena.push(0, 1, i128::from(i64::MAX) + 10);
        assert!(matches!(arena, PairArena::Wide(_)));
        let merged = arena.take(EmitTo::All);
        assert_eq!(merged.totals, vec![i128::from(i64::MAX) + 15]);
    }

    #[test]
    fn retention_fold_by_cohort_matches_its_states() {
        // Users (cohort, periods): two in cohort 10, one in cohort 11, one NULL list.
        let lists = periods_array(vec![vec![10, 12], vec![10], vec![11, 12], vec![]]).unwrap();
        let lists = Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Int32, true)),
            lists.as_list::<i32>().offsets().clone(),
            lists.as_list::<i32>().values().clone(),
            Some(vec![true, true, true, false].into()),
        )) as ArrayRef;
        let cohorts: ArrayRef = Arc::new(Int32Array::from(vec![10, 10, 11, 11]));
        let values = [lists, cohorts];
        let mut groups = RetentionFoldGroups { mode: RetentionMode::On, counts: vec![] };
        groups.update_batch(&values, &[0, 0, 1, 1], None, 2).unwrap();
        let folded = groups.evaluate(EmitTo::All).unwrap();
        let counts = |array: &ArrayRef, row: usize| {
            array.as_list::<i32>().value(row).as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(counts(&folded, 0), vec![2, 0, 1]);
        assert_eq!(counts(&folded, 1), vec![1, 1]);
        // Per-row states merged by cohort give the same counts.
        let states = groups.convert_to_state(&values, None).unwrap();
        let mut merged = RetentionFoldGroups { mode: RetentionMode::On, counts: vec![] };
        merged.merge_batch(&states, &[0, 0, 1, 1], 2).unwrap();
        assert_eq!(merged.evaluate(EmitTo::All).unwrap().as_ref(), folded.as_ref());
    }

    #[test]
    fn grouped_periods_are_sorted_and_distinct() {
        let mut groups = UserPeriodsGroups::default();
        let values: ArrayRef = Arc::new(Int32Array::from(vec![5, 3, 5, 3, 7]));
        groups.update_batch(&[values], &[0, 0, 0, 1, 1], None, 2).unwrap();
        let result = groups.evaluate(EmitTo::All).unwrap();
        let lists = result.as_list::<i32>();
        assert_eq!(lists.value(0).as_primitive::<Int32Type>().values(), &[3, 5]);
        assert_eq!(lists.value(1).as_primitive::<Int32Type>().values(), &[3, 7]);
    }
}
