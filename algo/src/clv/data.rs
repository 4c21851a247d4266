//! The customers a buy-till-you-die model is fitted on, checked as lifetimes checks them
//! and folded into distinct rows with weights, so that each likelihood pass does the
//! special functions once per distinct frequency and the rest once per distinct history.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::AlgoError;
use crate::parallel::{Threads, map_chunks, map_chunks_mut};

/// Distinct (frequency, recency, T) histories with their counts, sorted, and the distinct
/// frequencies they use.
#[derive(Debug, Clone, PartialEq)]
pub struct Histories {
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub age: Vec<f64>,
    pub weight: Vec<f64>,
    /// Index of each row's frequency in `frequencies`.
    pub frequency_index: Vec<u32>,
    pub frequencies: Vec<f64>,
    /// Recency and T as indices into their sorted distinct values: daily data has a few
    /// hundred of each, so a likelihood pass takes ln(α + t) once per value.
    pub recencies: Distinct,
    pub ages: Distinct,
    /// Customers (the sum of the weights).
    pub customers: u64,
    pub max_age: f64,
}

/// Whether a finite `v` is a whole number: `fract` is a libm call where SSE4.1 is not
/// assumed, and scoring asks this of every row.
#[inline]
pub fn is_whole(v: f64) -> bool {
    // Small whole numbers, the usual case, through i32 (one instruction each way; a value
    // `as` saturates or a NaN is not equal to its conversion back). Otherwise: below 2^52 in
    // magnitude truncation is exact; from there on every f64 is whole.
    let small = v as i32;
    if small as f64 == v {
        return true;
    }
    v.is_finite() && (v.abs() >= 4_503_599_627_370_496.0 || v as i64 as f64 == v)
}

/// `v` as an index below `n` (at most 2^31 − 1), when it is a whole number from 0 (or −0)
/// to n − 1: for tables indexed by rfm_summary's whole periods.
#[inline]
pub fn whole_index(v: f64, n: usize) -> Option<usize> {
    debug_assert!(n <= i32::MAX as usize);
    // Through i32, one instruction each way: f64 to usize and back take a dozen without
    // AVX-512, and scoring asks this several times a row. `as` saturates (NaN to 0, the rest
    // to i32's ends), so a value it changed is not equal to its conversion back, and a
    // negative one is above n as u32.
    let i = v as i32;
    (i as f64 == v && (i as u32 as usize) < n).then_some(i as u32 as usize)
}

/// Whether a history keeps every rule of [`check_history`] (so its numbers are finite too):
/// all at once (NaN fails a comparison), for the usual history (scoring checks every row);
/// only one that breaks a rule needs them one by one, for its message.
#[inline]
pub fn history_is_fine(frequency: f64, recency: f64, age: f64) -> bool {
    // `&`, not `&&`: every comparison is made, and the row takes one branch, not six.
    let fine = age.is_finite()
        & (frequency >= 0.0)
        & (recency >= 0.0)
        & (recency <= age)
        & ((frequency != 0.0) | (recency == 0.0));
    fine && is_whole(frequency)
}

/// Checks one customer's history: what lifetimes refuses is refused here, with the row.
#[inline]
pub fn check_history(frequency: f64, recency: f64, age: f64) -> Result<(), AlgoError> {
    if history_is_fine(frequency, recency, age) {
        return Ok(());
    }
    let bad = |rule: &'static str| Err(AlgoError::BadHistory { rule, frequency, recency, age });
    if !(frequency.is_finite() && recency.is_finite() && age.is_finite()) {
        return bad("frequency, recency and T must be finite numbers");
    }
    if frequency < 0.0 || recency < 0.0 || age < 0.0 {
        return bad("frequency, recency and T must not be negative");
    }
    if !is_whole(frequency) {
        return bad("frequency counts repeat purchases and must be a whole number");
    }
    if recency > age {
        return bad("recency (first to last purchase) cannot exceed T (first purchase to the end)");
    }
    if frequency == 0.0 && recency != 0.0 {
        return bad("a customer with frequency 0 has recency 0");
    }
    Ok(())
}

