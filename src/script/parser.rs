//! segsql's statement parser: DataFusion's `DFParser` plus segsql's own statements.
//!
//! Custom statements are recognised by peeking at the first tokens; everything else is
//! handed to `DFParser`, so DataFusion's own extensions (`CREATE EXTERNAL TABLE`, `COPY`)
//! keep working.

use datafusion::common::{Result, plan_err};
use datafusion::sql::parser::{DFParser, DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Ident, Query, SelectFlavor, SelectItem, SetExpr, Statement as SQLStatement, WildcardAdditionalOptions,
};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;

pub use crate::model::CreateModel;

/// A statement that the shell can execute.
#[derive(Debug, Clone, PartialEq)]
pub enum SegStatement {
    /// A statement DataFusion plans itself.
    DataFusion(Box<DFStatement>),
    /// `CREATE [OR REPLACE] MODEL name USING kmeans (option = value, ...) AS query`
    CreateModel(Box<CreateModel>),
    /// `DROP MODEL [IF EXISTS] name`
    DropModel { name: String, if_exists: bool },
    /// `SHOW MODELS`
    ShowModels,
    /// `SUMMARIZE table` or `SUMMARIZE query`: one row per column of the query's result.
    Summarize(Box<Query>),
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
            SegStatement::CreateModel(_) | SegStatement::ShowModels | SegStatement::Summarize(_) => true,
            SegStatement::DropModel { .. } => false,
        }
    }

    /// The columns of the result of a statement of segsql's own, known before it runs;
    /// `None` for DataFusion's statements (DataFusion plans those) and for commands.
    pub fn own_result_schema(&self) -> Option<datafusion::arrow::datatypes::SchemaRef> {
        match self {
            SegStatement::CreateModel(create) => Some(crate::model::summary_schema(&create.algorithm)),
            SegStatement::ShowModels => Some(crate::model::show_models_schema()),
            SegStatement::Summarize(_) => Some(super::summarize::result_schema()),
            SegStatement::DropModel { .. } | SegStatement::DataFusion(_) => None,
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
    // DFParser::parse_statements, with segsql's statements tried first.
    let mut statements = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        if parser.parser.peek_token() == Token::EOF {
            break;
        }
        if expecting_delimiter {
            let found = parser.parser.peek_token();
            // `SELECT a, cluster FROM t` stops at `cluster`: the generic dialect allows a
            // trailing comma before words such as CLUSTER, SORT or LIMIT.
            if let Token::Word(word) = &found.token
                && word.keyword != Keyword::NoKeyword
                && word.quote_style.is_none()
            {
                return plan_err!(
                    "expected end of statement (a ;), found {found}; if {found} is a column or alias, quote it: \"{}\"",
                    word.value
                );
            }
            return plan_err!("expected end of statement (a ;), found {found}");
        }
        statements.push(match parse_model_statement(&mut parser)? {
            Some(statement) => statement,
            None => SegStatement::DataFusion(Box::new(rewrite_bare_from(parser.parse_statement()?))),
        });
        expecting_delimiter = true;
    }
    Ok(statements)
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.value.eq_ignore_ascii_case(word) && w.quote_style.is_none())
}

/// A SQL identifier as DataFusion treats it: unquoted names fold to lower case.
fn identifier(ident: Ident) -> String {
    if ident.quote_style.is_some() { ident.value } else { ident.value.to_ascii_lowercase() }
}

