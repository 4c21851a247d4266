//! Past one machine (issue 14): three segsql workers on 127.0.0.1 in this process, reached
//! over real gRPC (no in-process shortcut: the coordinator has no local worker), with the
//! data in several Parquet files and one byte per task so every scan is split. For a query
//! of every function family, the coordinator's plan has a stage of more than one task and
//! the answer equals the local one, printed byte for byte. A worker without segsql's
//! functions fails naming the function, so the workers really ran them.

use std::path::Path;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion_distributed::display_plan_ascii;
use segsql::distributed::{Cluster, WorkerOptions, bind, serve_worker, worker_session_builder};
use segsql::output::Sink;
use segsql::script::Shell;
use segsql::session::SessionOptions;
use tokio::task::JoinHandle;

use super::roundtrip::{QUERIES, SETUP, write_model};

/// Workers that stop when the test drops them.
struct Workers {
    addresses: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// `n` workers with segsql's functions (or, for the negative control, without any).
async fn start_workers(n: usize, with_functions: bool, token: Option<&str>) -> Workers {
    let mut workers = Workers { addresses: Vec::new(), tasks: Vec::new() };
    for _ in 0..n {
        let options = WorkerOptions { memory_limit: Some(1 << 30), models_dir: None, token: token.map(String::from) };
        let (listener, address) = bind("127.0.0.1:0", options.token.as_deref()).await.expect("worker binds");
        workers.addresses.push(address.to_string());
        let task = if with_functions {
            let session = worker_session_builder(&options).expect("session builder");
            tokio::spawn(async move {
                serve_worker(listener, &options, session, std::future::pending()).await.expect("worker runs");
            })
        } else {
            tokio::spawn(async move {
                let bare = datafusion_distributed::DefaultSessionBuilder;
                serve_worker(listener, &options, bare, std::future::pending()).await.expect("worker runs");
            })
        };
        workers.tasks.push(task);
    }
    workers
}

/// A shell, local or coordinating `workers`, over the Parquet files in `data`.
async fn shell(models: &Path, data: &Path, workers: Option<&Workers>, token: Option<&str>) -> Shell {
    let cluster = workers.map(|w| Cluster::parse(&w.addresses.join(","), token.map(String::from)).expect("list"));
    let options = SessionOptions { threads: Some(3), memory_limit: None, models_dir: models.to_path_buf(), cluster };
    let mut shell = Shell::new(&options).expect("session starts");
    shell.set_sink(Sink::Memory(Vec::new()));
    shell.load_dir(data).expect("data loads");
    if workers.is_some() {
        // One byte per task: every file scan is split over all three workers.
        shell
            .execute_collect("SET distributed.file_scan_config_bytes_per_partition = 1")
            .await
            .expect("the distributed settings exist");
    }
    for statement in SETUP
        .iter()
        .filter(|s| !s.trim_start().starts_with("CREATE TABLE orders"))
        .filter(|s| !s.trim_start().starts_with("CREATE TABLE events"))
        .filter(|s| !s.trim_start().starts_with("CREATE TABLE points"))
    {
        shell.execute_collect(statement).await.unwrap_or_else(|e| panic!("{statement}\n{e}"));
    }
    shell
}

/// The roundtrip test's tables as four Parquet files each, in `dir/<table>/`.
async fn write_data(dir: &Path, models: &Path) {
    let mut local = super::support::shell(models);
    for statement in SETUP.iter().take(3) {
        local.execute_collect(statement).await.unwrap_or_else(|e| panic!("{statement}\n{e}"));
    }
    for (table, key) in [("orders", "customer_id"), ("events", "user_id"), ("points", "id")] {
        std::fs::create_dir_all(dir.join(table)).expect("folder");
        for part in 0..4 {
            let path = dir.join(table).join(format!("part-{part}.parquet"));
            let copy =
                format!("COPY (SELECT * FROM {table} WHERE {key} % 4 = {part} ORDER BY {key}) TO '{}'", path.display());
            local.execute_collect(&copy).await.unwrap_or_else(|e| panic!("{copy}\n{e}"));
        }
    }
}

/// Families the issue names that the roundtrip list covers in one mode only, and windows
/// partitioned so each partition runs in its own task.
const MORE: &[(&str, &str)] = &[
    (
        "kmeans, dbscan and hclust by partition",
        "SELECT id, kmeans([x, y], 2, 7) OVER (PARTITION BY id % 3) AS km,
                dbscan([x, y], 2.5, 4) OVER (PARTITION BY id % 3) AS db,
                hclust([x, y], 2, 'average') OVER (PARTITION BY id % 3) AS hc
         FROM points ORDER BY id",
    ),
    (
        "rfm scores by partition",
        "SELECT customer_id, quantile_score(m, 4) OVER (PARTITION BY customer_id % 2) AS q,
                rfm_score(r, f, m) OVER (PARTITION BY customer_id % 2) AS code
         FROM (SELECT customer_id, DATE '2026-01-01' - max(order_ts)::DATE AS r, count(*) AS f, sum(amount) AS m
               FROM orders GROUP BY customer_id) ORDER BY customer_id",
    ),
    (
        "prop_ztest per group",
        "SELECT customer_id % 5 AS g, prop_ztest(count(*) FILTER (WHERE amount > 25), count(*), 500, 1000) AS p
         FROM orders GROUP BY customer_id % 5 ORDER BY g",
    ),
    (
        "psi per group",
        "SELECT customer_id % 5 AS g, round(psi(customer_id % 3, customer_id % 4), 12) AS p
         FROM orders GROUP BY customer_id % 5 ORDER BY g",
    ),
];

/// Queries that read no table (constants, model files) and so have nothing to split.
const NOTHING_TO_SPLIT: &[&str] = &["model_centroids", "model_params", "prop_ztest", "ab_sample_size"];

fn retention_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for grain in ["day", "week", "month", "quarter"] {
        for mode in ["on", "on_or_after"] {
            queries.push((
                format!("cohort_retention {grain} {mode}"),
                format!(
                    "SELECT * FROM cohort_retention(orders, customer_id, order_ts, '{grain}', '{mode}', 6)
                     ORDER BY cohort, period"
                ),
            ));
        }
    }
    queries
}

