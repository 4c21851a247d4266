//! `--data DIR` and `\load DIR`: files and hive-partitioned folders become tables.
//!
//! Tables are resolved lazily: registering a folder only lists it, and a table's schema is
//! read (Parquet footers, the first CSV rows) the first time a query names it. A folder of
//! a thousand Parquet files therefore registers in the time it takes to list it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_datafusion_err, exec_err, internal_datafusion_err};
use datafusion::datasource::TableType;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::SessionState;
use datafusion::prelude::{JsonReadOptions, ParquetReadOptions};

use super::csv::{CsvSource, csv_table};
use super::delta;
use super::excel;
use super::s3;
use super::sniff::Hints;
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::TryStreamExt;

/// A file format segsql recognises by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Parquet,
    Csv,
    /// Newline-delimited JSON (`.ndjson`, `.jsonl`, and `.json` files that are not an array).
    Json,
    /// An Excel workbook: a table per sheet.
    Excel,
    /// A Delta Lake table: a folder with `_delta_log/`.
    Delta,
}

impl FileKind {
    pub fn from_path(path: &Path) -> Option<(FileKind, &'static str)> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "parquet" => (FileKind::Parquet, ".parquet"),
            "csv" => (FileKind::Csv, ".csv"),
            "json" => (FileKind::Json, ".json"),
            "ndjson" => (FileKind::Json, ".ndjson"),
            "jsonl" => (FileKind::Json, ".jsonl"),
            "xlsx" => (FileKind::Excel, ".xlsx"),
            _ => return None,
        })
    }
}

/// A table that has been found but not opened yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LazyTable {
    pub path: PathBuf,
    pub kind: FileKind,
    pub extension: &'static str,
    pub is_dir: bool,
    /// The sheet, for an Excel workbook.
    pub sheet: Option<String>,
}

/// What `register_dir` found: the tables and the files it had to skip, with the reason.
#[derive(Debug, Default)]
pub struct Registered {
    pub tables: Vec<String>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// A table name from a file name: lower case (as unquoted SQL identifiers are), with
/// anything that is not a letter, digit or underscore replaced by `_`.
pub fn table_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("table");
    let mut name: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// The format of the first data file in a folder (searched depth-first, in name order);
/// a folder with a Delta log is a Delta table whatever its files are.
fn folder_kind(dir: &Path) -> Option<(FileKind, &'static str)> {
    if delta::is_delta_folder(dir) {
        return Some((FileKind::Delta, ""));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in &entries {
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(['.', '_'])) {
            continue;
        }
        let found = if path.is_dir() { folder_kind(path) } else { FileKind::from_path(path) };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The tables found in a folder by name, and the files skipped with the reason.
pub type Scan = (BTreeMap<String, LazyTable>, Vec<(PathBuf, String)>);

/// Finds the tables in `dir` without reading any data.
pub fn scan_dir(dir: &Path) -> std::result::Result<Scan, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot read data folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut tables = BTreeMap::new();
    let mut skipped = Vec::new();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let is_dir = path.is_dir();
        let found = if is_dir { folder_kind(&path) } else { FileKind::from_path(&path) };
        let Some((kind, extension)) = found else {
            continue;
        };
        if !is_dir && let Err(e) = std::fs::File::open(&path) {
            skipped.push((path, e.to_string()));
            continue;
        }
        let name = table_name(&path);
        let sheets: Vec<(String, Option<String>)> = if kind == FileKind::Excel && !is_dir {
            match excel::sheet_names(&path) {
                Ok(sheets) => sheets.into_iter().map(|s| (excel::sheet_table_name(&name, &s), Some(s))).collect(),
                Err(e) => {
                    skipped.push((path, e));
                    continue;
                }
            }
        } else {
            vec![(name, None)]
        };
        for (name, sheet) in sheets {
            if let Some(existing) = tables.get(&name) {
                let LazyTable { path: kept, .. } = existing;
                skipped.push((path.clone(), format!("table {name} already comes from {}", kept.display())));
                continue;
            }
            tables.insert(name, LazyTable { path: path.clone(), kind, extension, is_dir, sheet });
        }
    }
    Ok((tables, skipped))
}

/// The default schema: tables created in SQL, plus lazily opened data files.
#[derive(Debug, Default)]
pub struct DataSchema {
    created: MemorySchemaProvider,
    lazy: RwLock<BTreeMap<String, LazyTable>>,
    state: OnceLock<Weak<parking_lot::RwLock<SessionState>>>,
}

impl DataSchema {
    /// Gives the schema the session it opens files with; called once, after the context
    /// that owns this schema exists.
    pub fn attach(&self, state: Weak<parking_lot::RwLock<SessionState>>) {
        let _ = self.state.set(state);
    }

