//! segsql's statement parser: DataFusion's `DFParser` plus segsql's own statements.
//!
//! Custom statements are recognised by peeking at the first tokens; everything else is
//! handed to `DFParser`, so DataFusion's own extensions (`CREATE EXTERNAL TABLE`, `COPY`)
//! keep working.

use datafusion::common::{Result, plan_err};
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Query, SelectFlavor, SelectItem, SetExpr, Statement as SQLStatement, WildcardAdditionalOptions,
};
use datafusion::sql::sqlparser::dialect::dialect_from_str;

/// A statement that the shell can execute.
#[derive(Debug, Clone, PartialEq)]
pub enum SegStatement {
    /// A statement DataFusion plans itself.
    DataFusion(Box<DFStatement>),
}

impl SegStatement {
    /// True when the statement produces a result for the user to read (a query, `EXPLAIN`,
    /// `SHOW`, `DESCRIBE`), as opposed to a command whose result is only a status.
    pub fn returns_rows(&self) -> bool {
        match self {
            SegStatement::DataFusion(statement) => match statement.as_ref() {
                DFStatement::Statement(sql) => matches!(
                    sql.as_ref(),
                    SQLStatement::Query(_)
                        | SQLStatement::Explain { .. }
                        | SQLStatement::ExplainTable { .. }
                        | SQLStatement::ShowTables { .. }
                        | SQLStatement::ShowColumns { .. }
                        | SQLStatement::ShowVariable { .. }
                        | SQLStatement::ShowFunctions { .. }
                ),
                DFStatement::Explain(_) => true,
                _ => false,
            },
        }
    }
}

/// Parses `sql` (one or more statements) with the named sqlparser dialect.
pub fn parse(sql: &str, dialect_name: &str) -> Result<Vec<SegStatement>> {
    let Some(dialect) = dialect_from_str(dialect_name) else {
        return plan_err!(
            "unsupported SQL dialect '{dialect_name}': set datafusion.sql_parser.dialect to one of generic, postgresql, duckdb, mysql, bigquery"
        );
    };
    let mut parser = DFParserBuilder::new(sql).with_dialect(dialect.as_ref()).build()?;
    let statements = parser.parse_statements()?;
    Ok(statements
        .into_iter()
        .map(|statement| SegStatement::DataFusion(Box::new(rewrite_bare_from(statement))))
        .collect())
}

/// `FROM t` alone means `SELECT * FROM t`, as in DuckDB; DataFusion would otherwise return
/// a silent result with no columns.
fn rewrite_bare_from(statement: DFStatement) -> DFStatement {
    match statement {
        DFStatement::Statement(sql) => {
            let mut sql = *sql;
            if let SQLStatement::Query(query) = &mut sql {
                add_wildcard_to_bare_from(query);
            }
            DFStatement::Statement(Box::new(sql))
        }
        other => other,
    }
}

fn add_wildcard_to_bare_from(query: &mut Query) {
    if let SetExpr::Select(select) = query.body.as_mut()
        && select.flavor == SelectFlavor::FromFirstNoSelect
        && select.projection.is_empty()
    {
        select.projection.push(SelectItem::Wildcard(WildcardAdditionalOptions::default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_datafusion_statements() {
        let statements = parse("SELECT 1; COPY (SELECT 1) TO 'x.csv'", "generic").unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].returns_rows());
        assert!(!statements[1].returns_rows());
    }

    #[test]
    fn bare_from_selects_everything() {
        let statements = parse("FROM t", "generic").unwrap();
        let SegStatement::DataFusion(statement) = &statements[0];
        let DFStatement::Statement(sql) = statement.as_ref() else { panic!("not SQL") };
        let SQLStatement::Query(query) = sql.as_ref() else { panic!("not a query") };
        let SetExpr::Select(select) = query.body.as_ref() else { panic!("not a select") };
        assert!(matches!(select.projection.as_slice(), [SelectItem::Wildcard(_)]));
    }

    #[test]
    fn unknown_dialect_is_a_clear_error() {
        let err = parse("SELECT 1", "klingon").unwrap_err();
        assert!(err.to_string().contains("unsupported SQL dialect 'klingon'"));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(parse("SELEC 1", "generic").unwrap_err().to_string().contains("SELEC"));
    }
}
