//! Tab completion for the REPL: keywords, tables, columns, functions, meta commands and
//! file names, with the context of the word being typed deciding which.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::script::Shell;

/// The SQL keywords worth completing: the ones analysts type, not sqlparser's 800.
pub const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COPY",
    "CREATE",
    "CROSS",
    "CURRENT_DATE",
    "DATE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXCLUDE",
    "EXISTS",
    "EXPLAIN",
    "EXTERNAL",
    "FALSE",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LAST",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCATION",
    "MODEL",
    "MODELS",
    "NATURAL",
    "NOT",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRECEDING",
    "QUALIFY",
    "RANGE",
    "RECURSIVE",
    "REPLACE",
    "RIGHT",
    "ROWS",
    "SELECT",
    "SET",
    "SHOW",
    "STORED",
    "TABLE",
    "TABLES",
    "THEN",
    "TIMESTAMP",
    "TO",
    "TRUE",
    "UNBOUNDED",
    "UNION",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// Words that are followed by a table name.
const BEFORE_TABLE: &[&str] = &["FROM", "JOIN", "INTO", "TABLE", "UPDATE", "DESCRIBE"];

/// What the completer knows about the session, refreshed after every statement.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Table names as typed: `orders`, `sample.orders`.
    pub tables: Vec<String>,
    /// Schema names other than the default one.
    pub schemas: Vec<String>,
    /// Columns of each table that has been opened, by every name it is typed as.
    pub columns: BTreeMap<String, Vec<String>>,
    pub functions: Vec<String>,
}

impl Catalog {
    /// Reads tables, columns and functions from the shell's session. Columns of file
    /// tables that no query has opened yet are left out, so refreshing never reads data.
    pub async fn load(shell: &Shell) -> Catalog {
        let mut catalog = Catalog::default();
        let state = shell.context().state();
        let mut functions: Vec<String> = state.scalar_functions().keys().cloned().collect();
        functions.extend(state.aggregate_functions().keys().cloned());
        functions.extend(state.window_functions().keys().cloned());
        functions.extend(state.table_functions().keys().cloned());
        // The internal building blocks of table functions are registered, not offered.
        functions.retain(|name| !name.starts_with("segsql_"));
        functions.sort();
        functions.dedup();
        catalog.functions = functions;
        let Some(default_catalog) = shell.context().catalog("datafusion") else {
            return catalog;
        };
        for schema_name in default_catalog.schema_names() {
            if schema_name == "information_schema" {
                continue;
            }
            let Some(schema) = default_catalog.schema(&schema_name) else {
                continue;
            };
            let public = schema_name == "public";
            if !public {
                catalog.schemas.push(schema_name.clone());
            }
            for table in schema.table_names() {
                let qualified = if public { table.clone() } else { format!("{schema_name}.{table}") };
                let opened = !public || shell.data().lazy_source(&table).is_none() || shell.data().is_open(&table);
                if opened && let Ok(Some(provider)) = schema.table(&table).await {
                    let columns: Vec<String> = provider.schema().fields().iter().map(|f| f.name().clone()).collect();
                    catalog.columns.insert(qualified.clone(), columns.clone());
                    catalog.columns.entry(table.clone()).or_insert(columns);
                }
                catalog.tables.push(qualified);
            }
        }
        catalog.tables.sort();
        catalog
    }

    /// Candidates for `word` given the text before it.
    pub fn candidates(&self, before: &str, word: &str) -> Vec<String> {
        let lower = word.to_lowercase();
        let starts = |candidate: &str| candidate.to_lowercase().starts_with(&lower);
        if let Some((qualifier, partial)) = word.rsplit_once('.') {
            let partial = partial.to_lowercase();
            let mut out: Vec<String> = Vec::new();
            if self.schemas.iter().any(|s| s.eq_ignore_ascii_case(qualifier)) {
                out.extend(
                    self.tables
                        .iter()
                        .filter(|t| t.to_lowercase().starts_with(&format!("{}.{partial}", qualifier.to_lowercase())))
                        .cloned(),
                );
            }
            let table = self.resolve_alias(before, qualifier);
            if let Some(columns) = self.columns.get(&table) {
                out.extend(
                    columns
                        .iter()
                        .filter(|c| c.to_lowercase().starts_with(&partial))
                        .map(|c| format!("{qualifier}.{c}")),
                );
            }
            return out;
        }
        let previous = before.split_whitespace().last().unwrap_or("").to_uppercase();
        if BEFORE_TABLE.contains(&previous.as_str()) {
            let mut out: Vec<String> = self.tables.iter().filter(|t| starts(t)).cloned().collect();
            out.extend(self.schemas.iter().filter(|s| starts(s)).map(|s| format!("{s}.")));
            return out;
        }
        let mut out: Vec<String> = Vec::new();
        // Columns of the tables the statement names come first: they are what one types most.
        let mentioned: Vec<&String> = self.tables.iter().filter(|t| mentions(before, t)).collect();
        for table in &mentioned {
            if let Some(columns) = self.columns.get(*table) {
                out.extend(columns.iter().filter(|c| starts(c)).cloned());
            }
        }
        let upper = word.chars().next().is_some_and(char::is_uppercase);
        out.extend(KEYWORDS.iter().filter(|k| starts(k)).map(|k| if upper { k.to_string() } else { k.to_lowercase() }));
        out.extend(self.functions.iter().filter(|f| starts(f)).cloned());
        out.extend(self.tables.iter().filter(|t| starts(t)).cloned());
        if mentioned.is_empty() {
            for columns in self.columns.values() {
                out.extend(columns.iter().filter(|c| starts(c)).cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.clone()));
        out
    }

    /// `o` in `FROM sample.orders o` stands for `sample.orders`.
    fn resolve_alias(&self, before: &str, name: &str) -> String {
        let words: Vec<&str> =
            before.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect();
        for window in words.windows(2) {
            let alias_at = if window[1].eq_ignore_ascii_case("as") { None } else { Some(window[1]) };
            if alias_at.is_some_and(|a| a.eq_ignore_ascii_case(name)) && self.columns.contains_key(window[0]) {
                return window[0].to_string();
            }
        }
        for window in words.windows(3) {
            if window[1].eq_ignore_ascii_case("as")
                && window[2].eq_ignore_ascii_case(name)
                && self.columns.contains_key(window[0])
            {
                return window[0].to_string();
            }
        }
        name.to_string()
    }
}

fn mentions(text: &str, table: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).any(|w| w.eq_ignore_ascii_case(table))
}

