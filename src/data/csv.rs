//! CSV files as tables, read with the dialect and types the sniffer finds in a sample.
//!
//! Columns Arrow's reader parses itself (integers, points, ISO dates) are read natively;
//! decimal commas, other date layouts and padded values are read as text and converted by
//! a projection on top of the scan, so filters and projections still reach the file.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{DataFusionError, Result, exec_datafusion_err, plan_err};
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::listing_table_factory::ListingTableFactory;
use datafusion::datasource::provider_as_source;
use datafusion::datasource::view::ViewTable;
use datafusion::functions::core::expr_fn::nullif;
use datafusion::functions::datetime::expr_fn::to_date;
use datafusion::functions::string::expr_fn::{btrim, replace};
use datafusion::logical_expr::{CreateExternalTable, Expr, LogicalPlanBuilder, cast, col, lit};
use datafusion::object_store::ObjectStoreExt;
use futures::TryStreamExt;

use super::described::{Described, HowRead};
use super::sniff::{self, ColumnKind, DateFormat, Hints, SniffedColumn};

/// Characters trimmed from a converted value: spaces, tabs and a BOM left on the first
/// field of a file without a header row.
const TRIMMED: &str = " \t\u{feff}";

/// Where a CSV table's files are, and what the caller already knows of its dialect.
pub struct CsvSource<'a> {
    pub name: &'a str,
    /// A file, a folder (ending in `/`) or a glob, as a URL or local path.
    pub location: &'a str,
    /// The extension that picks the folder's files (`.csv`), empty for every file.
    pub extension: &'a str,
    /// Look for `key=value` folders.
    pub partitions: bool,
    pub hints: Hints,
}

/// Opens a CSV table: lists its files, sniffs the first one, and reads them all with that
/// dialect.
pub async fn csv_table(state: &dyn Session, source: CsvSource<'_>) -> Result<Arc<dyn TableProvider>> {
    let CsvSource { name, location, extension, partitions, hints } = source;
    let describe = |e: DataFusionError| exec_datafusion_err!("cannot open table {name} from {location}: {e}");
    let url = ListingTableUrl::parse(location).map_err(describe)?;
    let store = state.runtime_env().object_store(url.object_store()).map_err(describe)?;
    let mut files: Vec<_> = url.list_all_files(state, store.as_ref(), extension).await?.try_collect().await?;
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let Some(first) = files.first() else {
        return Err(exec_datafusion_err!("cannot open table {name}: no {extension} file at {location}"));
    };
    let store_url = url.object_store();
    let shown = match store_url.as_str() {
        "file:///" => format!("/{}", first.location),
        base => format!("{base}{}", first.location),
    };
    let sample_len = (sniff::SAMPLE_BYTES as u64).min(first.size);
    let sample = store.get_range(&first.location, 0..sample_len).await.map_err(|e| describe(e.into()))?;
    let complete = sample_len == first.size;
    let dialect = sniff::sniff(&sample, complete, &hints).map_err(|e| {
        exec_datafusion_err!(
            "cannot read table {name} from {shown}: {}; OPTIONS ('format.delimiter' ';'), ('format.has_header' 'false') \
             or ('format.quote' '''') on CREATE EXTERNAL TABLE say how to read it",
            e.0
        )
    })?;
    let strip_bom = dialect.bom && !dialect.has_header;
    let read_as_text = |i: usize, c: &SniffedColumn| c.converted() || (i == 0 && strip_bom);
    let file_schema = Arc::new(Schema::new(
        dialect
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let data_type = if read_as_text(i, c) { DataType::Utf8 } else { native_type(c.kind) };
                Field::new(&c.name, data_type, true)
            })
            .collect::<Vec<_>>(),
    ));
    let format = CsvFormat::default()
        .with_options(state.default_table_options().csv)
        .with_delimiter(dialect.delimiter)
        .with_quote(dialect.quote)
        .with_has_header(dialect.has_header)
        .with_newlines_in_values(dialect.newlines_in_values);
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(extension);
    let mut config = ListingTableConfig::new(url).with_listing_options(options);
    if partitions {
        config = config.infer_partitions_from_path(state).await.map_err(describe)?;
    }
    let listing: Arc<dyn TableProvider> =
        Arc::new(ListingTable::try_new(config.with_schema(file_schema)).map_err(describe)?);
    let inner = if dialect.columns.iter().enumerate().any(|(i, c)| read_as_text(i, c)) {
        let mut exprs: Vec<Expr> = dialect
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| if read_as_text(i, c) { converted(c) } else { col(quoted(&c.name)) })
            .collect();
        // Partition columns come after the file's own.
        for field in listing.schema().fields().iter().skip(dialect.columns.len()) {
            exprs.push(col(quoted(field.name())));
        }
        let plan = LogicalPlanBuilder::scan(name, provider_as_source(listing), None)?.project(exprs)?.build()?;
        Arc::new(ViewTable::new(plan, None))
    } else {
        listing
    };
    Ok(Arc::new(Described::new(inner, HowRead::Csv { dialect, sniffed_from: shown })))
}

