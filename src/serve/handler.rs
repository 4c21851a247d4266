//! One connection: its session, its parameters, and how its statements run.
//!
//! DataFusion's statements go to `datafusion-postgres`' `DfSessionService` (its PostgreSQL
//! parser rewrites, `SET`/`SHOW`, cursors, transactions as no-ops, parameter binding and
//! Arrow-to-wire encoding), over this connection's own `SessionContext`. segsql's own
//! statements (`CREATE MODEL`, `DROP MODEL`, `SHOW MODELS`, `SUMMARIZE`), `COPY` (written
//! atomically, as the shell does) and `CREATE EXTERNAL TABLE` (with `aws.*` options) run
//! through the shell's executor. `${name}` is substituted first, from `--param`, the setup
//! scripts' `\set` and this connection's `SET param.name = 'value'`.
//!
//! A query's first row is computed before its answer starts, inside the part of the exchange
//! that the PostgreSQL cancel request interrupts; the rows after it stop at a cancel too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, StreamExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use tokio::sync::watch;

use super::log;
use super::server::Server;
use crate::error::user_message;
use crate::script::Shell;
use crate::script::params;
use crate::script::parser::{self, SegStatement};

/// DataFusion-postgres' prepared statement: the SQL, and its parsed statement and plan
/// (`None` for statements DataFusion does not plan, which are segsql's).
pub type WireStatement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

/// A connection's state.
pub struct Connection {
    server: Arc<Server>,
    /// Who is at the other end, for the log.
    peer: String,
    df: Arc<DfSessionService>,
    parser: Arc<SegParser>,
    /// The connection's session, shared with its shell and DataFusion-postgres' service.
    ctx: datafusion::prelude::SessionContext,
    shell: tokio::sync::Mutex<Shell>,
    /// Set once, at the first statement: the backend id the cancel request names.
    pid: OnceLock<i32>,
    /// Bumped by a cancel request; a running query stops when it changes.
    cancel: Arc<watch::Sender<u64>>,
}

impl Connection {
    pub fn new(server: Arc<Server>, peer: String) -> datafusion::common::Result<Connection> {
        let ctx = server.connection_context()?;
        let df = Arc::new(DfSessionService::new(Arc::new(ctx.clone())));
        let params = Arc::new(parking_lot::RwLock::new(server.params().clone()));
        let parser = Arc::new(SegParser {
            inner: df.query_parser(),
            params,
            dialect: ctx.state().config().options().sql_parser.dialect.to_string(),
        });
        let shell = Shell::for_session(ctx.clone(), server.data());
        Ok(Connection {
            server,
            peer,
            df,
            parser,
            ctx,
            shell: tokio::sync::Mutex::new(shell),
            pid: OnceLock::new(),
            cancel: Arc::new(watch::channel(0).0),
        })
    }

    /// Makes the connection cancellable by its backend id, once startup has given it one.
    fn register<C: ClientInfo + ?Sized>(&self, client: &C) {
        if self.pid.get().is_none() {
            let (pid, _) = client.pid_and_secret_key();
            if self.pid.set(pid).is_ok() {
                self.server.cancels().lock().insert(pid, Arc::clone(&self.cancel));
            }
        }
    }

