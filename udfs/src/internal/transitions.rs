//! `segsql_transitions(customer, side, segment)`: `segment_transitions`' fold. Every
//! (customer, snapshot, segment) row is kept as a key and a small code (segments are few),
//! and at the end the rows are sorted by customer, each customer's previous and current
//! segment read off, a customer twice in one snapshot refused, and the (from, to) pairs
//! counted. A hash join plus a per-customer GROUP BY to find duplicates costs several times
//! more; the table function groups by a bucket of the customer id so buckets fold in
//! parallel.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray, StringViewArray, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type, UInt32Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::common::grouped::{list_array, single_list};

const FUNCTION: &str = "segment_transitions";
/// Codes: 0 is a NULL segment, n > 0 the dictionary's entry n − 1.
const NULL_SEGMENT: u32 = 0;

/// The columns of one (from, to) cell.
pub fn transition_fields() -> Fields {
    Fields::from(vec![
        Field::new("from_segment", DataType::Utf8, true),
        Field::new("to_segment", DataType::Utf8, true),
        Field::new("customers", DataType::Int64, false),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TransitionsFold {
    signature: Signature,
}

impl TransitionsFold {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::from(TransitionsFold { signature: Signature::any(3, Volatility::Immutable) }))
    }
}

fn is_key_type(t: &DataType) -> bool {
    *t == DataType::Int64 || *t == DataType::Utf8
}

impl AggregateUDFImpl for TransitionsFold {
    fn name(&self) -> &str {
        "segsql_transitions"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        use crate::common::constant::types::int64;
        let any_text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
        crate::common::constant::check_internal_types(self.name(), arg_types, &[is_key_type, int64, any_text])?;
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Struct(transition_fields()), true))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let key = args.input_fields[0].data_type().clone();
        let list = |part, item: DataType| {
            Arc::new(Field::new(format_state_name(args.name, part), DataType::new_list(item, true), true))
        };
        Ok(vec![list("keys", key), list("tags", DataType::UInt32), list("segments", DataType::Utf8)])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let text = args.exprs[0].data_type(args.schema)? == DataType::Utf8;
        Ok(Box::new(TransitionsAccumulator { dictionary: Dictionary::default(), rows: Rows::new(text) }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let text = args.exprs[0].data_type(args.schema)? == DataType::Utf8;
        Ok(Box::new(TransitionsGroups { text, dictionary: Dictionary::default(), groups: Vec::new() }))
    }
}

/// The segments seen, numbered from 1 (0 is NULL).
#[derive(Debug, Default)]
struct Dictionary {
    segments: Vec<String>,
    codes: HashMap<String, u32>,
}

impl Dictionary {
    fn code(&mut self, segment: Option<&str>) -> u32 {
        let Some(segment) = segment else { return NULL_SEGMENT };
        if let Some(&code) = self.codes.get(segment) {
            return code;
        }
        self.segments.push(segment.to_string());
        let code = self.segments.len() as u32;
        self.codes.insert(segment.to_string(), code);
        code
    }

    fn name(&self, code: u32) -> Option<&str> {
        (code != NULL_SEGMENT).then(|| self.segments[code as usize - 1].as_str())
    }

    /// The codes of a batch's segments. Segments are few: Arrow's dictionary cast hashes each
    /// row once, and only the distinct values go through this dictionary.
    fn codes_of(&mut self, segments: &ArrayRef) -> Result<Vec<u32>> {
        if let Some(views) = segments.as_string_view_opt() {
            return Ok(self.codes_of_views(views));
        }
        let dictionary = cast(segments, &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)))?;
        let dictionary = dictionary.as_dictionary::<datafusion::arrow::datatypes::Int32Type>();
        let names = dictionary.values().as_string::<i32>();
        let codes: Vec<u32> = (0..names.len()).map(|i| self.code(names.is_valid(i).then(|| names.value(i)))).collect();
        let keys = dictionary.keys();
        Ok((0..keys.len())
            .map(|row| if keys.is_valid(row) { codes[keys.value(row) as usize] } else { NULL_SEGMENT })
            .collect())
    }

    /// The codes of a string-view batch. Parquet's dictionary pages decode to views that
    /// point at the same bytes for the same value, so equal views are looked up once per
    /// batch; a view not seen yet is resolved through its text (views that differ for the same
    /// text just cost a lookup each).
    fn codes_of_views(&mut self, array: &StringViewArray) -> Vec<u32> {
        let mut seen: HashMap<u128, u32, std::hash::BuildHasherDefault<IdHasher>> = HashMap::default();
        let views = array.views();
        (0..array.len())
            .map(|row| {
                if array.is_null(row) {
                    return NULL_SEGMENT;
                }
                *seen.entry(views[row]).or_insert_with(|| self.code(Some(array.value(row))))
            })
            .collect()
    }

    /// Codes in another accumulator's state mapped to this dictionary's.
    fn remap(&mut self, names: &ArrayRef) -> Vec<u32> {
        let names = names.as_string::<i32>();
        std::iter::once(NULL_SEGMENT).chain((0..names.len()).map(|i| self.code(Some(names.value(i))))).collect()
    }

    fn state(&self) -> ArrayRef {
        Arc::new(StringArray::from(self.segments.clone()))
    }
}