/// A hash for f64 bit patterns: MurmurHash3's 64-bit finaliser (the keys are the data's
/// own values, chosen by nobody hostile, and SipHash would be most of the cost). Whole
/// numbers differ only in their high bits, which the finaliser spreads to the low ones.
#[derive(Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        let mut h = self.0 ^ v;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = h ^ (h >> 33);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Values as indices into their sorted distinct values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distinct {
    pub values: Vec<f64>,
    pub index: Vec<u32>,
}

/// Whole values below this are ranked through a table rather than the hash table:
/// rfm_summary's periods are whole numbers of days, weeks or months.
const WHOLE_TABLE: usize = 1 << 16;

impl Distinct {
    /// For non-negative values (their bit patterns sort as the numbers do; a −0 is ranked
    /// as 0, so callers fold it first, with `+ 0.0`). Recencies and ages take few values, so
    /// the rank table and the hash table of the rest stay in cache.
    fn new(values: &[f64]) -> Distinct {
        Distinct::of(values.len(), |i| values[i])
    }

    /// [`Distinct::new`] of `value(0..n)`, without a copy of the values. A whole value below
    /// [`WHOLE_TABLE`] finds its rank in a table (an array read, where hashing was most of
    /// the cost); others go through the hash table.
    fn of(n: usize, value: impl Fn(usize) -> f64) -> Distinct {
        let mut table: Vec<u32> = Vec::new();
        let mut seen: HashMap<u64, u32, BuildHasherDefault<BitsHasher>> = HashMap::default();
        for i in 0..n {
            let v = value(i);
            match whole_index(v, WHOLE_TABLE) {
                Some(w) => {
                    if w >= table.len() {
                        table.resize((w + 1).next_power_of_two(), u32::MAX);
                    }
                    table[w] = 0;
                }
                None => {
                    seen.entry(v.to_bits()).or_insert(0);
                }
            }
        }
        let whole = table.iter().enumerate().filter(|(_, r)| **r == 0).map(|(w, _)| (w as f64).to_bits());
        let mut distinct: Vec<u64> = whole.chain(seen.keys().copied()).collect();
        distinct.sort_unstable();
        for (rank, bits) in distinct.iter().enumerate() {
            match whole_index(f64::from_bits(*bits), WHOLE_TABLE) {
                Some(w) => table[w] = rank as u32,
                None => {
                    seen.insert(*bits, rank as u32);
                }
            }
        }
        let index = (0..n)
            .map(|i| {
                let v = value(i);
                match whole_index(v, WHOLE_TABLE) {
                    Some(w) => table[w],
                    None => seen.get(&v.to_bits()).copied().unwrap_or_default(),
                }
            })
            .collect();
        Distinct { values: distinct.into_iter().map(f64::from_bits).collect(), index }
    }
}

/// Sorts `keys` below 2^`bits` by their low `bits` bits, least significant digit first: a
/// few counting passes, where a comparison sort of a million keys takes tens of
/// milliseconds. Keys are only equal when they are the same, so any sort gives these bytes.
fn radix_sort(keys: Vec<u64>, bits: u32) -> Vec<u64> {
    // Digits of at most 10 bits: 1,024 buckets, each written in sequence, stay within the
    // TLB's reach (11 bits and more were slower on a million keys).
    let passes = bits.div_ceil(10).max(1);
    let digit = bits.div_ceil(passes).max(1);
    let mut keys = keys;
    let mut scratch = vec![0u64; keys.len()];
    let mut shift = 0;
    while shift < bits {
        let mask = (1u64 << digit) - 1;
        let mut starts = vec![0usize; 1 << digit];
        for k in &keys {
            starts[((k >> shift) & mask) as usize] += 1;
        }
        let mut at = 0;
        for s in starts.iter_mut() {
            let count = *s;
            *s = at;
            at += count;
        }
        for &k in &keys {
            let d = ((k >> shift) & mask) as usize;
            scratch[starts[d]] = k;
            starts[d] += 1;
        }
        std::mem::swap(&mut keys, &mut scratch);
        shift += digit;
    }
    keys
}