    /// Waits for the first row of a query's answer, then hands the rest over as a stream
    /// that stops at a cancel request and reports DataFusion's errors as the shell does.
    async fn ready(&self, response: Response) -> PgWireResult<Response> {
        let Response::Query(query) = response else {
            return Ok(response);
        };
        let mut query = query;
        let command_tag = query.command_tag.clone();
        let row_schema = query.row_schema();
        let mut data_rows = std::mem::replace(&mut query.data_rows, Box::pin(stream::empty()));
        let mut watcher = self.cancel.subscribe();
        watcher.mark_unchanged();
        let first = data_rows.next().await.map(|row| row.map_err(wire_error));
        if let Some(Err(error)) = first {
            return Err(error);
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancelled);
        let stop = async move {
            if watcher.changed().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            } else {
                // The connection is going away; the stream is dropped with it.
                std::future::pending::<()>().await;
            }
        };
        let rows = stream::iter(first).chain(data_rows.map(|row| row.map_err(wire_error))).take_until(Box::pin(stop));
        let tail = stream::once(async move { cancelled.load(Ordering::Relaxed).then(canceled) })
            .filter_map(|e| async move { e.map(Err) });
        let mut response = QueryResponse::new(row_schema, rows.chain(tail));
        response.set_command_tag(&command_tag);
        Ok(Response::Query(response))
    }

    /// The statements answered here, before any parser: `SET/SHOW/RESET param.name` (this
    /// connection's `${name}`); savepoints, accepted as no-ops as DataFusion-postgres accepts
    /// `BEGIN` and `COMMIT` (psycopg opens one inside SQLAlchemy's first transaction);
    /// `SHOW datafusion.x`/`segsql.x`; and the refusal of `SET datafusion.runtime.*`.
    fn param_statement(&self, sql: &str) -> Option<PgWireResult<Response>> {
        if let Some(tag) = savepoint_tag(sql) {
            return Some(Ok(Response::Execution(Tag::new(tag))));
        }
        if let Some(name) = shown_setting(sql) {
            return Some(self.show_setting(&name));
        }
        if let Some(name) = runtime_setting(sql) {
            return Some(Err(user_error(
                "42501",
                format!(
                    "SET {name}: the memory pool, spill files and caches are the server's (--memory-limit), \
                     shared by every connection; a connection cannot change them"
                ),
            )));
        }
        match ParamStatement::parse(sql)? {
            Err(message) => Some(Err(user_error("42601", message))),
            Ok(ParamStatement::Set(name, value)) => {
                log::detail(|| format!("{}: SET param.{name}", self.peer));
                self.parser.params.write().insert(name, value);
                Some(Ok(Response::Execution(Tag::new("SET"))))
            }
            Ok(ParamStatement::Reset(name)) => {
                self.parser.params.write().remove(&name);
                Some(Ok(Response::Execution(Tag::new("RESET"))))
            }
            Ok(ParamStatement::Show(name)) => {
                let value = self.parser.params.read().get(&name).cloned();
                let Some(value) = value else {
                    return Some(Err(user_error(
                        "42704",
                        format!("SHOW param.{name}: the parameter is not set; SET param.{name} = '...' sets it"),
                    )));
                };
                let schema = param_schema(&name);
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(datafusion::arrow::array::StringArray::from(vec![value]))],
                );
                Some(
                    batch
                        .map_err(|e| wire_error_df(&e.into()))
                        .and_then(|b| rows_response(&schema, vec![b], &Format::UnifiedText)),
                )
            }
        }
    }

    /// `SHOW datafusion.x` or `SHOW segsql.x`: DataFusion-postgres answers only PostgreSQL's
    /// own settings, so this connection's DataFusion and segsql settings are answered here,
    /// with the columns DataFusion's `SHOW` has.
    fn show_setting(&self, name: &str) -> PgWireResult<Response> {
        let entries = self.ctx.state().config().options().entries();
        // DataFusion lists an extension's settings without their prefix (`models_dir`), and
        // segsql's are the only extension settings a session has.
        let unprefixed = name.strip_prefix("segsql.");
        let found = entries.into_iter().find(|e| e.key == name || !e.key.contains('.') && unprefixed == Some(&e.key));
        let Some(entry) = found else {
            return Err(user_error("42704", format!("SHOW {name}: unrecognized configuration parameter")));
        };
        let schema = setting_schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(datafusion::arrow::array::StringArray::from(vec![name])),
                Arc::new(datafusion::arrow::array::StringArray::from(vec![entry.value])),
            ],
        )
        .map_err(|e| wire_error_df(&e.into()))?;
        rows_response(&schema, vec![batch], &Format::UnifiedText)
    }

    /// Runs one of segsql's own statements, or a COPY, through the shell.
    async fn run_own(&self, statement: SegStatement, format: &Format) -> PgWireResult<Response> {
        let tag = own_tag(&statement);
        let mut shell = self.shell.lock().await;
        let output = shell.run_collected(statement).await.map_err(|e| wire_error_df(&e))?;
        if output.returns_rows {
            return rows_response(&output.schema, output.batches, format);
        }
        let rows = output
            .batches
            .first()
            .and_then(|b| b.column_by_name("count"))
            .and_then(|c| c.as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>().map(|a| a.value(0)));
        let tag = Tag::new(&tag);
        Ok(Response::Execution(match rows {
            Some(rows) => tag.with_rows(rows as usize),
            None => tag,
        }))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.get() {
            let mut cancels = self.server.cancels().lock();
            if cancels.get(pid).is_some_and(|watch| Arc::ptr_eq(watch, &self.cancel)) {
                cancels.remove(pid);
            }
        }
        log::detail(|| format!("{}: disconnected", self.peer));
    }
}

