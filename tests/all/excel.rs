//! Excel workbooks written by openpyxl (`tests/parity/make_excel_fixtures.py`): every sheet
//! is a table `<file>_<sheet>` with the types `expected.json` writes down, and the facts
//! Python computed from the values it wrote.

use std::path::Path;

use serde_json::Value;

use crate::support::{query_cells, shell};

fn sql_type(data_type: &datafusion::arrow::datatypes::DataType) -> &'static str {
    use datafusion::arrow::datatypes::DataType::*;
    match data_type {
        Int64 => "BIGINT",
        Float64 => "DOUBLE",
        Boolean => "BOOLEAN",
        Date32 => "DATE",
        Timestamp(..) => "TIMESTAMP",
        Utf8 => "VARCHAR",
        _ => "other",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sheet_is_a_typed_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/excel");
    let text = std::fs::read_to_string(fixtures.join("expected.json")).expect("expected.json");
    let cases: Vec<Value> = serde_json::from_str::<Value>(&text).expect("json").as_array().expect("list").clone();
    let mut shell = shell(dir.path());
    let loaded = shell.load_dir(&fixtures).expect("the fixtures load");
    let mut tables: Vec<String> = cases.iter().map(|c| c["table"].as_str().unwrap_or_default().to_string()).collect();
    tables.sort();
    tables.push("expected".to_string());
    tables.sort();
    assert_eq!(loaded, tables, "one table per sheet, named <file>_<sheet> (and expected.json)");
    for case in &cases {
        let table = case["table"].as_str().expect("table");
        let provider = shell.context().table_provider(table).await.expect("opens");
        let schema = provider.schema();
        let columns: Vec<(String, String)> =
            schema.fields().iter().map(|f| (f.name().clone(), sql_type(f.data_type()).to_string())).collect();
        let want = crate::support::named_types(&case["columns"]);
        assert_eq!(columns, want, "{table}");
        let rows = query_cells(&mut shell, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(rows[0][0], case["rows"].to_string(), "{table}: rows");
        for check in case["checks"].as_array().expect("checks") {
            let (expr, expected) = (check[0].as_str().expect("sql"), check[1].as_str().expect("value"));
            let cells = query_cells(&mut shell, &format!("SELECT {expr} FROM {table}")).await;
            assert_eq!(cells[0][0], expected, "{table}: {expr}");
        }
    }
}
