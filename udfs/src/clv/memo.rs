//! Values that depend on a model and on a few of a row's numbers, kept with the model across
//! batches and queries. A BG/NBD expectation is P(alive) times a hypergeometric term of
//! (frequency, T, horizon) only, and a million customers have some tens of thousands of
//! distinct (frequency, T): summing each series once per distinct key, not once per row,
//! is most of the cost of `clv` and `expected_purchases`.
//!
//! A value is a pure function of the model file and its key, so which thread or query
//! computed it first changes no bit. The memo belongs to the cached model file and goes
//! with it when the file changes.

use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::HashMap;
use parking_lot::Mutex;

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

#[derive(Default)]
pub struct Memo {
    shards: [Shard; SHARDS],
    entries: [AtomicUsize; KINDS],
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({} entries)", self.len())
    }
}

impl Memo {
    /// The value for `key`, computed by `compute` the first time.
    pub fn get_or(&self, key: Key, compute: impl FnOnce() -> Option<f64>) -> Option<f64> {
        let shard = &self.shards[shard_of(&key)].0;
        if let Some(value) = shard.lock().get(&key) {
            return *value;
        }
        // Computed outside the lock: a series can take microseconds. Two threads may both
        // compute a key; they get the same bits.
        let value = compute();
        let entries = &self.entries[usize::from(key[0] >= 1 << 32)];
        if entries.load(Ordering::Relaxed) < MAX_ENTRIES && shard.lock().insert(key, value).is_none() {
            entries.fetch_add(1, Ordering::Relaxed);
        }
        value
    }

    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.load(Ordering::Relaxed)).sum()
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

/// A memo key: a tag for the value's kind and three f64 arguments.
pub fn key(tag: u64, a: f64, b: f64, c: f64) -> Key {
    [tag, a.to_bits(), b.to_bits(), c.to_bits()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_stops_keeping_when_full() {
        let memo = Memo::default();
        let mut calls = 0;
        for _ in 0..3 {
            let v = memo.get_or(key(1, 2.0, 3.0, 4.0), || {
                calls += 1;
                Some(9.0)
            });
            assert_eq!(v, Some(9.0));
        }
        assert_eq!((calls, memo.len()), (1, 1));
        assert_eq!(memo.get_or(key(2, 2.0, 3.0, 4.0), || None), None);
        assert_eq!(memo.len(), 2);
        // A full budget stops keeping values of its kind only.
        memo.entries[0].store(MAX_ENTRIES, Ordering::Relaxed);
        assert_eq!(memo.get_or(key(3, 0.0, 0.0, 0.0), || Some(1.0)), Some(1.0));
        assert_eq!(memo.shards.iter().map(|s| s.0.lock().len()).sum::<usize>(), 2);
        assert_eq!(memo.get_or(key(5 << 32, 0.0, 0.0, 0.0), || Some(1.0)), Some(1.0));
        assert_eq!(memo.shards.iter().map(|s| s.0.lock().len()).sum::<usize>(), 3);
    }
}