/// The wire's error for a query stopped by a cancel request, as PostgreSQL words it.
fn canceled() -> PgWireError {
    user_error("57014", "canceling statement due to user request".to_string())
}

pub fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message)))
}

/// A DataFusion error as the shell says it, with the SQLSTATE class a client can act on.
fn wire_error_df(error: &DataFusionError) -> PgWireError {
    user_error(sqlstate(error), user_message(error))
}

fn sqlstate(error: &DataFusionError) -> &'static str {
    match error {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => sqlstate(inner),
        DataFusionError::Shared(inner) => sqlstate(inner),
        DataFusionError::External(inner) => inner.downcast_ref::<DataFusionError>().map_or("XX000", sqlstate),
        DataFusionError::SQL(..) => "42601",
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => "42000",
        DataFusionError::Execution(_) | DataFusionError::ArrowError(..) => "22000",
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::NotImplemented(_) => "0A000",
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => "58030",
        _ => "XX000",
    }
}

/// DataFusion-postgres wraps DataFusion's errors as API errors; say them as the shell does.
fn wire_error(error: PgWireError) -> PgWireError {
    match error {
        PgWireError::ApiError(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(error) => wire_error_df(error),
            None => PgWireError::ApiError(inner),
        },
        other => other,
    }
}

fn rows_response(schema: &SchemaRef, batches: Vec<RecordBatch>, format: &Format) -> PgWireResult<Response> {
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, None)?);
    let encoded = Arc::clone(&fields);
    let rows =
        stream::iter(batches).flat_map(move |batch| stream::iter(encode_recordbatch(Arc::clone(&encoded), batch)));
    Ok(Response::Query(QueryResponse::new(fields, rows)))
}

fn setting_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false), Field::new("value", DataType::Utf8, true)]))
}

/// The setting `SHOW datafusion.x` or `SHOW segsql.x` asks for, in lower case.
fn shown_setting(sql: &str) -> Option<String> {
    let text = sql.trim().trim_end_matches(';').trim();
    let (verb, name) = text.split_once(char::is_whitespace)?;
    let name = name.trim().to_ascii_lowercase();
    let ours = name.starts_with("datafusion.") || name.starts_with("segsql.");
    (verb.eq_ignore_ascii_case("SHOW") && ours && !name.contains(char::is_whitespace)).then_some(name)
}

/// The `datafusion.runtime.*` setting a `SET` would change, if that is what it does.
fn runtime_setting(sql: &str) -> Option<String> {
    let text = sql.trim();
    let (verb, rest) = text.split_once(char::is_whitespace)?;
    if !verb.eq_ignore_ascii_case("SET") {
        return None;
    }
    let rest = rest.trim_start();
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
    name.to_ascii_lowercase().starts_with("datafusion.runtime.").then_some(name)
}

fn param_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(format!("param.{name}"), DataType::Utf8, false)]))
}

/// The command tag a client shows for a statement that returns no rows.
fn own_tag(statement: &SegStatement) -> String {
    match statement {
        SegStatement::DropModel { .. } => "DROP MODEL".into(),
        SegStatement::DataFusion(statement) => match statement.as_ref() {
            DFStatement::CopyTo(_) => "COPY".into(),
            DFStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
            _ => "OK".into(),
        },
        SegStatement::CreateModel(_) => "CREATE MODEL".into(),
        SegStatement::ShowModels => "SHOW MODELS".into(),
        SegStatement::Summarize(_) => "SUMMARIZE".into(),
    }
}

