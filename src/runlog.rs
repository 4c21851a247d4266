//! `--run-log FILE`: one JSON line per run, appended when the run ends: what ran (scripts
//! with their hashes, parameters, statements), what it read (the `--data` tables' files with
//! size and modification time), what it wrote (exports and models, hashed from the bytes on
//! disk after the write) and how it ended. A model replaced by `CREATE MODEL` records the
//! previous file's hash and the fit measure before and after: the change log of ETL, queries
//! and retraining that governance asks for, readable back with `segsql --data`.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Parameter names whose values never reach the log (a pseudonym key, a password).
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["key", "secret", "password", "token", "salt"].iter().any(|word| name.contains(word))
}

/// The command line with the values of secret `--param`s replaced.
pub fn redacted_argv(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in args {
        let after_param = out.last().is_some_and(|previous| previous == "--param");
        let (prefix, assignment) = match arg.strip_prefix("--param=") {
            Some(rest) => ("--param=", rest),
            None if after_param => ("", arg.as_str()),
            None => {
                out.push(arg);
                continue;
            }
        };
        match assignment.split_once('=') {
            Some((name, _)) if is_secret(name) => out.push(format!("{prefix}{name}=<redacted>")),
            _ => out.push(arg),
        }
    }
    out
}

/// The parameters with secret values replaced.
pub fn redacted_params(params: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    params.iter().map(|(k, v)| (k.as_str(), if is_secret(k) { "<redacted>" } else { v.as_str() })).collect()
}

/// The lowercase hex SHA-256 of a file's bytes; `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

pub fn bytes_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A model file as the log describes it: its hash always, what it holds when it parses.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub path: PathBuf,
    pub sha256: String,
    pub algorithm: Option<String>,
    pub training_rows: Option<u64>,
    /// The fit measure's name and value (`Model::fit_measure`).
    pub measure: Option<(&'static str, f64)>,
}

impl ModelFile {
    /// The model file at `path`, if there is one (a damaged file is still hashed).
    pub fn read(path: &Path) -> Option<ModelFile> {
        let bytes = std::fs::read(path).ok()?;
        let model = std::str::from_utf8(&bytes).ok().and_then(|text| segsql_algo::model::Model::from_json(text).ok());
        Some(ModelFile {
            path: path.to_path_buf(),
            sha256: bytes_sha256(&bytes),
            algorithm: model.as_ref().map(|m| m.kind().to_string()),
            training_rows: model.as_ref().map(|m| m.training_rows()),
            measure: model.as_ref().map(|m| m.fit_measure()),
        })
    }

    fn fit(&self) -> Value {
        match self.measure {
            Some((measure, value)) => json!({ "measure": measure, "value": value }),
            None => Value::Null,
        }
    }
}

/// A data table's source, for the `inputs` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub table: String,
    pub location: PathBuf,
}

/// What one run did so far.
#[derive(Debug)]
pub struct RunLog {
    path: PathBuf,
    started: DateTime<Utc>,
    argv: Vec<String>,
    /// The parameters the run was given (`--param`), before any script set its own.
    params: BTreeMap<String, String>,
    statements: u64,
    scripts: Vec<Value>,
    outputs: Vec<Value>,
    models: Vec<Value>,
}

impl RunLog {
    /// Checks that `path` can be appended to (creating it if needed), before anything runs.
    pub fn open(path: &Path, argv: Vec<String>, params: BTreeMap<String, String>) -> Result<RunLog, String> {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("--run-log {}: cannot append to it: {e}", path.display()))?;
        Ok(RunLog {
            path: path.to_path_buf(),
            started: Utc::now(),
            argv,
            params,
            statements: 0,
            scripts: Vec::new(),
            outputs: Vec::new(),
            models: Vec::new(),
        })
    }

    /// A script about to run (a path, `<command>` or `<stdin>`), with the bytes it was read from.
    pub fn script(&mut self, path: &str, source: &[u8]) {
        self.scripts.push(json!({ "path": path, "sha256": bytes_sha256(source) }));
    }

    pub fn statement(&mut self) {
        self.statements += 1;
    }

    /// A finished export: a file is hashed as written; a folder (partitioned or
    /// multi-file output) lists its files.
    pub fn output(&mut self, target: &str, rows: Option<u64>) {
        let path = Path::new(target);
        let entry = if path.is_file() {
            json!({ "path": target, "sha256": file_sha256(path), "rows": rows })
        } else if path.is_dir() {
            let files: Vec<Value> = files_under(path)
                .iter()
                .map(|f| json!({ "path": f.display().to_string(), "sha256": file_sha256(f) }))
                .collect();
            json!({ "path": target, "sha256": Value::Null, "rows": rows, "files": files })
        } else {
            // An object-store URL, or a COPY of no rows that wrote nothing.
            json!({ "path": target, "sha256": Value::Null, "rows": rows })
        };
        self.outputs.push(entry);
    }

    /// A model written by `CREATE MODEL`, with the file it replaced.
    pub fn model(&mut self, name: &str, written: Option<ModelFile>, previous: Option<ModelFile>) {
        let Some(model) = written else { return };
        let mut entry = json!({
            "name": name,
            "path": model.path.display().to_string(),
            "sha256": model.sha256,
            "algorithm": model.algorithm,
            "training_rows": model.training_rows,
            "fit": model.fit(),
        });
        if let Some(previous) = previous {
            let change = match (previous.measure, model.measure) {
                (Some((before, old)), Some((after, new))) if before == after => Some(new - old),
                _ => None,
            };
            entry["replaced"] = json!({
                "sha256": previous.sha256,
                "algorithm": previous.algorithm,
                "training_rows": previous.training_rows,
                "fit": previous.fit(),
                "change": change,
            });
        }
        self.models.push(entry);
    }

    /// The line for this run.
    pub fn line(&self, exit_code: u8, inputs: &[Input]) -> String {
        let inputs: Vec<Value> = inputs
            .iter()
            .map(|input| {
                let files: Vec<Value> = files_under(&input.location)
                    .iter()
                    .map(|f| {
                        let (bytes, modified) = file_facts(f);
                        json!({ "path": f.display().to_string(), "bytes": bytes, "modified": modified })
                    })
                    .collect();
                json!({ "table": input.table, "location": input.location.display().to_string(), "files": files })
            })
            .collect();
        let record = json!({
            "segsql_version": env!("CARGO_PKG_VERSION"),
            "started_at": timestamp(self.started),
            "finished_at": timestamp(Utc::now()),
            "argv": self.argv,
            "exit_code": exit_code,
            "statements": self.statements,
            "scripts": self.scripts,
            "params": redacted_params(&self.params),
            "inputs": inputs,
            "outputs": self.outputs,
            "models": self.models,
        });
        let mut line = record.to_string();
        line.push('\n');
        line
    }

    /// Appends the run's line in one write, holding an exclusive lock on the file so that
    /// runs ending together do not interleave. If the write fails part way, the file is cut
    /// back to its length before, so the log never holds half a line.
    pub fn append(&self, line: &str) -> Result<(), String> {
        let describe = |e: std::io::Error| format!("--run-log {}: cannot append the run: {e}", self.path.display());
        let mut file = OpenOptions::new().append(true).create(true).open(&self.path).map_err(describe)?;
        file.lock().map_err(describe)?;
        let before = file.metadata().map_err(describe)?.len();
        if let Err(e) = file.write_all(line.as_bytes()) {
            let _ = file.set_len(before);
            return Err(describe(e));
        }
        file.sync_data().map_err(describe)
    }
}