/// A column name as `col` must see it: quoted, so case and dots are kept.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn native_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::Boolean => DataType::Boolean,
        ColumnKind::Integer => DataType::Int64,
        ColumnKind::Double | ColumnKind::DecimalComma => DataType::Float64,
        ColumnKind::Date(_) => DataType::Date32,
        ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
        ColumnKind::Text => DataType::Utf8,
    }
}

/// The expression that turns a column read as text into its type.
pub(crate) fn converted(column: &SniffedColumn) -> Expr {
    let text = nullif(btrim(vec![col(quoted(&column.name)), lit(TRIMMED)]), lit(""));
    let value = match column.kind {
        ColumnKind::Text => text,
        ColumnKind::DecimalComma => {
            cast(replace(replace(text, lit("."), lit("")), lit(","), lit(".")), DataType::Float64)
        }
        ColumnKind::Date(format) => to_date(vec![text, lit(format.pattern())]),
        kind => cast(text, native_type(kind)),
    };
    value.alias(&column.name)
}

/// `CREATE EXTERNAL TABLE ... STORED AS CSV` without a column list: sniffed, with what
/// `OPTIONS` say taking precedence. With a column list, or options the sniffer does not
/// read (compression, escape, ...), DataFusion's own reader takes the table as given.
#[derive(Debug, Default)]
pub struct SniffingCsvFactory;

const HINT_KEYS: [&str; 5] = ["delimiter", "quote", "has_header", "decimal_comma", "date_format"];

#[async_trait]
impl TableProviderFactory for SniffingCsvFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let options: HashMap<&str, &str> =
            cmd.options.iter().map(|(k, v)| (k.strip_prefix("format.").unwrap_or(k), v.as_str())).collect();
        let ours = options.keys().all(|k| HINT_KEYS.contains(k));
        if !cmd.schema.fields().is_empty() || !ours || cmd.locations.len() != 1 || !cmd.table_partition_cols.is_empty()
        {
            return ListingTableFactory::new().create(state, cmd).await;
        }
        let hints = hints(&options)?;
        let location = &cmd.locations[0];
        let is_folder = location.ends_with('/');
        let extension = if is_folder { "" } else { location.rsplit_once('.').map_or("", |(_, e)| e) };
        let extension = if extension.is_empty() { String::new() } else { format!(".{extension}") };
        let table = cmd.name.table();
        let provider =
            csv_table(state, CsvSource { name: table, location, extension: &extension, partitions: is_folder, hints })
                .await?;
        Ok(provider)
    }
}

fn hints(options: &HashMap<&str, &str>) -> Result<Hints> {
    let one_byte = |key: &str| -> Result<Option<u8>> {
        match options.get(key) {
            None => Ok(None),
            Some(v) if v.len() == 1 => Ok(Some(v.as_bytes()[0])),
            Some(v) if v.eq_ignore_ascii_case("\\t") || v.eq_ignore_ascii_case("tab") => Ok(Some(b'\t')),
            Some(v) => plan_err!("CREATE EXTERNAL TABLE: 'format.{key}' must be one character, not '{v}'"),
        }
    };
    let flag = |key: &str| -> Result<Option<bool>> {
        match options.get(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" => Ok(Some(true)),
            Some(v) if v == "false" => Ok(Some(false)),
            Some(v) => plan_err!("CREATE EXTERNAL TABLE: 'format.{key}' must be 'true' or 'false', not '{v}'"),
        }
    };
    let date_format = match options.get("date_format") {
        None => None,
        Some(pattern) => Some(DateFormat::from_pattern(pattern).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "CREATE EXTERNAL TABLE: 'format.date_format' '{pattern}' is not one segsql reads; \
                 use '%Y-%m-%d', '%Y%m%d', '%d.%m.%Y', '%d/%m/%Y' or '%m/%d/%Y'"
            ))
        })?),
    };
    Ok(Hints {
        delimiter: one_byte("delimiter")?,
        quote: one_byte("quote")?,
        has_header: flag("has_header")?,
        decimal_comma: flag("decimal_comma")?,
        date_format,
    })
}
