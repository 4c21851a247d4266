//! `segsql_transitions(customer, side, segment)`: `segment_transitions`' fold. Every
//! (customer, snapshot, segment) row is kept as a key and a small code (segments are few),
//! and at the end the rows are sorted by customer, each customer's previous and current
//! segment read off, a customer twice in one snapshot refused, and the (from, to) pairs
//! counted. A hash join plus a per-customer GROUP BY to find duplicates costs several times
//! more; the table function groups by a bucket of the customer id so buckets fold in
//! parallel.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use crate::common::grouped::single_list;

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
        use crate::common::constant::types::{int64, text};
        crate::common::constant::check_internal_types(self.name(), arg_types, &[is_key_type, int64, text])?;
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Struct(transition_fields()), true))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let key = args.input_fields[0].data_type().clone();
        let list = |part, item: DataType| {
            Arc::new(Field::new(format_state_name(args.name, part), DataType::new_list(item, true), true))
        };
        Ok(vec![list("keys", key), list("tags", DataType::Int64), list("segments", DataType::Utf8)])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let text = args.exprs[0].data_type(args.schema)? == DataType::Utf8;
        Ok(Box::new(TransitionsAccumulator {
            keys: if text { Keys::Text(Vec::new()) } else { Keys::Int(Vec::new()) },
            tags: Vec::new(),
            segments: Vec::new(),
            codes: HashMap::new(),
        }))
    }
}

#[derive(Debug)]
enum Keys {
    Int(Vec<i64>),
    Text(Vec<String>),
}

#[derive(Debug)]
struct TransitionsAccumulator {
    keys: Keys,
    /// Per row: the snapshot (bit 0: 1 for current) and the segment code (the other bits).
    tags: Vec<u32>,
    /// This accumulator's segment dictionary.
    segments: Vec<String>,
    codes: HashMap<String, u32>,
}

impl TransitionsAccumulator {
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

    fn push_keys(&mut self, keys: &ArrayRef) -> Result<()> {
        match &mut self.keys {
            Keys::Int(values) => {
                let keys = cast(keys, &DataType::Int64)?;
                values.extend(keys.as_primitive::<Int64Type>().iter().map(|k| k.unwrap_or_default()));
            }
            Keys::Text(values) => {
                let keys = cast(keys, &DataType::Utf8)?;
                values.extend(keys.as_string::<i32>().iter().map(|k| k.unwrap_or_default().to_string()));
            }
        }
        Ok(())
    }

    /// Counts the (from, to) cells of rows sorted by key, refusing a key twice in a snapshot.
    fn count_cells<K: PartialEq>(
        &self,
        rows: &[(K, u32)],
        customer: impl Fn(&(K, u32)) -> String,
        cells: &mut HashMap<(Option<u32>, Option<u32>), i64>,
    ) -> Result<()> {
        let mut start = 0;
        while start < rows.len() {
            let mut end = start + 1;
            while end < rows.len() && rows[end].0 == rows[start].0 {
                end += 1;
            }
            let (mut from, mut to) = (None, None);
            for row in &rows[start..end] {
                let tag = row.1;
                let (slot, snapshot) = if tag & 1 == 0 { (&mut from, "previous") } else { (&mut to, "current") };
                if slot.is_some() {
                    let count = rows[start..end].iter().filter(|r| r.1 & 1 == tag & 1).count();
                    return exec_err!(
                        "{FUNCTION}: customer {} appears {count} times in the {snapshot} snapshot; \
                         each snapshot needs one row per customer (deduplicate it first, e.g. keep the latest row per customer)",
                        customer(row)
                    );
                }
                *slot = Some(tag >> 1);
            }
            *cells.entry((from, to)).or_default() += 1;
            start = end;
        }
        Ok(())
    }

    fn name(&self, code: u32) -> Option<&str> {
        (code != NULL_SEGMENT).then(|| self.segments[code as usize - 1].as_str())
    }
}

