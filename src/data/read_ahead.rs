//! Read-ahead for Parquet files on object stores: while a scan decodes one row group, the
//! column chunks of its next row groups are already on their way.
//!
//! DataFusion's Parquet reader asks for a row group's column chunks when it starts that row
//! group, so one part of a scan has one request in flight. `ScanParts` cuts a scan
//! into more parts where DataFusion already cut it; a scan DataFusion left whole (one
//! thread) keeps its order and gets its concurrency here instead: after serving a request
//! for row group i, the reader starts fetching the same columns of row groups i+1..=i+depth.
//! A later request is served from those bytes when it lies inside a fetched chunk (a page of
//! it, or all of it), and from the store otherwise, so a wrong guess (a row group pruned by
//! statistics, another part's row group) costs a request, never a wrong byte.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::common::Result;
use datafusion::common::runtime::SpawnedTask;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::ParquetFileMetrics;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::path::Path;
use parking_lot::Mutex;

/// Bytes one reader holds ahead at most: wide scans of big row groups read fewer groups
/// ahead, not more memory.
const READ_AHEAD_BYTES: u64 = 64 << 20;

/// Wraps a scan's reader factory: readers that fetch `depth` row groups ahead. The read-ahead
/// asks the scan's object store for the bytes at the file's path itself, so it wraps only
/// factories that read exactly those bytes (DataFusion's default and cached ones).
#[derive(Debug)]
pub struct ReadAheadFactory {
    pub inner: Arc<dyn ParquetFileReaderFactory>,
    pub store: Arc<dyn ObjectStore>,
    pub depth: usize,
    /// Each file's chunk index once a reader has its metadata: DataFusion may read a file's
    /// metadata and bloom filters with one reader and its row groups with another.
    known: Arc<Mutex<HashMap<Path, Arc<ChunkIndex>>>>,
}

impl ReadAheadFactory {
    pub fn new(inner: Arc<dyn ParquetFileReaderFactory>, store: Arc<dyn ObjectStore>, depth: usize) -> Self {
        ReadAheadFactory { inner, store, depth, known: Arc::new(Mutex::new(HashMap::new())) }
    }
}

impl ParquetFileReaderFactory for ReadAheadFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let location = partitioned_file.object_meta.location.clone();
        let range = partitioned_file.range.as_ref().map(|r| r.start.max(0) as u64..r.end.max(0) as u64);
        // The read-ahead's bytes count in EXPLAIN ANALYZE's bytes_scanned as the reader's do.
        let scanned = ParquetFileMetrics::new(partition_index, location.as_ref(), metrics).bytes_scanned;
        let index = self.known.lock().get(&location).cloned();
        let inner = self.inner.create_reader(partition_index, partitioned_file, metadata_size_hint, metrics)?;
        Ok(Box::new(ReadAheadReader {
            inner,
            store: Arc::clone(&self.store),
            location,
            range,
            depth: self.depth,
            scanned,
            index,
            known: Arc::clone(&self.known),
            last: None,
            ahead: BTreeMap::new(),
        }))
    }
}

/// Where each column chunk of a file lies: by row group, and sorted by start for lookups.
#[derive(Debug)]
struct ChunkIndex {
    /// Row group → its chunks' byte ranges, by column (`None` for an offset that is not valid).
    chunks: Vec<Vec<Option<Range<u64>>>>,
    /// (start, end, row group, column), sorted.
    sorted: Vec<(u64, u64, usize, usize)>,
    /// Row group → where its first column starts: DataFusion gives a row group to the part
    /// whose byte range holds this offset.
    first_offset: Vec<Option<u64>>,
}