/// Sorts `keys` with up to `threads` threads: parts sorted apart, then merged. Equal keys are
/// equal values, so the result is the same at any thread count.
fn sort_keys<K: Ord + Copy + Send>(mut keys: Vec<K>, threads: Threads) -> Vec<K> {
    let parts = threads.get().min(keys.len() / 65_536).max(1);
    let size = keys.len().div_ceil(parts);
    map_chunks_mut(threads, &mut keys, size, |_, part| part.sort_unstable());
    let mut runs: Vec<Vec<K>> = keys.chunks(size).map(<[_]>::to_vec).collect();
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(2));
        let mut pending = runs.into_iter();
        while let Some(a) = pending.next() {
            merged.push(match pending.next() {
                Some(b) => merge(&a, &b),
                None => a,
            });
        }
        runs = merged;
    }
    runs.pop().unwrap_or_default()
}

fn merge<K: Ord + Copy>(a: &[K], b: &[K]) -> Vec<K> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Bits per column rank in a packed row.
const RANK_BITS: u32 = 21;

impl Histories {
    /// Folds the rows (finite values only; the caller skips the rest) after checking each.
    pub fn new(rows: &[[f64; 3]]) -> Result<Histories, AlgoError> {
        Histories::with_threads(rows, Threads::ONE)
    }

    /// [`Histories::new`], finding the three columns' distinct values on up to `threads`
    /// threads (the same result at any count).
    pub fn with_threads(rows: &[[f64; 3]], threads: Threads) -> Result<Histories, AlgoError> {
        Histories::build(rows, threads, true)
    }

    /// No histories yet, of `customers` customers.
    fn empty(customers: usize) -> Histories {
        Histories {
            frequency: Vec::new(),
            recency: Vec::new(),
            age: Vec::new(),
            weight: Vec::new(),
            frequency_index: Vec::new(),
            frequencies: Vec::new(),
            recencies: Distinct::default(),
            ages: Distinct::default(),
            customers: customers as u64,
            max_age: 0.0,
        }
    }

