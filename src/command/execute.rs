//! What each meta command does, through the [`Host`] the shell provides, so this room
//! depends on the shell's methods and never on its fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use super::{Command, Flow};
use crate::data::described::{Described, HowRead};
use crate::data::folder::DataSchema;
use crate::error::{ShellError, user_message};
use crate::output::{Format, Sink};
use crate::session::ModelStore;

/// The last result's header and cells, kept for `\chart`.
pub type LastResult = (Vec<String>, Vec<Vec<String>>);

/// What a meta command may read and change in the shell that runs it.
pub(crate) trait Host {
    fn context(&self) -> &SessionContext;
    fn data(&self) -> &DataSchema;
    fn models(&self) -> ModelStore;
    /// True when status lines go to stderr for a person to read.
    fn is_interactive(&self) -> bool;
    /// Prints a result the shell made itself, in the current format, all rows.
    async fn print_batch(&mut self, batch: RecordBatch) -> Result<(), ShellError>;
    fn write_text(&mut self, text: &str) -> std::io::Result<()>;
    fn last_result(&self) -> Option<&LastResult>;
    fn timing(&self) -> bool;
    fn set_timing(&mut self, on: bool);
    async fn run_file(&mut self, path: &Path) -> Result<Flow, ShellError>;
    fn params(&self) -> &BTreeMap<String, String>;
    /// Sets a parameter; a name `${...}` cannot use is an error.
    fn set_param(&mut self, name: &str, value: &str) -> Result<(), ShellError>;
    /// Removes a parameter; false when there was none.
    fn unset_param(&mut self, name: &str) -> bool;
    /// Sends results to `sink` from now on, after flushing what went to the old one.
    fn set_sink(&mut self, sink: Sink);
    fn load_dir(&mut self, dir: &Path) -> Result<Vec<String>, ShellError>;
    fn set_format(&mut self, format: Format);
    fn set_maxrows(&mut self, maxrows: Option<usize>);
}

fn message(text: impl Into<String>) -> ShellError {
    ShellError::Message(text.into())
}

fn strings_batch(columns: &[(&str, Vec<String>)]) -> Result<RecordBatch, ShellError> {
    let schema = Arc::new(Schema::new(
        columns.iter().map(|(name, _)| Field::new(*name, DataType::Utf8, false)).collect::<Vec<_>>(),
    ));
    let arrays = columns.iter().map(|(_, values)| Arc::new(StringArray::from_iter_values(values)) as _).collect();
    RecordBatch::try_new(schema, arrays).map_err(|e| message(e.to_string()))
}

fn resolve(path: &str, base_dir: &Path) -> PathBuf {
    if crate::data::s3::is_url(path) {
        return PathBuf::from(path);
    }
    let path = Path::new(path);
    if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) }
}

pub(super) async fn execute(
    command: Command,
    rest: &str,
    host: &mut impl Host,
    base_dir: &Path,
) -> Result<Flow, ShellError> {
    match command {
        Command::Help => {
            let (usage, help): (Vec<String>, Vec<String>) =
                super::help_rows().into_iter().map(|(u, h)| (u.to_string(), h.to_string())).unzip();
            host.print_batch(strings_batch(&[("command", usage), ("what it does", help)])?).await?;
        }
        Command::Quit => return Ok(Flow::Quit),
        // The script runner handles the directives before commands run; one that gets here
        // came without a script around it.
        Command::If | Command::Elif | Command::Else | Command::EndIf => {
            return Err(message(format!(
                "{} is handled by the script runner; a block must end with \\endif in the same script or input",
                command.name()
            )));
        }
        Command::Echo | Command::Warn => {
            let text = crate::script::params::substitute(rest, host.params())?;
            if command == Command::Echo {
                let _ = host.write_text(&format!("{text}\n"));
            } else {
                eprintln!("{text}");
            }
        }
        Command::Tables if rest.is_empty() => list_tables(host).await?,
        Command::Tables => describe_table(host, rest).await?,
        Command::Functions => list_functions(host, rest).await?,
        Command::Chart => {
            let spec = crate::report::annotation::ChartSpec::parse(rest)
                .map_err(|e| message(e.replacen("@chart", "\\chart", 1)))?;
            let Some((header, rows)) = host.last_result() else {
                return Err(message(
                    "\\chart: run a query first; \\chart draws its result (results over 100,000 rows are not kept)",
                ));
            };
            let schema = Schema::new(header.iter().map(|h| Field::new(h, DataType::Utf8, true)).collect::<Vec<_>>());
            spec.check(&schema).map_err(|e| message(e.replacen("@chart", "\\chart", 1)))?;
            let width = crate::output::terminal_width().map_or(100, usize::from);
            let text = crate::report::terminal::render(&spec, header, rows, width);
            let _ = host.write_text(&text);
        }
        Command::Models => {
            let batch = crate::model::show_models(&host.models()).map_err(ShellError::from)?;
            host.print_batch(batch).await?;
        }
        Command::Timing => {
            let on = match rest {
                "" => !host.timing(),
                "on" => true,
                "off" => false,
                other => {
                    return Err(message(format!("\\timing: expected on or off, got '{other}'")));
                }
            };
            host.set_timing(on);
            eprintln!("Timing is {}.", if on { "on" } else { "off" });
        }
        Command::Include => {
            if rest.is_empty() {
                return Err(message("\\i needs a file: \\i path/to/script.sql"));
            }
            return host.run_file(&resolve(rest, base_dir)).await;
        }
        Command::Set => set_param(host, rest, true).await?,
        Command::Default => {
            if rest.split_whitespace().count() < 2 {
                return Err(message("\\default needs a name and a value: \\default as_of 2025-12-31"));
            }
            set_param(host, rest, false).await?
        }
        Command::Unset => {
            if !host.unset_param(rest) {
                return Err(message(format!("\\unset: no parameter named '{rest}'")));
            }
        }
        Command::Output => {
            let sink = if rest.is_empty() {
                Sink::stdout()
            } else {
                Sink::file(&resolve(rest, base_dir)).map_err(|e| message(format!("\\o: {e}")))?
            };
            host.set_sink(sink);
        }
        Command::Load => {
            if rest.is_empty() {
                return Err(message("\\load needs a folder: \\load path/to/data"));
            }
            let tables = host.load_dir(&resolve(rest, base_dir)).map_err(|e| message(format!("\\load: {e}")))?;
            if host.is_interactive() {
                eprintln!("Loaded {} table(s): {}", tables.len(), tables.join(", "));
            }
        }
        Command::Format => {
            let name = rest.strip_prefix("format").map(str::trim).unwrap_or(rest);
            host.set_format(name.parse::<Format>().map_err(|e| message(format!("\\format: {e}")))?);
        }
        Command::MaxRows => {
            host.set_maxrows(match rest {
                "all" | "inf" | "0" => None,
                n => Some(n.parse().map_err(|_| message(format!("\\maxrows: expected a number or all, got '{n}'")))?),
            });
        }
        Command::Sample => {
            let lines = crate::data::sample::describe();
            host.print_batch(strings_batch(&[("table", lines.0), ("what it holds", lines.1)])?).await?;
        }
    }
    Ok(Flow::Continue)
}