impl ChunkIndex {
    fn new(metadata: &ParquetMetaData) -> ChunkIndex {
        let chunks: Vec<Vec<Option<Range<u64>>>> = metadata
            .row_groups()
            .iter()
            .map(|rg| {
                rg.columns()
                    .iter()
                    .map(|c| {
                        // byte_range() asserts on negative offsets; a corrupt chunk is only
                        // never read ahead.
                        let start = c.dictionary_page_offset().unwrap_or_else(|| c.data_page_offset());
                        let length = c.compressed_size();
                        (start >= 0 && length >= 0).then(|| start as u64..(start + length) as u64)
                    })
                    .collect()
            })
            .collect();
        let mut sorted: Vec<(u64, u64, usize, usize)> = chunks
            .iter()
            .enumerate()
            .flat_map(|(rg, cols)| {
                cols.iter().enumerate().filter_map(move |(c, r)| Some((r.as_ref()?.start, r.as_ref()?.end, rg, c)))
            })
            .collect();
        sorted.sort_unstable();
        let first_offset = chunks.iter().map(|cols| cols.first().cloned().flatten().map(|r| r.start)).collect();
        ChunkIndex { chunks, sorted, first_offset }
    }

    /// The (row group, column) of the chunk holding all of `range`.
    fn chunk_of(&self, range: &Range<u64>) -> Option<(usize, usize)> {
        let after = self.sorted.partition_point(|(start, ..)| *start <= range.start);
        let (_, end, rg, column) = *self.sorted.get(after.checked_sub(1)?)?;
        (range.end <= end).then_some((rg, column))
    }

    /// The row group and the columns whose chunks hold every range of a request, when they
    /// are all of one row group.
    fn locate(&self, ranges: &[Range<u64>]) -> Option<(usize, Vec<usize>)> {
        let mut found: Option<usize> = None;
        let mut columns: Vec<usize> = Vec::new();
        for range in ranges {
            let (rg, column) = self.chunk_of(range)?;
            if *found.get_or_insert(rg) != rg {
                return None;
            }
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        Some((found?, columns))
    }
}

/// The column chunks of one row group, fetched ahead: their byte ranges and the task
/// fetching them (taken when first needed, then kept as bytes).
enum Ahead {
    Fetching(SpawnedTask<object_store::Result<Vec<Bytes>>>),
    Fetched(Vec<Bytes>),
    Failed,
}

struct ReadAheadReader {
    inner: Box<dyn AsyncFileReader + Send>,
    store: Arc<dyn ObjectStore>,
    location: Path,
    /// The part of the file this reader's scan reads (row groups that start in it).
    range: Option<Range<u64>>,
    depth: usize,
    scanned: Count,
    index: Option<Arc<ChunkIndex>>,
    /// The factory's indexes, where this reader adds its file's.
    known: Arc<Mutex<HashMap<Path, Arc<ChunkIndex>>>>,
    /// The row group of the last request; a request for an earlier one (a scan in reverse or
    /// statistics order) turns the read-ahead off for this reader.
    last: Option<usize>,
    /// Row group → (its chunks' ranges, in the request's column order, and their bytes).
    ahead: BTreeMap<usize, (Vec<Range<u64>>, Ahead)>,
}

impl ReadAheadReader {
    /// Starts fetching the given columns of the row groups after `row_group` that belong to
    /// this reader's part, up to the depth and [`READ_AHEAD_BYTES`].
    fn fetch_ahead(&mut self, index: &ChunkIndex, row_group: usize, columns: &[usize]) {
        let last = (row_group + self.depth).min(index.chunks.len().saturating_sub(1));
        let size = |ranges: &[Range<u64>]| ranges.iter().map(|r| r.end - r.start).sum::<u64>();
        let mut held: u64 = self.ahead.iter().filter(|(rg, _)| **rg > row_group).map(|(_, (r, _))| size(r)).sum();
        for next in row_group + 1..=last {
            if self.ahead.contains_key(&next) {
                continue;
            }
            let in_part = match (&self.range, index.first_offset[next]) {
                (None, _) => true,
                (Some(part), Some(offset)) => part.contains(&offset),
                (Some(_), None) => false,
            };
            if !in_part {
                break;
            }
            let Some(ranges) =
                columns.iter().map(|c| index.chunks[next].get(*c).cloned().flatten()).collect::<Option<Vec<_>>>()
            else {
                break;
            };
            if held > 0 && held + size(&ranges) > READ_AHEAD_BYTES {
                break;
            }
            held += size(&ranges);
            self.scanned.add(size(&ranges) as usize);
            let (store, location, wanted) = (Arc::clone(&self.store), self.location.clone(), ranges.clone());
            let task = SpawnedTask::spawn(async move { store.get_ranges(&location, &wanted).await });
            self.ahead.insert(next, (ranges, Ahead::Fetching(task)));
        }
    }