/// Parses a model statement if the next tokens start one.
fn parse_model_statement(parser: &mut DFParser) -> Result<Option<SegStatement>> {
    let p = &mut parser.parser;
    let first = p.peek_nth_token(0).token;
    let second = p.peek_nth_token(1).token;
    let third = p.peek_nth_token(2).token;
    let fourth = p.peek_nth_token(3).token;
    if is_word(&first, "show") && is_word(&second, "models") {
        p.next_token();
        p.next_token();
        return Ok(Some(SegStatement::ShowModels));
    }
    if is_word(&first, "summarize") {
        p.next_token();
        let starts_query = matches!(&second, Token::LParen)
            || matches!(&second, Token::Word(w) if matches!(w.keyword, Keyword::SELECT | Keyword::WITH | Keyword::FROM | Keyword::VALUES) && w.quote_style.is_none());
        if starts_query {
            let mut query = p.parse_query()?;
            add_wildcard_to_bare_from(&mut query);
            return Ok(Some(SegStatement::Summarize(query)));
        }
        if matches!(second, Token::EOF | Token::SemiColon) {
            return plan_err!(
                "SUMMARIZE: name a table or give a query, as in SUMMARIZE orders or SUMMARIZE SELECT ..."
            );
        }
        let table = p.parse_object_name(false)?;
        let sql = format!("SELECT * FROM {table}");
        let mut inner = DFParserBuilder::new(sql.as_str()).build()?;
        let query = inner.parser.parse_query()?;
        return Ok(Some(SegStatement::Summarize(query)));
    }
    if is_word(&first, "drop") && is_word(&second, "model") {
        p.next_token();
        p.next_token();
        let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = identifier(p.parse_identifier()?);
        return Ok(Some(SegStatement::DropModel { name, if_exists }));
    }
    let create_model = is_word(&first, "create")
        && (is_word(&second, "model")
            || (is_word(&second, "or") && is_word(&third, "replace") && is_word(&fourth, "model")));
    if !create_model {
        return Ok(None);
    }
    p.next_token();
    let or_replace = p.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    p.next_token();
    let name = identifier(p.parse_identifier()?);
    if !p.parse_keyword(Keyword::USING) {
        return plan_err!("CREATE MODEL {name}: expected USING kmeans (k = ...) AS query, found {}", p.peek_token());
    }
    let algorithm = identifier(p.parse_identifier()?);
    let mut options = Vec::new();
    if p.consume_token(&Token::LParen) && !p.consume_token(&Token::RParen) {
        loop {
            let key = identifier(p.parse_identifier()?);
            p.expect_token(&Token::Eq)?;
            options.push((key, p.parse_expr()?));
            if p.consume_token(&Token::Comma) {
                continue;
            }
            p.expect_token(&Token::RParen)?;
            break;
        }
    }
    if !p.parse_keyword(Keyword::AS) {
        return plan_err!("CREATE MODEL {name}: expected AS followed by the training query, found {}", p.peek_token());
    }
    let query = p.parse_query()?;
    Ok(Some(SegStatement::CreateModel(Box::new(CreateModel { name, or_replace, algorithm, options, query }))))
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
    fn summarize_takes_a_table_or_a_query() {
        let statements =
            parse("SUMMARIZE sample.orders; summarize SELECT 1 AS a; SUMMARIZE (SELECT 2)", "generic").unwrap();
        let texts: Vec<String> = statements
            .iter()
            .map(|s| match s {
                SegStatement::Summarize(query) => query.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["SELECT * FROM sample.orders", "SELECT 1 AS a", "(SELECT 2)"]);
        assert!(statements[0].returns_rows());
        let err = parse("SUMMARIZE;", "generic").unwrap_err().to_string();
        assert!(err.contains("SUMMARIZE: name a table or give a query"), "{err}");
    }

    #[test]
    fn parses_datafusion_statements() {
        let statements = parse("SELECT 1; COPY (SELECT 1) TO 'x.csv'", "generic").unwrap();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].returns_rows());
        assert!(!statements[1].returns_rows());
    }

    #[test]
    fn model_statements_parse_between_sql() {
        let statements = parse(
            "SELECT 1; CREATE OR REPLACE MODEL Segs USING kmeans (k = 3, standardize = 'zscore') AS SELECT a, b FROM t; \
             DROP MODEL IF EXISTS segs; SHOW MODELS",
            "generic",
        )
        .unwrap();
        assert_eq!(statements.len(), 4);
        let SegStatement::CreateModel(create) = &statements[1] else { panic!("not CREATE MODEL") };
        assert_eq!(create.name, "segs");
        assert!(create.or_replace);
        assert_eq!(create.algorithm, "kmeans");
        assert_eq!(create.options.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["k", "standardize"]);
        assert_eq!(statements[2], SegStatement::DropModel { name: "segs".into(), if_exists: true });
        assert_eq!(statements[3], SegStatement::ShowModels);
    }

    #[test]
    fn a_reserved_word_as_a_column_gets_a_hint() {
        let err = parse("SELECT a, cluster FROM t", "generic").unwrap_err().to_string();
        assert!(err.contains("quote it: \"cluster\""), "{err}");
        assert!(parse("SELECT a, \"cluster\" FROM t", "generic").is_ok());
    }

    #[test]
    fn create_model_without_as_says_what_is_missing() {
        let err = parse("CREATE MODEL m USING kmeans (k = 2) SELECT 1", "generic").unwrap_err().to_string();
        assert!(err.contains("CREATE MODEL m: expected AS"), "{err}");
    }

    #[test]
    fn bare_from_selects_everything() {
        let statements = parse("FROM t", "generic").unwrap();
        let SegStatement::DataFusion(statement) = &statements[0] else { panic!("not SQL") };
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