/// False when `sql` cannot hold a statement the shell runs (none of their keywords appears),
/// so the common query is parsed once, by DataFusion-postgres, not by segsql's parser first.
fn may_run_in_shell(sql: &str) -> bool {
    const KEYWORDS: [&str; 4] = ["MODEL", "SUMMARIZE", "COPY", "EXTERNAL"];
    KEYWORDS.iter().any(|k| sql.as_bytes().windows(k.len()).any(|w| w.eq_ignore_ascii_case(k.as_bytes())))
}

/// True for the statements the shell runs rather than DataFusion-postgres.
fn runs_in_shell(statement: &SegStatement) -> bool {
    match statement {
        SegStatement::DataFusion(statement) => {
            matches!(statement.as_ref(), DFStatement::CopyTo(_) | DFStatement::CreateExternalTable(_))
        }
        _ => true,
    }
}

/// The command tag of `SAVEPOINT x`, `RELEASE [SAVEPOINT] x` or `ROLLBACK TO [SAVEPOINT] x`:
/// segsql reads and never changes tables in a transaction, so there is nothing to undo.
fn savepoint_tag(sql: &str) -> Option<&'static str> {
    let words: Vec<String> =
        sql.trim().trim_end_matches(';').split_whitespace().take(3).map(str::to_ascii_uppercase).collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["SAVEPOINT", _] => Some("SAVEPOINT"),
        ["RELEASE", ..] if words.len() >= 2 => Some("RELEASE"),
        ["ROLLBACK", "TO", ..] if words.len() >= 3 => Some("ROLLBACK"),
        _ => None,
    }
}

/// `SET param.name = 'value'` (or `TO`), `RESET param.name`, `SHOW param.name`.
#[derive(Debug, PartialEq)]
enum ParamStatement {
    Set(String, String),
    Reset(String),
    Show(String),
}

impl ParamStatement {
    /// `None` when `sql` is not about a parameter; an error when it is, but malformed.
    fn parse(sql: &str) -> Option<Result<ParamStatement, String>> {
        let text = sql.trim().trim_end_matches(';').trim();
        let (verb, rest) = text.split_once(char::is_whitespace)?;
        let verb = verb.to_ascii_uppercase();
        if !matches!(verb.as_str(), "SET" | "RESET" | "SHOW") {
            return None;
        }
        let rest = rest.trim_start();
        // `get`: a multi-byte character at the cut is simply not `param.`.
        if !rest.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("param.")) {
            return None;
        }
        let rest = &rest[6..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let (name, rest) = rest.split_at(end);
        if !params::is_valid_name(name) {
            return Some(Err(format!("{verb} param.{name}: a parameter name is letters, digits and _")));
        }
        let name = name.to_string();
        let rest = rest.trim();
        match verb.as_str() {
            "RESET" | "SHOW" if rest.is_empty() => {
                Some(Ok(if verb == "RESET" { ParamStatement::Reset(name) } else { ParamStatement::Show(name) }))
            }
            "SET" => {
                let value = if let Some(v) = rest.strip_prefix('=') {
                    v
                } else if rest.len() > 2 && rest.get(..2).is_some_and(|to| to.eq_ignore_ascii_case("TO")) {
                    &rest[2..]
                } else {
                    return Some(Err(format!("SET param.{name}: write SET param.{name} = 'value'")));
                };
                Some(
                    unquote(value.trim())
                        .map(|v| ParamStatement::Set(name.clone(), v))
                        .ok_or_else(|| format!("SET param.{name}: write the value as one literal, such as 'EU' or 42")),
                )
            }
            _ => Some(Err(format!("{verb} param.{name}: nothing may follow the parameter's name"))),
        }
    }
}

/// A SQL literal's text: `'it''s'` → `it's`; a bare word or number as written.
fn unquote(value: &str) -> Option<String> {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        return Some(inner.replace("''", "'"));
    }
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c));
    bare.then(|| value.to_string())
}