    /// The bytes of `range` from row group `row_group`'s chunks fetched ahead, if they hold it.
    async fn read_from_ahead(&mut self, row_group: usize, range: &Range<u64>) -> Option<Bytes> {
        let (chunks, state) = self.ahead.get_mut(&row_group)?;
        let index = chunks.iter().position(|c| c.start <= range.start && range.end <= c.end)?;
        if let Ahead::Fetching(_) = state {
            let Ahead::Fetching(task) = std::mem::replace(state, Ahead::Failed) else {
                return None;
            };
            // A failed read-ahead is not an error: the store is asked again, and its error,
            // if it fails again, is the one the user sees.
            if let Ok(Ok(bytes)) = task.join().await {
                *state = Ahead::Fetched(bytes);
            }
        }
        let Ahead::Fetched(bytes) = state else {
            return None;
        };
        let chunk = &chunks[index];
        let data = bytes.get(index)?;
        let (start, end) = ((range.start - chunk.start) as usize, (range.end - chunk.start) as usize);
        (end <= data.len()).then(|| data.slice(start..end))
    }
}

impl AsyncFileReader for ReadAheadReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let located = self.index.clone().and_then(|index| Some((index.locate(&ranges)?, index)));
            let Some(((row_group, columns), index)) = located else {
                return self.inner.get_byte_ranges(ranges).await;
            };
            if self.last.is_some_and(|last| row_group < last) {
                // Not a forward scan: reading ahead would fetch row groups already read.
                self.depth = 0;
                self.ahead.clear();
            }
            self.last = Some(row_group);
            // Row groups before this one will not be asked for again.
            self.ahead.retain(|rg, _| *rg >= row_group);
            self.fetch_ahead(&index, row_group, &columns);
            let mut out: Vec<Option<Bytes>> = Vec::with_capacity(ranges.len());
            for range in &ranges {
                out.push(self.read_from_ahead(row_group, range).await);
            }
            let missing: Vec<Range<u64>> =
                ranges.iter().zip(&out).filter(|(_, b)| b.is_none()).map(|(r, _)| r.clone()).collect();
            let mut fetched = if missing.is_empty() {
                Vec::new().into_iter()
            } else {
                self.inner.get_byte_ranges(missing).await?.into_iter()
            };
            out.into_iter()
                .map(|b| match b {
                    Some(bytes) => Ok(bytes),
                    None => {
                        fetched.next().ok_or_else(|| ParquetError::General("read-ahead: a range went missing".into()))
                    }
                })
                .collect()
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let metadata = self.inner.get_metadata(options).await?;
            let index = Arc::new(ChunkIndex::new(&metadata));
            self.known.lock().insert(self.location.clone(), Arc::clone(&index));
            self.index = Some(index);
            Ok(metadata)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
    use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;
    use datafusion::parquet::arrow::{ArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask};
    use datafusion::parquet::file::properties::WriterProperties;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    /// Counts the requests its readers send to the store.
    #[derive(Debug)]
    struct Counting(DefaultParquetFileReaderFactory, Arc<AtomicUsize>);

    struct CountingReader(Box<dyn AsyncFileReader + Send>, Arc<AtomicUsize>);