#[derive(Debug)]
enum Keys {
    Int(Vec<i64>),
    Text(Vec<String>),
}

/// One group's rows: the customer key and a tag (bit 0: 1 for the current snapshot; the
/// other bits: the segment code).
#[derive(Debug)]
struct Rows {
    keys: Keys,
    tags: Vec<u32>,
}

impl Rows {
    fn new(text: bool) -> Rows {
        Rows { keys: if text { Keys::Text(Vec::new()) } else { Keys::Int(Vec::new()) }, tags: Vec::new() }
    }

    fn push(&mut self, keys: &KeyColumn, row: usize, tag: u32) {
        // A batch's keys have the type the accumulator was made for (`KeyColumn::of`).
        match (&mut self.keys, keys) {
            (Keys::Int(values), KeyColumn::Int(ints)) => values.push(ints[row]),
            (Keys::Text(values), KeyColumn::Text(texts)) => values.push(texts.value(row).to_string()),
            _ => return,
        }
        self.tags.push(tag);
    }

    fn extend(&mut self, keys: &ArrayRef, tags: &ArrayRef, remap: &[u32]) {
        match &mut self.keys {
            Keys::Int(values) => values.extend_from_slice(keys.as_primitive::<Int64Type>().values()),
            Keys::Text(values) => {
                values.extend(keys.as_string::<i32>().iter().map(|k| k.unwrap_or_default().to_string()))
            }
        }
        let tags = tags.as_primitive::<UInt32Type>().values();
        self.tags.reserve(tags.len());
        self.tags.extend(tags.iter().map(|&tag| (remap[(tag >> 1) as usize] << 1) | (tag & 1)));
    }

    fn take_keys(&mut self) -> ArrayRef {
        match &mut self.keys {
            Keys::Int(values) => Arc::new(Int64Array::from(std::mem::take(values))),
            Keys::Text(values) => Arc::new(StringArray::from(std::mem::take(values))),
        }
    }

    fn take_tags(&mut self) -> ArrayRef {
        Arc::new(UInt32Array::from(std::mem::take(&mut self.tags)))
    }

    fn size(&self) -> usize {
        let keys = match &self.keys {
            Keys::Int(values) => values.capacity() * 8,
            Keys::Text(values) => values.iter().map(|s| s.capacity() + 24).sum(),
        };
        keys + self.tags.capacity() * 4
    }

    /// The (from, to, customers) cells of these rows, sorted by name.
    fn cells(&self, dictionary: &Dictionary) -> Result<StructArray> {
        let mut cells = Cells::new(dictionary.segments.len());
        match &self.keys {
            Keys::Int(values) => {
                if !int_cells(values, &self.tags, &mut cells) {
                    // A customer twice in a snapshot: sorting finds the smallest such id, so
                    // the error names the same customer however the rows arrived.
                    cells.clear();
                    let mut rows: Vec<(i64, u32)> = values.iter().copied().zip(self.tags.iter().copied()).collect();
                    rows.sort_unstable_by_key(|&(key, tag)| (key, tag & 1));
                    count_cells(&rows, |key| key.to_string(), &mut cells)?;
                }
            }
            Keys::Text(values) => {
                let mut rows: Vec<(&str, u32)> =
                    values.iter().map(String::as_str).zip(self.tags.iter().copied()).collect();
                rows.sort_unstable_by_key(|&(key, tag)| (key, tag & 1));
                count_cells(&rows, |key| key.to_string(), &mut cells)?;
            }
        }
        // Sorted by name, so the cells come out the same whatever order the rows came in.
        let mut named: Vec<(Option<&str>, Option<&str>, i64)> = cells
            .counted()
            .map(|(from, to, count)| {
                let from = from.map_or(Some("(new)"), |code| dictionary.name(code));
                let to = to.map_or(Some("(gone)"), |code| dictionary.name(code));
                (from, to, count)
            })
            .collect();
        named.sort_unstable();
        let from: StringArray = named.iter().map(|cell| cell.0).collect();
        let to: StringArray = named.iter().map(|cell| cell.1).collect();
        let customers = Int64Array::from_iter_values(named.iter().map(|cell| cell.2));
        let columns: Vec<ArrayRef> = vec![Arc::new(from), Arc::new(to), Arc::new(customers)];
        Ok(StructArray::try_new(transition_fields(), columns, None)?)
    }
}

