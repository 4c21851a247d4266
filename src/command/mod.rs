//! Backslash commands: `\d`, `\set`, `\i` and friends.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::output::Format;
use crate::script::params;
use crate::script::shell::{Flow, Origin, Shell, ShellError, Sink};

/// Every meta command with its one-line help, in the order `\?` lists them.
pub const COMMANDS: [(&str, &str); 18] = [
    ("\\?", "show this help"),
    ("\\d", "list tables"),
    ("\\d NAME", "show the columns of a table"),
    ("\\functions [PATTERN]", "list segsql's segmentation functions with their docs"),
    ("\\timing [on|off]", "print how long each statement takes"),
    ("\\i FILE", "run a script (paths are relative to the including script)"),
    ("\\set [NAME [VALUE]]", "set a ${NAME} parameter, or list them all"),
    ("\\default NAME VALUE", "set NAME unless --param or \\set already did (script defaults)"),
    ("\\unset NAME", "remove a parameter"),
    ("\\o [FILE]", "send results to FILE, or back to the screen"),
    ("\\load DIR", "register the Parquet/CSV/JSON files and folders in DIR as tables"),
    ("\\format FORMAT", "table, csv, tsv, json, ndjson or markdown"),
    ("\\maxrows N|all", "rows shown by the table format"),
    ("\\sample", "describe the built-in sample data"),
    ("\\models", "list the saved models (same as SHOW MODELS)"),
    ("\\chart TYPE x=.. y=.. [value=..]", "draw the last result: heatmap (x, y, value) or bar (x, y)"),
    ("\\q", "quit"),
    ("\\help", "same as \\?"),
];

/// The names alone (`\d`, `\set`, ...), for completion.
pub fn command_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = COMMANDS.iter().map(|(usage, _)| usage.split(' ').next().unwrap_or(usage)).collect();
    names.dedup();
    names
}

fn message(text: impl Into<String>) -> ShellError {
    ShellError::Message(text.into())
}

fn strings_batch(columns: &[(&str, Vec<String>)]) -> Result<RecordBatch, ShellError> {
    let schema = Arc::new(Schema::new(
        columns.iter().map(|(name, _)| Field::new(*name, DataType::Utf8, false)).collect::<Vec<_>>(),
    ));
    let arrays = columns.iter().map(|(_, values)| Arc::new(StringArray::from_iter_values(values)) as _).collect();
    Ok(RecordBatch::try_new(schema, arrays).map_err(|e| message(e.to_string()))?)
}

fn resolve(path: &str, origin: &Origin) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() { path.to_path_buf() } else { origin.base_dir().join(path) }
}