async fn printed(shell: &mut Shell, sql: &str) -> Result<String, String> {
    let outputs = shell.execute_collect(sql).await.map_err(|e| e.to_string())?;
    let last = outputs.last().ok_or("no result")?;
    Ok(pretty_format_batches(&last.batches).map_err(|e| e.to_string())?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_family_runs_on_three_workers_with_the_local_answer() {
    let models = tempfile::tempdir().expect("temp dir");
    write_model(models.path());
    let data = tempfile::tempdir().expect("temp dir");
    write_data(data.path(), models.path()).await;

    let workers = start_workers(3, true, None).await;
    let mut local = shell(models.path(), data.path(), None, None).await;
    let mut remote = shell(models.path(), data.path(), Some(&workers), None).await;

    let queries: Vec<(String, String)> = QUERIES
        .iter()
        .chain(MORE)
        .map(|(family, sql)| (family.to_string(), sql.to_string()))
        .chain(retention_queries())
        .collect();
    let mut failures = Vec::new();
    for (family, sql) in &queries {
        let expected = printed(&mut local, sql).await.unwrap_or_else(|e| panic!("{family} locally: {e}"));
        let plan = remote.context().sql(sql).await.expect(family).create_physical_plan().await.expect(family);
        let shown = display_plan_ascii(plan.as_ref(), false);
        if std::env::var("SHOW_PLANS").is_ok() {
            eprintln!("{family}\n{shown}");
        }
        let split =
            shown.lines().any(|line| line.contains("Stage ") && line.contains("tasks=") && !line.contains("tasks=1,"));
        if !split && !NOTHING_TO_SPLIT.contains(&family.as_str()) {
            failures.push(format!("{family}: no stage with several tasks:\n{shown}"));
        }
        match printed(&mut remote, sql).await {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!("{family}: differs\n--- local\n{expected}\n--- workers\n{actual}")),
            Err(e) => failures.push(format!("{family}: fails on workers: {e}\n{shown}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} queries:\n{}", failures.len(), queries.len(), failures.join("\n\n"));

    // EXPLAIN ANALYZE shows the stages, their tasks and the worker that ran each.
    let explained = printed(&mut remote, &format!("EXPLAIN ANALYZE {}", QUERIES[0].1)).await.expect("explains");
    let three =
        format!("workers={{0:{}, 1:{}, 2:{}}}", workers.addresses[0], workers.addresses[1], workers.addresses[2]);
    assert!(
        explained.contains("Stage 1 ── tasks=3") && explained.contains(&three) && explained.contains("output_rows="),
        "{explained}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_without_segsqls_functions_fails_naming_the_function() {
    let models = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    write_data(data.path(), models.path()).await;
    let workers = start_workers(2, false, None).await;
    let mut remote = shell(models.path(), data.path(), Some(&workers), None).await;
    let sql = "SELECT customer_id % 5 AS g, psi(customer_id % 3, customer_id % 4) AS p
               FROM orders GROUP BY customer_id % 5 ORDER BY g";
    let error = printed(&mut remote, sql).await.expect_err("a bare worker cannot run psi");
    assert!(error.contains("psi"), "the error names the missing function: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_refuse_a_wrong_or_missing_token() {
    let models = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    write_data(data.path(), models.path()).await;
    let workers = start_workers(2, true, Some("the-right-token-123")).await;
    let sql = "SELECT customer_id % 5 AS g, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1";
    let mut right = shell(models.path(), data.path(), Some(&workers), Some("the-right-token-123")).await;
    let answer = printed(&mut right, sql).await.expect("the right token runs");
    assert!(answer.contains("| 4 |"), "{answer}");
    for (token, expected) in [(Some("a-wrong-token"), "refused the token"), (None, "needs a token")] {
        let mut wrong = shell(models.path(), data.path(), Some(&workers), token).await;
        let error = printed(&mut wrong, sql).await.expect_err("refused");
        assert!(error.contains(expected) && error.contains("worker 127.0.0.1:"), "{token:?}: {error}");
    }
}

// --- The binary: `segsql worker` processes and a coordinator run with `--workers`. ---

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::support::{Run, run_in, segsql, snapshot};

/// A `segsql worker` process, killed when dropped.
pub(super) struct WorkerProcess {
    child: Child,
    pub(super) address: String,
    log: std::path::PathBuf,
}

impl WorkerProcess {
    pub(super) fn start(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> WorkerProcess {
        let log = dir.join(format!("{name}.log"));
        let mut command = segsql();
        command
            .current_dir(dir)
            .args(["worker", "--listen", "127.0.0.1:0", "-v"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("segsql worker starts");
        let line = super::support::first_line(&mut child, Duration::from_secs(60));
        // "segsql worker: listening on 127.0.0.1:PORT"
        let Some(address) = line.trim().strip_prefix("segsql worker: listening on ").map(str::to_string) else {
            let _ = child.kill();
            panic!(
                "segsql worker did not say where it listens: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        WorkerProcess { child, address, log }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// User plus system CPU time so far, in clock ticks (from /proc).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Equal texts, or a failure showing the first lines that differ.
fn assert_same_lines(what: &str, local: &str, remote: &str) {
    if local == remote {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (local.lines().collect(), remote.lines().collect());
    let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around = |lines: &[&str]| lines[first.saturating_sub(3)..(first + 4).min(lines.len())].join("\n");
    panic!("{what} differ from line {}:\n--- local\n{}\n--- workers\n{}", first + 1, around(&a), around(&b));
}

/// Every scan split into tasks however small the file, so the small test lake is distributed.
const SPLIT_EVERY_SCAN: &str = "SET distributed.file_scan_config_bytes_per_partition = 1";

/// `args` as a coordinator of `workers` runs them, every scan split (the SET runs first).
pub(super) fn on_workers<'a>(workers: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--workers", workers, "-c", SPLIT_EVERY_SCAN];
    all.extend_from_slice(args);
    all
}

#[test]
fn the_report_through_two_worker_processes_writes_the_local_bytes() {
    let work = tempfile::tempdir().expect("temp dir");
    run_in(work.path(), &["generate", "--out", "lake", "--customers", "400"]).expect_code(0);
    let a = WorkerProcess::start(work.path(), "a", &[], &[]);
    let b = WorkerProcess::start(work.path(), "b", &[], &[]);
    let workers = format!("{},{}", a.address, b.address);
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/report.sql");
    let report = report.to_str().expect("utf-8");
    // Each run in its own folder with the same relative names, so printed paths agree.
    let run_report = |folder: &str, distributed: bool| -> Run {
        let dir = work.path().join(folder);
        std::fs::create_dir_all(&dir).expect("folder");
        let mut args = vec!["-q", "--data", "../lake", "--param", "orders=orders", "--param", "customers=customers"];
        args.extend(["--param", "events=events", "--param", "spend=marketing_spend", "--param", "out_dir=out"]);
        args.extend(["--format", "csv", "--html", "report.html"]);
        args.extend(["-f", report]);
        let run = run_in(&dir, &if distributed { on_workers(&workers, &args) } else { args });
        run.expect_code(0);
        run
    };
    let local = run_report("local", false);
    let remote = run_report("workers", true);
    assert_same_lines("the report's printed results", &local.stdout, &remote.stdout);
    let (here, there) = (snapshot(&work.path().join("local")), snapshot(&work.path().join("workers")));
    assert!(here.len() > 5, "exports, models and the HTML page: {:?}", here.keys());
    assert_eq!(here.keys().collect::<Vec<_>>(), there.keys().collect::<Vec<_>>());
    for (name, bytes) in &here {
        assert!(bytes == &there[name], "{name} differs between the local and the distributed run");
    }
    // Both workers ran tasks of the report.
    for worker in [&a, &b] {
        assert!(worker.log().contains("task "), "worker {} ran no task:\n{}", worker.address, worker.log());
    }

    // Every output format prints the same bytes.
    let query = "SELECT * FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') ORDER BY customer_id";
    for format in ["table", "csv", "tsv", "json", "ndjson", "markdown"] {
        let args = ["--data", "lake", "--format", format, "--maxrows", "all", "-c", query];
        let local = run_in(work.path(), &args);
        local.expect_code(0);
        let remote = run_in(work.path(), &on_workers(&workers, &args));
        remote.expect_code(0);
        assert_same_lines(&format!("--format {format}"), &local.stdout, &remote.stdout);
    }
}

/// Ten rounds of HMAC over every order: about fifteen seconds of work in a debug build, in
/// small steps (a batch of rows per poll), so a cancelled task stops within a batch. (A
/// nested-loop join would not do: it computes a whole probe batch against every build row
/// inside one poll, and a task is only dropped between polls.)
const LONG_QUERY: &str = "SELECT customer_id % 10 AS g, count(DISTINCT
       pseudonymize(pseudonymize(pseudonymize(pseudonymize(pseudonymize(
       pseudonymize(pseudonymize(pseudonymize(pseudonymize(pseudonymize(
         order_ts::VARCHAR || amount::VARCHAR, 'k-0123456789abcdef'), 'k-0123456789abcdef'), 'k-0123456789abcdef'),
         'k-0123456789abcdef'), 'k-0123456789abcdef'), 'k-0123456789abcdef'), 'k-0123456789abcdef'),
         'k-0123456789abcdef'), 'k-0123456789abcdef'), 'k-0123456789abcdef')) AS n
     FROM orders GROUP BY 1 ORDER BY 1";

/// A lake big enough for LONG_QUERY to run for seconds (180,000 orders), in row groups of
/// 2,000 rows. A task is dropped only when it waits, and a scan waits once per row group it
/// reads (the generator's single row group would let one poll compute the whole task).
fn long_query_lake(dir: &Path) {
    run_in(dir, &["generate", "--out", "generated", "--customers", "30000", "--tables", "orders"]).expect_code(0);
    std::fs::create_dir_all(dir.join("lake")).expect("folder");
    let copy = "COPY (SELECT * FROM orders) TO 'lake/orders.parquet' OPTIONS ('format.max_row_group_size' '2000')";
    run_in(dir, &["--data", "generated", "-c", copy]).expect_code(0);
}

fn spawn_coordinator(dir: &Path, workers: &str, sql: &[&str]) -> Child {
    let mut command = segsql();
    command.current_dir(dir).args(on_workers(workers, &["--data", "lake", "--format", "csv"]));
    for statement in sql {
        command.args(["-c", statement]);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("coordinator starts")
}

/// Waits (bounded) for a process to exit.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> Run {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "{what} did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = std::mem::replace(child, segsql().arg("--version").stdout(Stdio::null()).spawn().expect("spawn"));
    Run::from(output.wait_with_output().expect("output"))
}

#[test]
fn a_worker_down_at_start_or_killed_mid_query_fails_the_query_naming_it() {
    let work = tempfile::tempdir().expect("temp dir");
    long_query_lake(work.path());

    // Down at start: nothing listens on the second address.
    let a = WorkerProcess::start(work.path(), "a", &[], &[]);
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr");
    let down = format!("{},{free}", a.address);
    let started = Instant::now();
    let run = run_in(work.path(), &on_workers(&down, &["--data", "lake", "-c", LONG_QUERY]));
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(run.stderr.contains(&format!("worker {free}")) && run.stderr.contains("not reachable"), "{}", run.stderr);
    assert!(run.stdout.trim().is_empty(), "no partial output: {}", run.stdout);

    // Killed mid-query: the COPY fails and the previous file stays as it was.
    let mut b = WorkerProcess::start(work.path(), "b", &[], &[]);
    std::fs::write(work.path().join("pairs.csv"), "the previous export\n").expect("previous file");
    let workers = format!("{},{}", a.address, b.address);
    let copy = format!("COPY ({LONG_QUERY}) TO 'pairs.csv'");
    let mut coordinator = spawn_coordinator(work.path(), &workers, &[&copy]);
    // Wait until the second worker is running its tasks, then kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !b.log().contains("task ") {
        assert!(Instant::now() < deadline, "worker b got no task:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    b.child.kill().expect("kill worker b");
    let killed = Instant::now();
    let run = wait_bounded(&mut coordinator, Duration::from_secs(60), "the coordinator after a worker died");
    run.expect_code(1);
    assert!(killed.elapsed() < Duration::from_secs(30), "the failure took {:?}", killed.elapsed());
    assert!(run.stderr.contains(&format!("worker {}", b.address)), "the error names the dead worker:\n{}", run.stderr);
    let previous = std::fs::read_to_string(work.path().join("pairs.csv")).expect("file kept");
    assert_eq!(previous, "the previous export\n", "a failed COPY keeps the previous file");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("pairs") && name != "pairs.csv")
        .collect();
    assert!(leftovers.is_empty(), "no half-written file is left behind: {leftovers:?}");
}

#[test]
fn stopping_the_coordinator_stops_the_tasks_on_the_workers() {
    let work = tempfile::tempdir().expect("temp dir");
    long_query_lake(work.path());
    let a = WorkerProcess::start(work.path(), "a", &[], &[]);
    let b = WorkerProcess::start(work.path(), "b", &[], &[]);
    let workers = format!("{},{}", a.address, b.address);
    let mut coordinator = spawn_coordinator(work.path(), &workers, &[LONG_QUERY]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(a.log().contains("task ") && b.log().contains("task ")) {
        assert!(Instant::now() < deadline, "the workers got no tasks");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let busy = a.cpu_ticks() + b.cpu_ticks();
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.cpu_ticks() + b.cpu_ticks() > busy, "the workers are computing before the interrupt");
    let status =
        std::process::Command::new("kill").args(["-INT", &coordinator.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let run = wait_bounded(&mut coordinator, Duration::from_secs(30), "the interrupted coordinator");
    assert_ne!(run.code, 0, "an interrupted query does not succeed");
    // The workers go idle within seconds, long before the query would have ended (it needs
    // about fifteen on an idle machine, more beside the other tests): idle means under 5
    // clock ticks (50 ms of CPU) in each of two whole seconds in a row, which a worker that
    // is still computing, even starved by other tests, does not manage.
    let stopped = Instant::now();
    let mut quiet_seconds = 0;
    while quiet_seconds < 2 {
        let before = a.cpu_ticks() + b.cpu_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let used = a.cpu_ticks() + b.cpu_ticks() - before;
        quiet_seconds = if used < 5 { quiet_seconds + 1 } else { 0 };
        assert!(
            stopped.elapsed() < Duration::from_secs(12),
            "the workers kept computing after the coordinator stopped ({used} ticks in the last second)"
        );
    }
    eprintln!("workers idle {:?} after the coordinator stopped", stopped.elapsed());
}

#[test]
fn the_cli_refuses_wrong_tokens_and_open_addresses_without_one() {
    let work = tempfile::tempdir().expect("temp dir");
    run_in(work.path(), &["generate", "--out", "lake", "--customers", "200", "--tables", "orders"]).expect_code(0);
    let token = [("SEGSQL_WORKER_TOKEN", "a-long-shared-token-42")];
    // Two workers: with one, every stage has one task and the planner keeps the plan local.
    let a = WorkerProcess::start(work.path(), "a", &[], &token);
    let b = WorkerProcess::start(work.path(), "b", &[], &token);
    let workers = format!("{},{}", a.address, b.address);
    // A filter, so the count is not answered from the Parquet statistics without a task.
    let sql = "SELECT count(*) AS n FROM orders WHERE amount > 10";
    let run_with = |env: Option<&str>| {
        let mut command = segsql();
        command.current_dir(work.path()).env_remove("SEGSQL_WORKER_TOKEN");
        if let Some(value) = env {
            command.env("SEGSQL_WORKER_TOKEN", value);
        }
        // The list from SEGSQL_WORKERS, as a deployment would set it (a refusal below shows
        // the variable was read: a local run would succeed).
        command.env("SEGSQL_WORKERS", &workers);
        command.args(["--data", "lake", "--format", "csv", "-c", SPLIT_EVERY_SCAN, "-c", sql]);
        Run::from(command.output().expect("runs"))
    };
    let right = run_with(Some("a-long-shared-token-42"));
    right.expect_code(0);
    assert!(right.stdout.starts_with("n\n"), "{}", right.stdout);
    for (value, says) in [(Some("not-the-token"), "refused the token"), (None, "needs a token")] {
        let run = run_with(value);
        run.expect_code(1);
        assert!(run.stderr.contains(says) && run.stderr.contains("worker 127.0.0.1:"), "{}", run.stderr);
        assert!(!run.stderr.contains("a-long-shared-token-42") && !run.stderr.contains("not-the-token"));
    }
    assert!(a.log().contains("refused a request") || b.log().contains("refused a request"), "{}", a.log());
    // Listening beyond loopback needs a token; a missing variable is a usage error too.
    let open = Run::from(
        segsql()
            .current_dir(work.path())
            .env_remove("SEGSQL_WORKER_TOKEN")
            .args(["worker", "--listen", "0.0.0.0:0"])
            .output()
            .expect("runs"),
    );
    open.expect_code(2);
    assert!(open.stderr.contains("without a token"), "{}", open.stderr);
    let missing = run_in(work.path(), &["worker", "--listen", "127.0.0.1:0", "--token-env", "NO_SUCH_VAR_9"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("NO_SUCH_VAR_9"), "{}", missing.stderr);
    let bad_list = run_in(work.path(), &["--workers", "nohost", "-c", "SELECT 1"]);
    bad_list.expect_code(2);
    assert!(bad_list.stderr.contains("is not HOST:PORT"), "{}", bad_list.stderr);
}

#[test]
fn serve_plans_across_workers() {
    let work = tempfile::tempdir().expect("temp dir");
    run_in(work.path(), &["generate", "--out", "lake", "--customers", "300", "--tables", "orders"]).expect_code(0);
    let a = WorkerProcess::start(work.path(), "a", &[], &[]);
    let b = WorkerProcess::start(work.path(), "b", &[], &[]);
    let workers = format!("{},{}", a.address, b.address);
    let split = work.path().join("split.sql");
    std::fs::write(&split, format!("{SPLIT_EVERY_SCAN};\n")).expect("setup file");
    let lake = work.path().join("lake");
    let server = super::serve::Served::start(
        &["--workers", &workers, "--data", lake.to_str().expect("utf-8"), "-f", split.to_str().expect("utf-8")],
        &[],
    );
    let sql = "SELECT * FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') ORDER BY customer_id";
    let wire = server.psql("postgres", None, &["-q", "--csv", "-c", sql]);
    assert!(wire.status.success(), "{}\n{}", String::from_utf8_lossy(&wire.stderr), server.log());
    let shell = run_in(work.path(), &["--data", "lake", "--format", "csv", "-c", sql]);
    shell.expect_code(0);
    let wire = super::serve::psql_as_shell(&String::from_utf8_lossy(&wire.stdout));
    assert_eq!(wire, shell.stdout.trim_end());
    assert!(wire.lines().count() > 100, "{wire}");
    for worker in [&a, &b] {
        assert!(
            worker.log().contains("task "),
            "worker {} ran no task for the server:\n{}",
            worker.address,
            worker.log()
        );
    }
}

/// CSV files a scan must not cut: newlines inside quoted values (cut by byte ranges, records
/// would be lost or garbled on workers) and gzip (which workers cannot read at all).
#[test]
fn csv_files_that_cannot_be_cut_read_the_same_on_workers() {
    let work = tempfile::tempdir().expect("temp dir");
    let lake = work.path().join("lake");
    std::fs::create_dir_all(&lake).expect("folder");
    let mut text = String::from("id,note,amount\n");
    for i in 0..3000 {
        text.push_str(&format!("{i},\"line one of {i}\nline two, with a comma\",{}.{:02}\n", i % 97, i % 100));
    }
    std::fs::write(lake.join("notes.csv"), &text).expect("csv");
    // Gzip, which cannot be read from the middle (plain records: DataFusion 55's reader does
    // not take newlines inside quoted values in compressed files, locally either).
    let plain: String = std::iter::once("id,note,amount\n".to_string())
        .chain((0..3000).map(|i| format!("{i},note {i},{}.{:02}\n", i % 97, i % 100)))
        .collect();
    std::fs::write(work.path().join("packed.csv"), plain).expect("csv");
    let gzip = std::process::Command::new("gzip").arg(work.path().join("packed.csv")).status().expect("gzip runs");
    assert!(gzip.success());
    let packed = "CREATE EXTERNAL TABLE packed STORED AS CSV LOCATION 'packed.csv.gz'
                  OPTIONS ('format.compression' 'gzip', 'format.has_header' 'true')";
    let a = WorkerProcess::start(work.path(), "a", &[], &[]);
    let b = WorkerProcess::start(work.path(), "b", &[], &[]);
    let workers = format!("{},{}", a.address, b.address);
    let sql = "SELECT count(*) AS n, sum(length(note)) AS chars, sum(id) AS ids FROM notes";
    let local = run_in(work.path(), &["--data", "lake", "--format", "csv", "-c", sql]);
    local.expect_code(0);
    assert!(local.stdout.starts_with("n,chars,ids\n3000,"), "{}", local.stdout);
    let coordinated = |sql: &str| {
        run_in(work.path(), &on_workers(&workers, &["--data", "lake", "--format", "csv", "-c", packed, "-c", sql]))
    };
    let remote = coordinated(sql);
    remote.expect_code(0);
    assert_eq!(local.stdout, remote.stdout);
    // The plan format loses a compressed file's compression: refused, not read as garbage.
    let gz = coordinated("SELECT count(*) AS n FROM packed WHERE id > 5");
    gz.expect_code(1);
    assert!(
        gz.stderr.contains("packed.csv.gz is compressed") && gz.stderr.contains("without --workers"),
        "{}",
        gz.stderr
    );
    let here =
        run_in(work.path(), &["--format", "csv", "-c", packed, "-c", "SELECT count(*) AS n FROM packed WHERE id > 5"]);
    here.expect_code(0);
    assert_eq!(here.stdout, "n\n2994\n");
    assert!(a.log().contains("task ") && b.log().contains("task "), "both workers read:\n{}\n{}", a.log(), b.log());
}
