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
        "08_governance.sql",
        "09_plays.sql",
    ] {
        let path = queries().join(script);
        run_in(dir.path(), &["-q", "-f", path.to_str().unwrap(), "--param", "out_dir=out"]).expect_code(0);
    }
}

/// The validation silhouette is exact on a small customer base and says so; above
/// `silhouette_sample` customers it is a seeded sample of that many, and says that too.
#[test]
fn the_validation_silhouette_says_when_it_is_sampled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = queries().join("04_clustering.sql");
    let validation = |extra: &[&str]| {
        let mut args = vec!["-q", "--format", "csv", "-f", script.to_str().unwrap()];
        args.extend(extra);
        let run = run_in(dir.path(), &args);
        run.expect_code(0);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let header = lines
            .iter()
            .position(|l| l.starts_with("clusters,silhouette,structure,silhouette_rows,silhouette_sampled,"))
            .expect("validation");
        let cells: Vec<String> = lines[header + 1].split(',').map(str::to_string).collect();
        (cells[1].parse::<f64>().expect("a silhouette"), cells[3].clone(), cells[4].clone())
    };
    let customers =
        run_in(dir.path(), &["-q", "--format", "csv", "-c", "SELECT count(DISTINCT customer_id) FROM sample.orders"]);
    let customers = customers.stdout.lines().nth(1).expect("a count").to_string();
    let (exact, rows, sampled) = validation(&[]);
    assert_eq!((rows.as_str(), sampled.as_str()), (customers.as_str(), "false"));
    let (estimate, rows, sampled) = validation(&["--param", "silhouette_sample=1000"]);
    assert_eq!((rows.as_str(), sampled.as_str()), ("1000", "true"));
    assert!(estimate != exact && (estimate - exact).abs() < 0.05, "{estimate} vs {exact}");
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
    assert_eq!(attribute(&dom, "data-overflowing-charts"), Some(0), "no chart is wider than its section");
    for kind in ["heatmap", "bar", "line", "kpi", "cards", "stacked", "scatter"] {
        assert!(dom.contains(&format!("data-kind=\"{kind}\"")), "a {kind} chart is in the report");
    }
    // Printed, the contents page and each of the seven parts start their own page.
    let pdf = dir.path().join("report.pdf");
    let printed = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"])
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(&url)
        .output()
        .expect("chromium prints");
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let bytes = std::fs::read(&pdf).expect("the PDF");
    let pages = bytes.windows(11).filter(|w| w == b"/Type /Page").count()
        - bytes.windows(12).filter(|w| w == b"/Type /Pages").count();
    assert!(pages >= 8, "one page for the contents and at least one per part; the PDF has {pages}");
    // Each part starts a page, in template order, and no page is empty.
    let Some(text) = pdf_text(&pdf) else { return };
    let mut pages: Vec<&str> = text.split('\x0c').collect();
    // pdftotext ends every page with a form feed, the last one too.
    if pages.last().is_some_and(|p| p.is_empty()) {
        pages.pop();
    }
    let first_lines: Vec<&str> =
        pages.iter().map(|p| p.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")).collect();
    assert!(first_lines.iter().all(|l| !l.is_empty()), "an empty page: {first_lines:?}");
    let starts: Vec<usize> = PARTS
        .iter()
        .map(|heading| {
            first_lines
                .iter()
                .position(|l| l == heading)
                .unwrap_or_else(|| panic!("{heading} does not start a page: {first_lines:?}"))
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "parts out of order: {starts:?}");
}

/// The PDF's text, a form feed between pages, from poppler's `pdftotext` (.ci/run installs
/// it; elsewhere the check is skipped with a note, as for the browser).
fn pdf_text(pdf: &Path) -> Option<String> {
    match std::process::Command::new("pdftotext").args(["-layout"]).arg(pdf).arg("-").output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and pdftotext is missing; .ci/run installs Debian's poppler-utils before the tests")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped the print layout check: install poppler-utils for pdftotext");
            None
        }
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

/// The stakeholder template's parts, in the order the report gives them.
const PARTS: [&str; 7] = [
    "Executive summary",
    "Segmentation methodology and variables",
    "Segment profiles (personas)",
    "Performance metrics",
    "Recommended plays",
    "Governance",
    "Appendix: the full tables",
];

/// The report opens on the executive summary and follows the stakeholder template; the
/// analyst's row counts and other unplaced tables come last, in the appendix.
#[test]
fn the_report_follows_the_template_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = queries().join("report.sql");
    run_in(dir.path(), &["-q", "-f", report.to_str().unwrap(), "--html", "r.html", "--param", "out_dir=out"])
        .expect_code(0);
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("html");
    let main = &html[html.find("<main>").expect("main")..];
    let headings: Vec<&str> = main.split("<h2>").skip(1).map(|h| h.split("</h2>").next().unwrap_or_default()).collect();
    assert_eq!(headings, PARTS);
    let appendix = &main[main.find("id=\"appendix\"").expect("appendix")..];
    assert!(appendix.contains("<h3>Row counts and date ranges</h3>"), "row counts belong in the appendix");
    assert!(main.find("<h3>One-page summary</h3>") < main.find("<h3>Personas: one card per cluster"));
    // It opens on the headline numbers as KPI tiles.
    let summary = &main[..main.find("id=\"methodology\"").expect("methodology")];
    assert!(summary.find("data-kind=\"kpi\"") < summary.find("<h3>One-page summary</h3>"), "headline tiles first");
    assert!(summary.contains(">repeat rate<") && summary.contains(">LTV:CAC<"));
    // ...after the findings, computed from the data, that the issue asks the summary to state.
    assert!(summary.find("id=\"findings\"") < summary.find("data-kind=\"kpi\""), "findings first");
    for finding in [
        "<li>Month-1 retention of the latest three complete cohorts (",
        "are the top RFM segment by revenue: ",
        "customer clusters with a silhouette of ",
        "<li>LTV:CAC by acquisition channel, best first: ",
        "of predicted 12-month value is at risk in the at-risk segments (About To Sleep, At Risk, Can&#39;t Lose Them, Hibernating)",
        "<li>No baseline yet: this is the first run",
        "<li>The first play is ",
    ] {
        let finding = finding.replace("&#39;", "'");
        assert!(summary.contains(&finding), "{finding} missing from the summary");
    }
    let part = |name: &str| {
        let start = main.find(&format!("id=\"{name}\"")).expect("the part");
        let end = main[start + 1..].find("<div class=\"part\"").map_or(main.len(), |n| start + 1 + n);
        &main[start..end]
    };
    assert!(
        part("personas").contains("data-kind=\"cards\"") && part("personas").contains(">Win-back<"),
        "persona cards with plays"
    );
    assert!(part("metrics").contains("data-kind=\"stacked\""), "the segment mix by month");
    assert!(
        part("plays").contains("data-kind=\"scatter\"") && part("plays").contains(">Quick wins<"),
        "the impact-effort matrix"
    );
}