/// Runs one meta command line (starting with `\`).
pub async fn run(shell: &mut Shell, line: &str, origin: &Origin) -> Result<Flow, ShellError> {
    let line = line.trim().trim_end_matches(';').trim();
    let (command, rest) = match line.split_once(char::is_whitespace) {
        Some((command, rest)) => (command, rest.trim()),
        None => (line, ""),
    };
    match command {
        "\\?" | "\\help" | "\\h" => {
            let (usage, help): (Vec<String>, Vec<String>) =
                COMMANDS.iter().map(|(u, h)| (u.to_string(), h.to_string())).unzip();
            shell.print_batch(strings_batch(&[("command", usage), ("what it does", help)])?).await?;
        }
        "\\q" | "\\quit" => return Ok(Flow::Quit),
        "\\d" if rest.is_empty() => list_tables(shell).await?,
        "\\d" => describe_table(shell, rest).await?,
        "\\functions" | "\\df" => list_functions(shell, rest).await?,
        "\\chart" => {
            let spec = crate::report::annotation::ChartSpec::parse(rest)
                .map_err(|e| message(e.replacen("@chart", "\\chart", 1)))?;
            let Some((header, rows)) = &shell.last_result else {
                return Err(message(
                    "\\chart: run a query first; \\chart draws its result (results over 100,000 rows are not kept)",
                ));
            };
            let schema = datafusion::arrow::datatypes::Schema::new(
                header
                    .iter()
                    .map(|h| {
                        datafusion::arrow::datatypes::Field::new(h, datafusion::arrow::datatypes::DataType::Utf8, true)
                    })
                    .collect::<Vec<_>>(),
            );
            spec.check(&schema).map_err(|e| message(e.replacen("@chart", "\\chart", 1)))?;
            let width = crate::script::shell::terminal_width().map_or(100, usize::from);
            let text = crate::report::terminal::render(&spec, header, rows, width);
            let _ = shell.write_text(&text);
        }
        "\\models" => {
            let batch = crate::model::show_models(&shell.models).map_err(ShellError::from)?;
            shell.print_batch(batch).await?;
        }
        "\\timing" => {
            shell.timing = match rest {
                "" => !shell.timing,
                "on" => true,
                "off" => false,
                other => {
                    return Err(message(format!("\\timing: expected on or off, got '{other}'")));
                }
            };
            eprintln!("Timing is {}.", if shell.timing { "on" } else { "off" });
        }
        "\\i" | "\\include" => {
            if rest.is_empty() {
                return Err(message("\\i needs a file: \\i path/to/script.sql"));
            }
            return shell.run_file(&resolve(rest, origin)).await;
        }
        "\\set" => set_param(shell, rest, true).await?,
        "\\default" => {
            if rest.split_whitespace().count() < 2 {
                return Err(message("\\default needs a name and a value: \\default as_of 2025-12-31"));
            }
            set_param(shell, rest, false).await?
        }
        "\\unset" => {
            if shell.params.remove(rest).is_none() {
                return Err(message(format!("\\unset: no parameter named '{rest}'")));
            }
        }
        "\\o" | "\\out" => {
            shell.flush();
            shell.sink = if rest.is_empty() {
                Sink::stdout()
            } else {
                Sink::file(&resolve(rest, origin)).map_err(|e| message(format!("\\o: {e}")))?
            };
        }
        "\\load" => {
            if rest.is_empty() {
                return Err(message("\\load needs a folder: \\load path/to/data"));
            }
            let tables = shell.load_dir(&resolve(rest, origin)).map_err(|e| message(format!("\\load: {e}")))?;
            if shell.interactive {
                eprintln!("Loaded {} table(s): {}", tables.len(), tables.join(", "));
            }
        }
        "\\format" | "\\pset" => {
            let name = rest.strip_prefix("format").map(str::trim).unwrap_or(rest);
            shell.output.format = name.parse::<Format>().map_err(|e| message(format!("\\format: {e}")))?;
        }
        "\\maxrows" => {
            shell.output.maxrows = match rest {
                "all" | "inf" | "0" => None,
                n => Some(n.parse().map_err(|_| message(format!("\\maxrows: expected a number or all, got '{n}'")))?),
            };
        }
        "\\sample" => {
            let lines = crate::data::sample::describe();
            shell.print_batch(strings_batch(&[("table", lines.0), ("what it holds", lines.1)])?).await?;
        }
        other => {
            return Err(message(format!("unknown command {other}; \\? lists the commands")));
        }
    }
    Ok(Flow::Continue)
}

async fn set_param(shell: &mut Shell, rest: &str, overwrite: bool) -> Result<(), ShellError> {
    if rest.is_empty() {
        let (names, values): (Vec<String>, Vec<String>) =
            shell.params.iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
        return Ok(shell.print_batch(strings_batch(&[("name", names), ("value", values)])?).await?);
    }
    let (name, value) = match rest.split_once(char::is_whitespace) {
        Some((name, value)) => (name, value.trim()),
        None => (rest, ""),
    };
    if !params::is_valid_name(name) {
        return Err(message(format!(
            "\\set: '{name}' is not a parameter name; use letters, digits and _, starting with a letter"
        )));
    }
    if overwrite || !shell.params.contains_key(name) {
        shell.params.insert(name.to_string(), value.to_string());
    }
    Ok(())
}

