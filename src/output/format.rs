//! Result formats: terminal tables that fit the window, and clean machine formats.

use std::io::Write;

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::json::writer::{JsonArray, LineDelimited, WriterBuilder as JsonWriterBuilder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Boxed table, fitted to the terminal width.
    Table,
    Csv,
    Tsv,
    /// One JSON array per result.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        <Format as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown format '{s}': choose table, csv, tsv, json, ndjson or markdown"))
    }
}

/// Output settings that the CLI flags and meta commands change.
#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub format: Format,
    /// Rows shown by the table format; `None` shows all. Other formats always write all rows.
    pub maxrows: Option<usize>,
    /// Width to fit tables to; `None` when the output is not a terminal.
    pub width: Option<u16>,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings { format: Format::Table, maxrows: Some(40), width: None }
    }
}

fn io_error(e: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn format_options() -> FormatOptions<'static> {
    FormatOptions::default().with_null("NULL")
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

/// Streams a result to `out` in the chosen format and returns the number of rows.
pub async fn write_stream(
    out: &mut (dyn Write + Send),
    schema: SchemaRef,
    mut stream: SendableRecordBatchStream,
    settings: &OutputSettings,
) -> Result<usize> {
    let mut rows = 0;
    match settings.format {
        Format::Table | Format::Markdown => {
            // Tables need every shown row before drawing; rows past the limit are only counted.
            let limit = match settings.format {
                Format::Table => settings.maxrows,
                _ => None,
            };
            let mut kept: Vec<RecordBatch> = Vec::new();
            let mut kept_rows = 0;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                let room = limit.map_or(usize::MAX, |l| l.saturating_sub(kept_rows));
                if room > 0 && batch.num_rows() > 0 {
                    let take = room.min(batch.num_rows());
                    kept.push(batch.slice(0, take));
                    kept_rows += take;
                }
            }
            let text = match settings.format {
                Format::Table => render_table(&schema, &kept, rows, settings)?,
                _ => render_markdown(&schema, &kept)?,
            };
            out.write_all(text.as_bytes()).map_err(io_error)?;
        }
        Format::Csv | Format::Tsv => {
            let delimiter = if settings.format == Format::Tsv { b'\t' } else { b',' };
            let mut writer = CsvWriterBuilder::new().with_header(true).with_delimiter(delimiter).build(&mut *out);
            // An empty batch first, so an empty result still has its header line.
            writer.write(&RecordBatch::new_empty(schema.clone()))?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch)?;
            }
        }
        Format::Json => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch)?;
            }
            writer.finish()?;
            drop(writer);
            out.write_all(b"\n").map_err(io_error)?;
        }
        Format::Ndjson => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
    }
    out.flush().map_err(io_error)?;
    Ok(rows)
}

/// The cells of `batches` as strings, NULL shown as `NULL`.
pub fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let options = format_options();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
        }
    }
    Ok(rows)
}

fn render_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    total_rows: usize,
    settings: &OutputSettings,
) -> Result<String> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    if let Some(width) = settings.width {
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_width(width);
        table.set_truncation_indicator("…");
    }
    for row in cells(batches)? {
        table.add_row(row);
        if settings.width.is_some()
            && let Some(last) = table.row_mut(table.row_count() - 1)
        {
            // One line per row: long values are cut with an ellipsis instead of wrapping.
            last.max_height(1);
        }
    }
    for (index, field) in schema.fields().iter().enumerate() {
        if is_numeric(field.data_type())
            && let Some(column) = table.column_mut(index)
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let shown: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let noun = if total_rows == 1 { "row" } else { "rows" };
    let footer = if shown < total_rows {
        format!("{total_rows} {noun} ({shown} shown; --maxrows or \\maxrows to see more)")
    } else {
        format!("{total_rows} {noun}")
    };
    Ok(format!("{table}\n{footer}\n"))
}

fn render_markdown(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN);
    table.set_header(schema.fields().iter().map(|f| f.name()));
    for row in cells(batches)? {
        table.add_row(row.into_iter().map(|cell| cell.replace('|', "\\|")));
    }
    Ok(format!("{table}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    fn sample() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a,b"), None, Some("c|d")])),
                Arc::new(Float64Array::from(vec![Some(0.5), Some(2.0), None])),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    async fn render(format: Format, maxrows: Option<usize>, with_rows: bool) -> String {
        let (schema, batch) = sample();
        let batches = if with_rows { vec![Ok(batch)] } else { vec![] };
        let stream = Box::pin(RecordBatchStreamAdapter::new(schema.clone(), futures::stream::iter(batches)));
        let mut out = Vec::new();
        let settings = OutputSettings { format, maxrows, width: None };
        write_stream(&mut out, schema, stream, &settings).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn csv_quotes_and_keeps_header_for_empty_results() {
        assert_eq!(render(Format::Csv, None, true).await, "id,name,score\n1,\"a,b\",0.5\n2,,2.0\n3,c|d,\n");
        assert_eq!(render(Format::Csv, None, false).await, "id,name,score\n");
        assert!(render(Format::Tsv, None, true).await.starts_with("id\tname\tscore\n1\ta,b\t0.5\n"));
    }

    #[tokio::test]
    async fn json_formats_keep_nulls() {
        assert_eq!(
            render(Format::Ndjson, None, true).await.lines().nth(1),
            Some(r#"{"id":2,"name":null,"score":2.0}"#)
        );
        let json = render(Format::Json, None, true).await;
        assert!(json.starts_with(r#"[{"id":1,"name":"a,b","score":0.5}"#), "{json}");
        assert_eq!(render(Format::Json, None, false).await, "[]\n");
    }

    #[tokio::test]
    async fn table_counts_rows_and_truncates() {
        let full = render(Format::Table, Some(40), true).await;
        assert!(full.contains("NULL") && full.ends_with("3 rows\n"), "{full}");
        let cut = render(Format::Table, Some(2), true).await;
        assert!(cut.ends_with("3 rows (2 shown; --maxrows or \\maxrows to see more)\n"), "{cut}");
        assert!(!cut.contains("c|d"));
        assert!(render(Format::Table, None, false).await.ends_with("0 rows\n"));
    }

    #[tokio::test]
    async fn markdown_escapes_pipes() {
        let md = render(Format::Markdown, None, true).await;
        assert!(md.contains("c\\|d"), "{md}");
        assert!(md.lines().nth(1).unwrap().starts_with("|-"));
    }

    #[test]
    fn formats_parse_case_insensitively() {
        assert_eq!("CSV".parse::<Format>(), Ok(Format::Csv));
        assert!("xml".parse::<Format>().unwrap_err().contains("choose table"));
    }
}
