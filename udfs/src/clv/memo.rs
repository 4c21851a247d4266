//! Values that depend on a model and on a few of a row's numbers, kept with the model across
//! batches and queries. A BG/NBD expectation is P(alive) times a hypergeometric term of
//! (frequency, T, horizon) only, and a million customers have some tens of thousands of
//! distinct (frequency, T): summing each series once per distinct key, not once per row,
//! is most of the cost of `clv` and `expected_purchases`.
//!
//! A key is a kind (tag), one argument that is the same for a whole query (a horizon, a
//! discount rate) and two that vary by row (frequency and T). Where the two are small whole
//! numbers, as rfm_summary gives them, the value sits in a dense *plane* of the kind and
//! first argument, indexed by the two: read without a lock, eight bytes per value, and
//! neighbouring T in one cache line. Other keys go to a sharded hash map.
//!
//! A value is a pure function of the model file and its key, so which thread or query
//! computed it first changes no bit. The memo belongs to the cached model file and goes
//! with it when the file changes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use datafusion::common::HashMap;
use parking_lot::Mutex;
use segsql_algo::clv::TransactionScorer;
use segsql_algo::clv::data::whole_index;

/// What a value is of, and the f64 bits of its arguments.
pub type Key = [u64; 4];

/// Shards, so that scoring threads seldom wait for each other.
const SHARDS: usize = 16;

/// Entries kept for each kind of value, about 10 MB: past this, values of that kind are
/// computed and not kept (one-off keys, such as every customer's own holdout horizon in
/// model_evaluate, cannot crowd out the others).
const MAX_ENTRIES: usize = 1 << 17;

/// Kinds of value with their own budget: tags below 2^32, and the rest.
const KINDS: usize = 2;

/// One shard on cache lines of its own: shards side by side would share lines, and every
/// lock taken on one core would pull the line away from the other.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<HashMap<Key, Option<f64>>>);

/// Dense planes index frequency below this ...
const PLANE_ROWS: usize = 1024;
/// ... and T below this (22 years of days), in blocks of [`BLOCK`] T allocated when first
/// used.
const PLANE_COLUMNS: usize = 8192;
const BLOCK: usize = 1024;
const BLOCKS_PER_ROW: usize = PLANE_COLUMNS / BLOCK;

/// Planes a memo keeps (each has a 128 KB directory), and blocks of 8 KB in all of them:
/// past these, keys go to the hash map.
const MAX_PLANES: usize = 32;
const MAX_BLOCKS: usize = 2048;

/// A plane slot holds 0 until computed, then `EMPTY_VALUE` for no value, or the value's
/// bits XOR `ENCODE`. `ENCODE` is a NaN pattern, so no value that is not NaN encodes to 0,
/// and `ENCODE ^ EMPTY_VALUE` is a NaN too; NaN values are not kept in planes.
const ENCODE: u64 = 0x7FF8_0000_0000_0001;
const EMPTY_VALUE: u64 = 3;

type Block = [AtomicU64; BLOCK];

/// The values of one kind and first argument, by (frequency, T).
struct Plane {
    blocks: Box<[OnceLock<Box<Block>>]>,
}

impl Plane {
    fn new() -> Plane {
        Plane { blocks: (0..PLANE_ROWS * BLOCKS_PER_ROW).map(|_| OnceLock::new()).collect() }
    }
}

/// The plane position of (b, c), when both are whole numbers in range.
fn plane_index(b: f64, c: f64) -> Option<(usize, usize)> {
    let (row, column) = (whole_index(b, PLANE_ROWS)?, whole_index(c, PLANE_COLUMNS)?);
    Some((row * BLOCKS_PER_ROW + column / BLOCK, column % BLOCK))
}

/// Each memo's number, so that a chunk's planes can say whose they are.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The planes a scoring chunk has looked up, as (memo id, tag, first argument's bits,
/// plane). Finding a key's plane in the memo takes its lock, which two threads scoring side
/// by side would pull back and forth on every row; a chunk keeps to one or two planes, and
/// reading a value then touches nothing another thread writes to (not even a count).
#[derive(Default)]
pub struct Planes(Vec<(u64, u64, u64, Arc<Plane>)>);

