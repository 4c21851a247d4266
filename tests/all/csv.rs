//! The CSV sniffer on files no one here wrote (DuckDB's test corpus) and on European
//! exports, each against the dialect and types written down in `tests/fixtures/csv/`
//! (`expected.json`; `duckdb_sniff.json` is what DuckDB itself found, for comparison).

use std::path::{Path, PathBuf};

use segsql::data::sniff::{self, ColumnKind, Hints};
use serde_json::Value;

use crate::support::run_in;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/csv")
}

fn expected() -> Vec<Value> {
    let text = std::fs::read_to_string(corpus().join("expected.json")).expect("expected.json");
    serde_json::from_str::<Value>(&text).expect("json").as_array().expect("a list").clone()
}

/// Every file in the corpus is sniffed as `expected.json` says: delimiter, header, names,
/// types and date formats; the unsniffable file is an error that says what it saw.
#[test]
fn the_corpus_sniffs_as_written_down() {
    let cases = expected();
    assert!(cases.len() >= 20, "the corpus shrank: {} files", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let file = case["file"].as_str().expect("file");
        let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
        let sample = &bytes[..bytes.len().min(sniff::SAMPLE_BYTES)];
        let found = sniff::sniff(sample, sample.len() == bytes.len(), &Hints::default());
        if case.get("error").is_some() {
            match found {
                Err(e) if e.0.starts_with("no delimiter gives every row the same number of fields") => {}
                other => failures.push(format!("{file}: expected an error, got {other:?}")),
            }
            continue;
        }
        let dialect = match found {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{file}: {}", e.0));
                continue;
            }
        };
        let delimiter = case["delimiter"].as_str().expect("delimiter").as_bytes()[0];
        if dialect.delimiter != delimiter {
            failures
                .push(format!("{file}: delimiter {:?}, expected {:?}", dialect.delimiter as char, delimiter as char));
        }
        if Some(dialect.has_header) != case["has_header"].as_bool() {
            failures.push(format!("{file}: has_header {}, expected {}", dialect.has_header, case["has_header"]));
        }
        let columns: Vec<(String, String)> =
            dialect.columns.iter().map(|c| (c.name.clone(), c.kind.sql_type().to_string())).collect();
        let want = crate::support::named_types(&case["columns"]);
        if columns != want {
            failures.push(format!("{file}: columns {columns:?}\n   expected {want:?}"));
        }
        let decimal_comma = dialect.columns.iter().any(|c| c.kind == ColumnKind::DecimalComma);
        if Some(decimal_comma) != case["decimal_comma"].as_bool() {
            failures.push(format!("{file}: decimal_comma {decimal_comma}"));
        }
        for column in &dialect.columns {
            let want = case["date_formats"].get(&column.name).and_then(Value::as_str);
            let got = match column.kind {
                ColumnKind::Date(format) => Some(format.pattern()),
                _ => None,
            };
            if got != want {
                failures.push(format!("{file}: column {} date format {got:?}, expected {want:?}", column.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} files differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// DuckDB's own answers are checked in beside ours; where ours differ, `expected.json`
/// says why, so a change in either is seen.
#[test]
fn differences_from_duckdb_are_explained() {
    let text = std::fs::read_to_string(corpus().join("duckdb_sniff.json")).expect("duckdb_sniff.json");
    let duckdb: Vec<Value> = serde_json::from_str::<Value>(&text).expect("json").as_array().expect("list").clone();
    for case in expected().iter().filter(|c| c["file"].as_str().is_some_and(|f| f.starts_with("duckdb/"))) {
        let file = case["file"].as_str().unwrap_or_default();
        let theirs = duckdb
            .iter()
            .find(|d| d["file"] == case["file"])
            .unwrap_or_else(|| panic!("{file} not in duckdb_sniff.json"));
        let types = |v: &Value| -> Vec<String> {
            v["columns"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| match c[1].as_str().unwrap_or_default() {
                            "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" => "BIGINT".to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let same = types(theirs) == types(case)
            && theirs["delimiter"] == case["delimiter"]
            && theirs["has_header"] == case["has_header"];
        assert!(
            same || case.get("differs_from_duckdb").is_some(),
            "{file}: segsql's expectation differs from DuckDB's sniff and expected.json does not say why"
        );
    }
}

/// Through the shell: a European export reads with its decimal commas and dates, `\d`
/// shows how, `OPTIONS` override the sniffer, and a file that cannot be sniffed says so.
#[test]
fn european_files_through_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = corpus().join("european");
    let data = data.to_str().expect("utf-8 path");
    let run = run_in(
        dir.path(),
        &[
            "--data",
            data,
            "--format",
            "csv",
            "-c",
            r#"SELECT "Bestellnr", "Bestelldatum", "Nettobetrag" FROM orders_de_semicolon_decimal_comma ORDER BY 1 LIMIT 2"#,
            "-c",
            "SELECT round(sum(chiffre_affaires), 2) AS total, min(date_inscription) AS first FROM customers_fr_bom_ddmmyyyy",
            "-c",
            "\\d orders_de_semicolon_decimal_comma",
        ],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("Bestellnr,Bestelldatum,Nettobetrag\n240100,2024-07-31,443.97\n240107,2023-08-29,17101.47\n"),
        "{}",
        run.stdout
    );
    // The totals Python's csv module gives for the same files.
    assert!(run.stdout.contains("total,first\n169875.05,"), "{}", run.stdout);
    assert!(run.stdout.contains("Nettobetrag,Float64,YES,decimal comma"), "{}", run.stdout);
    assert!(run.stdout.contains("Bestelldatum,Date32,YES,date %d.%m.%Y"), "{}", run.stdout);
    assert!(
        run.stdout.contains("CSV: delimiter ';', quote '\"', header row, decimal comma, dates %d.%m.%Y"),
        "{}",
        run.stdout
    );

    // The ambiguous dates stay text until OPTIONS say which way round they are.
    let invoices = corpus().join("european/invoices_ambiguous_ddmmyyyy.csv");
    let create = format!(
        "CREATE EXTERNAL TABLE inv STORED AS CSV LOCATION '{}' OPTIONS ('format.date_format' '%d/%m/%Y')",
        invoices.display()
    );
    let run = run_in(
        dir.path(),
        &[
            "--data",
            data,
            "--format",
            "csv",
            "-c",
            "SELECT arrow_typeof(invoice_date) AS t FROM invoices_ambiguous_ddmmyyyy LIMIT 1",
            "-c",
            &create,
            "-c",
            "SELECT arrow_typeof(min(invoice_date)) AS t, min(invoice_date) AS first FROM inv",
        ],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("t\nUtf8\n"), "{}", run.stdout);
    assert!(run.stdout.contains("t,first\nDate32,"), "{}", run.stdout);

    // Told the delimiter, the sniffer finds the rest.
    let orders = corpus().join("european/orders_de_semicolon_decimal_comma.csv");
    let create = format!(
        "CREATE EXTERNAL TABLE o STORED AS CSV LOCATION '{}' OPTIONS ('format.delimiter' ';', 'format.decimal_comma' 'true')",
        orders.display()
    );
    let run = run_in(
        dir.path(),
        &["--format", "csv", "-c", &create, "-c", r#"SELECT sum("Menge") AS m, max("Nettobetrag") AS n FROM o"#],
    );
    run.expect_code(0);
    assert!(run.stdout.ends_with("m,n\n5263,44949.85\n"), "{}", run.stdout);

    let run = run_in(dir.path(), &["--data", data, "-c", "SELECT * FROM free_text_unsniffable"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("cannot read table free_text_unsniffable from")
            && run.stderr.contains("no delimiter gives every row the same number of fields: ',' gives rows of different widths (line 1 has 2 fields but line 3 has 1)")
            && run.stderr.contains("'format.delimiter'"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    let bad = format!(
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{}' OPTIONS ('format.date_format' '%Y/%d')",
        orders.display()
    );
    let run = run_in(dir.path(), &["-c", &bad]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("CREATE EXTERNAL TABLE: 'format.date_format' '%Y/%d' is not one segsql reads"),
        "{}",
        run.stderr
    );
}

/// `SUMMARIZE` gives DuckDB's columns, counts NULLs, and is the same at any thread count.
#[test]
fn summarize_a_table_and_a_query() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = corpus().join("european");
    let summarize = |threads: &str| {
        let run = run_in(
            dir.path(),
            &[
                "--threads",
                threads,
                "--data",
                data.to_str().expect("utf-8"),
                "--format",
                "csv",
                "-c",
                "SUMMARIZE orders_de_semicolon_decimal_comma",
                "-c",
                "SUMMARIZE SELECT amount FROM (VALUES (1.5), (NULL), (2.5), (4.0)) AS t(amount)",
            ],
        );
        run.expect_code(0);
        run.stdout.clone()
    };
    let one = summarize("1");
    assert_eq!(one, summarize("3"), "SUMMARIZE must not depend on --threads");
    assert!(
        one.starts_with(
            "column_name,column_type,min,max,approx_unique,avg,q25,q50,q75,count,nulls,null_percentage\n\
         Bestellnr,Int64,240100,240387,42,240243.5,240171.75,240243.5,240315.25,42,0,0.0\n"
        ),
        "{one}"
    );
    assert!(one.contains("Bemerkung,Utf8,Express,"), "{one}");
    assert!(one.ends_with("amount,Float64,1.5,4.0,3,2.6666666666666665,2.0,2.5,3.25,4,1,25.0\n"), "{one}");
    let run = run_in(dir.path(), &["-c", "SUMMARIZE no_such_table"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
}

/// A BOM on a file without a header and values padded with spaces: read as text, trimmed,
/// then typed, so neither reaches Arrow's parser.
#[test]
fn a_bom_without_a_header_and_padded_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("in")).expect("folder");
    std::fs::write(dir.path().join("in/bomnh.csv"), b"\xef\xbb\xbf1; 2,5 ;x\n2; 3,75;y\n").expect("write");
    std::fs::write(dir.path().join("in/pad.csv"), "a,b\n 1 ,true\n2,false\n").expect("write");
    let run = run_in(
        dir.path(),
        &[
            "--data",
            "in",
            "--format",
            "csv",
            "-c",
            "SELECT column_1 * 10 AS c1, column_2, column_3 FROM bomnh",
            "-c",
            "SELECT a + 1 AS a1, b FROM pad",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "c1,column_2,column_3\n10,2.5,x\n20,3.75,y\na1,b\n2,true\n3,false\n");
}