async fn list_tables(shell: &mut Shell) -> Result<(), ShellError> {
    let mut schemas = Vec::new();
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let catalog = shell.ctx.catalog("datafusion").ok_or_else(|| message("the default catalog is missing"))?;
    let mut schema_names = catalog.schema_names();
    schema_names.sort_by_key(|s| (s != "public", s.clone()));
    for schema_name in schema_names {
        if schema_name == "information_schema" {
            continue;
        }
        let Some(schema) = catalog.schema(&schema_name) else {
            continue;
        };
        let mut tables = schema.table_names();
        tables.sort();
        for table in tables {
            let kind = if schema_name == crate::data::sample::SAMPLE_SCHEMA {
                "sample data".to_string()
            } else if let Some(lazy) = shell.data.lazy_source(&table) {
                format!("file {}", lazy.display())
            } else {
                match schema.table_type(&table).await {
                    Ok(Some(kind)) => kind.to_string().to_lowercase(),
                    _ => "table".to_string(),
                }
            };
            schemas.push(schema_name.clone());
            names.push(table);
            kinds.push(kind);
        }
    }
    shell.print_batch(strings_batch(&[("schema", schemas), ("name", names), ("type", kinds)])?).await?;
    Ok(())
}

async fn describe_table(shell: &mut Shell, name: &str) -> Result<(), ShellError> {
    let provider = shell
        .ctx
        .table_provider(name)
        .await
        .map_err(|e| message(format!("\\d {name}: {}; \\d lists the tables", crate::script::shell::user_message(&e))))?;
    let schema = provider.schema();
    let (mut columns, mut types, mut nulls) = (Vec::new(), Vec::new(), Vec::new());
    for field in schema.fields() {
        columns.push(field.name().clone());
        types.push(field.data_type().to_string());
        nulls.push(if field.is_nullable() { "YES" } else { "NO" }.to_string());
    }
    shell.print_batch(strings_batch(&[("column", columns), ("type", types), ("nullable", nulls)])?).await?;
    Ok(())
}

/// True when `name` matches `pattern`: a case-insensitive substring, or a `*` wildcard.
pub fn matches_pattern(name: &str, pattern: &str) -> bool {
    let name = name.to_lowercase();
    let pattern = pattern.to_lowercase();
    if !pattern.contains('*') {
        return name.contains(&pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name.as_str();
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

async fn list_functions(shell: &mut Shell, pattern: &str) -> Result<(), ShellError> {
    let (mut names, mut kinds, mut summaries, mut examples) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for function in segsql_udfs::functions() {
        if !pattern.is_empty() && !matches_pattern(function.name(), pattern) {
            continue;
        }
        let doc = function.documentation();
        names.push(function.name().to_string());
        kinds.push(function.kind().to_string());
        summaries.push(doc.map(|d| segsql_udfs::docs::summary(&d.description).to_string()).unwrap_or_default());
        examples.push(doc.map(|d| d.syntax_example.clone()).unwrap_or_default());
    }
    if names.is_empty() && shell.interactive {
        match pattern {
            "" => eprintln!("No segsql functions are registered."),
            _ => eprintln!("No segsql function matches '{pattern}'; \\functions lists them all."),
        }
        return Ok(());
    }
    shell
        .print_batch(strings_batch(&[
            ("function", names),
            ("kind", kinds),
            ("what it does", summaries),
            ("syntax", examples),
        ])?)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches_pattern("kmeans_assign", "kmeans"));
        assert!(matches_pattern("kmeans_assign", "KMEANS*"));
        assert!(matches_pattern("kmeans_assign", "*assign"));
        assert!(matches_pattern("rfm_segment", "r*seg*"));
        assert!(!matches_pattern("rfm_segment", "*kmeans*"));
        assert!(!matches_pattern("rfm", "rfm_*"));
    }

    #[test]
    fn command_names_are_unique_and_backslashed() {
        let names = command_names();
        assert!(names.iter().all(|n| n.starts_with('\\')));
        assert!(names.contains(&"\\functions"));
    }
}