pub struct Memo {
    id: u64,
    shards: [Shard; SHARDS],
    entries: [AtomicUsize; KINDS],
    planes: Mutex<Vec<(u64, u64, Arc<Plane>)>>,
    blocks: AtomicUsize,
    plane_values: AtomicUsize,
    /// The file's transaction model with its scoring tables, made by the first query.
    pub transactions: OnceLock<Option<TransactionScorer>>,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shards: Default::default(),
            entries: Default::default(),
            planes: Mutex::new(Vec::new()),
            blocks: AtomicUsize::new(0),
            plane_values: AtomicUsize::new(0),
            transactions: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({} entries)", self.len())
    }
}

impl Memo {
    /// The value for `key`, computed by `compute` the first time.
    pub fn get_or(&self, planes: &mut Planes, key: Key, compute: impl FnOnce() -> Option<f64>) -> Option<f64> {
        if let Some(value) = self.known(planes, key) {
            return value;
        }
        // Computed outside any lock: a series can take microseconds. Two threads may both
        // compute a key; they get the same bits.
        let value = compute();
        self.keep(planes, key, value);
        value
    }

    /// [`Memo::get_or`] for each row `i` of a chunk with a key (`key(i)` is `None` for rows
    /// that want no value; their `out[i]` is left as it is), with the same values. Every plane
    /// slot of the chunk is read before any value is computed: the reads are independent, so
    /// their cache misses overlap instead of following one another row by row. Then each
    /// missing key is computed once, on the calling thread: DataFusion scores a partition
    /// per core already, and helper threads started for a chunk's keys made queries slower,
    /// even with one partition (starting and ending threads cost more than the series).
    pub fn get_many(
        &self,
        planes: &mut Planes,
        key: impl Fn(usize) -> Option<Key>,
        compute: impl Fn(usize) -> Option<f64>,
        out: &mut [Option<f64>],
    ) {
        // Where each row's value would be: (the chunk's plane, block, slot), or NOWHERE for a
        // map key or a key without a plane. Found first and read in a loop of its own, whose
        // reads depend on nothing in the loop, so that many are under way at once.
        const NOWHERE: u32 = u32::MAX;
        let mut chunk_planes: Vec<Arc<Plane>> = Vec::new();
        let mut at = vec![(NOWHERE, 0u32, 0u32); out.len()];
        let mut current: Option<(u64, u64, Option<u32>)> = None;
        for (i, at) in at.iter_mut().enumerate() {
            let Some([tag, first, b, c]) = key(i) else { continue };
            let Some((block, slot)) = plane_index(f64::from_bits(b), f64::from_bits(c)) else { continue };
            if current.as_ref().is_none_or(|(t, f, _)| (*t, *f) != (tag, first)) {
                let plane = self.plane(planes, tag, first).map(|plane| {
                    chunk_planes.push(plane);
                    (chunk_planes.len() - 1) as u32
                });
                current = Some((tag, first, plane));
            }
            if let Some((.., Some(plane))) = current {
                *at = (plane, block as u32, slot as u32);
            }
        }
        // 0: not read (a map key, no plane, or not computed yet); else the slot's bits.
        let stored: Vec<u64> = at
            .iter()
            .map(|&(plane, block, slot)| match plane {
                NOWHERE => 0,
                plane => chunk_planes[plane as usize].blocks[block as usize]
                    .get()
                    .map_or(0, |b| b[slot as usize].load(Ordering::Relaxed)),
            })
            .collect();
        // The keys not read, each once with the first row that has it, and what the memo
        // holds for them now (the map's values, and any a thread has stored since the read).
        let mut missing: Vec<(Key, usize)> =
            stored.iter().enumerate().filter(|(_, s)| **s == 0).filter_map(|(i, _)| Some((key(i)?, i))).collect();
        missing.sort_unstable();
        missing.dedup_by_key(|(k, _)| *k);
        let known: Vec<Option<Option<f64>>> = missing.iter().map(|(k, _)| self.known(planes, *k)).collect();
        let to_compute: Vec<usize> = (0..missing.len()).filter(|m| known[*m].is_none()).collect();
        let computed: Vec<Option<f64>> = to_compute.iter().map(|m| compute(missing[*m].1)).collect();
        let mut values: Vec<Option<f64>> = known.into_iter().map(Option::flatten).collect();
        for (m, value) in to_compute.into_iter().zip(computed) {
            self.keep(planes, missing[m].0, value);
            values[m] = value;
        }
        for (i, (out, stored)) in out.iter_mut().zip(stored).enumerate() {
            *out = match stored {
                0 => match key(i) {
                    Some(k) => missing.binary_search_by(|(m, _)| m.cmp(&k)).map_or(None, |m| values[m]),
                    None => continue,
                },
                EMPTY_VALUE => None,
                bits => Some(f64::from_bits(bits ^ ENCODE)),
            };
        }
    }