    impl AsyncFileReader for CountingReader {
        fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.get_bytes(range)
        }
        fn get_byte_ranges(
            &mut self,
            ranges: Vec<Range<u64>>,
        ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<Bytes>>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.get_byte_ranges(ranges)
        }
        fn get_metadata<'a>(
            &'a mut self,
            options: Option<&'a ArrowReaderOptions>,
        ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
            self.0.get_metadata(options)
        }
    }

    impl ParquetFileReaderFactory for Counting {
        fn create_reader(
            &self,
            partition_index: usize,
            file: PartitionedFile,
            hint: Option<usize>,
            metrics: &ExecutionPlanMetricsSet,
        ) -> Result<Box<dyn AsyncFileReader + Send>> {
            let inner = self.0.create_reader(partition_index, file, hint, metrics)?;
            Ok(Box::new(CountingReader(inner, Arc::clone(&self.1))))
        }
    }

    /// Ten row groups of three columns; the read takes two of them.
    #[tokio::test]
    async fn rows_read_ahead_are_the_rows_and_need_fewer_requests() {
        let schema =
            Arc::new(Schema::new(["a", "b", "c"].map(|name| Field::new(name, DataType::Int64, false)).to_vec()));
        let column = |k: i64| Arc::new(Int64Array::from_iter_values((0..1000).map(move |i| i * k))) as _;
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column(1), column(7), column(13)]).expect("batch");
        let mut file = Vec::new();
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(100)).build();
        let mut writer = ArrowWriter::try_new(&mut file, Arc::clone(&schema), Some(properties)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("t.parquet");
        store.put(&path, PutPayload::from(file)).await.expect("put");
        let meta = store.head(&path).await.expect("head");

        for depth in [0, 3, 20] {
            let requests = Arc::new(AtomicUsize::new(0));
            let inner =
                Arc::new(Counting(DefaultParquetFileReaderFactory::new(Arc::clone(&store)), Arc::clone(&requests)));
            let factory = ReadAheadFactory::new(inner, Arc::clone(&store), depth);
            let reader = factory
                .create_reader(0, PartitionedFile::from(meta.clone()), None, &ExecutionPlanMetricsSet::new())
                .expect("reader");
            let reader: Box<dyn AsyncFileReader> = reader;
            let builder = ParquetRecordBatchStreamBuilder::new(reader).await.expect("builder");
            assert_eq!(builder.metadata().num_row_groups(), 10);
            let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 2]);
            let batches: Vec<RecordBatch> =
                builder.with_projection(mask).build().expect("stream").try_collect().await.expect("rows");
            let read = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
            assert_eq!(read.num_rows(), 1000);
            assert_eq!(read.column(0), batch.column(0), "depth {depth}");
            assert_eq!(read.column(1), batch.column(2), "depth {depth}");
            // The footer is one or two requests; then one per row group, or only the first
            // row group's when the rest were read ahead.
            let after_footer = requests.load(Ordering::SeqCst);
            if depth == 0 {
                assert!(after_footer >= 10, "depth 0: {after_footer} requests");
            } else {
                assert!(after_footer <= 4, "depth {depth}: {after_footer} requests");
            }

            // A second reader of the same file that never reads its metadata (DataFusion reads
            // bloom filters with one reader and rows with another) reads ahead too; and a scan
            // of the row groups backwards gets its rows, in its order.
            let mut first: Box<dyn AsyncFileReader> = factory
                .create_reader(0, PartitionedFile::from(meta.clone()), None, &ExecutionPlanMetricsSet::new())
                .expect("reader");
            let metadata =
                ArrowReaderMetadata::load_async(&mut first, ArrowReaderOptions::new()).await.expect("metadata");
            for backwards in [false, true] {
                requests.store(0, Ordering::SeqCst);
                let reader: Box<dyn AsyncFileReader> = factory
                    .create_reader(0, PartitionedFile::from(meta.clone()), None, &ExecutionPlanMetricsSet::new())
                    .expect("reader");
                let order: Vec<usize> = if backwards { (0..10).rev().collect() } else { (0..10).collect() };
                let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone());
                let batches: Vec<RecordBatch> =
                    builder.with_row_groups(order.clone()).build().expect("stream").try_collect().await.expect("rows");
                let read = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
                let expected: Vec<i64> =
                    order.iter().flat_map(|rg| (*rg as i64 * 100)..(*rg as i64 * 100 + 100)).collect();
                assert_eq!(
                    read.column(0).as_ref(),
                    &Int64Array::from(expected),
                    "depth {depth}, backwards {backwards}"
                );
                let used = requests.load(Ordering::SeqCst);
                if depth > 0 && !backwards {
                    assert!(used <= 2, "depth {depth}: the second reader sent {used} requests");
                }
            }
        }
    }
}
