//! The built-in sample dataset: the `sample` schema and `segsql generate`.
//!
//! The sample is generated on first use (a few thousand customers take milliseconds), so
//! start-up stays fast and nothing is downloaded or shipped. `segsql generate` writes the
//! same tables as Parquet at any scale; `segsql generate --customers 5000` writes exactly
//! the sample.

pub mod generator;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_datafusion_err};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use generator::{Block, GeneratorConfig, OrderRows};

pub const SAMPLE_SCHEMA: &str = "sample";
pub const SAMPLE_CUSTOMERS: u64 = 5_000;
pub const DEFAULT_SEED: u64 = 42;
/// Customers generated together; ids follow time within a block.
pub const BLOCK_CUSTOMERS: u64 = 65_536;

pub const TABLES: [&str; 4] = ["customers", "orders", "events", "marketing_spend"];

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// Money is DECIMAL(12, 2): sums are exact, so they are the same at any thread count.
fn money() -> DataType {
    DataType::Decimal128(12, 2)
}

fn money_array(values: impl Iterator<Item = f64>) -> Result<ArrayRef> {
    let cents: Vec<i128> = values.map(|v| (v * 100.0).round() as i128).collect();
    Ok(Arc::new(Decimal128Array::from(cents).with_precision_and_scale(12, 2)?))
}

pub static ORDERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("order_ts", timestamp(), false),
        Field::new("amount", money(), false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, true),
    ]))
});

pub static CUSTOMERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("signup_ts", timestamp(), false),
        Field::new("country", DataType::Utf8, true),
        Field::new("acquisition_channel", DataType::Utf8, false),
    ]))
});

pub static EVENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("ts", timestamp(), false),
        Field::new("event", DataType::Utf8, false),
    ]))
});

pub static SPEND_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("month", DataType::Date32, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("spend", money(), false),
    ]))
});

fn strings(values: &[&'static str]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values.iter()))
}

fn optional_strings(values: &[Option<&'static str>]) -> ArrayRef {
    Arc::new(values.iter().copied().collect::<StringArray>())
}

fn timestamps(values: &[i64]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values.to_vec()))
}

/// The orders of a block as a batch, numbering ids from `first_order_id` in time order.
fn orders_batch(orders: &mut OrderRows, first_order_id: i64) -> Result<RecordBatch> {
    generator::sort_orders_by_time(orders);
    let count = orders.order_ts.len() as i64;
    Ok(RecordBatch::try_new(
        ORDERS_SCHEMA.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(first_order_id..first_order_id + count)),
            Arc::new(Int64Array::from(orders.customer_id.clone())),
            timestamps(&orders.order_ts),
            money_array(orders.amount.iter().copied())?,
            strings(&orders.channel),
            optional_strings(&orders.country),
        ],
    )?)
}

fn customers_batch(block: &Block) -> Result<RecordBatch> {
    let c = &block.customers;
    Ok(RecordBatch::try_new(
        CUSTOMERS_SCHEMA.clone(),
        vec![
            Arc::new(Int64Array::from(c.customer_id.clone())),
            timestamps(&c.signup_ts),
            optional_strings(&c.country),
            strings(&c.acquisition_channel),
        ],
    )?)
}

fn events_batch(block: &Block) -> Result<RecordBatch> {
    // Events sorted by time read like a real clickstream.
    let e = &block.events;
    let mut index: Vec<usize> = (0..e.ts.len()).collect();
    index.sort_by_key(|&i| (e.ts[i], e.user_id[i]));
    Ok(RecordBatch::try_new(
        EVENTS_SCHEMA.clone(),
        vec![
            Arc::new(index.iter().map(|&i| e.user_id[i]).collect::<Int64Array>()),
            Arc::new(TimestampMicrosecondArray::from(index.iter().map(|&i| e.ts[i]).collect::<Vec<_>>())),
            Arc::new(index.iter().map(|&i| Some(e.event[i])).collect::<StringArray>()),
        ],
    )?)
}

fn spend_batch(seed: u64, signups: &BTreeMap<(usize, usize), u64>) -> Result<RecordBatch> {
    let rows = generator::marketing_spend(seed, signups);
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let month_start = |month: usize| {
        let date =
            chrono::NaiveDate::from_ymd_opt(2024 + (month / 12) as i32, (month % 12) as u32 + 1, 1).unwrap_or_default();
        (date - epoch).num_days() as i32
    };
    Ok(RecordBatch::try_new(
        SPEND_SCHEMA.clone(),
        vec![
            Arc::new(Date32Array::from(rows.iter().map(|r| month_start(r.month)).collect::<Vec<_>>())),
            Arc::new(rows.iter().map(|r| Some(r.channel)).collect::<StringArray>()),
            money_array(rows.iter().map(|r| r.spend))?,
        ],
    )?)
}