/// The report's footer says which parameters and which data its numbers came from, with
/// secrets redacted, and is the same on a rerun over the same files.
#[test]
fn the_footer_names_the_parameters_and_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(dir.path(), &["generate", "--customers", "50", "--out", "lake", "--tables", "orders"]).expect_code(0);
    let key = "a-secret-key-of-24-bytes";
    let html = |data: bool| {
        let mut args = vec!["-q", "--html", "r.html", "--param", "as_of=2025-06-30"];
        let pseudonym = format!("pseudonym_key={key}");
        args.extend(["--param", pseudonym.as_str()]);
        if data {
            args.extend(["--data", "lake"]);
        }
        args.extend(["-c", "SELECT 1 AS x"]);
        run_in(dir.path(), &args).expect_code(0);
        let html = std::fs::read_to_string(dir.path().join("r.html")).expect("html");
        html[html.find("<footer>").expect("a footer")..].to_string()
    };
    let sample = html(false);
    assert!(
        sample.contains("<code>as_of</code> = 2025-06-30") && sample.contains("Data: the built-in sample."),
        "{sample}"
    );
    assert!(sample.contains("<code>pseudonym_key</code> = &lt;redacted&gt;") && !sample.contains(key), "{sample}");
    let lake = html(true);
    assert!(
        lake.contains("Data fingerprint <code>") && lake.contains("(1 file: names, sizes and modification times)"),
        "{lake}"
    );
    assert_eq!(html(true), lake, "the same files give the same footer");
}