async fn set_param(host: &mut impl Host, rest: &str, overwrite: bool) -> Result<(), ShellError> {
    if rest.is_empty() {
        let (names, values): (Vec<String>, Vec<String>) =
            host.params().iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
        return host.print_batch(strings_batch(&[("name", names), ("value", values)])?).await;
    }
    let (name, value) = crate::script::params::assignment(rest);
    if overwrite || !host.params().contains_key(name) {
        host.set_param(name, value).map_err(|e| message(format!("\\set: {e}")))?;
    }
    Ok(())
}

async fn list_tables(host: &mut impl Host) -> Result<(), ShellError> {
    let mut schemas = Vec::new();
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let catalog = host.context().catalog("datafusion").ok_or_else(|| message("the default catalog is missing"))?;
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
            } else if let Some(lazy) = host.data().lazy_source(&table) {
                match host.data().lazy_sheet(&table) {
                    Some(sheet) => format!("file {}, sheet {sheet}", lazy.display()),
                    None => format!("file {}", lazy.display()),
                }
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
    host.print_batch(strings_batch(&[("schema", schemas), ("name", names), ("type", kinds)])?).await
}

async fn describe_table(host: &mut impl Host, name: &str) -> Result<(), ShellError> {
    let provider = host
        .context()
        .table_provider(name)
        .await
        .map_err(|e| message(format!("\\d {name}: {}; \\d lists the tables", user_message(&e))))?;
    let schema = provider.schema();
    let (mut columns, mut types, mut nulls) = (Vec::new(), Vec::new(), Vec::new());
    for field in schema.fields() {
        columns.push(field.name().clone());
        types.push(field.data_type().to_string());
        nulls.push(if field.is_nullable() { "YES" } else { "NO" }.to_string());
    }
    let how = provider.downcast_ref::<Described>().map(Described::how).cloned();
    let Some(HowRead::Csv { dialect, sniffed_from }) = &how else {
        host.print_batch(strings_batch(&[("column", columns), ("type", types), ("nullable", nulls)])?).await?;
        if let Some(HowRead::Delta { version, location }) = &how {
            let _ = host.write_text(&format!("{location}: Delta table at version {version}\n"));
        }
        return Ok(());
    };
    // A sniffed CSV file: how each column was read, and the dialect, so a wrong guess is
    // seen before it costs a report.
    let read_as = (0..columns.len())
        .map(|i| match dialect.columns.get(i) {
            None => "folder name".to_string(),
            Some(c) => c.read_as(),
        })
        .collect();
    host.print_batch(strings_batch(&[
        ("column", columns),
        ("type", types),
        ("nullable", nulls),
        ("read as", read_as),
    ])?)
    .await?;
    let _ = host.write_text(&format!("{sniffed_from}: {}\n", dialect.describe()));
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

async fn list_functions(host: &mut impl Host, pattern: &str) -> Result<(), ShellError> {
    let (mut names, mut kinds, mut summaries, mut examples) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for function in crate::session::function_help() {
        if !pattern.is_empty() && !matches_pattern(&function.name, pattern) {
            continue;
        }
        names.push(function.name);
        kinds.push(function.kind);
        summaries.push(function.summary);
        examples.push(function.syntax);
    }
    if names.is_empty() && host.is_interactive() {
        match pattern {
            "" => eprintln!("No segsql functions are registered."),
            _ => eprintln!("No segsql function matches '{pattern}'; \\functions lists them all."),
        }
        return Ok(());
    }
    host.print_batch(strings_batch(&[
        ("function", names),
        ("kind", kinds),
        ("what it does", summaries),
        ("syntax", examples),
    ])?)
    .await
}