/// One line per sample table, for `\sample`.
pub fn describe() -> (Vec<String>, Vec<String>) {
    let about = [
        ("sample.customers", "customer_id, signup_ts, country, acquisition_channel: one row per signup"),
        (
            "sample.orders",
            "order_id, customer_id, order_ts, amount, channel, country: purchases and refunds (negative amounts)",
        ),
        ("sample.events", "user_id, ts, event: view, cart, checkout and purchase events"),
        ("sample.marketing_spend", "month, channel, spend: paid acquisition spend per month"),
    ];
    about.iter().map(|(t, d)| (t.to_string(), d.to_string())).unzip()
}

/// All four tables, in memory.
#[derive(Debug, Clone)]
pub struct SampleTables {
    pub customers: RecordBatch,
    pub orders: RecordBatch,
    pub events: RecordBatch,
    pub marketing_spend: RecordBatch,
}

/// Generates the whole dataset in memory (for the sample; `write_parquet` streams).
pub fn generate_in_memory(config: &GeneratorConfig) -> Result<SampleTables> {
    let mut block = generator::generate_block(config, 1, config.customers);
    Ok(SampleTables {
        customers: customers_batch(&block)?,
        orders: orders_batch(&mut block.orders, 1)?,
        events: events_batch(&block)?,
        marketing_spend: spend_batch(config.seed, &block.signups)?,
    })
}

type Tables = HashMap<String, Arc<dyn TableProvider>>;

/// The `sample` schema: the built-in dataset, generated when first used.
#[derive(Debug, Default)]
pub struct SampleSchema {
    tables: OnceLock<std::result::Result<Tables, String>>,
}

impl SampleSchema {
    fn tables(&self) -> Result<&Tables> {
        self.tables
            .get_or_init(|| {
                let config = GeneratorConfig { customers: SAMPLE_CUSTOMERS, seed: DEFAULT_SEED, with_events: true };
                let build = || -> Result<Tables> {
                    let tables = generate_in_memory(&config)?;
                    let mut map: Tables = HashMap::new();
                    for (name, batch) in [
                        ("customers", tables.customers),
                        ("orders", tables.orders),
                        ("events", tables.events),
                        ("marketing_spend", tables.marketing_spend),
                    ] {
                        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
                        map.insert(name.to_string(), Arc::new(table));
                    }
                    Ok(map)
                };
                build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| exec_datafusion_err!("could not generate the sample data: {e}"))
    }
}

#[async_trait]
impl SchemaProvider for SampleSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if !TABLES.contains(&name) {
            return Ok(None);
        }
        Ok(self.tables()?.get(name).cloned())
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}

/// Which tables `segsql generate` writes.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub config: GeneratorConfig,
    pub out_dir: PathBuf,
    pub tables: Vec<String>,
    pub threads: usize,
}

/// Counts of what `write_parquet` wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    pub rows: BTreeMap<String, u64>,
}

/// Rows per Parquet row group in generated files, and in every Parquet file segsql writes
/// (COPY, exports): DuckDB's size. Readers split a file's work by row group, so a file of
/// 1M-row groups (DataFusion's default) is read by as many threads as it has groups, unevenly.
pub const ROW_GROUP_ROWS: usize = 122_880;