    /// Adds the tables found in `dir`. A later folder's table replaces an earlier one of
    /// the same name, as re-running `\load` after new files arrive should.
    pub fn register_dir(&self, dir: &Path) -> std::result::Result<Registered, String> {
        let location = dir.to_string_lossy();
        let (found, skipped) = if s3::is_url(&location) { self.scan_url(&location)? } else { scan_dir(dir)? };
        let mut lazy = self.lazy.write().map_err(|_| "data catalog lock poisoned".to_string())?;
        let tables = found.keys().cloned().collect();
        for (name, table) in found {
            let _ = self.created.deregister_table(&name);
            lazy.insert(name, table);
        }
        Ok(Registered { tables, skipped })
    }

    /// Finds the tables under an object-store prefix by listing it: files with a known
    /// extension directly under it, and folders (hive-partitioned or not) named after the
    /// first data file inside them. Nothing is read.
    fn scan_url(&self, location: &str) -> std::result::Result<Scan, String> {
        let state = self
            .state
            .get()
            .and_then(Weak::upgrade)
            .map(|state| state.read().clone())
            .ok_or_else(|| "the session has ended".to_string())?;
        let prefix_url = if location.ends_with('/') { location.to_string() } else { format!("{location}/") };
        let url = url::Url::parse(&prefix_url).map_err(|e| format!("{location} is not a URL: {e}"))?;
        let store = state
            .runtime_env()
            .object_store(ObjectStoreUrl::parse(&url[..url::Position::BeforePath]).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let prefix = object_store::path::Path::from(url.path().trim_start_matches('/'));
        let describe = |e: object_store::Error| format!("cannot list {prefix_url}: {}", s3::explain(&e));
        // Registration is synchronous (`--data`, `\load`); the listing is not.
        let listing = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let top = store.list_with_delimiter(Some(&prefix)).await.map_err(describe)?;
                let mut folders = Vec::new();
                for folder in &top.common_prefixes {
                    let mut files: Vec<String> = store
                        .list(Some(folder))
                        .map_ok(|meta| meta.location.to_string())
                        .try_collect()
                        .await
                        .map_err(describe)?;
                    files.sort();
                    folders.push((folder.to_string(), files));
                }
                Ok::<_, String>((top.objects, folders))
            })
        })?;
        let (objects, folders) = listing;
        let base = &prefix_url[..prefix_url.len() - url.path().len() + 1];
        let mut tables = BTreeMap::new();
        let skipped = Vec::new();
        let hidden = |name: &str| name.starts_with(['.', '_']);
        for object in objects {
            let key = object.location.to_string();
            let path = PathBuf::from(format!("{base}{key}"));
            let file = key.rsplit('/').next().unwrap_or_default();
            let Some((kind, extension)) = FileKind::from_path(Path::new(file)).filter(|_| !file.starts_with('.'))
            else {
                continue;
            };
            if kind == FileKind::Excel {
                continue;
            }
            tables.entry(table_name(&path)).or_insert(LazyTable { path, kind, extension, is_dir: false, sheet: None });
        }
        for (folder, files) in folders {
            let name = folder.rsplit('/').next().unwrap_or_default();
            if hidden(name) {
                continue;
            }
            let delta_log = format!("{folder}/_delta_log/");
            if files.iter().any(|f| f.starts_with(&delta_log)) {
                let path = PathBuf::from(format!("{base}{folder}"));
                let table = LazyTable { path, kind: FileKind::Delta, extension: "", is_dir: true, sheet: None };
                tables.entry(table_name(&table.path)).or_insert(table);
                continue;
            }
            let first = files.iter().find_map(|f| {
                let inside = f.strip_prefix(&folder)?;
                let visible = inside.split('/').all(|part| part.is_empty() || !hidden(part) || part.contains('='));
                FileKind::from_path(Path::new(f)).filter(|(kind, _)| visible && *kind != FileKind::Excel)
            });
            let Some((kind, extension)) = first else {
                continue;
            };
            let path = PathBuf::from(format!("{base}{folder}"));
            tables.entry(table_name(&path)).or_insert(LazyTable { path, kind, extension, is_dir: true, sheet: None });
        }
        Ok((tables, skipped))
    }

    /// True once a query has opened the data table `name` (its schema is known).
    pub fn is_open(&self, name: &str) -> bool {
        self.created.table_exist(name)
    }

    /// Every data table with the file or folder it comes from, by name.
    pub fn sources(&self) -> Vec<(String, PathBuf)> {
        self.lazy
            .read()
            .map(|lazy| lazy.iter().map(|(name, t)| (name.clone(), t.path.clone())).collect())
            .unwrap_or_default()
    }

    /// The file or folder a data table comes from.
    pub fn lazy_source(&self, name: &str) -> Option<PathBuf> {
        self.lazy_table(name).map(|t| t.path)
    }

    /// The sheet a data table comes from, for a table from an Excel workbook.
    pub fn lazy_sheet(&self, name: &str) -> Option<String> {
        self.lazy_table(name).and_then(|t| t.sheet)
    }

    fn lazy_table(&self, name: &str) -> Option<LazyTable> {
        self.lazy.read().ok()?.get(name).cloned()
    }

    async fn open(&self, name: &str, table: &LazyTable) -> Result<Arc<dyn TableProvider>> {
        let state = self
            .state
            .get()
            .and_then(Weak::upgrade)
            .map(|state| state.read().clone())
            .ok_or_else(|| exec_datafusion_err!("the session that registered table {name} has ended"))?;
        if table.kind == FileKind::Csv {
            let mut location = table.path.to_string_lossy().to_string();
            if table.is_dir && !location.ends_with('/') {
                location.push('/');
            }
            let source = CsvSource {
                name,
                location: &location,
                extension: table.extension,
                partitions: table.is_dir,
                hints: Hints::default(),
            };
            return csv_table(&state, source).await;
        }
        if table.kind == FileKind::Delta {
            let location = table.path.to_string_lossy();
            return delta::delta_table(&state, name, &location, None).await;
        }
        if table.kind == FileKind::Excel {
            let Some(sheet) = &table.sheet else {
                return Err(exec_datafusion_err!(
                    "cannot open table {name}: an Excel workbook is read per sheet, as <file>_<sheet> tables from --data"
                ));
            };
            return Ok(excel::excel_table(name, &table.path, sheet)?.provider);
        }
        let config = state.config().clone();
        let table_options = state.default_table_options();
        let options: ListingOptions = match table.kind {
            FileKind::Parquet => ParquetReadOptions::default().to_listing_options(&config, table_options),
            FileKind::Csv | FileKind::Excel | FileKind::Delta => {
                return Err(internal_datafusion_err!("CSV and Excel tables open through the sniffer"));
            }
            FileKind::Json if !table.is_dir && starts_with_bracket(&table.path) => {
                let format = JsonFormat::default().with_options(table_options.json).with_newline_delimited(false);
                ListingOptions::new(Arc::new(format))
            }
            FileKind::Json => JsonReadOptions::default().to_listing_options(&config, table_options),
        }
        .with_file_extension(table.extension);
        let mut location = table.path.to_string_lossy().to_string();
        if table.is_dir && !location.ends_with('/') {
            location.push('/');
        }
        let describe =
            |e: DataFusionError| exec_datafusion_err!("cannot open table {name} from {}: {e}", table.path.display());
        let url = ListingTableUrl::parse(&location).map_err(describe)?;
        let mut listing = ListingTableConfig::new(url).with_listing_options(options);
        if table.is_dir {
            listing = listing.infer_partitions_from_path(&state).await.map_err(describe)?;
        }
        let listing = listing.infer_schema(&state).await.map_err(describe)?;
        Ok(Arc::new(ListingTable::try_new(listing).map_err(describe)?))
    }
}

