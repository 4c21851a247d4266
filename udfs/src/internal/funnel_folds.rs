//! `segsql_funnel_depth` and `segsql_funnel_fold`: the two aggregates a funnel plans with.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int32Type, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use segsql_algo::cohort::funnel::{funnel_depth, step_counts};

use crate::common::constant::{internal_int, internal_text};
use crate::common::grouped::{GroupedItems, is_selected, single_list};

/// Internal aggregate `segsql_funnel_depth(ts, name, steps, window)`: the funnel depth of
/// each user, from (time in microseconds, name index) rows. `steps` lists the name index
/// of each step ('0,1,0'), `window` is the longest time from the first step in
/// microseconds, NULL for no limit.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UserFunnelDepth {
    signature: Signature,
}

impl UserFunnelDepth {
    pub fn udaf() -> Arc<AggregateUDF> {
        let signature = Signature::exact(
            vec![DataType::Int64, DataType::Int32, DataType::Utf8, DataType::Int64],
            Volatility::Immutable,
        );
        Arc::new(AggregateUDF::from(UserFunnelDepth { signature }))
    }
}

/// The comma-separated step list of an internal funnel aggregate.
fn step_list(function: &str, args: &AccumulatorArgs, index: usize) -> Result<Vec<String>> {
    Ok(internal_text(function, args.exprs, index)?.split(',').map(str::to_string).collect())
}

fn events_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

/// A user's events packed as `ts * 256 + name` would overflow for far dates, so state keeps
/// two parallel lists: times, then name indexes.
fn events_state(groups: Vec<Vec<(i64, u32)>>) -> Result<Vec<ArrayRef>> {
    let lengths: Vec<usize> = groups.iter().map(Vec::len).collect();
    let (times, names): (Vec<i64>, Vec<i64>) = groups.into_iter().flatten().map(|(t, n)| (t, n as i64)).unzip();
    let field = Arc::new(Field::new_list_field(DataType::Int64, true));
    let offsets = OffsetBuffer::from_lengths(lengths);
    Ok(vec![
        Arc::new(ListArray::try_new(field.clone(), offsets.clone(), Arc::new(Int64Array::from(times)), None)?),
        Arc::new(ListArray::try_new(field, offsets, Arc::new(Int64Array::from(names)), None)?),
    ])
}

impl AggregateUDFImpl for UserFunnelDepth {
    fn name(&self) -> &str {
        "segsql_funnel_depth"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "times"), events_type(), true)),
            Arc::new(Field::new(format_state_name(args.name, "names"), events_type(), true)),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        plan_err!("segsql_funnel_depth runs grouped only; it is internal, use the table function that plans it")
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let steps = step_list(self.name(), &args, 2)?
            .iter()
            .map(|step| step.parse::<u32>())
            .collect::<std::result::Result<Vec<u32>, _>>()
            .or_else(|e| plan_err!("segsql_funnel_depth: steps must be name indexes: {e}"))?;
        let window = internal_int(self.name(), args.exprs, 3)?;
        Ok(Box::new(FunnelGroups { steps, window, events: GroupedItems::default() }))
    }
}

#[derive(Debug)]
struct FunnelGroups {
    steps: Vec<u32>,
    window: Option<i64>,
    events: GroupedItems<(i64, u32)>,
}

impl GroupsAccumulator for FunnelGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.events.resize(total_num_groups);
        let times = values[0].as_primitive::<Int64Type>();
        let names = values[1].as_primitive::<Int32Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if times.is_valid(row) && names.is_valid(row) && is_selected(opt_filter, row) {
                self.events.push(group, (times.value(row), names.value(row) as u32));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut buckets = self.events.take(emit_to);
        let depths: Int32Array = (0..buckets.len())
            .map(|group| Some(funnel_depth(buckets.group_mut(group), &self.steps, self.window) as i32))
            .collect();
        Ok(Arc::new(depths))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let buckets = self.events.take(emit_to);
        events_state((0..buckets.len()).map(|group| buckets.group(group).to_vec()).collect())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.events.resize(total_num_groups);
        let (times, names) = (values[0].as_list::<i32>(), values[1].as_list::<i32>());
        let (time_values, name_values) =
            (times.values().as_primitive::<Int64Type>(), names.values().as_primitive::<Int64Type>());
        let offsets = times.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            for index in offsets[row] as usize..offsets[row + 1] as usize {
                self.events.push(group, (time_values.value(index), name_values.value(index) as u32));
            }
        }
        Ok(())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let times = values[0].as_primitive::<Int64Type>();
        let names = values[1].as_primitive::<Int32Type>();
        let groups = (0..times.len())
            .map(|row| {
                if times.is_valid(row) && names.is_valid(row) && is_selected(opt_filter, row) {
                    vec![(times.value(row), names.value(row) as u32)]
                } else {
                    vec![]
                }
            })
            .collect();
        events_state(groups)
    }

    fn size(&self) -> usize {
        self.events.size()
    }
}

/// Internal aggregate `segsql_funnel_fold(depth, steps)`: users' depths folded into the
/// funnel's rows; `steps` is the comma-separated list of step names.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FunnelFold {
    signature: Signature,
}

fn funnel_fields() -> Fields {
    Fields::from(vec![
        Field::new("step", DataType::Int32, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("users", DataType::Int64, false),
        Field::new("conversion_from_previous", DataType::Float64, true),
        Field::new("conversion_from_first", DataType::Float64, true),
    ])
}

impl FunnelFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        let signature = Signature::exact(vec![DataType::Int32, DataType::Utf8], Volatility::Immutable);
        Arc::new(AggregateUDF::from(FunnelFold { signature }))
    }
}

impl AggregateUDFImpl for FunnelFold {
    fn name(&self) -> &str {
        "segsql_funnel_fold"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Struct(funnel_fields()), true))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "counts"), events_type(), true))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let steps = step_list(self.name(), &args, 1)?;
        Ok(Box::new(FunnelFoldAccumulator { counts: vec![0; steps.len()], steps }))
    }
}

#[derive(Debug)]
struct FunnelFoldAccumulator {
    steps: Vec<String>,
    counts: Vec<i64>,
}

impl Accumulator for FunnelFoldAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let depths: Vec<usize> = values[0].as_primitive::<Int32Type>().iter().flatten().map(|d| d as usize).collect();
        for (count, add) in self.counts.iter_mut().zip(step_counts(&depths, self.steps.len())) {
            *count += add;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for list in states[0].as_list::<i32>().iter().flatten() {
            for (count, add) in self.counts.iter_mut().zip(list.as_primitive::<Int64Type>().values()) {
                *count += add;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![single_list(DataType::Int64, Arc::new(Int64Array::from(self.counts.clone())))?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let first = self.counts.first().copied().unwrap_or(0);
        let ratio = |num: i64, den: i64| (den > 0).then(|| num as f64 / den as f64);
        let previous: Vec<Option<f64>> = (0..self.counts.len())
            .map(|i| if i == 0 { ratio(first, first) } else { ratio(self.counts[i], self.counts[i - 1]) })
            .collect();
        let from_first: Vec<Option<f64>> = self.counts.iter().map(|&c| ratio(c, first)).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from_iter_values(1..=self.counts.len() as i32)),
            Arc::new(StringArray::from_iter_values(&self.steps)),
            Arc::new(Int64Array::from(self.counts.clone())),
            Arc::new(Float64Array::from(previous)),
            Arc::new(Float64Array::from(from_first)),
        ];
        let rows = StructArray::try_new(funnel_fields(), columns, None)?;
        single_list(DataType::Struct(funnel_fields()), Arc::new(rows))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.capacity() * 8
    }
}
