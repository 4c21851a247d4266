//! A spinner with rows read and elapsed time for queries that take a while.
//!
//! It draws on stderr, only when both stdout and stderr are terminals, only after the query
//! has run for half a second, and it is cleared before the first byte of the result is
//! written, so piped output never carries progress noise.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console::Term;
use datafusion::physical_plan::ExecutionPlan;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

const DELAY: Duration = Duration::from_millis(500);
const TICK: Duration = Duration::from_millis(120);

/// Rows produced so far by the plan's leaves, i.e. rows read from the sources.
pub fn rows_read(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let children = plan.children();
    if children.is_empty() {
        return plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0);
    }
    children.into_iter().map(rows_read).sum()
}

/// stderr, reported a few columns narrower than it is.
///
/// indicatif pads its line to the full width; the terminal then echoes `^C` past the edge,
/// wraps, and the spinner can no longer clear its own line. The spare columns keep the
/// echo on the spinner's line.
#[derive(Debug)]
struct NarrowStderr(Term);

impl TermLike for NarrowStderr {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(4).max(20)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A running progress display; stops when dropped.
pub struct Progress {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    /// The running plan, once planning is done, for rows read.
    plan: Arc<Mutex<Option<Arc<dyn ExecutionPlan>>>>,
    stopped: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts the clock for a statement; `label` says where a script is (`[17/42]
    /// 04_clustering.sql:28`).
    pub fn start(label: Option<String>) -> Progress {
        let started = Instant::now();
        let bar: Arc<Mutex<Option<ProgressBar>>> = Arc::default();
        let plan: Arc<Mutex<Option<Arc<dyn ExecutionPlan>>>> = Arc::default();
        let stopped = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let bar = bar.clone();
            let plan = plan.clone();
            let stopped = stopped.clone();
            async move {
                tokio::time::sleep(DELAY).await;
                {
                    let Ok(mut slot) = bar.lock() else { return };
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let target = ProgressDrawTarget::term_like_with_hz(Box::new(NarrowStderr(Term::stderr())), 10);
                    let spinner = ProgressBar::with_draw_target(None, target).with_elapsed(started.elapsed());
                    let style = ProgressStyle::with_template("{spinner} {prefix}{elapsed_precise} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    spinner.set_style(style);
                    if let Some(label) = &label {
                        spinner.set_prefix(format!("{label} "));
                    }
                    *slot = Some(spinner);
                }
                loop {
                    {
                        let rows = plan.lock().ok().and_then(|p| p.as_ref().map(rows_read));
                        let Ok(slot) = bar.lock() else { return };
                        let Some(spinner) = slot.as_ref() else { return };
                        spinner.set_message(match rows {
                            Some(rows) => format!("{} rows read (Ctrl-C cancels)", thousands(rows)),
                            None => "(Ctrl-C cancels)".to_string(),
                        });
                        spinner.tick();
                    }
                    tokio::time::sleep(TICK).await;
                }
            }
        });
        Progress { bar, plan, stopped, task }
    }

    /// Counts the rows `plan` reads from here on.
    pub fn watch(&self, plan: Arc<dyn ExecutionPlan>) {
        if let Ok(mut slot) = self.plan.lock() {
            *slot = Some(plan);
        }
    }

    /// Clears the spinner; safe to call more than once.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.bar.lock()
            && let Some(spinner) = slot.take()
        {
            spinner.finish_and_clear();
        }
        self.task.abort();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A writer that clears the progress display before the first byte goes out.
pub struct ClearsProgress<'a> {
    pub inner: &'a mut (dyn Write + Send),
    pub progress: Option<&'a Progress>,
}

impl Write for ClearsProgress<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(progress) = self.progress.take() {
            progress.stop();
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
