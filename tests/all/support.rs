//! Shared helpers: a shell for in-process tests and a runner for the real binary.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use segsql::output::Sink;
use segsql::script::Shell;
use segsql::session::SessionOptions;

/// A shell like the CLI's, printing into memory, with models in `models_dir`.
pub fn shell(models_dir: &Path) -> Shell {
    let options = SessionOptions { threads: Some(2), memory_limit: None, models_dir: models_dir.to_path_buf() };
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
    fn from(output: Output) -> Run {
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
    command.env("SEGSQL_HISTORY", "/dev/null").stdin(Stdio::null());
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