/// A table name that is really a file, folder or glob (`'data/orders.parquet'`,
/// `'lake/events/'`, `'lake/*.csv'`).
fn path_table(name: &str) -> Option<LazyTable> {
    let path = Path::new(name);
    if path.is_dir() {
        let (kind, extension) = folder_kind(path)?;
        return Some(LazyTable { path: path.to_path_buf(), kind, extension, is_dir: true, sheet: None });
    }
    let (kind, extension) = FileKind::from_path(path)?;
    let looks_like_path = name.contains('/') || name.contains('*') || path.exists();
    let looks_like_path = looks_like_path && kind != FileKind::Excel;
    looks_like_path.then(|| LazyTable { path: path.to_path_buf(), kind, extension, is_dir: false, sheet: None })
}

/// A `.json` file holding one JSON array rather than one object per line.
fn starts_with_bracket(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let read = file.read(&mut head).unwrap_or(0);
    head[..read].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

#[async_trait]
impl SchemaProvider for DataSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.created.table_names();
        if let Ok(lazy) = self.lazy.read() {
            names.extend(lazy.keys().filter(|k| !self.created.table_exist(k)).cloned());
        }
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if let Some(table) = self.created.table(name).await? {
            return Ok(Some(table));
        }
        let Some(lazy) = self.lazy_table(name) else {
            // `SELECT * FROM 'path/*.parquet'`: a quoted path is a table too, opened per query.
            return match path_table(name) {
                Some(table) => Ok(Some(self.open(name, &table).await?)),
                None => Ok(None),
            };
        };
        let provider = self.open(name, &lazy).await?;
        // Keep the opened table so its schema is inferred once; it stays listed under `lazy`
        // too, so DROP and a reload still know where it came from.
        self.created.register_table(name.to_string(), provider.clone())?;
        Ok(Some(provider))
    }

    /// Answers without opening the file, so `information_schema.tables` and `\d` stay cheap.
    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        if self.created.table_exist(name) {
            return self.created.table_type(name).await;
        }
        Ok(self.lazy_table(name).map(|_| TableType::Base))
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        if self.created.table_exist(&name) || self.lazy_table(&name).is_some() {
            return exec_err!("The table {name} already exists");
        }
        self.created.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let removed_lazy = self.lazy.write().ok().and_then(|mut lazy| lazy.remove(name));
        let removed = self.created.deregister_table(name)?;
        if removed.is_some() || removed_lazy.is_none() {
            return Ok(removed);
        }
        // A file table dropped before any query opened it: DROP TABLE only needs to learn
        // that something was removed, and opening the file just to drop it would be waste.
        let placeholder = EmptyTable::new(Arc::new(Schema::empty()));
        Ok(Some(Arc::new(placeholder)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.created.table_exist(name) || self.lazy_table(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_sql_friendly() {
        assert_eq!(table_name(Path::new("dir/Orders 2024.parquet")), "orders_2024");
        assert_eq!(table_name(Path::new("2024-events.csv")), "_2024_events");
        assert_eq!(table_name(Path::new("customers")), "customers");
    }

    #[test]
    fn kinds_by_extension() {
        assert_eq!(FileKind::from_path(Path::new("a.PARQUET")).map(|k| k.0), Some(FileKind::Parquet));
        assert_eq!(FileKind::from_path(Path::new("a.jsonl")).map(|k| k.0), Some(FileKind::Json));
        assert_eq!(FileKind::from_path(Path::new("a.txt")), None);
    }

    #[test]
    fn scan_finds_files_and_folders_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("orders.csv"), "a\n1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir_all(dir.path().join("events/year=2024")).unwrap();
        std::fs::write(dir.path().join("events/year=2024/part-0.parquet"), "not read").unwrap();
        std::fs::write(dir.path().join("orders.parquet"), "").unwrap();
        let (tables, skipped) = scan_dir(dir.path()).unwrap();
        assert_eq!(tables.keys().collect::<Vec<_>>(), vec!["events", "orders"]);
        assert!(tables["events"].is_dir);
        assert_eq!(tables["orders"].kind, FileKind::Csv);
        assert_eq!(skipped.len(), 1, "orders.parquet clashes with orders.csv");
        assert!(skipped[0].1.contains("already comes from"));
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = scan_dir(Path::new("/definitely/not/here")).unwrap_err();
        assert!(err.contains("cannot read data folder /definitely/not/here"));
    }
}
