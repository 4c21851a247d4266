//! Argument handling for table functions: the source table, column names and literals.
//!
//! Table functions receive their arguments as planned expressions against an empty
//! schema, so a bare identifier (`orders`, `customer_id`) arrives as an unresolved column
//! and a string as a literal; both are accepted wherever a name is expected.

use std::future::Future;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableProvider};
use datafusion::common::{Result, TableReference, plan_datafusion_err, plan_err};
use datafusion::logical_expr::Expr;

/// The table a table function analyses.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// The name as the user wrote it, for plans and messages.
    pub reference: TableReference,
    pub provider: Arc<dyn TableProvider>,
    pub schema: SchemaRef,
}

/// Runs a future to completion from synchronous planning code.
///
/// DataFusion plans table functions synchronously, but catalog lookups are async. On a
/// multi-threaded Tokio runtime (segsql's) the worker is handed over while blocking; on
/// any other executor the lookup is polled in place, which suffices for in-memory and
/// already-opened tables.
pub fn block_on<F: Future>(future: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => futures::executor::block_on(future),
    }
}

/// The text of a name-like argument: a bare identifier or a string literal.
pub fn name_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(column) => Some(match &column.relation {
            Some(relation) => format!("{relation}.{}", column.name),
            None => column.name.clone(),
        }),
        Expr::Literal(value, _) => super::constant::text_value(value).map(str::to_string),
        Expr::Alias(alias) => name_of(&alias.expr),
        _ => None,
    }
}

/// Resolves the first argument to a table or view in the session's catalog.
pub fn source_table(function: &str, args: &TableFunctionArgs) -> Result<SourceTable> {
    let Some(first) = args.exprs().first() else {
        return plan_err!("{function}: the first argument must name a table or view, e.g. {function}(orders, ...)");
    };
    let Some(name) = name_of(first) else {
        return plan_err!(
            "{function}: the first argument must name a table or view (a bare name or a string), got {first}"
        );
    };
    lookup_table(function, args.session(), &name)
}

/// Looks a table up by name (`orders`, `sample.orders`, `'lake/orders.parquet'`).
pub fn lookup_table(function: &str, session: &dyn Session, name: &str) -> Result<SourceTable> {
    // A path keeps its dots; anything else may be schema-qualified.
    let reference = if name.contains('/') || name.contains('\\') {
        TableReference::bare(name)
    } else {
        TableReference::parse_str(name)
    };
    let options = &session.config().options().catalog;
    let resolved = reference.clone().resolve(&options.default_catalog, &options.default_schema);
    let not_found = || plan_datafusion_err!("{function}: table '{name}' not found; \\d lists the tables");
    let catalog = session.catalog_list().catalog(&resolved.catalog).ok_or_else(not_found)?;
    let schema = catalog.schema(&resolved.schema).ok_or_else(not_found)?;
    let provider = block_on(schema.table(&resolved.table))
        .map_err(|e| plan_datafusion_err!("{function}: cannot open table '{name}': {e}"))?
        .ok_or_else(not_found)?;
    let table_schema = provider.schema();
    Ok(SourceTable { reference, provider, schema: table_schema })
}

impl SourceTable {
    /// The columns, comma-separated, for error messages.
    pub fn column_list(&self) -> String {
        self.schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Finds a column by exact name, else by case-insensitive match.
    pub fn column(&self, function: &str, role: &str, name: &str) -> Result<(String, DataType)> {
        let fields = self.schema.fields();
        let found = fields
            .iter()
            .find(|f| f.name() == name)
            .or_else(|| fields.iter().find(|f| f.name().eq_ignore_ascii_case(name)));
        match found {
            Some(field) => Ok((field.name().clone(), field.data_type().clone())),
            None => plan_err!(
                "{function}: {role} column '{name}' is not in {}; its columns are {}",
                self.reference,
                self.column_list()
            ),
        }
    }
}

/// The column named by argument `index` (a bare name or a string).
pub fn column_arg(
    function: &str,
    args: &TableFunctionArgs,
    source: &SourceTable,
    index: usize,
    role: &str,
) -> Result<(String, DataType)> {
    let Some(expr) = args.exprs().get(index) else {
        return plan_err!("{function}: missing the {role} column (argument {})", index + 1);
    };
    let Some(name) = name_of(expr) else {
        return plan_err!("{function}: the {role} column must be a column name, got {expr}");
    };
    source.column(function, role, &name)
}

/// Fails when more than `max` arguments were given.
pub fn check_arity(function: &str, args: &TableFunctionArgs, min: usize, max: usize, syntax: &str) -> Result<()> {
    let count = args.exprs().len();
    if count < min || count > max {
        return plan_err!("{function}: expected {syntax}, got {count} argument(s)");
    }
    Ok(())
}

/// The time column named by argument `index`: a date, a timestamp (with or without time
/// zone) or ISO text, which every time-based table function accepts.
pub fn time_column_arg(
    function: &str,
    args: &TableFunctionArgs,
    source: &SourceTable,
    index: usize,
) -> Result<(String, DataType)> {
    let (name, data_type) = column_arg(function, args, source, index, "ts")?;
    if !is_temporal_or_text(&data_type) {
        return plan_err!("{function}: ts column '{name}' must be a date, timestamp or ISO text, got {data_type}");
    }
    Ok((name, data_type))
}

/// True for the types a timestamp argument may have: dates, timestamps and ISO strings.
pub fn is_temporal_or_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(..)
            | DataType::Date32
            | DataType::Date64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
    )
}

/// True for integer, float and decimal types.
pub fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

/// The comma-separated column list of argument `index` ('recency_days,frequency,monetary'),
/// each a numeric column of `source`.
pub fn numeric_columns(
    function: &str,
    args: &TableFunctionArgs,
    source: &SourceTable,
    index: usize,
) -> Result<Vec<String>> {
    let example = "'recency_days,frequency,monetary'";
    let Some(list) = super::constant::string_arg(function, args, index, "features")? else {
        return plan_err!("{function}: features must list numeric columns, such as {example}");
    };
    let mut columns = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (column, data_type) = source.column(function, "feature", name)?;
        if !is_numeric(&data_type) {
            return plan_err!("{function}: feature column '{column}' must be numeric, got {data_type}");
        }
        columns.push(column);
    }
    if columns.is_empty() {
        return plan_err!("{function}: features must name at least one column, such as {example}");
    }
    Ok(columns)
}

/// The table or view named by argument `index` (a bare name or a string), for table
/// functions that read more than one.
pub fn table_arg(function: &str, args: &TableFunctionArgs, index: usize, role: &str) -> Result<SourceTable> {
    let Some(expr) = args.exprs().get(index) else {
        return plan_err!("{function}: missing the {role} (argument {}), a table or view", index + 1);
    };
    let Some(name) = name_of(expr) else {
        return plan_err!("{function}: the {role} must name a table or view (a bare name or a string), got {expr}");
    };
    lookup_table(function, args.session(), &name)
}
