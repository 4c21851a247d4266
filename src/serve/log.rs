//! `segsql serve -v`: one line per connection, statement and refusal on stderr. Passwords
//! never reach it: the startup handler logs the user name only.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A timestamped line on stderr.
pub fn line(message: &str) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    eprintln!("{now} {message}");
}

/// A line only at `-v`.
pub fn detail(message: impl FnOnce() -> String) {
    if verbose() {
        line(&message());
    }
}
