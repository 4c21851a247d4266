//! Delta tables written by another writer (delta-rs' Python `deltalake`,
//! `tests/parity/make_delta_fixtures.py`): three versions of `orders` (appends; dates,
//! timestamps without zone and DECIMAL(12,2)) and a one-version `customers`, read at the
//! latest version from `--data` and pinned with `OPTIONS ('version' 'N')`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::run_in;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/delta")
}

fn expected(table: &str, version: i64) -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let all: Value = serde_json::from_str(&text).expect("json");
    all.as_array()
        .expect("list")
        .iter()
        .find(|e| e["table"] == table && e["version"] == version)
        .cloned()
        .unwrap_or_else(|| panic!("no {table} v{version} in expected.json"))
}

const FACTS: &str = "SELECT count(*) AS n, sum(amount) AS total, min(order_date) AS first, max(order_date) AS last, \
                     count(DISTINCT customer_id) AS customers";

fn facts_line(e: &Value) -> String {
    format!(
        "{},{},{},{},{}",
        e["rows"],
        e["sum_amount"].as_str().unwrap_or_default(),
        e["min_order_date"].as_str().unwrap_or_default(),
        e["max_order_date"].as_str().unwrap_or_default(),
        e["distinct_customers"]
    )
}

#[test]
fn delta_tables_at_their_latest_and_pinned_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixtures();
    let orders = data.join("orders");
    let mut args: Vec<String> = vec!["--data".into(), data.display().to_string(), "--format".into(), "csv".into()];
    args.extend(["-c".into(), format!("{FACTS} FROM orders")]);
    for version in [0, 1] {
        args.extend([
            "-c".into(),
            format!(
                "CREATE EXTERNAL TABLE orders_v{version} STORED AS DELTATABLE LOCATION '{}' OPTIONS ('version' '{version}')",
                orders.display()
            ),
            "-c".into(),
            format!("{FACTS} FROM orders_v{version}"),
        ]);
    }
    args.extend([
        "-c".into(),
        "SELECT count(*) AS customers_rows, count(DISTINCT country) AS countries FROM customers".into(),
        "-c".into(),
        "\\d orders".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_in(dir.path(), &args);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with("n,")).collect();
    assert_eq!(lines[0], facts_line(&expected("orders", 2)), "latest: {}", run.stdout);
    assert_eq!(lines[1], facts_line(&expected("orders", 0)), "version 0: {}", run.stdout);
    assert_eq!(lines[2], facts_line(&expected("orders", 1)), "version 1: {}", run.stdout);
    let customers = expected("customers", 0);
    assert!(
        run.stdout.contains(&format!(
            "customers_rows,countries\n{},{}\n",
            customers["rows"], customers["distinct_countries"]
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("amount,\"Decimal128(12, 2)\",YES"), "{}", run.stdout);
    assert!(run.stdout.contains("order_date,Date32,"), "{}", run.stdout);
    assert!(run.stdout.contains("orders: Delta table at version 2"), "{}", run.stdout);

    let missing = format!(
        "CREATE EXTERNAL TABLE o9 STORED AS DELTATABLE LOCATION '{}' OPTIONS ('version' '9')",
        orders.display()
    );
    let run = run_in(dir.path(), &["-c", &missing]);
    run.expect_code(1);
    assert!(run.stderr.contains("cannot open Delta table o9 from"), "{}", run.stderr);
    let bad = format!(
        "CREATE EXTERNAL TABLE ox STORED AS DELTATABLE LOCATION '{}' OPTIONS ('version' 'last')",
        orders.display()
    );
    let run = run_in(dir.path(), &["-c", &bad]);
    run.expect_code(1);
    assert!(run.stderr.contains("'version' must be a Delta version number"), "{}", run.stderr);
}