/// A short fingerprint of the data a run read: SHA-256 over each input file's table, path,
/// size and modification time (not its bytes: a lake is too big to hash on every run), and
/// how many files it covers. The same files give the same fingerprint.
pub fn data_fingerprint(inputs: &[Input]) -> (String, usize) {
    let mut inputs: Vec<&Input> = inputs.iter().collect();
    inputs.sort_by(|a, b| a.table.cmp(&b.table));
    let mut hasher = Sha256::new();
    let mut files = 0;
    for input in inputs {
        for file in files_under(&input.location) {
            let (bytes, modified) = file_facts(&file);
            hasher.update(format!("{}\t{}\t{bytes:?}\t{modified:?}\n", input.table, file.display()).as_bytes());
            files += 1;
        }
    }
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (digest[..16].to_string(), files)
}

/// A file's size and modification time, as the log and the fingerprint record them.
fn file_facts(file: &Path) -> (Option<u64>, Option<String>) {
    let metadata = std::fs::metadata(file).ok();
    let modified = metadata.as_ref().and_then(|m| m.modified().ok()).map(|t| timestamp(t.into()));
    (metadata.map(|m| m.len()), modified)
}

/// A file, or the files under a folder (recursively, sorted), skipping hidden ones.
fn files_under(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let child = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if child.is_dir() {
                stack.push(child);
            } else {
                files.push(child);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_run_with_hashes_of_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("runs.ndjson");
        let export = dir.path().join("out.csv");
        std::fs::write(&export, b"a\n1\n").unwrap();
        let params = BTreeMap::from([("as_of".to_string(), "2025-06-30".to_string())]);
        let mut log = RunLog::open(&log_path, vec!["segsql".into(), "-f".into(), "x.sql".into()], params).unwrap();
        log.script("x.sql", b"SELECT 1;\n");
        log.statement();
        log.output(export.to_str().unwrap(), Some(1));
        for _ in 0..2 {
            log.append(&log.line(0, &[])).unwrap();
        }
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let record: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(record["scripts"][0]["sha256"], bytes_sha256(b"SELECT 1;\n"));
        // sha256("a\n1\n"), as `sha256sum` prints it.
        assert_eq!(record["outputs"][0]["sha256"], "309b0e45a73d3fc5325e2b6ed0a01ef8b9cde6b05a5633c1f893f970d52bfddc");
        assert_eq!(record["params"]["as_of"], "2025-06-30");
        assert_eq!(record["statements"], 1);
    }

    #[test]
    fn secrets_stay_out_of_the_log() {
        let argv = ["segsql", "--param", "pseudonym_key=abc", "--param=API_TOKEN=x", "--param", "as_of=2025-01-01"];
        assert_eq!(
            redacted_argv(argv.iter().map(|s| s.to_string())),
            [
                "segsql",
                "--param",
                "pseudonym_key=<redacted>",
                "--param=API_TOKEN=<redacted>",
                "--param",
                "as_of=2025-01-01"
            ]
        );
        let params = BTreeMap::from([("pseudonym_key".to_string(), "s3cr3t".to_string())]);
        let dir = tempfile::tempdir().unwrap();
        assert!(!RunLog::open(&dir.path().join("l"), vec![], params).unwrap().line(0, &[]).contains("s3cr3t"));
    }

    #[test]
    fn an_unwritable_log_is_refused_before_the_run() {
        let error = RunLog::open(Path::new("/nonexistent-dir/runs.ndjson"), vec![], BTreeMap::new()).unwrap_err();
        assert!(error.starts_with("--run-log /nonexistent-dir/runs.ndjson: cannot append to it"), "{error}");
    }
}
