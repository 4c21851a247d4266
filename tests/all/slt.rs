//! sqllogictest files under `tests/slt/`, run through the shell's own executor so custom
//! statements and meta commands are covered too.

use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::DataType;
use segsql::error::ShellError;
use segsql::script::splitter::{Chunk, ChunkKind};
use segsql::script::{Origin, Shell};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

#[derive(Debug)]
pub struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

impl From<ShellError> for SltError {
    fn from(error: ShellError) -> Self {
        SltError(error.to_string())
    }
}

pub struct SegDb {
    shell: Shell,
    _models: tempfile::TempDir,
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating() || matches!(data_type, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        DefaultColumnType::FloatingPoint
    } else if matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        DefaultColumnType::Text
    } else {
        DefaultColumnType::Any
    }
}

#[async_trait::async_trait]
impl AsyncDB for SegDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        if sql.trim_start().starts_with('\\') {
            let chunk = Chunk { kind: ChunkKind::Meta, text: sql.trim().to_string(), line: 1 };
            self.shell.run_chunk(&chunk, &Origin::Interactive).await?;
            return Ok(DBOutput::StatementComplete(0));
        }
        // Each file gets a fresh models folder; `<models>` stands for it in statements, errors
        // and expected results.
        let models_dir = self._models.path().display().to_string();
        let sql = sql.replace("<models>", &models_dir);
        let outputs = self
            .shell
            .execute_collect(&sql)
            .await
            .map_err(|e| SltError(e.to_string().replace(&models_dir, "<models>")))?;
        let Some(last) = outputs.into_iter().last() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        if !last.returns_rows {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = last.schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let mut rows: Vec<Vec<String>> = Vec::new();
        for row in segsql::output::cells(&last.batches).map_err(|e| SltError(e.to_string()))? {
            let row: Vec<String> = row
                .into_iter()
                .map(|cell| {
                    if cell.is_empty() {
                        "(empty)".to_string()
                    } else {
                        cell.trim_end().replace(&models_dir, "<models>")
                    }
                })
                .collect();
            // A multi-line value (an EXPLAIN plan) is written one line per row in .slt files.
            if row.iter().any(|cell| cell.contains('\n')) {
                rows.extend(row.join(" ").lines().map(|line| vec![line.to_string()]));
            } else {
                rows.push(row);
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    assert!(!files.is_empty(), "no .slt files under {}", root.display());
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    for file in files.iter().filter(|f| f.to_string_lossy().contains(&filter)) {
        let mut runner = sqllogictest::Runner::new(|| async {
            let models = tempfile::tempdir().map_err(|e| SltError(e.to_string()))?;
            Ok(SegDb { shell: crate::support::shell(models.path()), _models: models })
        });
        // SLT_UPDATE=1 rewrites the expected results from what segsql returns now; review
        // the diff before committing it.
        if std::env::var_os("SLT_UPDATE").is_some() {
            let update = runner
                .update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await;
            if let Err(error) = update {
                failures.push(format!("{}\n{error}", file.display()));
            }
            continue;
        }
        if let Err(error) = runner.run_file_async(file).await {
            failures.push(format!("{}\n{}", file.display(), error.display(false)));
        }
    }
    assert!(failures.is_empty(), "{} slt file(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