    /// The key's plane and its (block, slot) there; `None` for a key kept in the map (not
    /// whole numbers in range, or no room for its plane).
    fn place(&self, planes: &mut Planes, key: Key) -> Option<(Arc<Plane>, usize, usize)> {
        let (block, slot) = plane_index(f64::from_bits(key[2]), f64::from_bits(key[3]))?;
        Some((self.plane(planes, key[0], key[1])?, block, slot))
    }

    /// What the memo holds for `key`: `None` when it has not been computed (or is not kept).
    fn known(&self, planes: &mut Planes, key: Key) -> Option<Option<f64>> {
        let Some((plane, block, slot)) = self.place(planes, key) else {
            return self.shards[shard_of(&key)].0.lock().get(&key).copied();
        };
        match plane.blocks[block].get().map_or(0, |b| b[slot].load(Ordering::Relaxed)) {
            0 => None,
            EMPTY_VALUE => Some(None),
            bits => Some(Some(f64::from_bits(bits ^ ENCODE))),
        }
    }

    /// Keeps `value` for `key`, in the key's plane or else in the map, while there is room.
    fn keep(&self, planes: &mut Planes, key: Key, value: Option<f64>) {
        let Some((plane, block, slot)) = self.place(planes, key) else {
            let entries = &self.entries[usize::from(key[0] >= 1 << 32)];
            let shard = &self.shards[shard_of(&key)].0;
            if entries.load(Ordering::Relaxed) < MAX_ENTRIES && shard.lock().insert(key, value).is_none() {
                entries.fetch_add(1, Ordering::Relaxed);
            }
            return;
        };
        let encoded = match value {
            None => EMPTY_VALUE,
            Some(v) if !v.is_nan() => v.to_bits() ^ ENCODE,
            Some(_) => return,
        };
        let cell = &plane.blocks[block];
        let block = match cell.get() {
            Some(block) => block,
            None if self.blocks.load(Ordering::Relaxed) < MAX_BLOCKS => cell.get_or_init(|| {
                self.blocks.fetch_add(1, Ordering::Relaxed);
                Box::new([const { AtomicU64::new(0) }; BLOCK])
            }),
            None => return,
        };
        // Another thread may have stored the same bits first; count each value once.
        if block[slot].compare_exchange(0, encoded, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.plane_values.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The plane of (tag, first argument), found in `planes` or else in the memo (then
    /// added to `planes`); `None` when the memo has no room for it.
    fn plane(&self, planes: &mut Planes, tag: u64, first: u64) -> Option<Arc<Plane>> {
        if let Some((.., plane)) = planes.0.iter().find(|(id, t, f, _)| (*id, *t, *f) == (self.id, tag, first)) {
            return Some(Arc::clone(plane));
        }
        let plane = {
            let mut all = self.planes.lock();
            match all.iter().find(|(t, f, _)| (*t, *f) == (tag, first)) {
                Some((_, _, plane)) => Arc::clone(plane),
                None if all.len() < MAX_PLANES => {
                    let plane = Arc::new(Plane::new());
                    all.push((tag, first, Arc::clone(&plane)));
                    plane
                }
                None => return None,
            }
        };
        planes.0.push((self.id, tag, first, Arc::clone(&plane)));
        Some(plane)
    }

    /// This memo's number, unique in the process: a model file's version.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.load(Ordering::Relaxed)).sum::<usize>()
            + self.plane_values.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The top bits of a multiplicative hash of the key's words.
fn shard_of(key: &Key) -> usize {
    let mixed = key[0] ^ key[1].rotate_left(17) ^ key[2].rotate_left(34) ^ key[3].rotate_left(51);
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

/// A memo key: a tag for the value's kind and three f64 arguments, the one a query holds
/// fixed first, then frequency and T (a dense plane's row and column). −0 is taken as 0
/// (adding 0 does that), as the planes take it: one key, one value.
pub fn key(tag: u64, a: f64, b: f64, c: f64) -> Key {
    [tag, (a + 0.0).to_bits(), (b + 0.0).to_bits(), (c + 0.0).to_bits()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_len(memo: &Memo) -> usize {
        memo.shards.iter().map(|s| s.0.lock().len()).sum()
    }

    fn get(memo: &Memo, k: Key, value: Option<f64>) -> Option<f64> {
        memo.get_or(&mut Planes::default(), k, || value)
    }

    fn counted(memo: &Memo, k: Key, value: Option<f64>, calls: &mut usize) -> Option<f64> {
        memo.get_or(&mut Planes::default(), k, || {
            *calls += 1;
            value
        })
    }

    #[test]
    fn computes_once_and_stops_keeping_when_full() {
        // Fractional T: these keys go to the hash map.
        let memo = Memo::default();
        let mut calls = 0;
        for _ in 0..3 {
            assert_eq!(counted(&memo, key(1, 2.0, 3.0, 4.5), Some(9.0), &mut calls), Some(9.0));
        }
        assert_eq!((calls, memo.len(), map_len(&memo)), (1, 1, 1));
        assert_eq!(get(&memo, key(2, 2.0, 3.0, 4.5), None), None);
        assert_eq!(memo.len(), 2);
        // A full budget stops keeping values of its kind only.
        memo.entries[0].store(MAX_ENTRIES, Ordering::Relaxed);
        assert_eq!(get(&memo, key(3, 0.0, 0.0, 0.5), Some(1.0)), Some(1.0));
        assert_eq!(map_len(&memo), 2);
        assert_eq!(get(&memo, key(5 << 32, 0.0, 0.0, 0.5), Some(1.0)), Some(1.0));
        assert_eq!(map_len(&memo), 3);
    }

    #[test]
    fn whole_number_keys_go_to_planes_with_every_value_kept_apart() {
        let memo = Memo::default();
        let mut calls = 0;
        // 0.0 and -0.0, None, the largest finite, a value next to the encoding constant.
        let values = [Some(0.0), Some(-0.0), None, Some(f64::MAX), Some(f64::from_bits(1)), Some(-1.5)];
        for (i, value) in values.iter().enumerate() {
            let k = key(1, 30.0, i as f64, 1023.0 + i as f64);
            for _ in 0..2 {
                let got = counted(&memo, k, *value, &mut calls);
                assert_eq!(got.map(f64::to_bits), value.map(f64::to_bits));
            }
        }
        assert_eq!((calls, memo.len(), map_len(&memo)), (values.len(), values.len(), 0));
        // Another first argument or tag is another plane; the plane's ends are in it.
        assert_eq!(counted(&memo, key(1, 31.0, 0.0, 1023.0), Some(7.0), &mut calls), Some(7.0));
        assert_eq!(counted(&memo, key(2, 30.0, 0.0, 1023.0), Some(8.0), &mut calls), Some(8.0));
        assert_eq!(counted(&memo, key(2, 30.0, 1023.0, 8191.0), Some(9.0), &mut calls), Some(9.0));
        assert_eq!((memo.planes.lock().len(), map_len(&memo)), (3, 0));
        // Out of range, negative or fractional: the map.
        for (b, c) in [(1024.0, 0.0), (0.0, 8192.0), (-1.0, 0.0), (0.5, 3.0), (f64::NAN, 1.0)] {
            get(&memo, key(1, 30.0, b, c), Some(1.0));
        }
        assert_eq!(map_len(&memo), 5);
        // NaN is computed every time, never kept.
        let before = calls;
        for _ in 0..2 {
            assert!(counted(&memo, key(1, 30.0, 9.0, 9.0), Some(f64::NAN), &mut calls).is_some_and(f64::is_nan));
        }
        assert_eq!(calls, before + 2);
    }

    #[test]
    fn get_many_gives_what_get_or_gives_row_by_row() {
        // Plane keys (some twice, some computed before), map keys (fractional T), a NaN, a
        // None, two first arguments in one chunk, and rows without a key.
        let keys: Vec<Option<Key>> = vec![
            Some(key(1, 30.0, 2.0, 3.0)),
            None,
            Some(key(1, 30.0, 2.0, 3.5)),
            Some(key(1, 60.0, 2.0, 3.0)),
            Some(key(1, 30.0, 4.0, 9.0)),
            Some(key(1, 30.0, 2.0, 3.0)),
            Some(key(1, 30.0, 5.0, 5.0)),
            Some(key(1, 30.0, 6.0, 6.0)),
            None,
        ];
        let value = |k: &Key| match f64::from_bits(k[2]) {
            5.0 => None,
            6.0 => Some(f64::NAN),
            b => Some(b * 10.0 + f64::from_bits(k[3]) + f64::from_bits(k[1]) / 1000.0),
        };
        let memo = Memo::default();
        get(&memo, key(1, 30.0, 4.0, 9.0), value(&key(1, 30.0, 4.0, 9.0)));
        // One chunk's pass: the values and how many were computed.
        let pass = || {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let mut out = vec![Some(-1.0); keys.len()];
            let compute = |i: usize| {
                calls.fetch_add(1, Ordering::Relaxed);
                keys[i].as_ref().and_then(value)
            };
            memo.get_many(&mut Planes::default(), |i| keys[i], compute, &mut out);
            (out, calls.into_inner())
        };
        let (out, calls) = pass();
        let bits = |v: Option<f64>| v.map(f64::to_bits);
        for (i, k) in keys.iter().enumerate() {
            let expected = match k {
                Some(k) => value(k),
                None => Some(-1.0),
            };
            assert_eq!(bits(out[i]), bits(expected), "row {i}");
        }
        // Row 5 repeats row 0's key, read before row 0 computed it; row 4's was kept before.
        assert_eq!(calls, 5);
        // A second pass finds everything but the NaN.
        assert_eq!(pass().1, 1);
    }

    #[test]
    fn many_missing_keys_are_computed_once_each_with_the_same_bits() {
        // Plane keys and map keys (fractional T), each on two neighbouring rows.
        let keys: Vec<Key> = (0..192)
            .map(|i| i / 2)
            .map(|j| key(7, 30.0, (j % 50) as f64, if j % 3 == 0 { j as f64 + 0.5 } else { j as f64 }))
            .collect();
        let value = |k: &Key| Some(f64::from_bits(k[2]).ln_1p() / (f64::from_bits(k[3]) + 0.25));
        let memo = Memo::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let mut out = vec![None; keys.len()];
        let compute = |i: usize| {
            calls.fetch_add(1, Ordering::Relaxed);
            value(&keys[i])
        };
        memo.get_many(&mut Planes::default(), |i| Some(keys[i]), compute, &mut out);
        let distinct: std::collections::HashSet<Key> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), 96);
        assert_eq!(calls.into_inner(), distinct.len());
        assert_eq!(memo.len(), distinct.len());
        for (k, got) in keys.iter().zip(&out) {
            assert_eq!(got.map(f64::to_bits), value(k).map(f64::to_bits));
            assert_eq!(get(&memo, *k, Some(-1.0)).map(f64::to_bits), value(k).map(f64::to_bits));
        }
    }

    #[test]
    fn a_chunk_never_reads_another_memos_plane() {
        let (first, second) = (Memo::default(), Memo::default());
        // One chunk's planes, used with both memos.
        let mut planes = Planes::default();
        assert_eq!(first.get_or(&mut planes, key(1, 30.0, 2.0, 3.0), || Some(1.0)), Some(1.0));
        assert_eq!(second.get_or(&mut planes, key(1, 30.0, 2.0, 3.0), || Some(2.0)), Some(2.0));
        assert_eq!(first.get_or(&mut planes, key(1, 30.0, 2.0, 3.0), || Some(3.0)), Some(1.0));
        assert_eq!(planes.0.len(), 2);
    }

    #[test]
    fn past_the_plane_budget_keys_go_to_the_map() {
        let memo = Memo::default();
        for horizon in 0..MAX_PLANES + 3 {
            get(&memo, key(1, horizon as f64, 1.0, 1.0), Some(1.0));
        }
        assert_eq!((memo.planes.lock().len(), map_len(&memo)), (MAX_PLANES, 3));
        // And past the block budget, values are computed and not kept.
        let memo = Memo::default();
        memo.blocks.store(MAX_BLOCKS, Ordering::Relaxed);
        let mut calls = 0;
        for _ in 0..2 {
            counted(&memo, key(1, 1.0, 1.0, 1.0), Some(1.0), &mut calls);
        }
        assert_eq!((calls, memo.len()), (2, 0));
    }

    #[test]
    fn threads_sharing_a_memo_get_the_same_bits() {
        let memo = Memo::default();
        let value = |b: usize, c: usize| Some((b as f64).ln_1p() / (c as f64 + 0.5));
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for b in 0..40 {
                        for c in (0..3000).step_by(7) {
                            let got = get(&memo, key(1, 30.0, b as f64, c as f64), value(b, c));
                            assert_eq!(got.map(f64::to_bits), value(b, c).map(f64::to_bits));
                        }
                    }
                });
            }
        });
        assert_eq!(memo.len(), 40 * 3000_usize.div_ceil(7));
    }
}
