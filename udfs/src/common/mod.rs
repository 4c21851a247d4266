//! Pieces every segsql function family shares.

pub mod args;
pub mod constant;
pub mod features;
pub mod grouped;
pub mod window;

/// The threads a kernel may use: as many as the Tokio runtime running the query has
/// workers (segsql sizes it by `--threads`; a distributed worker by its own flag), else
/// one per core. Read where the kernel runs, so nothing about it travels in a plan.
pub fn kernel_threads() -> segsql_algo::Threads {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => segsql_algo::Threads::new(handle.metrics().num_workers()),
        Err(_) => segsql_algo::Threads::available(),
    }
}
