//! Fixed-size chunks and a fixed reduction order, so that the thread count changes how
//! fast a kernel runs but never a bit of what it returns.

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Caps the threads the clustering kernels use (the shell passes `--threads`); 0 means
/// one per core.
pub fn set_threads(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Runs `work(chunk)` for every chunk in `0..chunks` and returns the results in chunk
/// order. Threads take chunks from a shared counter, so a slow chunk does not hold up
/// the others, and the caller reduces the results in the same order every time.
pub fn map_chunks<R, F>(chunks: usize, work: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let workers = threads().min(chunks);
    if workers <= 1 {
        return (0..chunks).map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let chunk = next.fetch_add(1, Ordering::Relaxed);
                        if chunk >= chunks {
                            break done;
                        }
                        done.push((chunk, work(chunk)));
                    }
                })
            })
            .collect();
        // A panicking kernel is a bug; re-raise it on the calling thread.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload))).collect()
    });
    let mut ordered: Vec<Option<R>> = (0..chunks).map(|_| None).collect();
    for (chunk, result) in parts.drain(..).flatten() {
        ordered[chunk] = Some(result);
    }
    ordered.into_iter().map(|r| r.expect("every chunk is run exactly once")).collect()
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
        let squares = map_chunks(100, |i| i * i);
        assert_eq!(squares, (0..100).map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn ranges_cover_everything_once() {
        let n = 1001;
        let covered: usize = (0..chunk_count(n, 100)).map(|c| chunk_range(c, 100, n).len()).sum();
        assert_eq!(covered, n);
        assert_eq!(chunk_range(10, 100, n), 1000..1001);
    }
}