/// Customers per (from, to) cell, `None` standing for '(new)' and '(gone)': a dense table,
/// as codes are small (a segment dictionary holds a handful of names).
struct Cells {
    width: usize,
    counts: Vec<i64>,
}

impl Cells {
    fn new(segments: usize) -> Cells {
        // Codes 0 (NULL segment) to `segments`, and None.
        let width = segments + 2;
        Cells { width, counts: vec![0; width * width] }
    }

    fn slot(code: Option<u32>) -> usize {
        code.map_or(0, |c| c as usize + 1)
    }

    fn add(&mut self, from: Option<u32>, to: Option<u32>) {
        self.counts[Cells::slot(from) * self.width + Cells::slot(to)] += 1;
    }

    fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    fn counted(&self) -> impl Iterator<Item = (Option<u32>, Option<u32>, i64)> + '_ {
        let code = |slot: usize| slot.checked_sub(1).map(|c| c as u32);
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, count)| *count > 0)
            .map(move |(i, count)| (code(i / self.width), code(i % self.width), *count))
    }
}

/// Multiplicative hashing for integer ids: one multiply, no per-map random state (the ids
/// are not attacker-chosen, and the counts do not depend on the map's order).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u128(&mut self, value: u128) {
        let folded = (value as u64) ^ ((value >> 64) as u64).rotate_left(32);
        self.0 = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }

    fn write_i64(&mut self, value: i64) {
        self.0 = (value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }
}

/// Counts the (from, to) cells of integer ids through a hash table of each id's two slots;
/// false (and the cells unfinished) when an id is twice in one snapshot.
fn int_cells(keys: &[i64], tags: &[u32], cells: &mut Cells) -> bool {
    const EMPTY: u32 = u32::MAX;
    let mut slots: HashMap<i64, [u32; 2], std::hash::BuildHasherDefault<IdHasher>> =
        // Half the rows: most customers are in both snapshots, and a table sized for every row
        // would be twice the memory to touch.
        HashMap::with_capacity_and_hasher(keys.len() / 2 + 1, Default::default());
    for (&key, &tag) in keys.iter().zip(tags) {
        let slot = &mut slots.entry(key).or_insert([EMPTY, EMPTY])[(tag & 1) as usize];
        if *slot != EMPTY {
            return false;
        }
        *slot = tag >> 1;
    }
    let seen = |code: u32| (code != EMPTY).then_some(code);
    for [from, to] in slots.into_values() {
        cells.add(seen(from), seen(to));
    }
    true
}

/// Counts the (from, to) cells of rows sorted by key, refusing a key twice in a snapshot.
fn count_cells<K: PartialEq + Copy>(
    rows: &[(K, u32)],
    customer: impl Fn(K) -> String,
    cells: &mut Cells,
) -> Result<()> {
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && rows[end].0 == rows[start].0 {
            end += 1;
        }
        let (mut from, mut to) = (None, None);
        for &(key, tag) in &rows[start..end] {
            let (slot, snapshot) = if tag & 1 == 0 { (&mut from, "previous") } else { (&mut to, "current") };
            if slot.is_some() {
                let count = rows[start..end].iter().filter(|r| r.1 & 1 == tag & 1).count();
                return exec_err!(
                    "{FUNCTION}: customer {} appears {count} times in the {snapshot} snapshot; \
                     each snapshot needs one row per customer (deduplicate it first, e.g. keep the latest row per customer)",
                    customer(key)
                );
            }
            *slot = Some(tag >> 1);
        }
        cells.add(from, to);
        start = end;
    }
    Ok(())
}

/// A batch's keys, cast as the fold stores them and downcast once.
enum KeyColumn {
    Int(ScalarBuffer<i64>),
    Text(StringArray),
}

impl KeyColumn {
    fn of(keys: &ArrayRef, text: bool) -> Result<KeyColumn> {
        Ok(if text {
            KeyColumn::Text(cast(keys, &DataType::Utf8)?.as_string::<i32>().clone())
        } else {
            KeyColumn::Int(cast(keys, &DataType::Int64)?.as_primitive::<Int64Type>().values().clone())
        })
    }
}

/// The fold without grouping (text ids).
#[derive(Debug)]
struct TransitionsAccumulator {
    dictionary: Dictionary,
    rows: Rows,
}