/// A file being written under a temporary name: removed when dropped unless it was moved
/// into place, so a failed run leaves no `.tmp` files behind.
struct TempPath {
    path: PathBuf,
    kept: bool,
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

struct PendingFile {
    temp: TempPath,
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl PendingFile {
    fn create(dir: &Path, table: &str, schema: SchemaRef) -> Result<Self> {
        let path = dir.join(format!("{table}.parquet"));
        let temp = dir.join(format!(".{table}.parquet.tmp"));
        let file =
            File::create(&temp).map_err(|e| exec_datafusion_err!("generate: cannot create {}: {e}", temp.display()))?;
        let temp = TempPath { path: temp, kept: false };
        // DuckDB's row-group size: readers split work by row group, so the default of 1M rows
        // left a 1M-line file to a single thread.
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        Ok(PendingFile { temp, path, writer: ArrowWriter::try_new(file, schema, Some(props))?, rows: 0 })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        Ok(self.writer.write(batch)?)
    }

    /// Finishes the file and moves it into place, so readers never see half a file.
    fn finish(mut self) -> Result<u64> {
        self.writer.close()?;
        std::fs::rename(&self.temp.path, &self.path)
            .map_err(|e| exec_datafusion_err!("generate: cannot write {}: {e}", self.path.display()))?;
        self.temp.kept = true;
        Ok(self.rows)
    }
}

/// Writes the requested tables as Parquet files in `out_dir`, block by block, generating
/// up to `threads` blocks at once. `on_progress` receives the customers done so far.
pub fn write_parquet(request: &GenerateRequest, on_progress: impl FnMut(u64)) -> Result<GenerateSummary> {
    write_parquet_with(request, generator::generate_block, on_progress)
}

/// [`write_parquet`] with the block generator given, so tests can make one fail.
fn write_parquet_with(
    request: &GenerateRequest,
    generate_block: impl Fn(&GeneratorConfig, u64, u64) -> Block + Sync,
    mut on_progress: impl FnMut(u64),
) -> Result<GenerateSummary> {
    for table in &request.tables {
        if !TABLES.contains(&table.as_str()) {
            return datafusion::common::plan_err!(
                "generate: unknown table '{table}'; choose from {}",
                TABLES.join(", ")
            );
        }
    }
    std::fs::create_dir_all(&request.out_dir)
        .map_err(|e| exec_datafusion_err!("generate: cannot create {}: {e}", request.out_dir.display()))?;
    let wants = |t: &str| request.tables.iter().any(|x| x == t);
    let config = GeneratorConfig { with_events: wants("events"), ..request.config };
    let dir = request.out_dir.as_path();
    let mut files: BTreeMap<&str, PendingFile> = BTreeMap::new();
    for (table, schema) in
        [("customers", CUSTOMERS_SCHEMA.clone()), ("orders", ORDERS_SCHEMA.clone()), ("events", EVENTS_SCHEMA.clone())]
    {
        if wants(table) {
            files.insert(table, PendingFile::create(dir, table, schema)?);
        }
    }

    let mut signups: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let mut next_order_id = 1i64;
    let blocks: Vec<(u64, u64)> = (0..config.customers.div_ceil(BLOCK_CUSTOMERS))
        .map(|b| {
            let first = b * BLOCK_CUSTOMERS + 1;
            (first, BLOCK_CUSTOMERS.min(config.customers + 1 - first))
        })
        .collect();
    for group in blocks.chunks(request.threads.max(1)) {
        let generated: Vec<std::thread::Result<Block>> = std::thread::scope(|scope| {
            let handles: Vec<_> = group
                .iter()
                .map(|&(first, count)| {
                    let generate_block = &generate_block;
                    scope.spawn(move || generate_block(&config, first, count))
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        for block in generated {
            // A lost block would mean customers silently missing from the files: stop instead.
            let mut block = block.map_err(|payload| {
                exec_datafusion_err!(
                    "generate: a generator thread failed ({}); nothing was written to {}. This is a bug in segsql; please report it",
                    crate::error::panic_message(payload.as_ref()),
                    request.out_dir.display()
                )
            })?;
            if let Some(file) = files.get_mut("customers") {
                file.write(&customers_batch(&block)?)?;
            }
            if let Some(file) = files.get_mut("orders") {
                let batch = orders_batch(&mut block.orders, next_order_id)?;
                next_order_id += batch.num_rows() as i64;
                file.write(&batch)?;
            }
            if let Some(file) = files.get_mut("events") {
                file.write(&events_batch(&block)?)?;
            }
            for (key, count) in block.signups {
                *signups.entry(key).or_default() += count;
            }
            on_progress(block.customers.customer_id.len() as u64);
        }
    }

    let mut summary = GenerateSummary::default();
    for (table, file) in files {
        summary.rows.insert(table.to_string(), file.finish()?);
    }
    if wants("marketing_spend") {
        let mut file = PendingFile::create(dir, "marketing_spend", SPEND_SCHEMA.clone())?;
        file.write(&spend_batch(config.seed, &signups)?)?;
        summary.rows.insert("marketing_spend".to_string(), file.finish()?);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_deterministic() {
        let config = GeneratorConfig { customers: 200, seed: 7, with_events: true };
        let a = generate_in_memory(&config).unwrap();
        let b = generate_in_memory(&config).unwrap();
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.events, b.events);
        assert_eq!(a.customers.num_rows(), 200);
        assert_eq!(a.marketing_spend.num_rows(), 24 * 5);
    }

    #[test]
    fn a_failing_generator_thread_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let request = GenerateRequest {
            config: GeneratorConfig { customers: 3 * BLOCK_CUSTOMERS, seed: 1, with_events: false },
            out_dir: dir.path().to_path_buf(),
            tables: vec!["customers".to_string()],
            threads: 2,
        };
        let second_block_panics = |config: &GeneratorConfig, first: u64, count: u64| {
            if first > BLOCK_CUSTOMERS {
                panic!("injected failure");
            }
            generator::generate_block(config, first, count)
        };
        let error = write_parquet_with(&request, second_block_panics, |_| {}).unwrap_err().to_string();
        assert!(error.contains("generate: ") && error.contains("injected failure"), "{error}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "a failed run leaves no file behind: {left:?}");
    }

    #[test]
    fn order_ids_follow_time() {
        let config = GeneratorConfig { customers: 100, seed: 1, with_events: false };
        let tables = generate_in_memory(&config).unwrap();
        let ts = tables.orders.column(2).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        assert!(ts.values().windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(tables.events.num_rows(), 0);
    }
}