/// The extended protocol's parser: `${name}` first, then segsql's statements are kept as
/// text for the shell and everything else goes to DataFusion-postgres' parser.
pub struct SegParser {
    inner: Arc<Parser>,
    params: Arc<parking_lot::RwLock<BTreeMap<String, String>>>,
    dialect: String,
}

impl SegParser {
    fn substitute(&self, sql: &str) -> PgWireResult<String> {
        params::substitute(sql, &self.params.read()).map_err(|e| user_error("42704", e.to_string()))
    }

    /// segsql's own statement in `sql`, if that is what it is (one statement only).
    fn own_statement(&self, sql: &str) -> Option<SegStatement> {
        if !may_run_in_shell(sql) {
            return None;
        }
        let mut statements = parser::parse(sql, &self.dialect).ok()?;
        (statements.len() == 1 && runs_in_shell(&statements[0])).then(|| statements.remove(0))
    }
}

/// The SQL type a client declared a parameter as, where DataFusion would infer another.
fn declared_type(declared: &Type) -> Option<&'static str> {
    Some(match *declared {
        Type::INT2 => "SMALLINT",
        Type::INT4 => "INT",
        Type::INT8 => "BIGINT",
        Type::FLOAT4 => "REAL",
        Type::FLOAT8 => "DOUBLE",
        Type::BOOL => "BOOLEAN",
        Type::DATE => "DATE",
        Type::TIMESTAMP => "TIMESTAMP",
        _ => return None,
    })
}

/// Casts each `$n` to the type the client declared for it (psycopg declares a Python int as
/// int2, int4 or int8 by its size), as PostgreSQL takes a declared type over an inferred one.
/// Without it DataFusion infers `$1` in `amount > $1` as the column's DECIMAL, and an integer
/// sent for it cannot be read.
fn declare_parameter_types(sql: &str, types: &[Option<Type>]) -> String {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::{Location, Token, Tokenizer};
    if !types.iter().flatten().any(|t| declared_type(t).is_some()) {
        return sql.to_string();
    }
    // PostgreSQL's tokenizer finds the placeholders (not `$1` inside literals, dollar quotes,
    // quoted names or comments); only their spans are rewritten, in the original text, since
    // printing tokens back would unescape literals. Text it cannot tokenize goes on as it is,
    // for the parser to report.
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let line_starts: Vec<usize> = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
    // Locations count lines and characters from 1.
    let byte_offset = |at: Location| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        sql[start..].char_indices().nth(column).map(|(i, _)| start + i)
    };
    let mut out = String::with_capacity(sql.len() + 32);
    let mut copied = 0;
    for token in tokens {
        let Token::Placeholder(placeholder) = &token.token else { continue };
        let declared = placeholder
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| types.get(n.wrapping_sub(1)).cloned().flatten())
            .and_then(|t| declared_type(&t));
        let (Some(name), Some(at)) = (declared, byte_offset(token.span.start)) else { continue };
        out.push_str(&sql[copied..at]);
        out.push_str(&format!("CAST({placeholder} AS {name})"));
        copied = at + placeholder.len();
    }
    out.push_str(&sql[copied..]);
    out
}

