//! Fixed-size chunks and a fixed reduction order, so that the thread count changes how
//! fast a kernel runs but never a bit of what it returns.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads a kernel may use. The caller decides (the SQL glue passes the size of
/// the runtime the query runs on); there is no process-wide setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(NonZeroUsize);

impl Threads {
    /// One thread: the kernels run on the calling thread.
    pub const ONE: Threads = Threads(NonZeroUsize::MIN);

    /// `n` threads; 0 is taken as 1.
    pub fn new(n: usize) -> Threads {
        Threads(NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN))
    }

    /// One thread per core.
    pub fn available() -> Threads {
        Threads(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    pub fn get(self) -> usize {
        self.0.get()
    }
}

/// Runs `work(chunk)` for every chunk in `0..chunks` on up to `threads` threads and returns
/// the results in chunk order. Threads take chunks from a shared counter, so a slow chunk
/// does not hold up the others, and the caller reduces the results in the same order
/// every time.
pub fn map_chunks<R, F>(threads: Threads, chunks: usize, work: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let workers = threads.get().min(chunks);
    if workers <= 1 {
        return (0..chunks).map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        loop {
            let chunk = next.fetch_add(1, Ordering::Relaxed);
            if chunk >= chunks {
                break done;
            }
            done.push((chunk, work(chunk)));
        }
    };
    // The calling thread is one of the workers: it would otherwise only wait, and a kernel
    // called once per batch would start one thread more than it needs every time.
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(run)).collect();
        let mut parts = vec![run()];
        // A panicking kernel is a bug; re-raise it on the calling thread.
        parts
            .extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload))));
        parts
    });
    let mut ordered: Vec<Option<R>> = (0..chunks).map(|_| None).collect();
    for (chunk, result) in parts.drain(..).flatten() {
        ordered[chunk] = Some(result);
    }
    ordered.into_iter().map(|r| r.expect("every chunk is run exactly once")).collect()
}

/// [`map_chunks`] over `items` cut into chunks of `size`: `work(chunk, items_of_chunk)` may
/// change its own chunk's items. Results come back in chunk order.
pub fn map_chunks_mut<T, R, F>(threads: Threads, items: &mut [T], size: usize, work: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(usize, &mut [T]) -> R + Sync,
{
    // Each chunk is locked by exactly one worker, once: the mutexes only hand the disjoint
    // slices across threads.
    let slots: Vec<std::sync::Mutex<&mut [T]>> = items.chunks_mut(size).map(std::sync::Mutex::new).collect();
    map_chunks(threads, slots.len(), |c| {
        let mut slot = slots[c].lock().unwrap_or_else(|e| e.into_inner());
        work(c, &mut slot)
    })
}

/// The number of chunks of `size` needed to cover `n` items.
pub fn chunk_count(n: usize, size: usize) -> usize {
    n.div_ceil(size)
}

/// The item range of `chunk`.
pub fn chunk_range(chunk: usize, size: usize, n: usize) -> std::ops::Range<usize> {
    let start = chunk * size;
    start..(start + size).min(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_chunk_order() {
        for threads in [1, 2, 4] {
            let squares = map_chunks(Threads::new(threads), 100, |i| i * i);
            assert_eq!(squares, (0..100).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn work_runs_on_as_many_threads_as_asked() {
        // Each chunk waits at a barrier sized to the thread count: the test can only finish
        // if that many chunks really run at once.
        for threads in [2usize, 4] {
            let barrier = std::sync::Barrier::new(threads);
            let ids = map_chunks(Threads::new(threads), threads, |_| {
                barrier.wait();
                std::thread::current().id()
            });
            let distinct: std::collections::HashSet<_> = ids.into_iter().collect();
            assert_eq!(distinct.len(), threads);
        }
        let caller = std::thread::current().id();
        assert!(map_chunks(Threads::ONE, 5, |_| std::thread::current().id()).iter().all(|id| *id == caller));
    }

    #[test]
    fn ranges_cover_everything_once() {
        let n = 1001;
        let covered: usize = (0..chunk_count(n, 100)).map(|c| chunk_range(c, 100, n).len()).sum();
        assert_eq!(covered, n);
        assert_eq!(chunk_range(10, 100, n), 1000..1001);
        assert_eq!(Threads::new(0), Threads::ONE);
    }
}
