//! `segsql_btyd(period, amount)`: a customer's buy-till-you-die summary (rfm_summary).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int32Array, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Fields, Int32Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use segsql_algo::rfm::btyd::{self, BtydSummary};

use crate::common::constant::{check_internal_types, decimal_scale, types};
use crate::common::grouped::{GroupedItems, distinct_periods, is_selected, list_array};

fn summary_fields() -> Fields {
    Fields::from(vec![
        Field::new("frequency", DataType::Float64, false),
        Field::new("recency", DataType::Float64, false),
        Field::new("first", DataType::Int32, false),
        Field::new("last", DataType::Int32, false),
        Field::new("monetary_value", DataType::Float64, false),
    ])
}

/// The internal aggregate `segsql_btyd(period, amount)`: a customer's summary, from
/// DECIMAL amounts of any precision whose scale the type gives.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BtydAggregate {
    signature: Signature,
}

impl BtydAggregate {
    pub fn udaf() -> Arc<AggregateUDF> {
        // Any decimal precision: the unscaled values are read as they are.
        let signature = Signature::any(2, Volatility::Immutable);
        Arc::new(AggregateUDF::from(BtydAggregate { signature }))
    }
}

impl AggregateUDFImpl for BtydAggregate {
    fn name(&self) -> &str {
        "segsql_btyd"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_internal_types(self.name(), arg_types, &[types::int32, types::decimal])?;
        Ok(DataType::Struct(summary_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let total = DataType::Decimal128(38, decimal_scale(self.name(), args.input_fields[1].data_type())?);
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "periods"),
                DataType::new_list(DataType::Int32, true),
                true,
            )),
            Arc::new(Field::new(format_state_name(args.name, "first"), DataType::Int32, true)),
            Arc::new(Field::new(format_state_name(args.name, "first_total"), total.clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "total"), total, true)),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        plan_err!("segsql_btyd runs grouped only; it is internal, use the table function that plans it")
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(BtydGroups::new(decimal_scale(self.name(), args.expr_fields[1].data_type())?)))
    }
}

/// Each customer's periods, plus three running figures: the first period, its total and
/// the grand total. The summary needs no other amounts (the repeat total is the grand total
/// minus the first period's), so a row costs 8 bytes of history instead of a (period,
/// amount) pair, and the partial states carry no per-period amounts.
#[derive(Debug)]
struct BtydGroups {
    scale: i8,
    periods: GroupedItems<i32>,
    first: Vec<i32>,
    first_total: Vec<i128>,
    total: Vec<i128>,
}

/// What `BtydGroups::take` hands over: each group's period count, the periods one group
/// after another, and the running figures.
struct Taken {
    lengths: Vec<usize>,
    periods: Vec<i32>,
    first: Vec<i32>,
    first_total: Vec<i128>,
    total: Vec<i128>,
}

/// "No period yet": larger than any period, so the first real one replaces it.
const NO_PERIOD: i32 = i32::MAX;

impl BtydGroups {
    fn new(scale: i8) -> Self {
        BtydGroups { scale, periods: GroupedItems::default(), first: vec![], first_total: vec![], total: vec![] }
    }

    fn resize(&mut self, total_num_groups: usize) {
        self.periods.resize(total_num_groups);
        if self.first.len() < total_num_groups {
            self.first.resize(total_num_groups, NO_PERIOD);
            self.first_total.resize(total_num_groups, 0);
            self.total.resize(total_num_groups, 0);
        }
    }

    /// Adds `total` spent in `period`, or a partial state's first period and totals.
    #[inline]
    fn add(&mut self, group: usize, first: i32, first_total: i128, total: i128) {
        self.total[group] += total;
        if first < self.first[group] {
            self.first[group] = first;
            self.first_total[group] = first_total;
        } else if first == self.first[group] {
            self.first_total[group] += first_total;
        }
    }

    /// The distinct sorted periods of the groups `emit_to` asks for, with the running
    /// figures taken out alongside.
    fn take(&mut self, emit_to: EmitTo) -> Taken {
        let (lengths, periods) = distinct_periods(self.periods.take(emit_to));
        Taken {
            lengths,
            periods,
            first: emit_to.take_needed(&mut self.first),
            first_total: emit_to.take_needed(&mut self.first_total),
            total: emit_to.take_needed(&mut self.total),
        }
    }