    fn build(rows: &[[f64; 3]], threads: Threads, packed: bool) -> Result<Histories, AlgoError> {
        if rows.is_empty() {
            return Err(AlgoError::NoRows);
        }
        // The bad row an error names is the first in sorted order, so that it does not
        // depend on the order the query returned the rows in.
        let bad = rows
            .iter()
            .filter(|r| check_history(r[0], r[1], r[2]).is_err())
            .min_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])).then(a[2].total_cmp(&b[2])));
        if let Some(r) = bad {
            check_history(r[0], r[1], r[2])?;
        }
        // + 0.0 turns −0 into 0, which then fold together.
        let mut columns = map_chunks(threads, 3, |c| Distinct::of(rows.len(), |i| rows[i][c] + 0.0));
        let (ts, txs, xs) =
            (columns.pop().unwrap_or_default(), columns.pop().unwrap_or_default(), columns.pop().unwrap_or_default());
        if packed && [&xs, &txs, &ts].iter().all(|d| d.values.len() < 1 << RANK_BITS) {
            return Ok(Histories::from_ranks(rows.len(), xs, txs, ts));
        }
        // Checked values are non-negative, whose bit patterns sort as the numbers do: an
        // unstable sort of integers, several times faster than comparing floats.
        let sorted = sort_keys(rows.iter().map(|r| r.map(|v| (v + 0.0).to_bits())).collect(), threads);
        let mut h = Histories::empty(rows.len());
        for bits in sorted {
            let row = bits.map(f64::from_bits);
            let same = h.frequency.last() == Some(&row[0])
                && h.recency.last() == Some(&row[1])
                && h.age.last() == Some(&row[2]);
            if same {
                if let Some(w) = h.weight.last_mut() {
                    *w += 1.0;
                }
                continue;
            }
            if h.frequencies.last() != Some(&row[0]) {
                h.frequencies.push(row[0]);
            }
            h.frequency_index.push((h.frequencies.len() - 1) as u32);
            h.frequency.push(row[0]);
            h.recency.push(row[1]);
            h.age.push(row[2]);
            h.weight.push(1.0);
            h.max_age = h.max_age.max(row[2]);
        }
        h.recencies = Distinct::new(&h.recency);
        h.ages = Distinct::new(&h.age);
        Ok(h)
    }

    /// The usual case: each column has fewer than 2^21 distinct values (daily data has a few
    /// hundred), so a row is its three ranks packed into one u64, and sorting those is
    /// sorting the rows.
    fn from_ranks(customers: usize, xs: Distinct, txs: Distinct, ts: Distinct) -> Histories {
        // Each rank in as many bits as its column's distinct values need, so that the sort
        // takes as few passes as it can.
        let width = |d: &Distinct| usize::BITS - d.values.len().saturating_sub(1).leading_zeros();
        let (tx_bits, t_bits) = (width(&txs), width(&ts));
        let bits = width(&xs) + tx_bits + t_bits;
        let keys = (0..customers)
            .map(|i| {
                (u64::from(xs.index[i]) << (tx_bits + t_bits))
                    | (u64::from(txs.index[i]) << t_bits)
                    | u64::from(ts.index[i])
            })
            .collect();
        let sorted = radix_sort(keys, bits);
        let (tx_mask, t_mask) = ((1u64 << tx_bits) - 1, (1u64 << t_bits) - 1);
        // The distinct keys and their counts, then each column in one exact allocation.
        let mut keys: Vec<u64> = Vec::with_capacity(sorted.windows(2).filter(|w| w[0] != w[1]).count() + 1);
        let mut weight: Vec<f64> = Vec::with_capacity(keys.capacity());
        for key in sorted {
            if keys.last() == Some(&key) {
                if let Some(w) = weight.last_mut() {
                    *w += 1.0;
                }
            } else {
                keys.push(key);
                weight.push(1.0);
            }
        }
        let x_of = |key: &u64| (key >> (tx_bits + t_bits)) as u32;
        let tx_of = |key: &u64| ((key >> t_bits) & tx_mask) as u32;
        let t_of = |key: &u64| (key & t_mask) as u32;
        let mut h = Histories::empty(customers);
        h.frequency = keys.iter().map(|k| xs.values[x_of(k) as usize]).collect();
        h.recency = keys.iter().map(|k| txs.values[tx_of(k) as usize]).collect();
        h.age = keys.iter().map(|k| ts.values[t_of(k) as usize]).collect();
        h.frequency_index = keys.iter().map(x_of).collect();
        h.recencies.index = keys.iter().map(tx_of).collect();
        h.ages.index = keys.iter().map(t_of).collect();
        h.weight = weight;
        h.max_age = ts.values.last().copied().unwrap_or(0.0);
        h.frequencies = xs.values;
        h.recencies.values = txs.values;
        h.ages.values = ts.values;
        h
    }

    /// Every `stride`-th distinct history with its weight: a smaller data set of the same
    /// shape, for a fit whose optimum is near the whole one's.
    pub fn subsample(&self, stride: usize) -> Histories {
        let stride = stride.max(1);
        let keep: Vec<usize> = (stride / 2..self.len()).step_by(stride).collect();
        let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let (frequency, recency, age, weight) =
            (pick(&self.frequency), pick(&self.recency), pick(&self.age), pick(&self.weight));
        let mut frequencies: Vec<f64> = Vec::new();
        let mut frequency_index = Vec::with_capacity(keep.len());
        for &x in &frequency {
            if frequencies.last() != Some(&x) {
                frequencies.push(x);
            }
            frequency_index.push((frequencies.len() - 1) as u32);
        }
        Histories {
            recencies: Distinct::new(&recency),
            ages: Distinct::new(&age),
            customers: weight.iter().sum::<f64>() as u64,
            max_age: age.iter().fold(0.0, |m, &t| f64::max(m, t)),
            frequency,
            recency,
            age,
            weight,
            frequency_index,
            frequencies,
        }
    }

    pub fn len(&self) -> usize {
        self.frequency.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_told_apart_without_fract() {
        for v in [0.0, -0.0, 1.0, -7.0, 4503599627370495.0, 4503599627370496.0, 1e300, -1e300] {
            assert!(is_whole(v), "{v}");
        }
        for v in [0.5, -0.5, 4503599627370495.5, 1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!is_whole(v), "{v}");
        }
    }

    #[test]
    fn folds_repeated_histories_in_sorted_order() {
        let h = Histories::new(&[[2.0, 5.0, 9.0], [0.0, 0.0, 4.0], [2.0, 5.0, 9.0], [1.0, 3.0, 9.0]]).unwrap();
        assert_eq!(h.frequency, vec![0.0, 1.0, 2.0]);
        assert_eq!(h.weight, vec![1.0, 1.0, 2.0]);
        assert_eq!(h.frequencies, vec![0.0, 1.0, 2.0]);
        assert_eq!(h.frequency_index, vec![0, 1, 2]);
        assert_eq!((h.customers, h.max_age), (4, 9.0));
    }

    #[test]
    fn sorting_on_threads_changes_nothing() {
        let rows: Vec<[f64; 3]> = (0..300_000u64)
            .map(|i| {
                let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                let t = (h % 400) as f64;
                let x = (h / 400 % 5) as f64;
                [x, if x == 0.0 { 0.0 } else { (h / 2000 % 400) as f64 % (t + 1.0) }, t]
            })
            .collect();
        let one = Histories::new(&rows).unwrap();
        assert!(one.len() > 1000 && one.frequency.windows(2).all(|w| w[0] <= w[1]));
        for threads in [2, 3, 8] {
            assert_eq!(Histories::with_threads(&rows, Threads::new(threads)).unwrap(), one);
        }
        // Packed ranks and the general sort of the values give the same histories, with
        // fractional values, −0, and whole values past the rank table's end too.
        let odd: Vec<[f64; 3]> = rows
            .iter()
            .map(|r| [r[0], r[1] * 0.37, r[2] * 0.37 + 0.01])
            .chain([[0.0, -0.0, 3.0], [2.0, 65_535.0, 65_536.0], [2.0, 65_536.0, 1e9], [1.0, 65_535.5, 70_000.0]])
            .collect();
        for data in [&rows, &odd] {
            for threads in [1, 2] {
                assert_eq!(
                    Histories::build(data, Threads::new(threads), false).unwrap(),
                    Histories::build(data, Threads::new(threads), true).unwrap()
                );
            }
        }
    }

    #[test]
    fn ranks_are_the_order_of_the_distinct_values() {
        let values = [5.0, 0.5, 70_000.0, 5.0, 0.0, 65_536.0, 2.25, 65_535.0, 0.5];
        let d = Distinct::new(&values);
        assert_eq!(d.values, vec![0.0, 0.5, 2.25, 5.0, 65_535.0, 65_536.0, 70_000.0]);
        assert_eq!(d.index, vec![3, 1, 6, 3, 0, 5, 2, 4, 1]);
        let keys: Vec<u64> = (0..5000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 37).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(radix_sort(keys, 27), sorted);
    }

    #[test]
    fn refuses_what_lifetimes_refuses() {
        for (row, says) in [
            ([-1.0, 0.0, 1.0], "must not be negative"),
            ([1.0, 5.0, 4.0], "cannot exceed T"),
            ([0.0, 2.0, 4.0], "frequency 0 has recency 0"),
            ([1.5, 2.0, 4.0], "whole number"),
        ] {
            let e = Histories::new(&[row]).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        assert_eq!(Histories::new(&[]).unwrap_err(), AlgoError::NoRows);
    }

    #[test]
    fn whole_numbers_and_indexes_at_the_edges_of_the_conversions() {
        let two_31 = 2_147_483_648.0;
        for (v, whole) in [
            (0.0, true),
            (-0.0, true),
            (3.0, true),
            (-3.0, true),
            (0.5, false),
            (-2.5, false),
            (two_31 - 1.0, true),
            (two_31, true),
            (-two_31, true),
            (-two_31 - 1.0, true),
            (two_31 + 0.5, false),
            (4_503_599_627_370_495.5, false),
            (4_503_599_627_370_496.0, true),
            (1e300, true),
            (f64::NAN, false),
            (f64::INFINITY, false),
            (f64::NEG_INFINITY, false),
        ] {
            assert_eq!(is_whole(v), whole, "{v}");
        }
        let n = i32::MAX as usize;
        for (v, index) in [
            (0.0, Some(0)),
            (-0.0, Some(0)),
            (7.0, Some(7)),
            (two_31 - 2.0, Some(n - 1)),
            (two_31 - 1.0, None),
            (two_31, None),
            (-1.0, None),
            (-two_31, None),
            (-two_31 - 1.0, None),
            (1.5, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
        ] {
            assert_eq!(whole_index(v, n), index, "{v}");
        }
        assert_eq!((whole_index(1023.0, 1024), whole_index(1024.0, 1024)), (Some(1023), None));
    }
}