impl Accumulator for TransitionsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let keys = KeyColumn::of(&values[0], matches!(self.rows.keys, Keys::Text(_)))?;
        let sides = values[1].as_primitive::<Int64Type>();
        let codes = self.dictionary.codes_of(&values[2])?;
        for (row, code) in codes.into_iter().enumerate() {
            self.rows.push(&keys, row, (code << 1) | u32::from(sides.value(row) != 0));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (keys, tags, segments) =
            (states[0].as_list::<i32>(), states[1].as_list::<i32>(), states[2].as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_valid(row) {
                let remap = self.dictionary.remap(&segments.value(row));
                self.rows.extend(&keys.value(row), &tags.value(row), &remap);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys = self.rows.take_keys();
        let key_type = keys.data_type().clone();
        Ok(vec![
            single_list(key_type, keys)?,
            single_list(DataType::UInt32, self.rows.take_tags())?,
            single_list(DataType::Utf8, self.dictionary.state())?,
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let cells = self.rows.cells(&self.dictionary)?;
        single_list(DataType::Struct(transition_fields()), Arc::new(cells))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// The fold per bucket of integer ids: rows go straight to their group's vectors.
#[derive(Debug)]
struct TransitionsGroups {
    text: bool,
    dictionary: Dictionary,
    groups: Vec<Rows>,
}

impl TransitionsGroups {
    fn grow(&mut self, total: usize) {
        while self.groups.len() < total {
            self.groups.push(Rows::new(self.text));
        }
    }
}

impl GroupsAccumulator for TransitionsGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let keys = KeyColumn::of(&values[0], self.text)?;
        let sides = values[1].as_primitive::<Int64Type>();
        let codes = self.dictionary.codes_of(&values[2])?;
        for (row, &group) in group_indices.iter().enumerate() {
            if crate::common::grouped::is_selected(opt_filter, row) {
                self.groups[group].push(&keys, row, (codes[row] << 1) | u32::from(sides.value(row) != 0));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.grow(total_num_groups);
        let (keys, tags, segments) =
            (values[0].as_list::<i32>(), values[1].as_list::<i32>(), values[2].as_list::<i32>());
        for (row, &group) in group_indices.iter().enumerate() {
            if keys.is_valid(row) {
                let remap = self.dictionary.remap(&segments.value(row));
                self.groups[group].extend(&keys.value(row), &tags.value(row), &remap);
            }
        }
        Ok(())
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut groups = emit_to.take_needed(&mut self.groups);
        let lengths: Vec<usize> = groups.iter().map(|g| g.tags.len()).collect();
        let key_type = if self.text { DataType::Utf8 } else { DataType::Int64 };
        let keys: Vec<ArrayRef> = groups.iter_mut().map(Rows::take_keys).collect();
        let tags: Vec<ArrayRef> = groups.iter_mut().map(Rows::take_tags).collect();
        let concat = |arrays: &[ArrayRef], item: &DataType| -> Result<ArrayRef> {
            if arrays.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(item));
            }
            let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
            Ok(datafusion::arrow::compute::concat(&refs)?)
        };
        let segments = self.dictionary.state();
        let segment_values: Vec<ArrayRef> = groups.iter().map(|_| Arc::clone(&segments)).collect();
        Ok(vec![
            list_array(key_type.clone(), lengths.clone(), concat(&keys, &key_type)?)?,
            list_array(DataType::UInt32, lengths, concat(&tags, &DataType::UInt32)?)?,
            list_array(
                DataType::Utf8,
                groups.iter().map(|_| segments.len()),
                concat(&segment_values, &DataType::Utf8)?,
            )?,
        ])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let cells: Vec<StructArray> = groups.iter().map(|g| g.cells(&self.dictionary)).collect::<Result<_>>()?;
        let lengths: Vec<usize> = cells.iter().map(|c| c.len()).collect();
        let item = DataType::Struct(transition_fields());
        let values: ArrayRef = if cells.is_empty() {
            datafusion::arrow::array::new_empty_array(&item)
        } else {
            let refs: Vec<&dyn Array> = cells.iter().map(|a| a as &dyn Array).collect();
            datafusion::arrow::compute::concat(&refs)?
        };
        list_array(item, lengths, values)
    }

    fn convert_to_state(&self, _values: &[ArrayRef], _opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        // Never called: supports_convert_to_state is false, so partial aggregation is not skipped.
        datafusion::common::internal_err!("segsql_transitions: rows are not converted to states one by one")
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.groups.iter().map(Rows::size).sum::<usize>()
    }
}
