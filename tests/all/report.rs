//! The report scripts end to end: every script runs alone and all together, a rerun gives
//! byte-identical exports and HTML, the HTML's charts render in headless Chromium, and
//! the report's bad-input rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::run_in;

fn queries() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("output folder").flatten() {
        files.insert(entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).expect("read"));
    }
    files
}

fn run_report(dir: &Path, threads: &str) -> BTreeMap<String, Vec<u8>> {
    let report = queries().join("report.sql");
    run_in(
        dir,
        &[
            "--threads",
            threads,
            "-q",
            "--format",
            "csv",
            "-f",
            report.to_str().unwrap(),
            "--html",
            "report.html",
            "--param",
            "out_dir=out",
        ],
    )
    .expect_code(0);
    let mut files = snapshot(&dir.join("out"));
    files.insert("report.html".to_string(), std::fs::read(dir.join("report.html")).expect("report.html"));
    files.insert("model".to_string(), std::fs::read(dir.join("models/customer_segments.json")).expect("model file"));
    files
}

#[test]
fn the_report_reruns_byte_identical_at_any_thread_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run_report(dir.path(), "2");
    assert!(
        first.contains_key("customers.parquet") && first.contains_key("retention_monthly.csv"),
        "{:?}",
        first.keys()
    );
    assert_eq!(first.len(), 12, "10 exports, the HTML and the model: {:?}", first.keys());
    std::fs::remove_dir_all(dir.path().join("out")).expect("clean");
    let second = run_report(dir.path(), "1");
    for (name, bytes) in &first {
        assert!(second.get(name) == Some(bytes), "{name} differs between runs");
    }
}

#[test]
fn every_script_runs_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 05, 06 and 07 score with the model that 04 trains, as a weekly re-scoring job would.
    for script in [
        "01_data_quality.sql",
        "02_cohorts.sql",
        "03_rfm.sql",
        "04_clustering.sql",
        "05_kpis.sql",
        "06_exports.sql",
        "07_clv.sql",
    ] {
        let path = queries().join(script);
        run_in(dir.path(), &["-q", "-f", path.to_str().unwrap(), "--param", "out_dir=out"]).expect_code(0);
    }
}

#[test]
fn the_charts_render_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_report(dir.path(), "2");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the report must not load anything from a network"
    );
    let Some(chromium) = find_chromium() else {
        return;
    };
    let url = format!("file://{}", dir.path().join("report.html").display());
    let dom = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,2000",
            "--virtual-time-budget=3000",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let charts = attribute(&dom, "data-charts").expect("the report counts its charts");
    let visible = attribute(&dom, "data-visible-charts").expect("the page's script ran in the browser");
    assert!(charts >= 8, "the report should chart retention, RFM, segments, elbow and LTV; it has {charts} charts");
    assert_eq!(visible, charts, "every chart is laid out with a visible size");
    for kind in ["heatmap", "bar", "line"] {
        assert!(dom.contains(&format!("data-kind=\"{kind}\"")), "a {kind} chart is in the report");
    }
}

/// The browser to render the report in. Without one the test is skipped with a note on
/// stderr, except on CI (`CI=true`), where a missing browser is a failure: .ci/run installs it.
fn find_chromium() -> Option<String> {
    let find = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/find_chromium.sh");
    let found = std::process::Command::new("bash").arg(&find).output().expect("find_chromium.sh runs");
    if found.status.success() {
        return Some(String::from_utf8_lossy(&found.stdout).trim().to_string());
    }
    let why = String::from_utf8_lossy(&found.stderr).trim().to_string();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {why}; .ci/run installs Debian's chromium package before the tests");
    }
    // Straight to stderr rather than eprintln!, which the test harness would swallow.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped the_charts_render_in_a_real_browser: {why}; install chromium to run it (CI=true makes this a failure)"
    );
    None
}

fn attribute(dom: &str, name: &str) -> Option<usize> {
    let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
    dom[start..].split('"').next()?.parse().ok()
}

#[test]
fn a_chart_of_a_missing_column_names_the_real_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in(
        dir.path(),
        &["--html", "r.html", "--command=-- @chart bar x=segment y=revenu\nSELECT 'a' AS segment, 1 AS revenue"],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("@chart bar: column 'revenu' is not in the result; its columns are segment, revenue"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_chart_of_no_rows_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(
        dir.path(),
        &[
            "--html",
            "r.html",
            "--command=-- Nothing here\n-- @chart heatmap x=a y=b value=c\nSELECT 1 AS a, 2 AS b, 3 AS c WHERE false",
        ],
    )
    .expect_code(0);
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("html");
    assert!(html.contains(">no rows<") && html.contains("<h2>Nothing here</h2>"), "{html}");
}

#[test]
fn an_unwritable_html_path_fails_before_any_query() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run =
        run_in(dir.path(), &["--html", "missing/dir/r.html", "-c", "COPY (SELECT 1 AS a) TO 'ran.csv' STORED AS CSV"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--html: cannot write missing/dir/r.html"), "{}", run.stderr);
    assert!(!dir.path().join("ran.csv").exists(), "no query may run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_draws_the_last_result_in_the_terminal() {
    use segsql::output::Sink;
    use segsql::script::Origin;
    use segsql::script::splitter::{Chunk, ChunkKind};
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    shell.set_interactive(true);
    let meta = |text: &str| Chunk { kind: ChunkKind::Meta, text: text.to_string(), line: 1 };
    let err = shell.run_chunk(&meta("\\chart bar x=a y=b"), &Origin::Interactive).await.unwrap_err().to_string();
    assert!(err.contains("\\chart: run a query first"), "{err}");
    shell
        .run_script("SELECT segment, count(*) AS customers FROM rfm(sample.orders, customer_id, order_ts, amount) GROUP BY 1 ORDER BY 2 DESC;", &Origin::Interactive)
        .await
        .expect("query runs");
    shell.set_sink(Sink::Memory(Vec::new()));
    shell.run_chunk(&meta("\\chart bar x=segment y=customers"), &Origin::Interactive).await.expect("chart draws");
    let err =
        shell.run_chunk(&meta("\\chart bar x=segment y=nope"), &Origin::Interactive).await.unwrap_err().to_string();
    assert!(
        err.contains("\\chart bar: column 'nope' is not in the result; its columns are segment, customers"),
        "{err}"
    );
    let Sink::Memory(printed) = shell.sink() else { panic!("memory sink") };
    let printed = String::from_utf8_lossy(printed);
    assert!(printed.contains("Loyal Customers") && printed.contains('█'), "{printed}");
}

#[test]
fn the_report_runs_on_a_lake_with_parameters() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(dir.path(), &["generate", "--customers", "400", "--out", "lake"]).expect_code(0);
    let report = queries().join("report.sql");
    let run = run_in(
        dir.path(),
        &[
            "-q",
            "--format",
            "csv",
            "--data",
            "lake",
            "-f",
            report.to_str().unwrap(),
            "--param",
            "orders=orders",
            "--param",
            "customers=customers",
            "--param",
            "events=events",
            "--param",
            "spend=marketing_spend",
            "--param",
            "as_of=2025-07-01",
            "--param",
            "k=3",
            "--param",
            "churn_days=60",
            "--param",
            "out_dir=weekly",
            "--param",
            "calibration_end=2025-01-01",
            // 400 customers: lifetimes does not converge on the holdout split without one either.
            "--param",
            "clv_penalizer=0.001",
        ],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("churned (no order in 60 days)"), "{}", run.stdout);
    assert!(run.stdout.contains("clusters (k),3"), "{}", run.stdout);
    assert!(dir.path().join("weekly/customers.parquet").exists());
}