#[async_trait]
impl QueryParser for SegParser {
    type Statement = WireStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<WireStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        log::detail(|| format!("{}: parse: {}", client.socket_addr(), sql.trim()));
        let answered_here = ParamStatement::parse(sql).is_some()
            || savepoint_tag(sql).is_some()
            || shown_setting(sql).is_some()
            || runtime_setting(sql).is_some();
        if answered_here {
            return Ok(Some((sql.to_string(), None)));
        }
        let sql = self.substitute(sql)?;
        if self.own_statement(&sql).is_some() {
            return Ok(Some((sql, None)));
        }
        let sql = declare_parameter_types(&sql, types);
        self.inner.parse_sql(client, &sql, types).await.map_err(wire_error)
    }

    fn get_parameter_types(&self, statement: &WireStatement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(&self, statement: &WireStatement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        if statement.1.is_some() {
            return self.inner.get_result_schema(statement, format);
        }
        let format = format.unwrap_or(&Format::UnifiedText);
        let schema = match ParamStatement::parse(&statement.0) {
            _ if shown_setting(&statement.0).is_some() => Some(setting_schema()),
            Some(Ok(ParamStatement::Show(name))) => Some(param_schema(&name)),
            Some(_) => None,
            None => self.own_statement(&statement.0).and_then(|s| s.own_result_schema()),
        };
        match schema {
            Some(schema) => arrow_schema_to_pg_fields(&schema, format, None),
            None => Ok(vec![]),
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.register(client);
        log::detail(|| format!("{}: query: {}", self.peer, query.trim()));
        if let Some(response) = self.param_statement(query) {
            return Ok(vec![response?]);
        }
        let sql = self.parser.substitute(query)?;
        if !may_run_in_shell(&sql) {
            return self.delegate_simple(client, &sql).await;
        }
        let statements = match parser::parse(&sql, &self.parser.dialect) {
            Ok(statements) if statements.iter().any(runs_in_shell) => statements,
            // DataFusion-postgres' parser knows PostgreSQL syntax that segsql's does not.
            _ => return self.delegate_simple(client, &sql).await,
        };
        let mut responses = Vec::with_capacity(statements.len());
        for statement in statements {
            if runs_in_shell(&statement) {
                responses.push(self.run_own(statement, &Format::UnifiedText).await?);
            } else if let SegStatement::DataFusion(statement) = statement {
                responses.extend(self.delegate_simple(client, &statement.to_string()).await?);
            }
        }
        Ok(responses)
    }
}

impl Connection {
    async fn delegate_simple<C>(&self, client: &mut C, sql: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let responses = SimpleQueryHandler::do_query(self.df.as_ref(), client, sql).await.map_err(wire_error)?;
        let mut ready = Vec::with_capacity(responses.len());
        for response in responses {
            ready.push(self.ready(response).await?);
        }
        Ok(ready)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = WireStatement;
    type QueryParser = SegParser;

    fn query_parser(&self) -> Arc<SegParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<WireStatement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = WireStatement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.register(client);
        let (sql, planned) = &portal.statement.statement;
        if planned.is_none() {
            if let Some(response) = self.param_statement(sql) {
                return response;
            }
            if let Some(statement) = self.parser.own_statement(sql) {
                log::detail(|| format!("{}: execute: {}", self.peer, sql.trim()));
                return self.run_own(statement, &portal.result_column_format).await;
            }
        }
        log::detail(|| format!("{}: execute: {}", self.peer, sql.trim()));
        let response =
            ExtendedQueryHandler::do_query(self.df.as_ref(), client, portal, max_rows).await.map_err(wire_error)?;
        self.ready(response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_statements_parse_as_postgresql_custom_settings() {
        let set = |name: &str, value: &str| Some(Ok(ParamStatement::Set(name.into(), value.into())));
        assert_eq!(ParamStatement::parse("SET param.region = 'EU'"), set("region", "EU"));
        assert_eq!(ParamStatement::parse("set PARAM.as_of TO '2025-06-30';"), set("as_of", "2025-06-30"));
        assert_eq!(ParamStatement::parse("SET param.k = 4"), set("k", "4"));
        assert_eq!(ParamStatement::parse("SET param.q = 'it''s'"), set("q", "it's"));
        assert_eq!(ParamStatement::parse("SHOW param.k"), Some(Ok(ParamStatement::Show("k".into()))));
        assert_eq!(ParamStatement::parse("RESET param.k"), Some(Ok(ParamStatement::Reset("k".into()))));
        assert_eq!(ParamStatement::parse("SET datafusion.execution.batch_size = 10"), None);
        assert_eq!(ParamStatement::parse("SELECT 1"), None);
        assert!(matches!(ParamStatement::parse("SET param.k = a b"), Some(Err(_))));
        assert!(matches!(ParamStatement::parse("SET param.k"), Some(Err(_))));
        assert!(matches!(ParamStatement::parse("SHOW param.k extra"), Some(Err(_))));
        assert_eq!(ParamStatement::parse("SHOW abcd€"), None);
        assert!(matches!(ParamStatement::parse("SET param.x €"), Some(Err(_))));
    }

    #[test]
    fn declared_parameter_types_become_casts() {
        let types = [Some(Type::INT8), None, Some(Type::TEXT)];
        assert_eq!(
            declare_parameter_types("select a from t where b > $1 and c = $2 and d = '$1' and e = $3", &types),
            "select a from t where b > CAST($1 AS BIGINT) and c = $2 and d = '$1' and e = $3"
        );
        assert_eq!(declare_parameter_types("select $1", &[None]), "select $1");
        let int = [Some(Type::INT4)];
        assert_eq!(
            declare_parameter_types("select $$ $1 $$, $t$ $1 $t$, 'x' -- $1\n/* $1 */ , $1", &int),
            "select $$ $1 $$, $t$ $1 $t$, 'x' -- $1\n/* $1 */ , CAST($1 AS INT)"
        );
        assert_eq!(declare_parameter_types("select 'é', $1, 'ü'", &int), "select 'é', CAST($1 AS INT), 'ü'");
        assert_eq!(
            declare_parameter_types("select 'O''Brien', \"a\"\"b\", E'x\\'' from t where n = $1", &[Some(Type::INT4)]),
            "select 'O''Brien', \"a\"\"b\", E'x\\'' from t where n = CAST($1 AS INT)"
        );
    }

    #[test]
    fn datafusion_and_segsql_settings_are_shown_here() {
        assert_eq!(
            shown_setting("SHOW datafusion.execution.batch_size;"),
            Some("datafusion.execution.batch_size".into())
        );
        assert_eq!(shown_setting("show SEGSQL.models_dir"), Some("segsql.models_dir".into()));
        assert_eq!(shown_setting("SHOW server_version"), None);
        assert_eq!(shown_setting("SHOW datafusion.x y"), None);
    }

    #[test]
    fn runtime_settings_are_the_servers() {
        let name = Some("datafusion.runtime.memory_limit".to_string());
        assert_eq!(runtime_setting("SET datafusion.runtime.memory_limit = '10G'"), name);
        assert_eq!(runtime_setting("set datafusion.runtime.memory_limit='10G'"), name);
        assert_eq!(runtime_setting("SET datafusion.execution.batch_size = 10"), None);
        assert_eq!(runtime_setting("SELECT 1"), None);
    }

    #[test]
    fn only_text_with_a_shell_keyword_is_parsed_by_segsql() {
        assert!(may_run_in_shell("create model m using kmeans (k = 2) as select 1"));
        assert!(may_run_in_shell("SHOW MODELS"));
        assert!(may_run_in_shell("copy (select 1) to 'x.csv'"));
        assert!(may_run_in_shell("Summarize sample.orders"));
        assert!(!may_run_in_shell("SELECT segment, count(*) FROM customer_rfm GROUP BY 1"));
    }

    #[test]
    fn savepoints_are_accepted() {
        assert_eq!(savepoint_tag("SAVEPOINT \"_pg3_1\""), Some("SAVEPOINT"));
        assert_eq!(savepoint_tag("release savepoint s;"), Some("RELEASE"));
        assert_eq!(savepoint_tag("RELEASE s"), Some("RELEASE"));
        assert_eq!(savepoint_tag("ROLLBACK TO SAVEPOINT s"), Some("ROLLBACK"));
        assert_eq!(savepoint_tag("ROLLBACK"), None);
        assert_eq!(savepoint_tag("SELECT 1"), None);
    }

    #[test]
    fn errors_carry_the_shells_message_and_a_sqlstate() {
        let error = DataFusionError::Plan("rfm_score: expects 3 arguments".into());
        let PgWireError::UserError(info) = wire_error_df(&error) else { panic!("not a user error") };
        assert_eq!((info.code.as_str(), info.message.as_str()), ("42000", "rfm_score: expects 3 arguments"));
        let wrapped = DataFusionError::Context("x".into(), Box::new(DataFusionError::ResourcesExhausted("m".into())));
        assert_eq!(sqlstate(&wrapped), "53200");
    }
}