impl Accumulator for TransitionsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push_keys(&values[0])?;
        let sides = values[1].as_primitive::<Int64Type>();
        // Segments are few: Arrow's dictionary cast hashes each row once, and only the
        // distinct values go through this accumulator's own dictionary.
        let dictionary = cast(&values[2], &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)))?;
        let dictionary = dictionary.as_dictionary::<datafusion::arrow::datatypes::Int32Type>();
        let names = dictionary.values().as_string::<i32>();
        let codes: Vec<u32> = (0..names.len()).map(|i| self.code(names.is_valid(i).then(|| names.value(i)))).collect();
        let keys = dictionary.keys();
        for row in 0..sides.len() {
            let code = if keys.is_valid(row) { codes[keys.value(row) as usize] } else { NULL_SEGMENT };
            self.tags.push((code << 1) | u32::from(sides.value(row) != 0));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (keys, tags, segments) =
            (states[0].as_list::<i32>(), states[1].as_list::<i32>(), states[2].as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let names = segments.value(row);
            let names = names.as_string::<i32>();
            let remap: Vec<u32> = std::iter::once(NULL_SEGMENT)
                .chain((0..names.len()).map(|i| self.code(Some(names.value(i)))))
                .collect();
            self.push_keys(&keys.value(row))?;
            let row_tags = tags.value(row);
            for &tag in row_tags.as_primitive::<Int64Type>().values() {
                let tag = tag as u32;
                self.tags.push((remap[(tag >> 1) as usize] << 1) | (tag & 1));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys: ArrayRef = match &mut self.keys {
            Keys::Int(values) => Arc::new(Int64Array::from(std::mem::take(values))),
            Keys::Text(values) => Arc::new(StringArray::from(std::mem::take(values))),
        };
        let key_type = keys.data_type().clone();
        let tags = Arc::new(Int64Array::from_iter_values(self.tags.drain(..).map(i64::from)));
        let segments = Arc::new(StringArray::from(self.segments.clone()));
        Ok(vec![
            single_list(key_type, keys)?,
            single_list(DataType::Int64, tags)?,
            single_list(DataType::Utf8, segments)?,
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // (from, to) with None for '(new)' and '(gone)', counted.
        let mut cells: HashMap<(Option<u32>, Option<u32>), i64> = HashMap::new();
        match &self.keys {
            Keys::Int(values) => {
                // Sorted as (key, tag) pairs in one contiguous vector: the previous row of a
                // customer (even tag) comes before the current one.
                let mut rows: Vec<(i64, u32)> = values.iter().copied().zip(self.tags.iter().copied()).collect();
                rows.sort_unstable_by_key(|&(key, tag)| (key, tag & 1));
                self.count_cells(&rows, |row| row.0.to_string(), &mut cells)?;
            }
            Keys::Text(values) => {
                let mut rows: Vec<(&str, u32)> =
                    values.iter().map(String::as_str).zip(self.tags.iter().copied()).collect();
                rows.sort_unstable_by_key(|&(key, tag)| (key, tag & 1));
                self.count_cells(&rows, |row| row.0.to_string(), &mut cells)?;
            }
        }
        // Sorted by name, so the list is the same whatever order the rows came in.
        let mut named: Vec<(Option<&str>, Option<&str>, i64)> = cells
            .into_iter()
            .map(|((from, to), count)| {
                let from = match from {
                    None => Some("(new)"),
                    Some(code) => self.name(code),
                };
                let to = match to {
                    None => Some("(gone)"),
                    Some(code) => self.name(code),
                };
                (from, to, count)
            })
            .collect();
        named.sort_unstable();
        let from: StringArray = named.iter().map(|cell| cell.0).collect();
        let to: StringArray = named.iter().map(|cell| cell.1).collect();
        let customers = Int64Array::from_iter_values(named.iter().map(|cell| cell.2));
        let columns: Vec<ArrayRef> = vec![Arc::new(from), Arc::new(to), Arc::new(customers)];
        let items = StructArray::try_new(transition_fields(), columns, None)?;
        single_list(DataType::Struct(transition_fields()), Arc::new(items))
    }

    fn size(&self) -> usize {
        let keys = match &self.keys {
            Keys::Int(values) => values.capacity() * 8,
            Keys::Text(values) => values.iter().map(|s| s.capacity() + 24).sum(),
        };
        size_of_val(self) + keys + self.tags.capacity() * 4
    }
}
