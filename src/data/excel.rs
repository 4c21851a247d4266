//! Excel workbooks: every sheet of an `.xlsx` file is a table named `<file>_<sheet>`.
//!
//! A sheet's cells are written out as text the way a CSV file would hold them (integral
//! numbers without a point, dates as ISO dates, date-times as ISO timestamps) and typed by
//! the CSV sniffer's rules, so the same column reads the same from either format. The
//! sheet is read into memory when a query first names it; a view on top converts the text.

use std::path::Path;
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx, open_workbook};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, exec_datafusion_err};
use datafusion::datasource::MemTable;
use datafusion::datasource::provider_as_source;
use datafusion::datasource::view::ViewTable;
use datafusion::logical_expr::{LogicalPlanBuilder, col};

use super::csv::{converted, quoted};
use super::sniff::{ColumnKind, Hints, SniffedColumn, type_cells};

/// The sheets of a workbook, in workbook order; read at registration (only the
/// workbook's index, not the cells).
pub fn sheet_names(path: &Path) -> std::result::Result<Vec<String>, String> {
    let workbook: Xlsx<_> = open_workbook(path).map_err(|e| format!("not a readable .xlsx workbook: {e}"))?;
    Ok(workbook.sheet_names())
}

/// A table name for a sheet: the file's table name, `_`, and the sheet's name made
/// SQL-friendly the same way.
pub fn sheet_table_name(file_table: &str, sheet: &str) -> String {
    let sheet: String =
        sheet.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{file_table}_{sheet}")
}

/// What a query sees of an Excel sheet, with the columns as typed.
pub struct Sheet {
    pub provider: Arc<dyn TableProvider>,
    pub has_header: bool,
    pub columns: Vec<SniffedColumn>,
}

/// Reads `sheet` of the workbook at `path` into a table.
pub fn excel_table(name: &str, path: &Path, sheet: &str) -> Result<Sheet> {
    let describe =
        |e: String| exec_datafusion_err!("cannot open table {name} from {} (sheet {sheet}): {e}", path.display());
    let mut workbook: Xlsx<_> = open_workbook(path).map_err(|e: calamine::XlsxError| describe(e.to_string()))?;
    let range = workbook.worksheet_range(sheet).map_err(|e| describe(e.to_string()))?;
    let width = range.width();
    // A column with any time of day shows every date in it with its time, so the column
    // reads as one type.
    let timed: Vec<bool> = (0..width)
        .map(|c| {
            range.rows().any(|row| match row.get(c) {
                Some(Data::DateTime(d)) => d.as_datetime().is_some_and(|t| t.time() != chrono::NaiveTime::MIN),
                _ => false,
            })
        })
        .collect();
    let rows: Vec<Vec<String>> =
        range.rows().map(|row| row.iter().enumerate().map(|(c, cell)| cell_text(cell, timed[c])).collect()).collect();
    if rows.is_empty() {
        return Err(describe("the sheet is empty".to_string()));
    }
    let (has_header, columns) = type_cells(rows.clone(), &Hints { decimal_comma: Some(false), ..Hints::default() });
    let body = &rows[usize::from(has_header)..];
    let schema =
        Arc::new(Schema::new(columns.iter().map(|c| Field::new(&c.name, DataType::Utf8, true)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = (0..width)
        .map(|c| {
            let values = body.iter().map(|r| Some(r[c].as_str()).filter(|v| !v.is_empty()));
            Arc::new(values.collect::<StringArray>()) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let cells = Arc::new(MemTable::try_new(schema, vec![vec![batch]])?);
    let exprs = columns.iter().map(|c| if c.kind == ColumnKind::Text { col(quoted(&c.name)) } else { converted(c) });
    let plan = LogicalPlanBuilder::scan(name, provider_as_source(cells), None)?.project(exprs)?.build()?;
    Ok(Sheet { provider: Arc::new(ViewTable::new(plan, None)), has_header, columns })
}

/// A cell as a CSV file would hold it; errors and empty cells are empty (NULL).
fn cell_text(cell: &Data, timed: bool) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Excel keeps every number as a double; integral ones print as integers.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if d.is_datetime() && timed => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            Some(t) if d.is_datetime() => t.format("%Y-%m-%d").to_string(),
            // A duration or time of day has no date: kept as Excel's number of days.
            _ => format!("{}", d.as_f64()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_print_as_a_csv_file_holds_them() {
        assert_eq!(cell_text(&Data::Float(42.0), false), "42");
        assert_eq!(cell_text(&Data::Float(0.1), false), "0.1");
        assert_eq!(cell_text(&Data::Float(-3.25), false), "-3.25");
        assert_eq!(cell_text(&Data::Bool(true), false), "true");
        assert_eq!(cell_text(&Data::Empty, false), "");
        assert_eq!(sheet_table_name("crm_export", "Orders 2024"), "crm_export_orders_2024");
    }
}