    fn decimal(&self, values: Vec<i128>) -> Result<Decimal128Array> {
        Ok(Decimal128Array::from(values).with_precision_and_scale(38, self.scale)?)
    }
}

impl GroupsAccumulator for BtydGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let periods = values[0].as_primitive::<Int32Type>();
        let amounts = values[1].as_primitive::<Decimal128Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if periods.is_valid(row) && is_selected(opt_filter, row) {
                let period = periods.value(row);
                // A NULL amount is a period worth nothing.
                let amount = if amounts.is_valid(row) { amounts.value(row) } else { 0 };
                self.periods.push(group, period);
                self.add(group, period, amount, amount);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let Taken { lengths, periods, first_total, total, .. } = self.take(emit_to);
        let groups = lengths.len();
        let (mut frequency, mut recency, mut firsts, mut lasts, mut monetary) = (
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
        );
        let mut start = 0;
        for (group, length) in lengths.into_iter().enumerate() {
            let own = &periods[start..start + length];
            start += length;
            let summary = btyd::summary(own, first_total[group], total[group], self.scale).unwrap_or(BtydSummary {
                frequency: 0.0,
                recency: 0.0,
                first: 0,
                last: 0,
                monetary_value: 0.0,
            });
            frequency.push(summary.frequency);
            recency.push(summary.recency);
            firsts.push(summary.first);
            lasts.push(summary.last);
            monetary.push(summary.monetary_value);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(frequency)),
            Arc::new(Float64Array::from(recency)),
            Arc::new(Int32Array::from(firsts)),
            Arc::new(Int32Array::from(lasts)),
            Arc::new(Float64Array::from(monetary)),
        ];
        Ok(Arc::new(StructArray::try_new(summary_fields(), columns, None)?))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let Taken { lengths, periods, first, first_total, total } = self.take(emit_to);
        let first: Int32Array = first.into_iter().map(|p| (p != NO_PERIOD).then_some(p)).collect();
        Ok(vec![
            list_array(DataType::Int32, lengths, Arc::new(Int32Array::from(periods)))?,
            Arc::new(first),
            Arc::new(self.decimal(first_total)?),
            Arc::new(self.decimal(total)?),
        ])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.resize(total_num_groups);
        let lists = values[0].as_list::<i32>();
        let items = lists.values().as_primitive::<Int32Type>();
        let offsets = lists.value_offsets();
        let first = values[1].as_primitive::<Int32Type>();
        let first_total = values[2].as_primitive::<Decimal128Type>();
        let total = values[3].as_primitive::<Decimal128Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if first.is_null(row) {
                continue;
            }
            for index in offsets[row] as usize..offsets[row + 1] as usize {
                self.periods.push(group, items.value(index));
            }
            self.add(group, first.value(row), first_total.value(row), total.value(row));
        }
        Ok(())
    }

    /// Input rows as one-period states, for when DataFusion skips partial aggregation.
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let periods = values[0].as_primitive::<Int32Type>();
        let amounts = values[1].as_primitive::<Decimal128Type>();
        let keep: Vec<bool> =
            (0..periods.len()).map(|row| periods.is_valid(row) && is_selected(opt_filter, row)).collect();
        let mut items = Vec::with_capacity(periods.len());
        let mut first = Vec::with_capacity(periods.len());
        let mut sums = Vec::with_capacity(periods.len());
        for (row, &kept) in keep.iter().enumerate() {
            if kept {
                items.push(periods.value(row));
                first.push(Some(periods.value(row)));
                sums.push(if amounts.is_valid(row) { amounts.value(row) } else { 0 });
            } else {
                first.push(None);
                sums.push(0);
            }
        }
        let totals = Arc::new(self.decimal(sums)?);
        Ok(vec![
            list_array(DataType::Int32, keep.iter().map(|&k| usize::from(k)), Arc::new(Int32Array::from(items)))?,
            Arc::new(Int32Array::from(first)),
            totals.clone(),
            totals,
        ])
    }

    fn size(&self) -> usize {
        self.periods.size() + self.first.capacity() * 4 + (self.first_total.capacity() + self.total.capacity()) * 16
    }
}
