//! `segsql serve` with the real clients: psql, psycopg 3, SQLAlchemy + pandas and pgjdbc,
//! against a server each test starts on 127.0.0.1 (a free port, read from its first line).
//! `.ci/run` installs the clients (tests/serve/install_clients.sh); the tests find them
//! through `SEGSQL_PSQL`, `SEGSQL_SERVE_PYTHON` and `SEGSQL_PGJDBC` or where that script puts
//! them, and fail when one is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::segsql;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn tool(var: &str, default: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        if let Some(rest) = default.strip_prefix("~/") { home.join(rest) } else { PathBuf::from(default) }
    });
    assert!(path.exists(), "{what} is not installed at {}: run tests/serve/install_clients.sh", path.display());
    path
}

fn psql() -> PathBuf {
    tool("SEGSQL_PSQL", "/usr/bin/psql", "psql")
}

fn python() -> PathBuf {
    tool("SEGSQL_SERVE_PYTHON", "~/.cache/segsql/serve-venv/bin/python", "the psycopg venv")
}

fn pgjdbc() -> PathBuf {
    tool("SEGSQL_PGJDBC", "/usr/share/java/postgresql.jar", "pgjdbc")
}

/// A running `segsql serve`, killed when dropped.
pub(crate) struct Served {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Served {
    /// Starts the server in a new folder with `_setup.sql` and `args`, and waits for its address.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let setup = repo("queries/_setup.sql");
        let stderr = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
        let mut command = segsql();
        command
            .current_dir(dir.path())
            .args(["serve", "--port", "0", "-v", "-f"])
            .arg(&setup)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("segsql serve starts");
        let line = super::support::first_line(&mut child, Duration::from_secs(180));
        // "segsql serve: listening on 127.0.0.1:PORT [(TLS)]"
        let address = line.split_whitespace().nth(4).unwrap_or_default();
        let port = address.rsplit(':').next().and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
            panic!("segsql serve did not say where it listens: {line:?}\n{log}");
        };
        Served { child, port, dir }
    }

    fn dsn(&self, user: &str) -> String {
        format!("host=127.0.0.1 port={} user={user} dbname=segsql sslmode=disable connect_timeout=10", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// psql with `args` after the connection string, in the server's folder.
    pub(crate) fn psql(&self, user: &str, password: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(psql());
        command.current_dir(self.dir.path()).env_remove("PGPASSWORD").arg("-X").arg(self.dsn(user)).args(args);
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        command.stdin(Stdio::null()).output().expect("psql runs")
    }

    /// tests/serve/clients.py CHECK with the server's port.
    fn client(&self, check: &str, args: &[&str]) -> String {
        let output = Command::new(python())
            .arg(repo("tests/serve/clients.py"))
            .arg(check)
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "clients.py {check} failed:\n{}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sends SIGTERM and waits (bounded) for the server to exit.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "segsql serve did not stop within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's peak resident memory, from /proc.
    fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shell's CSV answer to `sql` after `_setup.sql`, run in `dir`.
fn shell_csv(dir: &Path, files: &[&Path], sql: Option<&str>) -> String {
    let mut command = segsql();
    command.current_dir(dir).arg("-f").arg(repo("queries/_setup.sql"));
    for file in files {
        command.arg("-f").arg(file);
    }
    if let Some(sql) = sql {
        command.args(["-c", sql]);
    }
    let output = command.args(["--format", "csv"]).output().expect("segsql runs");
    assert!(output.status.success(), "the shell failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// psql's CSV in the shell's layout: `t`/`f` as true/false, timestamps with a `T` and
/// without trailing zero fractions, no blank lines (psql prints one per command).
pub(crate) fn psql_as_shell(csv: &str) -> String {
    let timestamp = |field: &str| -> Option<String> {
        let b = field.as_bytes();
        let shaped = b.len() >= 19 && b[4] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
        if !shaped {
            return None;
        }
        let (seconds, fraction) = field.split_at(19);
        let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
        Some(format!("{}T{}{fraction}", &seconds[..10], &seconds[11..]))
    };
    csv.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split(',')
                .map(|field| match field {
                    "t" => "true".to_string(),
                    "f" => "false".to_string(),
                    other => timestamp(other).unwrap_or_else(|| other.to_string()),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The dashboard query that the pandas and JDBC clients run with a parameter (`frequency >= 2`),
/// as the shell runs it.
const SEGMENTS_OF_REPEAT_BUYERS: &str = "SELECT segment, count(*) AS customers, sum(monetary) AS revenue \
    FROM customer_rfm WHERE frequency >= 2 GROUP BY segment ORDER BY segment";

/// A protocol 3.0 startup message for `user`.
fn startup_message(user: &str) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for part in ["user", user, "database", "segsql"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// Asks a passwordless server for a large result over a raw socket and hangs up after its
/// first bytes, as a client that crashed would.
fn abandon_mid_result(port: u16) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    socket.write_all(&startup_message("postgres")).expect("startup");
    // Read until ReadyForQuery ('Z', length 5, status).
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(6).any(|w| w == b"Z\0\0\0\x05I") {
        let n = socket.read(&mut buffer).expect("startup reply");
        assert!(n > 0, "the server closed the connection during startup");
        seen.extend_from_slice(&buffer[..n]);
    }
    let sql = b"SELECT * FROM sample.events\0";
    let mut query = vec![b'Q'];
    query.extend_from_slice(&((sql.len() + 4) as u32).to_be_bytes());
    query.extend_from_slice(sql);
    socket.write_all(&query).expect("query");
    let mut got = 0;
    while got < 65_536 {
        let n = socket.read(&mut buffer).expect("rows");
        assert!(n > 0, "the result ended early");
        got += n;
    }
}

/// One query per function family, and the models they score, over psql equal the shell's
/// answers; `\dt` and `\d` read the catalog; segsql's own statements work over the wire.
#[test]
fn psql_answers_every_function_family_as_the_shell_does() {
    let server = Served::start(&[], &[]);
    let families = repo("tests/serve/families.sql");
    let wire =
        server.psql("postgres", None, &["-q", "--csv", "-v", "ON_ERROR_STOP=1", "-f", families.to_str().unwrap()]);
    assert!(wire.status.success(), "psql failed: {}\n{}", String::from_utf8_lossy(&wire.stderr), server.log());
    let shell_dir = tempfile::tempdir().expect("temp dir");
    let shell = shell_csv(shell_dir.path(), &[&families], None);
    let wire = psql_as_shell(&String::from_utf8_lossy(&wire.stdout));
    let shell: String = shell.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
    assert_eq!(wire, shell);
    assert!(shell.lines().count() > 150, "the families' answers are too short to mean anything:\n{shell}");

    let catalog = server.psql("postgres", None, &["-c", "\\dt", "-c", "\\d customer_rfm", "-c", "SHOW MODELS"]);
    let text = String::from_utf8_lossy(&catalog.stdout);
    assert!(catalog.status.success(), "{}", String::from_utf8_lossy(&catalog.stderr));
    for expected in [
        " public | customer_rfm ",
        " sample | orders ",
        "Table \"public.customer_rfm\"",
        " monetary        | numeric ",
        " last_order      | timestamp without time zone ",
        " wire_segments | kmeans ",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let mistake = server.psql("postgres", None, &["-c", "SELECT rfm_segment(1, 2, 3)"]);
    let message = String::from_utf8_lossy(&mistake.stderr);
    assert!(message.contains("ERROR:  rfm_segment:"), "{message}");
}

/// With --user and --password-env, SCRAM-SHA-256 lets the right password in and refuses a
/// wrong one or another user; neither they nor garbage bytes nor a client leaving in the
/// middle of a result take the server down; a public address needs a password.
#[test]
fn passwords_garbage_and_dropped_clients_never_take_the_server_down() {
    let server = Served::start(
        &["--user", "analyst", "--password-env", "SEGSQL_TEST_PASSWORD"],
        &[("SEGSQL_TEST_PASSWORD", "correct horse battery")],
    );
    let wrong = server.psql("analyst", Some("wrong"), &["-c", "SELECT 1"]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).to_lowercase().contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let stranger = server.psql("postgres", Some("correct horse battery"), &["-c", "SELECT 1"]);
    assert!(!stranger.status.success());
    // An unknown user is refused the way a wrong password is: no hint which names exist.
    let refusal = |output: &Output| {
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.split("failed: ").nth(1).map(str::to_string).unwrap_or(text)
    };
    assert_eq!(refusal(&stranger), refusal(&wrong));

    // Garbage where a startup message belongs, then a query abandoned after its first bytes.
    let address = format!("127.0.0.1:{}", server.port);
    let mut garbage = TcpStream::connect(&address).expect("connect");
    let _ = garbage.write_all(&[0xff; 64]);
    drop(garbage);
    let mut abandoned = TcpStream::connect(&address).expect("connect");
    abandoned.write_all(&startup_message("analyst")).expect("startup");
    abandoned.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut first = [0u8; 16];
    let _ = abandoned.read(&mut first);
    drop(abandoned);

    let right =
        server.psql("analyst", Some("correct horse battery"), &["-At", "-c", "SELECT count(*) FROM sample.customers"]);
    assert!(right.status.success(), "{}\n{}", String::from_utf8_lossy(&right.stderr), server.log());
    assert_eq!(String::from_utf8_lossy(&right.stdout).trim(), "5000");
    assert!(!server.log().contains("correct horse battery"), "the log shows the password");

    // Cancel requests name a connection by its backend id: logins must not share one.
    let pids = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import psycopg\nc = [psycopg.connect({dsn:?}, password='correct horse battery') for _ in range(3)]\n\
             print(len({{x.info.backend_pid for x in c}}))\n",
            dsn = server.dsn("analyst")
        ))
        .output()
        .expect("python runs");
    assert!(pids.status.success(), "{}", String::from_utf8_lossy(&pids.stderr));
    assert_eq!(String::from_utf8_lossy(&pids.stdout).trim(), "3", "three logins, three backend ids");

    let open = segsql().args(["serve", "--host", "0.0.0.0", "--port", "0"]).output().expect("segsql runs");
    assert_eq!(open.status.code(), Some(2));
    let message = String::from_utf8_lossy(&open.stderr);
    assert!(message.contains("without a password") && message.contains("--password-env"), "{message}");
}

/// psycopg 3: every type in text and binary, parameters, prepared statements, a connection's
/// own settings, views and parameters, a cancel request; SQLAlchemy + pandas.read_sql.
#[test]
fn psycopg_and_pandas_read_what_the_shell_computes() {
    let server = Served::start(&[], &[]);
    let shell_dir = tempfile::tempdir().expect("temp dir");
    abandon_mid_result(server.port);

    let types = server.client("types", &[]);
    let (first, rows) = types.split_once('\n').expect("two parts");
    let types: serde_json::Value = serde_json::from_str(first).expect("json");
    assert_eq!(
        types["row"],
        serde_json::json!([
            "12.34",
            "-0.5000",
            "2025-01-02T03:04:05.123456",
            "2025-01-02T03:04:05+00:00",
            "2025-01-02",
            "[1.5,-2.25,1e-07]",
            "true",
            "false",
            "",
            "0.3333333333333333",
            "42",
            "text, with \"quotes\""
        ])
    );
    // numeric, timestamp, timestamptz, date, float8[], bool, int8, float8, text.
    assert_eq!(types["oids"], serde_json::json!([1700, 1700, 1114, 1184, 1082, 1022, 16, 16, 20, 701, 20, 25]));
    let rfm = shell_csv(
        shell_dir.path(),
        &[],
        Some("SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount) ORDER BY customer_id LIMIT 50"),
    );
    assert_eq!(rows, rfm);

    let params = server.client("params", &[]);
    let literal = shell_csv(
        shell_dir.path(),
        &[],
        Some(
            "SELECT customer_id, monetary, segment FROM customer_rfm WHERE monetary > 100 AND segment = 'Champions' \
             AND last_order >= DATE '2025-06-01' ORDER BY customer_id",
        ),
    );
    assert_eq!(params, literal);

    let isolation: serde_json::Value = serde_json::from_str(&server.client("isolation", &[])).expect("json");
    assert_eq!(isolation["view"], "SyntaxErrorOrAccessRuleViolation", "{isolation}");
    assert_eq!(isolation["param"], "UndefinedObject", "{isolation}");
    assert_eq!(isolation["batch_size"], "8192", "{isolation}");
    assert_ne!(isolation["drop_shared"], "dropped", "{isolation}");
    assert_eq!(isolation["shared_still_there"], true, "{isolation}");

    let cancel: serde_json::Value = serde_json::from_str(&server.client("cancel", &[])).expect("json");
    assert_eq!(cancel["error"], "QueryCanceled", "{cancel}");
    assert_eq!(cancel["message"], "canceling statement due to user request", "{cancel}");
    assert!(cancel["seconds"].as_f64().unwrap_or(99.0) < 20.0, "{cancel}");
    assert_eq!(cancel["after"], 1, "{cancel}");

    let pandas = server.client("pandas", &[]);
    let expected = shell_csv(shell_dir.path(), &[], Some(SEGMENTS_OF_REPEAT_BUYERS));
    assert_eq!(pandas, expected);
}

/// pgjdbc, as Metabase and DBeaver connect: DatabaseMetaData, then a prepared query run
/// often enough for the driver to switch to a named statement and binary results.
#[test]
fn jdbc_lists_tables_and_columns_and_runs_a_prepared_query() {
    let server = Served::start(&[], &[]);
    let output = Command::new("java")
        .arg("-cp")
        .arg(pgjdbc())
        .arg(repo("tests/serve/Metadata.java"))
        .arg(server.port.to_string())
        .output()
        .expect("java runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}\n{}", String::from_utf8_lossy(&output.stderr), server.log());
    assert!(text.contains("product PostgreSQL 16"), "{text}");
    assert!(text.contains("tables public.customer_rfm,") && text.contains("sample.orders"), "{text}");
    assert!(text.contains("columns customer_id:int8,") && text.contains("monetary:numeric"), "{text}");
    let rows = text.split_once("rows\n").map(|(_, rows)| rows).unwrap_or_default();
    let shell_dir = tempfile::tempdir().expect("temp dir");
    let expected = shell_csv(shell_dir.path(), &[], Some(SEGMENTS_OF_REPEAT_BUYERS));
    let expected: Vec<&str> = expected.lines().skip(1).collect();
    assert_eq!(rows.lines().collect::<Vec<_>>(), expected);
}

/// 32 clients for 60 s (SEGSQL_LOAD_SECONDS) run the dashboard mix: no error, every answer the
/// shell's, memory bounded; then SIGTERM stops the server cleanly.
#[test]
fn thirty_two_clients_get_the_shells_answers_then_sigterm_stops_the_server() {
    let seconds = std::env::var("SEGSQL_LOAD_SECONDS").unwrap_or_else(|_| "60".into());
    let load = repo("tests/serve/load.sql");
    let expected = tempfile::tempdir().expect("temp dir");
    let source = std::fs::read_to_string(&load).expect("load.sql");
    let mut statement = String::new();
    let mut count = 0;
    for line in source.lines().filter(|l| !l.trim_start().starts_with("--")) {
        statement.push_str(line);
        statement.push('\n');
        if line.trim_end().ends_with(';') {
            let csv = shell_csv(expected.path(), &[], Some(&statement));
            std::fs::write(expected.path().join(format!("{count}.csv")), csv).expect("write");
            statement.clear();
            count += 1;
        }
    }
    assert_eq!(count, 5);

    let mut server = Served::start(&["--memory-limit", "512M"], &[]);
    let report = server.client("load", &[&seconds, "32", expected.path().to_str().unwrap(), load.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&report).expect("json");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert!(report["queries"].as_u64().unwrap_or(0) >= 32, "{report}");
    let peak = server.peak_rss_bytes();
    assert!(peak > 0 && peak < 3 << 30, "peak memory {peak} bytes");
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    assert!(server.log().contains("segsql serve: stopped"), "{}", server.log());
}

/// With --tls-cert and --tls-key, psql negotiates TLS (sslmode=require) and logs in.
#[test]
fn tls_connections_log_in_with_scram() {
    let keys = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (keys.path().join("server.crt"), keys.path().join("server.key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Served::start(
        &["--tls-cert", cert, "--tls-key", key, "--user", "analyst", "--password-env", "SEGSQL_TEST_PASSWORD"],
        &[("SEGSQL_TEST_PASSWORD", "a tls password")],
    );
    let dsn =
        format!("host=127.0.0.1 port={} user=analyst dbname=segsql sslmode=require connect_timeout=10", server.port);
    let output = Command::new(psql())
        .args(["-X", "-At", &dsn, "-c", "SELECT count(*) FROM sample.customers"])
        .env("PGPASSWORD", "a tls password")
        .stdin(Stdio::null())
        .output()
        .expect("psql runs");
    assert!(output.status.success(), "{}\n{}", String::from_utf8_lossy(&output.stderr), server.log());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "5000");

    let missing = segsql().args(["serve", "--port", "0", "--tls-cert", "/nonexistent.crt", "--tls-key", key]).output();
    let missing = missing.expect("segsql runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--tls-cert /nonexistent.crt"));
}

/// `--memory-limit` bounds each connection's query: one that needs more fails with the
/// shell's out-of-memory message and SQLSTATE 53200, and the server goes on serving.
#[test]
fn a_query_over_the_memory_limit_fails_alone() {
    let server = Served::start(&["--memory-limit", "1M"], &[]);
    let sql =
        "SELECT e.user_id, count(*) FROM sample.events e JOIN sample.events f ON e.user_id = f.user_id GROUP BY 1";
    let big = server.psql("postgres", None, &["-v", "VERBOSITY=verbose", "-c", sql]);
    let message = String::from_utf8_lossy(&big.stderr);
    assert!(!big.status.success());
    assert!(
        message.contains("53200") && message.contains("out of memory") && message.contains("--memory-limit"),
        "{message}"
    );
    let small = server.psql("postgres", None, &["-At", "-c", "SELECT count(*) FROM customer_rfm"]);
    assert!(small.status.success(), "{}", String::from_utf8_lossy(&small.stderr));
    assert_eq!(String::from_utf8_lossy(&small.stdout).trim(), "3998");
}
