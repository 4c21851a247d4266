//! Parity with the peers: fixtures made by tests/parity/make_fixtures.sh with the real
//! lifetimes, DuckDB and statsmodels, checked here without Python.

use std::path::Path;

use segsql::script::Shell;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

/// A CSV fixture as a header and rows of cells.
fn read_fixture(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let mut lines = text.lines();
    let header = lines.next().expect("header").split(',').map(str::to_string).collect();
    let rows = lines.map(|line| line.split(',').map(str::to_string).collect()).collect();
    (header, rows)
}

async fn query(shell: &mut Shell, sql: &str) -> Vec<Vec<String>> {
    query_with_header(shell, sql).await.1
}

/// The result's column names and rows of cells.
async fn query_with_header(shell: &mut Shell, sql: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let outputs = shell.execute_collect(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    let last = outputs.last().expect("a result");
    let header = last.schema.fields().iter().map(|f| f.name().clone()).collect();
    (header, segsql::output::cells(&last.batches).expect("cells"))
}

/// Fails unless the result has exactly the fixture's columns, in its order.
fn assert_same_columns(name: &str, expected: &[String], actual: &[String]) {
    let missing: Vec<&String> = expected.iter().filter(|c| !actual.contains(c)).collect();
    let extra: Vec<&String> = actual.iter().filter(|c| !expected.contains(c)).collect();
    assert!(missing.is_empty(), "{name}: the result lacks the fixture's columns {missing:?}; it has {actual:?}");
    assert!(
        extra.is_empty(),
        "{name}: the result has columns {extra:?} that the fixture lacks; the fixture has {expected:?}"
    );
    assert_eq!(expected, actual, "{name}: column order");
}

/// Compares numerically: equal within `tolerance`, absolute or relative to the value's size.
fn assert_same(name: &str, expected: &[Vec<String>], actual: &[Vec<String>], header: &[String], tolerance: f64) {
    assert_eq!(expected.len(), actual.len(), "{name}: row count");
    for (row, (want, got)) in expected.iter().zip(actual).enumerate() {
        assert_eq!(want.len(), got.len(), "{name}: row {row} has {} cells, the fixture {}", got.len(), want.len());
        for (column, (w, g)) in want.iter().zip(got).enumerate() {
            let (w_num, g_num) = (w.parse::<f64>(), g.parse::<f64>());
            let same = match (w_num, g_num) {
                (Ok(w), Ok(g)) => (w - g).abs() <= tolerance * w.abs().max(1.0),
                _ => w == g,
            };
            assert!(same, "{name}: row {row} column {}: expected {w}, got {g}\n{want:?}\n{got:?}", header[column]);
        }
    }
}

async fn check(shell: &mut Shell, name: &str, sql: &str, tolerance: f64) {
    let (header, expected) = read_fixture(name);
    let (columns, actual) = query_with_header(shell, sql).await;
    assert_same_columns(name, &header, &columns);
    assert_same(name, &expected, &actual, &header, tolerance);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfm_summary_matches_lifetimes() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let edge = format!("'{}'", fixture("edge_orders.csv"));
    let columns = "customer_id, frequency, recency, \"T\", monetary_value";
    let cases = [
        ("rfm_summary_sample_day.csv", "rfm_summary(sample.orders, customer_id, order_ts, amount)".to_string()),
        (
            "rfm_summary_sample_week.csv",
            "rfm_summary(sample.orders, customer_id, order_ts, amount, NULL, 'week')".to_string(),
        ),
        (
            "rfm_summary_sample_asof.csv",
            "rfm_summary(sample.orders, customer_id, order_ts, amount, '2025-06-30')".to_string(),
        ),
        ("rfm_summary_edge_day.csv", format!("rfm_summary({edge}, customer_id, order_ts, amount)")),
        ("rfm_summary_edge_week.csv", format!("rfm_summary({edge}, customer_id, order_ts, amount, NULL, 'week')")),
        ("rfm_summary_edge_asof.csv", format!("rfm_summary({edge}, customer_id, order_ts, amount, '2024-02-29')")),
    ];
    for (name, source) in &cases {
        check(&mut shell, name, &format!("SELECT {columns} FROM {source} ORDER BY customer_id"), 1e-9).await;
    }
    // Again with partial aggregation skipped from the first row, so that every row goes
    // through the aggregate's row-to-state conversion and the final merge instead.
    query(&mut shell, "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 1").await;
    query(&mut shell, "SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 0.0").await;
    for (name, source) in &cases {
        check(&mut shell, name, &format!("SELECT {columns} FROM {source} ORDER BY customer_id"), 1e-9).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfm_scores_match_duckdb() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let edge = format!("'{}'", fixture("edge_orders.csv"));
    let columns = "customer_id, recency_days, frequency, monetary, r_score, f_score, m_score";
    let cases = [
        ("rfm_duckdb_sample.csv", "rfm(sample.orders, customer_id, order_ts, amount)".to_string()),
        (
            "rfm_duckdb_sample_asof_bins4.csv",
            "rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30', 4)".to_string(),
        ),
        ("rfm_duckdb_edge.csv", format!("rfm({edge}, customer_id, order_ts, amount)")),
        ("rfm_duckdb_edge_bins3.csv", format!("rfm({edge}, customer_id, order_ts, amount, '2024-03-01', 3)")),
    ];
    for (name, source) in cases {
        check(&mut shell, name, &format!("SELECT {columns} FROM {source} ORDER BY customer_id"), 1e-12).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prop_ztest_matches_statsmodels() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let (header, rows) = read_fixture("prop_ztest_statsmodels.csv");
    for row in rows {
        let sql = format!("SELECT prop_ztest({}, {}, {}, {})", row[0], row[1], row[2], row[3]);
        let actual = query(&mut shell, &sql).await;
        assert_same(&sql, &[vec![row[4].clone()]], &actual, &header[4..], 1e-12);
    }
}

/// statsmodels solves for the sample size with a root finder that stops up to a few parts
/// in 10⁹ short; segsql solves the same power equation to the last bits, checked against
/// the root at 50 digits (mpmath) in the same fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_sample_size_matches_statsmodels() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let (header, rows) = read_fixture("ab_sample_size_statsmodels.csv");
    assert_eq!(rows.len(), 9);
    for row in rows {
        let sql = format!("SELECT ab_sample_size({}, {}, {}, {})", row[0], row[1], row[2], row[3]);
        let actual = query(&mut shell, &sql).await;
        assert_same(&sql, &[vec![row[4].clone()]], &actual, &header[4..5], 1e-8);
        assert_same(&sql, &[vec![row[5].clone()]], &actual, &header[5..6], 1e-13);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_holdout_matches_lifetimes() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let edge = format!("'{}'", fixture("edge_orders.csv"));
    let columns = "customer_id, frequency_cal, recency_cal, \"T_cal\", monetary_value_cal, frequency_holdout, \
                   monetary_value_holdout, duration_holdout";
    let cases = [
        ("calibration_sample_day.csv", "sample.orders", "'2025-03-31', '2025-06-30'"),
        ("calibration_sample_week.csv", "sample.orders", "'2025-01-05', '2025-06-29', 'week'"),
        // Orders later on the day of either end fall outside it, as pandas compares instants.
        ("calibration_edge_day.csv", edge.as_str(), "'2024-01-05', '2024-03-01'"),
        ("calibration_edge_week.csv", edge.as_str(), "'2024-01-31', '2024-03-01', 'week'"),
    ];
    for (name, source, ends) in cases {
        let sql = format!(
            "SELECT {columns} FROM rfm_calibration_holdout({source}, customer_id, order_ts, amount, {ends}) ORDER BY customer_id"
        );
        check(&mut shell, name, &sql, 1e-12).await;
    }
}
