//! Per-group histories for grouped accumulators, kept in one arena.
//!
//! Accumulators that must remember every (period, amount) of each user would otherwise hold
//! one vector per user: millions of small allocations, reallocations and scattered writes.
//! Here every item is appended to one vector with its group number, and the items are
//! bucketed by group (a counting sort, linear time) only when the groups are emitted.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::EmitTo;

/// Items of many groups, bucketed on demand.
#[derive(Debug)]
pub struct GroupedItems<T> {
    groups: Vec<u32>,
    items: Vec<T>,
    num_groups: usize,
}

impl<T> Default for GroupedItems<T> {
    fn default() -> Self {
        GroupedItems { groups: Vec::new(), items: Vec::new(), num_groups: 0 }
    }
}

/// Items bucketed by group: group `g` owns `items[offsets[g]..offsets[g + 1]]`, in the
/// order they arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct Buckets<T> {
    pub offsets: Vec<usize>,
    pub items: Vec<T>,
}

impl<T> Buckets<T> {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn group(&self, group: usize) -> &[T] {
        &self.items[self.offsets[group]..self.offsets[group + 1]]
    }

    pub fn group_mut(&mut self, group: usize) -> &mut [T] {
        let (start, end) = (self.offsets[group], self.offsets[group + 1]);
        &mut self.items[start..end]
    }
}

impl<T: Copy> GroupedItems<T> {
    /// The same groups with every item converted.
    pub fn map<U>(self, convert: impl Fn(T) -> U) -> GroupedItems<U> {
        GroupedItems {
            groups: self.groups,
            items: self.items.into_iter().map(convert).collect(),
            num_groups: self.num_groups,
        }
    }

    pub fn resize(&mut self, total_num_groups: usize) {
        self.num_groups = self.num_groups.max(total_num_groups);
    }

    pub fn push(&mut self, group: usize, item: T) {
        self.groups.push(group as u32);
        self.items.push(item);
    }

    pub fn size(&self) -> usize {
        self.groups.capacity() * size_of::<u32>() + self.items.capacity() * size_of::<T>()
    }

    /// Removes the groups `emit_to` asks for, bucketed; later groups are renumbered from 0.
    pub fn take(&mut self, emit_to: EmitTo) -> Buckets<T> {
        let taken_groups = match emit_to {
            EmitTo::All => self.num_groups,
            EmitTo::First(n) => n.min(self.num_groups),
        };
        let mut offsets = vec![0usize; taken_groups + 1];
        for &group in &self.groups {
            if (group as usize) < taken_groups {
                offsets[group as usize + 1] += 1;
            }
        }
        for index in 1..offsets.len() {
            offsets[index] += offsets[index - 1];
        }
        // Gather through a permutation so the output is written once and never zero-filled.
        let mut order = vec![0u32; offsets[taken_groups]];
        let mut next = offsets[..taken_groups].to_vec();
        for (index, &group) in self.groups.iter().enumerate() {
            let group = group as usize;
            if group < taken_groups {
                order[next[group]] = index as u32;
                next[group] += 1;
            }
        }
        if taken_groups == self.num_groups {
            // Freed before the gather: at emit time this arena is the largest thing alive.
            self.groups = Vec::new();
        }
        let items: Vec<T> = order.iter().map(|&index| self.items[index as usize]).collect();
        drop(order);
        if taken_groups == self.num_groups {
            self.items = Vec::new();
        } else {
            let mut kept = 0;
            for index in 0..self.groups.len() {
                let group = self.groups[index] as usize;
                if group >= taken_groups {
                    self.groups[kept] = (group - taken_groups) as u32;
                    self.items[kept] = self.items[index];
                    kept += 1;
                }
            }
            self.groups.truncate(kept);
            self.items.truncate(kept);
        }
        self.num_groups -= taken_groups;
        Buckets { offsets, items }
    }
}

/// `values` as a one-row list: an accumulator's list state or result.
pub fn single_list(item: DataType, values: ArrayRef) -> Result<ScalarValue> {
    let len = values.len();
    Ok(ScalarValue::List(Arc::new(ListArray::try_new(
        Arc::new(Field::new_list_field(item, true)),
        OffsetBuffer::from_lengths([len]),
        values,
        None,
    )?)))
}

pub fn list_array(item: DataType, lengths: impl IntoIterator<Item = usize>, values: ArrayRef) -> Result<ArrayRef> {
    Ok(Arc::new(ListArray::try_new(
        Arc::new(Field::new_list_field(item, true)),
        OffsetBuffer::from_lengths(lengths),
        values,
        None,
    )?))
}

pub fn is_selected(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

/// Each group's periods sorted with repeats removed, flat, with the groups' lengths.
pub fn distinct_periods(mut buckets: Buckets<i32>) -> (Vec<usize>, Vec<i32>) {
    let mut lengths = Vec::with_capacity(buckets.len());
    let mut distinct = Vec::with_capacity(buckets.items.len());
    for group in 0..buckets.len() {
        let periods = buckets.group_mut(group);
        periods.sort_unstable();
        let before = distinct.len();
        for &period in periods.iter() {
            if distinct.len() == before || distinct.last() != Some(&period) {
                distinct.push(period);
            }
        }
        lengths.push(distinct.len() - before);
    }
    (lengths, distinct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_arrival_order() {
        let mut grouped = GroupedItems::default();
        grouped.resize(3);
        for (group, item) in [(2, 'a'), (0, 'b'), (2, 'c'), (1, 'd'), (0, 'e')] {
            grouped.push(group, item);
        }
        let buckets = grouped.take(EmitTo::All);
        assert_eq!(buckets.len(), 3);
        assert_eq!(buckets.group(0), &['b', 'e']);
        assert_eq!(buckets.group(1), &['d']);
        assert_eq!(buckets.group(2), &['a', 'c']);
        assert_eq!(grouped.size(), 0);
    }

    #[test]
    fn emitting_the_first_groups_renumbers_the_rest() {
        let mut grouped = GroupedItems::default();
        grouped.resize(3);
        for (group, item) in [(2, 1), (0, 2), (1, 3), (2, 4)] {
            grouped.push(group, item);
        }
        let first = grouped.take(EmitTo::First(2));
        assert_eq!(first.group(0), &[2]);
        assert_eq!(first.group(1), &[3]);
        let rest = grouped.take(EmitTo::All);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest.group(0), &[1, 4]);
    }

    #[test]
    fn empty_groups_are_empty_slices() {
        let mut grouped: GroupedItems<i32> = GroupedItems::default();
        grouped.resize(2);
        let buckets = grouped.take(EmitTo::All);
        assert_eq!(buckets.group(1), &[] as &[i32]);
    }
}