/// The rustyline helper: completion plus "keep reading until `;`".
pub struct ReplHelper {
    pub catalog: Arc<RwLock<Catalog>>,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(catalog: Arc<RwLock<Catalog>>) -> Self {
        ReplHelper { catalog, files: FilenameCompleter::new() }
    }
}

/// The start of the word that ends at `pos`.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '\\')
        .last()
        .map_or(pos, |(i, _)| i)
}

fn inside_string(text: &str) -> bool {
    text.chars().filter(|c| *c == '\'').count() % 2 == 1
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before_cursor = &line[..pos];
        let trimmed = before_cursor.trim_start();
        // Meta commands: the command itself, then a file or table argument.
        if trimmed.starts_with('\\') {
            match trimmed.split_once(char::is_whitespace) {
                None => {
                    let start = pos - trimmed.len();
                    let pairs = crate::command::command_names()
                        .into_iter()
                        .filter(|c| c.starts_with(trimmed))
                        .map(|c| Pair { display: c.to_string(), replacement: format!("{c} ") })
                        .collect();
                    return Ok((start, pairs));
                }
                Some(("\\d", _)) => {}
                Some(_) => return self.files.complete(line, pos, ctx),
            }
        }
        if inside_string(before_cursor) {
            return self.files.complete(line, pos, ctx);
        }
        let start = word_start(line, pos);
        let word = &line[start..pos];
        let before = &line[..start];
        let Ok(catalog) = self.catalog.read() else {
            return Ok((start, vec![]));
        };
        let pairs =
            catalog.candidates(before, word).into_iter().map(|c| Pair { display: c.clone(), replacement: c }).collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with('\\') || !crate::script::splitter::needs_more_input(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut catalog = Catalog {
            tables: vec!["orders".into(), "sample.customers".into(), "sample.orders".into()],
            schemas: vec!["sample".into()],
            functions: vec!["sum".into(), "silhouette".into()],
            ..Default::default()
        };
        catalog.columns.insert("sample.orders".into(), vec!["order_id".into(), "amount".into()]);
        catalog.columns.insert("orders".into(), vec!["order_id".into(), "amount".into()]);
        catalog.columns.insert("sample.customers".into(), vec!["customer_id".into(), "signup_ts".into()]);
        catalog
    }

    #[test]
    fn tables_after_from() {
        assert_eq!(catalog().candidates("SELECT * FROM ", "o"), vec!["orders"]);
        assert_eq!(catalog().candidates("SELECT * FROM ", "sa"), vec!["sample.customers", "sample.orders", "sample."]);
        assert_eq!(catalog().candidates("SELECT * FROM ", "sample.c"), vec!["sample.customers"]);
    }

    #[test]
    fn keywords_follow_the_case_typed() {
        assert!(catalog().candidates("", "sel").contains(&"select".to_string()));
        assert!(catalog().candidates("", "SEL").contains(&"SELECT".to_string()));
    }

    #[test]
    fn columns_of_mentioned_tables_come_first() {
        let c = catalog().candidates("SELECT sum(", "am");
        assert!(c.contains(&"amount".to_string()));
        let c = catalog().candidates("FROM sample.customers SELECT ", "s");
        assert_eq!(c[0], "signup_ts");
        assert!(c.contains(&"silhouette".to_string()));
    }

    #[test]
    fn qualified_columns_and_aliases() {
        assert_eq!(catalog().candidates("SELECT ", "orders.am"), vec!["orders.amount"]);
        assert_eq!(catalog().candidates("SELECT * FROM sample.customers c WHERE ", "c.sign"), vec!["c.signup_ts"]);
        assert_eq!(
            catalog().candidates("SELECT * FROM sample.customers AS cu WHERE ", "cu.cus"),
            vec!["cu.customer_id"]
        );
    }

    #[test]
    fn word_boundaries() {
        assert_eq!(word_start("SELECT sample.or", 16), 7);
        assert_eq!(word_start("SELECT ", 7), 7);
        assert_eq!(word_start("\\fun", 4), 0);
    }

    #[test]
    fn strings_are_detected() {
        assert!(inside_string("SELECT * FROM 'data/"));
        assert!(!inside_string("SELECT 'a' FROM "));
    }
}
