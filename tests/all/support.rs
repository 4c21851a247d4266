//! Shared helpers: a shell for in-process tests and a runner for the real binary.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use segsql::output::Sink;
use segsql::script::Shell;
use segsql::session::SessionOptions;

/// A shell like the CLI's, printing into memory, with models in `models_dir`.
pub fn shell(models_dir: &Path) -> Shell {
    let options =
        SessionOptions { threads: Some(2), memory_limit: None, models_dir: models_dir.to_path_buf(), cluster: None };
    let mut shell = Shell::new(&options).expect("session starts");
    shell.set_sink(Sink::Memory(Vec::new()));
    shell
}

/// What a run of the binary printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Fails the test with everything printed, for readable failures.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("stack backtrace"),
            "a user mistake must never show a panic:\n{}",
            self.stderr
        );
        self
    }
}

pub fn segsql() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_segsql"));
    // A developer's SEGSQL_WORKERS must not send every CLI test to a cluster.
    command
        .env("SEGSQL_HISTORY", "/dev/null")
        .env_remove("SEGSQL_WORKERS")
        .env_remove("SEGSQL_WORKER_TOKEN")
        .stdin(Stdio::null());
    command
}

/// Runs the binary in `dir` with `args`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from(segsql().current_dir(dir).args(args).output().expect("segsql runs"))
}

/// Runs the binary with `stdin` as its input.
pub fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    let mut child = segsql()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("segsql runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    Run::from(child.wait_with_output().expect("segsql finishes"))
}

/// A fixture file under `tests/fixtures/<family>/`.
pub fn fixture(family: &str, name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(family).join(name).display().to_string()
}

/// The rows of a fixture whose fields hold no commas (the expected-value files), by header.
pub fn fixture_rows(family: &str, name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(fixture(family, name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(str::to_string).collect();
    lines.map(|line| header.iter().cloned().zip(line.split(',').map(str::to_string)).collect()).collect()
}

/// The cells of the last statement's result.
pub async fn query_cells(shell: &mut Shell, sql: &str) -> Vec<Vec<String>> {
    let outputs = shell.execute_collect(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    segsql::output::cells(&outputs.last().expect("a result").batches).expect("cells")
}

/// Relative to the value's size, absolute below 1.
pub fn assert_close(name: &str, expected: f64, actual: f64, tolerance: f64) {
    assert!(
        (expected - actual).abs() <= tolerance * expected.abs().max(1.0),
        "{name}: reference {expected}, segsql {actual}"
    );
}

/// A fixture's `[[name, TYPE], ...]` list as pairs.
pub fn named_types(columns: &serde_json::Value) -> Vec<(String, String)> {
    columns
        .as_array()
        .expect("a list of [name, type]")
        .iter()
        .map(|c| (c[0].as_str().unwrap_or_default().to_string(), c[1].as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).expect("inside").display().to_string();
                files.insert(name, std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

/// The first line a server child prints on stdout (its address), or "" after `limit`.
pub fn first_line(child: &mut std::process::Child, limit: std::time::Duration) -> String {
    use std::io::{BufRead, BufReader};
    let Some(stdout) = child.stdout.take() else { return String::new() };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    receiver.recv_timeout(limit).unwrap_or_default()
}