/// Findings state numbers from the results they follow: in the HTML's executive summary
/// and, at the end of the run, on stdout as plain tables.
#[test]
fn findings_state_the_numbers_of_their_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = r#"
-- Revenue by segment
-- @finding "{segment} bring {share:percent} of revenue ({revenue:currency} from {customers:number} customers)"
SELECT * FROM (VALUES ('Champions', 0.4321, 1234567.891, 15230), ('Loyal', 0.2, 500.0, 9))
  AS t(segment, share, revenue, customers) ORDER BY share DESC;

-- LTV to CAC
-- @finding each "LTV:CAC for {channel}: {ratio:number}"
SELECT * FROM (VALUES ('email', 4.5), ('organic', NULL)) AS t(channel, ratio) ORDER BY channel;

-- Value at risk
-- @finding "At risk: {v:currency}"
SELECT 1.5 AS v WHERE false;

-- @section summary
-- @chart kpi label=metric value=value formats=unit title="Headline numbers"
SELECT * FROM (VALUES (1, 'customers', 1500.0, 'number'), (2, 'repeat rate', 0.375, 'percent')) AS t(n, metric, value, unit) ORDER BY n;
"#;
    std::fs::write(dir.path().join("f.sql"), script).expect("script");
    let run = run_in(dir.path(), &["-q", "-f", "f.sql", "--html", "r.html"]);
    run.expect_code(0);
    let summary = &run.stdout[run.stdout.find("Summary of the run").expect("a closing summary")..];
    for line in [
        "│ 1 ┆ Champions bring 43.2% of revenue ($1,234,568 from 15,230 customers) │",
        "│ 2 ┆ LTV:CAC for email: 4.50",
        "│ 3 ┆ LTV:CAC for organic: n/a",
        "│ 4 ┆ Value at risk: no rows, so nothing to state",
        "│ customers   ┆ 1,500 │",
        "│ repeat rate ┆ 37.5% │",
    ] {
        assert!(summary.contains(line), "{line} missing from\n{summary}");
    }
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("html");
    let findings = &html[html.find("<section id=\"findings\"").expect("findings in the summary")..];
    assert!(
        findings.contains("<li>Champions bring 43.2% of revenue ($1,234,568 from 15,230 customers)</li>"),
        "{findings}"
    );
    assert!(html.find("id=\"findings\"") < html.find("data-kind=\"kpi\""), "findings open the summary");

    // Other formats are for programs: no summary tables in CSV.
    let csv = run_in(dir.path(), &["-q", "-f", "f.sql", "--format", "csv"]);
    csv.expect_code(0);
    assert!(!csv.stdout.contains("Summary of the run"), "{}", csv.stdout);

    let missing =
        run_in(dir.path(), &["--command=-- @finding \"{revenue_share:percent}\"\nSELECT 'a' AS segment, 1 AS revenue"]);
    missing.expect_code(1);
    assert!(
        missing
            .stderr
            .contains("@finding: column 'revenue_share' is not in the result; its columns are segment, revenue"),
        "{}",
        missing.stderr
    );
    let not_a_query = run_in(dir.path(), &["--command=-- @finding \"{a}\"\nCREATE VIEW v AS SELECT 1 AS a"]);
    not_a_query.expect_code(1);
    assert!(not_a_query.stderr.contains("@finding: this statement returns no rows"), "{}", not_a_query.stderr);
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
    assert!(html.contains(">no rows<") && html.contains("<h3>Nothing here</h3>"), "{html}");
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

    // The report's other kinds draw at the prompt too, and a finding follows its table.
    shell.set_sink(Sink::Memory(Vec::new()));
    shell
        .run_script(
            "-- @finding \"{segment} lead with {customers:number}\"\nSELECT segment, count(*) AS customers, avg(frequency) AS orders,              avg(recency_days) AS recency FROM rfm(sample.orders, customer_id, order_ts, amount) GROUP BY 1 ORDER BY 2 DESC, 1;",
            &Origin::Interactive,
        )
        .await
        .expect("query runs");
    for chart in [
        "\\chart scatter x=recency y=orders size=customers label=segment quadrants=\"a,b,c,d\"",
        "\\chart cards label=segment",
    ] {
        shell.run_chunk(&meta(chart), &Origin::Interactive).await.expect("chart draws");
    }
    let Sink::Memory(printed) = shell.sink() else { panic!("memory sink") };
    let printed = String::from_utf8_lossy(printed);
    assert!(printed.contains("Finding: Hibernating lead with 823\n"), "{printed}");
    assert!(
        printed.contains("quadrants: top left a, top right b")
            && printed.contains("1 Hibernating: recency 383, orders 1.77"),
        "{printed}"
    );
    assert!(printed.contains("\x1b[1mHibernating\x1b[0m\n  customers"), "{printed}");
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

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The report on a lake whose data moved on between two weekly runs: the second run's
/// governance section shows migration, drift and agreement against the first run's export,
/// the audience export is pseudonymised, k-anonymous and without the erased customers, and
/// the run log lists every script, export and model with the hashes of the bytes on disk.
#[test]
fn a_second_run_shows_what_changed_and_the_run_log_proves_what_was_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(dir.path(), &["generate", "--customers", "400", "--out", "lake"]).expect_code(0);
    std::fs::write(dir.path().join("lake/erased.csv"), "customer_id\n3\n5\n8\n13\n21\n").expect("erasure list");
    let report = queries().join("report.sql");
    let key = "a-weekly-secret-key-of-32-bytes!";
    let week = |as_of: &str, calibration_end: &str, extra: &[&str]| {
        let mut args = vec!["-q", "--format", "csv", "--maxrows", "all", "--data", "lake", "--run-log", "runs.ndjson"];
        for param in ["orders=orders", "customers=customers", "events=events", "spend=marketing_spend", "k=3"] {
            args.extend(["--param", param]);
        }
        args.extend(["--param", "out_dir=weekly", "--param", "clv_penalizer=0.001"]);
        let as_of = format!("as_of={as_of}");
        let calibration_end = format!("calibration_end={calibration_end}");
        args.extend(["--param", as_of.as_str(), "--param", calibration_end.as_str()]);
        args.extend(extra);
        args.extend(["-f", report.to_str().unwrap()]);
        run_in(dir.path(), &args)
    };
    let first = week("2025-04-01", "2024-10-01", &[]);
    first.expect_code(0);
    assert!(first.stdout.contains("No baseline yet: this is the first run"), "{}", first.stdout);
    assert!(first.stderr.contains("no pseudonym_key, so the pseudonymised audience export (audience.csv) is skipped"));
    let pseudonym = format!("pseudonym_key={key}");
    let second = week(
        "2025-07-01",
        "2025-01-01",
        &["--param", pseudonym.as_str(), "--param", "min_group=5", "--param", "erased=erased"],
    );
    second.expect_code(0);
    let out = &second.stdout;
    for expected in [
        "in_both,new_customers,gone_customers,changed_segment,changed_share",
        "from_segment,to_segment,customers,share_of_from",
        "segment_mix_psi,status",
        "feature,psi,status,previous_mean",
        "customers,without_cluster,adjusted_rand,mutual_info,segment_adjusted_rand",
        "min_group,exported,held_back",
    ] {
        assert!(out.contains(expected), "missing {expected} in\n{out}");
    }
    assert!(!out.contains("No baseline yet"));

    // The audience export: pseudonyms only, groups of at least min_group, nobody erased.
    let check = |sql: &str| {
        let run = run_in(dir.path(), &["-q", "--format", "csv", "-c", sql]);
        run.expect_code(0);
        run.stdout.lines().nth(1).unwrap_or_default().to_string()
    };
    assert_eq!(check("SELECT count(*) FROM 'weekly/customers.parquet' WHERE customer_id IN (3, 5, 8, 13, 21)"), "0");
    assert_eq!(
        check("SELECT count(*) FROM 'weekly/previous/customers.parquet' WHERE customer_id IN (3, 5, 8, 13, 21)"),
        "0",
        "erased customers leave the baseline too"
    );
    assert_eq!(
        check(
            "SELECT count(*) FROM (SELECT count(*) AS n FROM 'weekly/audience.csv' \
             GROUP BY country, acquisition_channel, segment, cluster_id) WHERE n < 5"
        ),
        "0"
    );
    assert_eq!(check("SELECT min(length(customer_pseudonym)) FROM 'weekly/audience.csv'"), "64");

    // The run log: one line per run, hashes of what is on disk now for the second run.
    let log = std::fs::read_to_string(dir.path().join("runs.ndjson")).expect("run log");
    assert!(!log.contains(key), "the key must never reach the log");
    let runs: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(runs.len(), 2);
    // The progress line's total for the first run, counted before it ran, is what it ran.
    let params: std::collections::BTreeMap<String, String> = [
        ("orders", "orders"),
        ("customers", "customers"),
        ("events", "events"),
        ("spend", "marketing_spend"),
        ("k", "3"),
        ("out_dir", "weekly"),
        ("clv_penalizer", "0.001"),
        ("as_of", "2025-04-01"),
        ("calibration_end", "2024-10-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let source = std::fs::read_to_string(&report).expect("report.sql");
    let counted = segsql::script::outline::count(&[(source, segsql::script::Origin::File(report.clone()))], &params);
    assert_eq!(serde_json::json!(counted), runs[0]["statements"]);
    let run = &runs[1];
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["params"]["pseudonym_key"], "<redacted>");
    let scripts: Vec<&str> = run["scripts"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    for script in ["report.sql", "01_data_quality.sql", "04_clustering.sql", "06_exports.sql", "08_governance.sql"] {
        assert!(scripts.iter().any(|p| p.ends_with(script)), "{script} not in {scripts:?}");
    }
    for script in run["scripts"].as_array().unwrap() {
        let path = Path::new(script["path"].as_str().unwrap());
        assert_eq!(script["sha256"], sha256_of(path), "{}", path.display());
    }
    let outputs = run["outputs"].as_array().unwrap();
    let names: Vec<&str> = outputs.iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(outputs.len(), 12, "10 exports, the baseline and the audience: {names:?}");
    assert_eq!(run["params"]["orders"], "orders", "the parameters the run was given");
    for output in outputs {
        let path = dir.path().join(output["path"].as_str().unwrap());
        assert_eq!(output["sha256"], sha256_of(&path), "{}", path.display());
        assert!(output["rows"].as_u64().unwrap() > 0);
    }
    let models = run["models"].as_array().unwrap();
    let segments: Vec<&serde_json::Value> = models.iter().filter(|m| m["name"] == "customer_segments").collect();
    assert_eq!(segments.len(), 1);
    let retrained = segments[0];
    assert_eq!(retrained["algorithm"], "kmeans");
    assert_eq!(retrained["fit"]["measure"], "inertia");
    assert_eq!(
        retrained["replaced"]["sha256"],
        runs[0]["models"].as_array().unwrap().iter().find(|m| m["name"] == "customer_segments").unwrap()["sha256"]
    );
    assert!(retrained["replaced"]["change"].is_f64());
    let model_file = dir.path().join(retrained["path"].as_str().unwrap());
    assert_eq!(retrained["sha256"], sha256_of(&model_file));
    let inputs: Vec<&str> = run["inputs"].as_array().unwrap().iter().map(|i| i["table"].as_str().unwrap()).collect();
    // The playbook's editable tables are inputs too: a changed rule changes the report.
    assert_eq!(inputs, ["customers", "erased", "events", "marketing_spend", "orders", "personas", "plays"]);
    for input in run["inputs"].as_array().unwrap() {
        for file in input["files"].as_array().unwrap() {
            assert!(file["bytes"].as_u64().unwrap() > 0 && file["modified"].is_string(), "{file}");
        }
    }

    // The log reads back as a table.
    std::fs::create_dir(dir.path().join("logs")).expect("logs");
    std::fs::copy(dir.path().join("runs.ndjson"), dir.path().join("logs/runs.ndjson")).expect("copy");
    let back = run_in(
        dir.path(),
        &["-q", "--format", "csv", "--data", "logs", "-c", "SELECT count(*), max(exit_code) FROM runs"],
    );
    back.expect_code(0);
    assert_eq!(back.stdout.lines().nth(1), Some("2,0"));
}
