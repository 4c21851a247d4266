//! S3 lakes against a real S3 server on 127.0.0.1: `s3s-fs`, which serves a folder over the
//! S3 REST API and checks request signatures. `.ci/run` installs it (cached); the tests
//! find it through `SEGSQL_S3S_FS` or in `~/.cache/segsql/tools`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::distributed::{WorkerProcess, on_workers};
use crate::support::{Run, segsql, snapshot};

const ACCESS_KEY: &str = "segsqltest";
const SECRET_KEY: &str = "segsql-test-secret-key";

/// A running `s3s-fs`, stopped when dropped.
struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs() -> PathBuf {
    if let Some(path) = std::env::var_os("SEGSQL_S3S_FS") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let path = home.join(".cache/segsql/tools/s3s-fs/bin/s3s-fs");
    assert!(path.exists(), "s3s-fs is not installed at {}: .ci/run installs it", path.display());
    path
}

impl S3Server {
    /// Starts the server on a free loopback port, serving a new empty folder.
    fn start() -> S3Server {
        let root = tempfile::tempdir().expect("temp dir");
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY])
            .args(["--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs starts");
        let server = S3Server { child, port, root };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..200 {
            if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("s3s-fs did not listen on port {port}");
    }

    /// The folder behind bucket `bucket`.
    fn bucket(&self, bucket: &str) -> PathBuf {
        let path = self.root.path().join(bucket);
        std::fs::create_dir_all(&path).expect("bucket folder");
        path
    }

    /// The AWS variables that point a client at this server with `secret`.
    fn env(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// Runs segsql in `dir` with the server's endpoint and `secret` in the environment.
    fn run(&self, dir: &Path, secret: &str, args: &[&str]) -> Run {
        let output = segsql().current_dir(dir).envs(self.env(secret)).args(args).output().expect("segsql runs");
        Run::from(output)
    }
}

/// DataFusion cuts a scan into parts from 10 MB and 8192 rows; the test files are smaller,
/// so the report runs with every scan cut (and, on S3, cut again into 16 parts).
const CUT_SMALL_FILES: &str =
    "SET datafusion.optimizer.repartition_file_min_size = 0; SET datafusion.execution.batch_size = 64";

/// The same lake on disk and on the S3 server: four Parquet tables and a hive-partitioned
/// folder; `rfm`, `cohort_retention` and the whole report (every scan cut into parts) give
/// the same bytes from both.
#[test]
fn a_lake_on_s3_reads_as_the_same_lake_on_disk() {
    let server = S3Server::start();
    let work = tempfile::tempdir().expect("temp dir");
    let local = work.path().join("lake");
    let generated = server.run(work.path(), SECRET_KEY, &["generate", "--out", "generated", "--customers", "400"]);
    generated.expect_code(0);
    // The tables in row groups of 256 rows, so that the parts of a cut scan (below) all read.
    for table in ["orders", "customers", "events", "marketing_spend"] {
        let copy = format!("COPY (SELECT * FROM {table}) TO 'lake/{table}.parquet'");
        let set = "SET datafusion.execution.parquet.max_row_group_size = 256";
        server.run(work.path(), SECRET_KEY, &["--data", "generated", "-c", set, "-c", &copy]).expect_code(0);
    }
    let hive = server.run(
        work.path(),
        SECRET_KEY,
        &["-c", "COPY (SELECT user_id, ts, event FROM sample.events) TO 'lake/clicks/' STORED AS PARQUET PARTITIONED BY (event)"],
    );
    hive.expect_code(0);
    // The bucket holds a copy of the lake's files, as an upload would leave them.
    for (name, bytes) in snapshot(&local) {
        let target = server.bucket("shop").join("lake").join(&name);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("folders");
        std::fs::write(target, bytes).expect("upload");
    }
    let queries = [
        "\\d",
        "SELECT count(*) AS rows, sum(amount) AS revenue FROM orders",
        "SELECT event, count(*) AS n FROM clicks GROUP BY event ORDER BY event",
        "SELECT * FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') ORDER BY customer_id",
        "SELECT * FROM cohort_retention(orders, customer_id, order_ts, 'month') ORDER BY 1, 2",
    ];
    let run_on = |data: &str| {
        let mut args = vec!["--data", data, "--format", "csv"];
        for q in &queries {
            args.extend(["-c", q]);
        }
        let run = server.run(work.path(), SECRET_KEY, &args);
        run.expect_code(0);
        run.stdout.clone()
    };
    let on_disk = run_on("lake");
    let on_s3 = run_on("s3://shop/lake/");
    // `\d` names where each table comes from; the rest must be the same bytes.
    let results = |text: &str| text.split_once("\nrows,revenue\n").map(|(_, rest)| rest.to_string()).expect("results");
    assert!(on_s3.contains("orders,file s3://shop/lake/orders.parquet"), "{on_s3}");
    assert!(
        on_s3.contains("clicks,folder s3://shop/lake/clicks") || on_s3.contains("clicks,file s3://shop/lake/clicks"),
        "{on_s3}"
    );
    assert_eq!(results(&on_disk), results(&on_s3));
    assert!(results(&on_s3).lines().count() > 400, "{on_s3}");

    // The whole report over the S3 lake writes the same exports as over the local one.
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/report.sql");
    let report = report.to_str().expect("utf-8");
    for (data, out) in [("lake", "out_disk"), ("s3://shop/lake/", "out_s3")] {
        let param = format!("out_dir={out}");
        let run = server.run(
            work.path(),
            SECRET_KEY,
            &["-q", "--data", data, "--param", "orders=orders", "--param", "customers=customers"]
                .into_iter()
                .chain(["--param", "events=events", "--param", "spend=marketing_spend", "--param", &param])
                .chain(["-c", CUT_SMALL_FILES, "-f", report, "--format", "csv"])
                .collect::<Vec<_>>(),
        );
        run.expect_code(0);
    }
    let (disk, s3) = (snapshot(&work.path().join("out_disk")), snapshot(&work.path().join("out_s3")));
    assert!(!disk.is_empty());
    assert_eq!(disk.keys().collect::<Vec<_>>(), s3.keys().collect::<Vec<_>>());
    for (name, bytes) in &disk {
        assert!(bytes == &s3[name], "{name} differs between the local and the S3 lake");
    }
}

/// `COPY ... TO 's3://...'` writes an object that reads back; `CREATE EXTERNAL TABLE` takes
/// credentials from OPTIONS; a wrong secret, a missing bucket and a dead endpoint are clear
/// errors naming the location (the dead endpoint after the client's retries).
#[test]
fn writes_options_and_refusals() {
    let server = S3Server::start();
    server.bucket("out");
    let work = tempfile::tempdir().expect("temp dir");
    let run = server.run(
        work.path(),
        SECRET_KEY,
        &[
            "--format",
            "csv",
            "-c",
            "COPY (SELECT customer_id, sum(amount) AS revenue FROM sample.orders GROUP BY 1) TO 's3://out/revenue.parquet'",
            "-c",
            "SELECT count(*) AS n, round(sum(revenue), 2) AS total FROM 's3://out/revenue.parquet'",
            "-c",
            "SELECT count(DISTINCT customer_id) AS n, round(sum(amount), 2) AS total FROM sample.orders",
        ],
    );
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with('n')).collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_eq!(lines[0], lines[1], "what was written is what the orders sum to: {}", run.stdout);
    assert!(server.root.path().join("out/revenue.parquet").exists());

    // Credentials from OPTIONS, with a wrong secret in the environment.
    let create = format!(
        "CREATE EXTERNAL TABLE r STORED AS PARQUET LOCATION 's3://out/revenue.parquet' \
         OPTIONS ('aws.access_key_id' '{ACCESS_KEY}', 'aws.secret_access_key' '{SECRET_KEY}', \
         'aws.endpoint' 'http://127.0.0.1:{}', 'aws.allow_http' 'true')",
        server.port
    );
    let run =
        server.run(work.path(), "wrong", &["--format", "csv", "-c", &create, "-c", "SELECT count(*) > 0 AS ok FROM r"]);
    run.expect_code(0);
    assert!(run.stdout.ends_with("ok\ntrue\n"), "{}", run.stdout);

    let run = server.run(work.path(), "not-the-secret", &["--data", "s3://out/", "-c", "SELECT 1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot list s3://out/: the S3 server refused the credentials"), "{}", run.stderr);
    let run = server.run(work.path(), SECRET_KEY, &["--data", "s3://no-such-bucket/x/", "-c", "SELECT 1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot list s3://no-such-bucket/x/: the bucket does not exist"), "{}", run.stderr);
    let run = server.run(work.path(), "not-the-secret", &["-c", "SELECT * FROM 's3://out/revenue.parquet'"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("s3://out/revenue.parquet") || run.stderr.contains("out/revenue.parquet"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let dead = "CREATE EXTERNAL TABLE d STORED AS PARQUET LOCATION 's3://out/revenue.parquet' \
                OPTIONS ('aws.endpoint' 'http://127.0.0.1:1', 'aws.allow_http' 'true')";
    let run = server.run(work.path(), SECRET_KEY, &["-c", dead]);
    run.expect_code(1);
    assert!(run.stderr.contains("s3://out/revenue.parquet"), "names the location: {}", run.stderr);
    let bad = "CREATE EXTERNAL TABLE z STORED AS PARQUET LOCATION 's3://out/x.parquet' OPTIONS ('aws.colour' 'red')";
    let run = server.run(work.path(), SECRET_KEY, &["-c", bad]);
    run.expect_code(1);
    assert!(run.stderr.contains("OPTIONS: 'aws.colour' is not an S3 setting"), "{}", run.stderr);
}

/// A Delta table on S3 reads through the same client as the Parquet files: the latest
/// version from `--data`, a pinned one from `CREATE EXTERNAL TABLE`.
#[test]
fn delta_tables_on_s3() {
    let server = S3Server::start();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/delta");
    for (name, bytes) in snapshot(&fixtures) {
        let target = server.bucket("warehouse").join(&name);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("folders");
        std::fs::write(target, bytes).expect("upload");
    }
    let work = tempfile::tempdir().expect("temp dir");
    let facts = "SELECT count(*) AS n, sum(amount) AS total FROM";
    let run = server.run(
        work.path(),
        SECRET_KEY,
        &[
            "--data",
            "s3://warehouse/",
            "--format",
            "csv",
            "-c",
            &format!("{facts} orders"),
            "-c",
            "CREATE EXTERNAL TABLE v0 STORED AS DELTATABLE LOCATION 's3://warehouse/orders/' OPTIONS ('version' '0')",
            "-c",
            &format!("{facts} v0"),
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "n,total\n70,84552.85\nn,total\n40,49110.80\n");
}

/// A scan of files on S3 that DataFusion cut into parts is cut into
/// `segsql.remote_scan_partitions` parts (16 by default) when the session has fewer target
/// partitions, so that many requests are in flight; local files DataFusion cut go in two
/// parts a thread, scans it left whole (one thread) stay whole, and the answers do not change.
#[test]
fn object_store_scans_keep_many_requests_in_flight() {
    let server = S3Server::start();
    let work = tempfile::tempdir().expect("temp dir");
    server.run(work.path(), SECRET_KEY, &["generate", "--out", "lake", "--customers", "300"]).expect_code(0);
    // Row groups of 64 rows, so that every part of the file holds some (a part reads the row
    // groups whose middle falls in its byte range).
    std::fs::create_dir(work.path().join("small")).expect("folder");
    server
        .run(
            work.path(),
            SECRET_KEY,
            &[
                "--data",
                "lake",
                "-c",
                "SET datafusion.execution.parquet.max_row_group_size = 64",
                "-c",
                "COPY (SELECT * FROM orders ORDER BY order_id) TO 'small/orders.parquet'",
            ],
        )
        .expect_code(0);
    let orders = std::fs::read(work.path().join("small/orders.parquet")).expect("orders");
    std::fs::write(server.bucket("shop").join("orders.parquet"), &orders).expect("upload");
    // The test file is small: let DataFusion cut it as it cuts files of 10 MB and 8192 rows.
    let small = "SET datafusion.optimizer.repartition_file_min_size = 0; SET datafusion.execution.batch_size = 16";
    let plan = "EXPLAIN ANALYZE SELECT customer_id, sum(amount) FROM orders GROUP BY customer_id";
    let query = "SELECT customer_id, count(*) AS n, round(sum(amount), 2) AS revenue FROM orders \
                 GROUP BY customer_id ORDER BY customer_id";
    let run = |data: &str, threads: &str, setting: &str, sql: &str| {
        let run = server.run(
            work.path(),
            SECRET_KEY,
            &[
                "--data",
                data,
                "--threads",
                threads,
                "--format",
                "csv",
                "-c",
                small,
                "-c",
                setting,
                "-c",
                sql,
                "-c",
                query,
            ],
        );
        run.expect_code(0);
        let scan = run.stdout.split("DataSourceExec: ").nth(1).unwrap_or_else(|| panic!("no scan in {}", run.stdout));
        let count = scan.strip_prefix("file_groups={").and_then(|rest| rest.split(' ').next());
        let count = count.and_then(|c| c.parse::<usize>().ok()).unwrap_or_else(|| panic!("no file groups in {scan}"));
        let answer = run.stdout.split_once("customer_id,n,revenue\n").map(|(_, rest)| rest.to_string());
        (count, scan.to_string(), answer.expect("the query's rows"))
    };
    // Local scans that DataFusion cut go in two parts a thread, so the threads finish
    // together; a local scan it left whole (one thread) stays whole, and so do the answers.
    let (local_parts, local_scan, local) = run("small", "2", "SELECT 1", plan);
    assert_eq!(local_parts, 4);
    assert!(local_scan.contains("output_rows=1.92 K"), "{local_scan}");
    assert!(local.lines().count() > 200, "{local}");
    let (local_one_parts, _, local_one) = run("small", "1", "SELECT 1", plan);
    assert_eq!((local_one_parts, &local_one), (1, &local));
    let (s3_parts, scan, on_s3) = run("s3://shop/", "2", "SELECT 1", plan);
    assert_eq!(s3_parts, 16);
    assert_eq!(local, on_s3);
    // All rows were read, from 31 row groups spread over the sixteen byte ranges.
    assert!(scan.contains("output_rows=1.92 K"), "{scan}");
    let (set_parts, _, set) = run("s3://shop/", "2", "SET segsql.remote_scan_partitions = 5", plan);
    assert_eq!((set_parts, &set), (5, &local));
    let (off_parts, _, _) = run("s3://shop/", "2", "SET segsql.remote_scan_partitions = 0", plan);
    assert_eq!(off_parts, 2);
    // A scan DataFusion left whole (one thread) stays whole.
    let (one_parts, _, one) = run("s3://shop/", "1", "SELECT 1", plan);
    assert_eq!((one_parts, &one), (1, &local));
}

/// `--workers` over an S3 lake: each `segsql worker` process reads its parts of the scans from
/// the bucket with the credentials of its own environment, and the answers are the local ones.
#[test]
fn workers_read_an_s3_lake_with_their_own_credentials() {
    let server = S3Server::start();
    let work = tempfile::tempdir().expect("temp dir");
    server.run(work.path(), SECRET_KEY, &["generate", "--out", "lake", "--customers", "400"]).expect_code(0);
    for (name, bytes) in snapshot(&work.path().join("lake")) {
        std::fs::write(server.bucket("shop").join(&name), bytes).expect("upload");
    }
    let env = server.env(SECRET_KEY);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = WorkerProcess::start(work.path(), "a", &[], &env);
    let b = WorkerProcess::start(work.path(), "b", &[], &env);
    let workers = format!("{},{}", a.address, b.address);
    let queries = [
        "SELECT * FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') ORDER BY customer_id",
        "SELECT * FROM cohort_retention(orders, customer_id, order_ts, 'month') ORDER BY 1, 2",
        "SELECT c.country, count(*) AS orders, round(sum(o.amount), 2) AS revenue FROM orders o \
         JOIN customers c USING (customer_id) GROUP BY c.country ORDER BY c.country",
    ];
    let mut args = vec!["--format", "csv"];
    for q in &queries {
        args.extend(["-c", q]);
    }
    let local = server.run(work.path(), SECRET_KEY, &[&["--data", "lake"][..], &args].concat());
    local.expect_code(0);
    let s3_args = [&["--data", "s3://shop/"][..], &args].concat();
    let remote = server.run(work.path(), SECRET_KEY, &on_workers(&workers, &s3_args));
    remote.expect_code(0);
    assert_eq!(local.stdout, remote.stdout);
    assert!(local.stdout.lines().count() > 400, "{}", local.stdout);
    for worker in [&a, &b] {
        assert!(worker.log().contains("task "), "worker {} ran no task:\n{}", worker.address, worker.log());
    }

    // A worker whose credentials the server refuses fails the query, naming the worker.
    let wrong: Vec<(&str, &str)> =
        env.iter().map(|&(k, v)| if k == "AWS_SECRET_ACCESS_KEY" { (k, "not-the-secret") } else { (k, v) }).collect();
    // (Two of them: with one worker the coordinator keeps the plan to itself.)
    let (c, d) =
        (WorkerProcess::start(work.path(), "c", &[], &wrong), WorkerProcess::start(work.path(), "d", &[], &wrong));
    let refused = format!("{},{}", c.address, d.address);
    let run = server.run(work.path(), SECRET_KEY, &on_workers(&refused, &s3_args));
    assert_ne!(run.code, 0, "{}", run.stdout);
    let named = [&c.address, &d.address].map(|a| format!("worker {a}: s3://shop/"));
    assert!(named.iter().any(|n| run.stderr.contains(n.as_str())), "{}", run.stderr);
    assert!(run.stderr.contains("the S3 server refused the credentials"), "{}", run.stderr);
}
