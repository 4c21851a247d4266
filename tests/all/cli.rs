//! The real binary: exit codes, FILE:LINE errors, parameters, formats and data folders.

use std::fs;
use std::path::Path;

use crate::support::{run_in, run_with_stdin};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &Path, name: &str, content: &str) {
    if let Some(parent) = dir.join(name).parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(dir.join(name), content).expect("write file");
}

#[test]
fn error_on_line_three_names_the_line_and_stops() {
    let dir = temp();
    write(
        dir.path(),
        "script.sql",
        "SELECT 1 AS a;\n-- a comment\nSELECT nope FROM sample.orders;\nSELECT 'never' AS b;\n",
    );
    let run = run_in(dir.path(), &["-f", "script.sql", "--format", "csv"]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("script.sql:3: error: "), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert_eq!(run.stdout, "a\n1\n", "nothing after the error runs");
}

#[test]
fn continue_on_error_runs_the_rest_and_still_fails() {
    let dir = temp();
    write(dir.path(), "s.sql", "SELECT x;\nSELECT 2 AS b;\n");
    let run = run_in(dir.path(), &["-f", "s.sql", "--format", "csv", "--continue-on-error"]);
    run.expect_code(1);
    assert!(run.stderr.contains("s.sql:1: error:"));
    assert_eq!(run.stdout, "b\n2\n");
}

#[test]
fn params_substitute_and_undefined_ones_are_named() {
    let dir = temp();
    write(dir.path(), "p.sql", "\\set limit 2\nSELECT '${as_of}' AS as_of, ${limit} AS n;\nSELECT ${missing};\n");
    let run = run_in(dir.path(), &["-f", "p.sql", "--param", "as_of=2025-06-30", "--format", "csv"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "as_of,n\n2025-06-30,2\n");
    assert!(run.stderr.contains("p.sql:3: error: undefined parameter ${missing}"), "{}", run.stderr);
}

#[test]
fn commands_files_and_stdin() {
    let dir = temp();
    write(dir.path(), "one.sql", "SELECT 'file' AS src;");
    let run = run_in(
        dir.path(),
        &["-c", "SELECT 'c1' AS src", "-f", "one.sql", "-c", "SELECT 'c2' AS src", "--format", "csv"],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "src\nc1\nsrc\nfile\nsrc\nc2\n");
    let run = run_with_stdin(dir.path(), &["--format", "csv"], "SELECT 1 AS x;\nSELECT 'a;b' AS y");
    run.expect_code(0);
    assert_eq!(run.stdout, "x\n1\ny\na;b\n");
    let run = run_with_stdin(dir.path(), &[], "SELECT 1;\nSELEC 2;");
    run.expect_code(1);
    assert!(run.stderr.starts_with("<stdin>:2: error: syntax error"), "{}", run.stderr);
    let run = run_in(dir.path(), &["-c", "SELECT nope"]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("<command>:1: error:"), "{}", run.stderr);
}

#[test]
fn output_formats() {
    let dir = temp();
    let sql = "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, NULL ORDER BY id";
    let cases = [
        ("csv", "id,name\n1,a\n2,\n"),
        ("tsv", "id\tname\n1\ta\n2\t\n"),
        ("ndjson", "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":null}\n"),
        ("json", "[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":null}]\n"),
        ("markdown", "| id | name |\n|----|------|\n| 1  | a    |\n| 2  | NULL |\n"),
    ];
    for (format, expected) in cases {
        let run = run_in(dir.path(), &["-c", sql, "--format", format]);
        run.expect_code(0);
        assert_eq!(run.stdout, expected, "format {format}");
    }
    let run = run_in(dir.path(), &["-c", sql]);
    assert!(run.stdout.contains("│ id ┆ name │") && run.stdout.ends_with("2 rows\n"), "{}", run.stdout);
    let run = run_in(dir.path(), &["-c", "SELECT * FROM generate_series(1, 100)", "--maxrows", "5"]);
    assert!(
        run.stdout.ends_with("101 rows (5 shown; --maxrows or \\maxrows to see more)\n")
            || run.stdout.ends_with("100 rows (5 shown; --maxrows or \\maxrows to see more)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn output_file_and_commands_print_nothing() {
    let dir = temp();
    let run = run_in(
        dir.path(),
        &[
            "-c",
            "CREATE TABLE t AS SELECT 1 AS x",
            "-c",
            "COPY t TO 'out.csv'",
            "-c",
            "SELECT x FROM t",
            "--format",
            "csv",
            "-o",
            "result.csv",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "", "commands print no status in scripts");
    assert_eq!(fs::read_to_string(dir.path().join("result.csv")).unwrap(), "x\n1\n");
    assert_eq!(fs::read_to_string(dir.path().join("out.csv")).unwrap(), "x\n1\n");
    let run = run_in(dir.path(), &["-c", "SELECT 1", "-o", "no/such/dir/out.csv"]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot write no/such/dir/out.csv"), "{}", run.stderr);
}

#[test]
fn scripts_that_cannot_be_read() {
    let dir = temp();
    let run = run_in(dir.path(), &["-f", "missing.sql"]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot read script missing.sql"), "{}", run.stderr);
    fs::write(dir.path().join("latin1.sql"), b"SELECT 1;\nSELECT 'caf\xe9';\n").unwrap();
    let run = run_in(dir.path(), &["-f", "latin1.sql"]);
    run.expect_code(2);
    assert!(run.stderr.contains("latin1.sql:2: script is not valid UTF-8"), "{}", run.stderr);
    // Nothing runs when a later script is unreadable.
    write(dir.path(), "ok.sql", "COPY (SELECT 1 AS x) TO 'ran.csv';");
    let run = run_in(dir.path(), &["-f", "ok.sql", "-f", "missing.sql"]);
    run.expect_code(2);
    assert!(!dir.path().join("ran.csv").exists());
}

#[test]
fn meta_commands_in_scripts() {
    let dir = temp();
    write(dir.path(), "sub/inner.sql", "SELECT '${who}' AS who;\n");
    write(dir.path(), "sub/outer.sql", "\\set who inner\n\\i inner.sql\n\\unknowncmd\nSELECT 'never';\n");
    let run = run_in(dir.path(), &["-f", "sub/outer.sql", "--format", "csv"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "who\ninner\n");
    assert!(
        run.stderr.contains("sub/outer.sql:3: error: unknown command \\unknowncmd; \\? lists the commands"),
        "{}",
        run.stderr
    );
    write(dir.path(), "broken_inner.sql", "SELECT 1 AS ok;\n\nSELECT broken;\n");
    write(dir.path(), "includer.sql", "\\i broken_inner.sql\nSELECT 'never';\n");
    let run = run_in(dir.path(), &["-f", "includer.sql", "--format", "csv"]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("broken_inner.sql:3: error:"), "the innermost location: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    write(dir.path(), "self.sql", "\\i self.sql\n");
    let run = run_in(dir.path(), &["-f", "self.sql"]);
    run.expect_code(1);
    assert!(run.stderr.contains("more than 16 levels deep"), "{}", run.stderr);
}

#[test]
fn data_folder_tables() {
    let dir = temp();
    write(dir.path(), "lake/orders.csv", "order_id,customer_id,amount\n1,10,5.5\n2,11,7.25\n");
    write(dir.path(), "lake/events.ndjson", "{\"user_id\":1,\"event\":\"view\"}\n{\"user_id\":1,\"event\":\"cart\"}\n");
    write(dir.path(), "lake/people.json", "[{\"id\": 1}, {\"id\": 2}, {\"id\": 3}]");
    write(dir.path(), "lake/notes.txt", "ignored");
    let setup = run_in(
        dir.path(),
        &[
            "-c",
            "COPY (SELECT 1 AS v, 'a' AS k UNION ALL SELECT 2, 'b') TO 'lake/parts/year=2024/p.parquet'",
            "-c",
            "COPY (SELECT 3 AS v, 'c' AS k) TO 'lake/parts/year=2025/p.parquet'",
        ],
    );
    setup.expect_code(0);
    let run = run_in(
        dir.path(),
        &[
            "--data",
            "lake",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n, sum(amount) AS total FROM orders",
            "-c",
            "SELECT count(*) AS n FROM events",
            "-c",
            "SELECT count(*) AS n FROM people",
            "-c",
            "SELECT year, sum(v) AS v FROM parts GROUP BY year ORDER BY year",
            "-c",
            "SELECT count(*) AS n FROM 'lake/parts/year=2024/*.parquet'",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "n,total\n2,12.75\nn\n2\nn\n3\nyear,v\n2024,3\n2025,3\nn\n2\n");
}

#[test]
fn data_folder_problems() {
    let dir = temp();
    let run = run_in(dir.path(), &["--data", "nowhere", "-c", "SELECT 1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot read data folder nowhere"), "{}", run.stderr);

    write(dir.path(), "lake/good.csv", "a\n1\n");
    write(dir.path(), "lake/bad_rows.csv", "a,b\n1,2\n3,4,5\n6,7\n");
    std::os::unix::fs::symlink(dir.path().join("gone.csv"), dir.path().join("lake/broken.csv")).unwrap();
    let run = run_in(dir.path(), &["--data", "lake", "--format", "csv", "-c", "SELECT a FROM good"]);
    run.expect_code(0);
    assert!(run.stderr.contains("warning: skipped lake/broken.csv"), "names the file: {}", run.stderr);
    assert_eq!(run.stdout, "a\n1\n", "the other tables still load");

    let run = run_in(dir.path(), &["--data", "lake", "-c", "SELECT * FROM bad_rows"]);
    run.expect_code(1);
    assert!(run.stderr.contains("<command>:1: error:"), "{}", run.stderr);
    assert!(run.stderr.to_lowercase().contains("expected 2") || run.stderr.contains("fields"), "{}", run.stderr);
}

#[test]
fn registering_a_thousand_files_reads_none() {
    let dir = temp();
    for i in 0..1000 {
        // Not Parquet at all: any attempt to read one while registering would fail.
        write(dir.path(), &format!("lake/part_{i:04}.parquet"), "garbage");
    }
    let run = run_in(
        dir.path(),
        &[
            "--data",
            "lake",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'part_%'",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "n\n1000\n");
    let run = run_in(dir.path(), &["--data", "lake", "-c", "SELECT * FROM part_0007"]);
    run.expect_code(1);
    assert!(run.stderr.contains("part_0007.parquet"), "the error names the file: {}", run.stderr);
}

#[test]
fn generate_writes_the_sample_deterministically() {
    let dir = temp();
    let args = ["generate", "--customers", "300", "--out", "gen", "--threads", "2"];
    run_in(dir.path(), &args).expect_code(0);
    let first = fs::read(dir.path().join("gen/orders.parquet")).unwrap();
    let args = ["generate", "--customers", "300", "--out", "gen2", "--threads", "1"];
    run_in(dir.path(), &args).expect_code(0);
    assert_eq!(first, fs::read(dir.path().join("gen2/orders.parquet")).unwrap(), "same bytes at any thread count");
    let run = run_in(
        dir.path(),
        &[
            "--data",
            "gen",
            "--format",
            "csv",
            "-c",
            "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM marketing_spend) AS spend_rows, (SELECT count(DISTINCT event) FROM events) AS event_kinds",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "customers,spend_rows,event_kinds\n300,120,4\n");
    let run = run_in(dir.path(), &["generate", "--customers", "10", "--out", "g3", "--tables", "orders,nope"]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown table 'nope'"), "{}", run.stderr);
}

#[test]
fn sample_matches_generate_5000() {
    let dir = temp();
    run_in(dir.path(), &["generate", "--out", "gen", "--tables", "orders"]).expect_code(0);
    let query = "SELECT count(*) AS n, sum(amount) AS total, max(order_id) AS last_id FROM ";
    let generated = run_in(dir.path(), &["--data", "gen", "--format", "csv", "-c", &format!("{query} orders")]);
    let sample = run_in(dir.path(), &["--format", "csv", "-c", &format!("{query} sample.orders")]);
    assert_eq!(generated.stdout, sample.stdout);
}

#[test]
fn version_help_and_bad_flags() {
    let dir = temp();
    let run = run_in(dir.path(), &["--version"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("segsql "));
    let run = run_in(dir.path(), &["--help"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Examples:") && run.stdout.contains("--param"));
    let run = run_in(dir.path(), &["--format", "xml"]);
    run.expect_code(2);
    let run = run_in(dir.path(), &["--memory-limit", "lots"]);
    run.expect_code(2);
    assert!(run.stderr.contains("expected a size"), "{}", run.stderr);
}

#[test]
fn results_do_not_depend_on_threads() {
    let dir = temp();
    let sql = "SELECT customer_id, count(*) AS n, sum(amount) AS m FROM sample.orders GROUP BY customer_id ORDER BY m DESC, customer_id LIMIT 20";
    let one = run_in(dir.path(), &["--threads", "1", "--format", "csv", "-c", sql]);
    let two = run_in(dir.path(), &["--threads", "2", "--format", "csv", "-c", sql]);
    one.expect_code(0);
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn memory_limit_is_enforced_with_a_clear_error() {
    let dir = temp();
    let sql =
        "SELECT e.user_id, count(*) FROM sample.events e JOIN sample.events f ON e.user_id = f.user_id GROUP BY 1";
    let run = run_in(dir.path(), &["--memory-limit", "1M", "-c", sql]);
    run.expect_code(1);
    assert!(run.stderr.contains("out of memory") && run.stderr.contains("--memory-limit"), "{}", run.stderr);
}

#[test]
fn tour_runs_and_reruns_byte_identically() {
    let dir = temp();
    let tour = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/00_tour.sql");
    let tour = tour.to_str().expect("utf-8 path");
    let first = run_in(dir.path(), &["-f", tour, "--format", "csv", "--threads", "2"]);
    first.expect_code(0);
    assert!(first.stdout.contains("table_name,row_count\ncustomers,5000\n"), "{}", first.stdout);
    let again = run_in(dir.path(), &["-f", tour, "--format", "csv", "--threads", "1"]);
    assert_eq!(first.stdout, again.stdout);
    let earlier = run_in(dir.path(), &["-f", tour, "--format", "csv", "--param", "as_of=2025-01-01"]);
    earlier.expect_code(0);
    assert_ne!(first.stdout, earlier.stdout, "as_of changes the answer");
}

#[test]
fn a_closed_output_stops_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = temp();
    let mut child = crate::support::segsql()
        .current_dir(dir.path())
        .args(["-c", "SELECT * FROM generate_series(1, 2000000)", "--format", "csv", "-c", "SELECT 'never'"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("segsql runs");
    let mut first = [0u8; 16];
    child.stdout.take().expect("stdout").read_exact(&mut first).expect("some output");
    // Dropping our end of the pipe is what `| head` does.
    let output = child.wait_with_output().expect("segsql finishes");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "no error for a closed pipe");
}

/// The files in `dir`, by name.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).expect("list dir").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_copy_that_fails_part_way_keeps_the_previous_export_whole() {
    let dir = temp();
    run_in(
        dir.path(),
        &[
            "-c",
            "COPY (SELECT 1 AS v, 'good' AS k) TO 'out.csv'",
            "-c",
            "COPY (SELECT 1 AS v, 'good' AS k) TO 'out.parquet'",
        ],
    )
    .expect_code(0);
    let (csv, parquet) =
        (fs::read(dir.path().join("out.csv")).unwrap(), fs::read(dir.path().join("out.parquet")).unwrap());
    // The cast fails on the last row, after many batches have reached the writer.
    let failing = "SELECT v, CAST(CASE WHEN v < 1000000 THEN CAST(v AS VARCHAR) ELSE 'oops' END AS BIGINT) AS k \
                   FROM generate_series(1, 1000000) AS t(v)";
    for target in ["out.csv", "out.parquet"] {
        let run = run_in(dir.path(), &["-c", &format!("COPY ({failing}) TO '{target}'")]);
        run.expect_code(1);
        assert!(run.stderr.starts_with("<command>:1: error: ") && run.stderr.contains("oops"), "{}", run.stderr);
    }
    assert!(fs::read(dir.path().join("out.csv")).unwrap() == csv, "the previous CSV is intact");
    assert!(fs::read(dir.path().join("out.parquet")).unwrap() == parquet, "the previous Parquet file is intact");
    assert_eq!(names_in(dir.path()), ["out.csv", "out.parquet"], "no temporary file is left behind");
}

#[test]
fn a_copy_that_succeeds_replaces_the_file() {
    let dir = temp();
    write(dir.path(), "out.csv", "old\n");
    write(dir.path(), "sub/out.parquet", "not parquet");
    let run = run_in(
        dir.path(),
        &[
            "-c",
            "COPY (SELECT 2 AS v) TO 'out.csv'",
            "-c",
            "COPY (SELECT 2 AS v) TO 'sub/out.parquet'",
            "-c",
            "SELECT v FROM 'sub/out.parquet'",
            "--format",
            "csv",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "v\n2\n", "COPY prints nothing; the new Parquet file reads back");
    assert_eq!(fs::read_to_string(dir.path().join("out.csv")).unwrap(), "v\n2\n");
    assert_eq!(names_in(dir.path()), ["out.csv", "sub"]);
    assert_eq!(names_in(&dir.path().join("sub")), ["out.parquet"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_still_reports_the_rows_it_wrote() {
    let dir = temp();
    let mut shell = crate::support::shell(&dir.path().join("models"));
    let target = dir.path().join("three.csv");
    let sql = format!("COPY (SELECT * FROM generate_series(1, 3) AS t(v)) TO '{}'", target.display());
    let outputs = shell.execute_collect(&sql).await.expect("COPY runs");
    let cells = segsql::output::cells(&outputs[0].batches).expect("cells");
    assert_eq!(cells, [["3"]], "the count behind \"OK, 3 rows\"");
    assert_eq!(fs::read_to_string(&target).unwrap(), "v\n1\n2\n3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_is_written_in_row_groups_that_readers_can_share_out() {
    // DataFusion's default of 1M rows a group left a segsql-written file of 1.27M rows to two
    // partitions of 82% and 18%; segsql writes DuckDB's 122,880 rows a group.
    let dir = temp();
    let mut shell = crate::support::shell(&dir.path().join("models"));
    let target = dir.path().join("groups.parquet");
    let sql = format!("COPY (SELECT * FROM generate_series(1, 300000) AS t(v)) TO '{}'", target.display());
    shell.execute_collect(&sql).await.expect("COPY runs");
    let file = fs::File::open(&target).expect("the file");
    let reader = datafusion::parquet::file::reader::SerializedFileReader::new(file).expect("a Parquet file");
    let metadata = datafusion::parquet::file::reader::FileReader::metadata(&reader);
    let rows: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(rows, [122_880, 122_880, 54_240]);
}

#[test]
fn an_unwritable_run_log_stops_the_run_before_anything_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in(
        dir.path(),
        &["--run-log", "no/such/dir/runs.ndjson", "-c", "COPY (SELECT 1 AS a) TO 'written.csv' STORED AS CSV"],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("--run-log no/such/dir/runs.ndjson: cannot append to it"), "{}", run.stderr);
    assert!(!dir.path().join("written.csv").exists(), "nothing may run");
}

#[test]
fn if_blocks_choose_what_a_script_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("there.csv"), "a\n1\n").expect("file");
    let script = "\\if exists 'there.csv'\nSELECT 'found' AS x;\n\\else\nSELECT 'missing' AS x;\n\\endif\n\
                  \\if defined key\nSELECT '${key}' AS k;\n\\elif not exists '${nowhere}'\nSELECT 1;\n\\else\n\\echo no key\n\\endif\n";
    let run = run_with_stdin(dir.path(), &["-q", "--format", "csv"], script);
    run.expect_code(1);
    assert!(run.stdout.contains("found") && !run.stdout.contains("missing"), "{}", run.stdout);
    assert!(run.stderr.contains("<stdin>:8: error: undefined parameter ${nowhere}"), "{}", run.stderr);
    let run = run_with_stdin(dir.path(), &["-q", "--format", "csv", "--param", "key=k1"], script);
    run.expect_code(0);
    assert!(run.stdout.contains("k1"), "{}", run.stdout);
    let unclosed = run_with_stdin(dir.path(), &["-q"], "\\if true\nSELECT 1;\n");
    unclosed.expect_code(1);
    assert!(
        unclosed.stderr.contains("1 \\if block(s) not closed; end each with \\endif in the same script"),
        "{}",
        unclosed.stderr
    );
}

/// On a terminal, a statement that runs for a while shows where the script is; piped, the
/// same run shows nothing of it. The terminal is a real pseudo-terminal from util-linux's
/// `script`.
#[test]
fn long_statements_show_their_place_in_the_script_on_a_terminal_only() {
    let dir = temp();
    write(dir.path(), "main.sql", "SELECT 1;\n\\if false\nSELECT 2;\n\\endif\n\\i inner.sql\nSELECT 3;\n");
    // About two seconds in a debug build: longer than the half second before the line shows.
    write(
        dir.path(),
        "inner.sql",
        "-- slow\nSELECT count(*) FROM generate_series(1, 40000000) t(x) WHERE x % 7 = 3;\n",
    );
    let binary = env!("CARGO_BIN_EXE_segsql");
    let shown = std::process::Command::new("script")
        .current_dir(dir.path())
        .env("SEGSQL_HISTORY", "/dev/null")
        .args(["-qec", &format!("{binary} -f main.sql"), "/dev/null"])
        .output()
        .expect("util-linux `script` runs");
    let terminal = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{terminal}");
    assert!(terminal.contains("[2/3] inner.sql:2 00:00:0"), "{terminal}");
    assert!(terminal.contains("5714286"), "{terminal}");

    let piped = run_in(dir.path(), &["-f", "main.sql"]);
    piped.expect_code(0);
    assert!(!piped.stderr.contains("inner.sql") && !piped.stdout.contains("inner.sql"), "{}", piped.stderr);
}
