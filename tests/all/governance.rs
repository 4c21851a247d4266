//! Governance parity: fixtures made by tests/parity/make_governance_fixtures.py with the real
//! scikit-learn, NumPy and Python's hmac, checked here without Python, through SQL as a user
//! would write it.

use std::collections::HashMap;

use segsql::script::Shell;

use crate::support::{assert_close, fixture, fixture_rows, query_cells};

fn number(text: &str) -> f64 {
    text.parse().unwrap_or_else(|_| panic!("not a number: {text}"))
}

async fn text_table(shell: &mut Shell, name: &str, columns: &str, file: &str) {
    let path = fixture("governance", file);
    query_cells(
        shell,
        &format!(
            "CREATE EXTERNAL TABLE {name} ({columns}) STORED AS CSV LOCATION '{path}' OPTIONS ('format.has_header' 'true')"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adjusted_rand_and_mutual_info_equal_scikit_learn() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    text_table(&mut shell, "labels", "\"case\" VARCHAR, \"row\" BIGINT, a VARCHAR, b VARCHAR", "labels.csv").await;
    let expected = fixture_rows("governance", "labels_expected.csv");
    assert!(expected.len() >= 14, "the fixture lost cases");
    for case in &expected {
        let name = &case["case"];
        // Integer labels are compared as integers (sorted numerically, as np.unique does).
        let (a, b) = match case["kind"].as_str() {
            "int" => ("CAST(a AS BIGINT)", "CAST(b AS BIGINT)"),
            _ => ("a", "b"),
        };
        let rows = query_cells(
            &mut shell,
            &format!(
                "SELECT adjusted_rand({a}, {b}), mutual_info({a}, {b}), count(*) FROM labels WHERE \"case\" = '{name}'"
            ),
        )
        .await;
        assert_eq!(rows[0][2], case["rows"], "{name}: rows");
        assert_close(&format!("{name} adjusted_rand"), number(&case["adjusted_rand"]), number(&rows[0][0]), 1e-12);
        assert_close(&format!("{name} mutual_info"), number(&case["mutual_info"]), number(&rows[0][1]), 1e-12);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudonymize_equals_python_hmac() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    text_table(&mut shell, "vectors", "\"key\" VARCHAR, kind VARCHAR, value VARCHAR, expected VARCHAR", "hmac.csv")
        .await;
    // The empty text is an empty field in the CSV, which reads as NULL.
    let ints = "SELECT \"key\" AS k, value, expected, pseudonymize(CAST(value AS BIGINT), \"key\") AS got FROM vectors WHERE kind = 'int'";
    let texts = "SELECT \"key\" AS k, value, expected, pseudonymize(coalesce(value, ''), \"key\") AS got FROM vectors WHERE kind = 'text'";
    let mut checked = 0;
    for sql in [ints, texts] {
        let rows = query_cells(&mut shell, &format!("SELECT * FROM ({sql}) ORDER BY k, value")).await;
        for row in &rows {
            assert_eq!(row[3], row[2], "pseudonymize({}, '{}')", row[1], row[0]);
        }
        checked += rows.len();
    }
    assert_eq!(checked, 70, "the fixture lost vectors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psi_equals_the_numpy_reference() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    text_table(&mut shell, "bins", "\"case\" VARCHAR, bin BIGINT, expected DOUBLE, actual DOUBLE", "psi_bins.csv")
        .await;
    let rows = query_cells(&mut shell, "SELECT \"case\", psi(expected, actual) FROM bins GROUP BY \"case\"").await;
    let got: HashMap<&str, f64> = rows.iter().map(|r| (r[0].as_str(), number(&r[1]))).collect();
    let expected = fixture_rows("governance", "psi_expected.csv");
    assert_eq!(got.len(), expected.len());
    for case in &expected {
        assert_close(&case["case"], number(&case["psi"]), got[case["case"].as_str()], 1e-12);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_drift_equals_the_numpy_reference() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let columns = "id BIGINT, recency_days BIGINT, frequency BIGINT, monetary DOUBLE";
    text_table(&mut shell, "previous", columns, "drift_previous.csv").await;
    text_table(&mut shell, "current", columns, "drift_current.csv").await;
    let expected = fixture_rows("governance", "drift_expected.csv");
    assert_eq!(expected.len(), 4);
    for case in &expected {
        let (feature, bins) = (&case["feature"], &case["bins"]);
        let sql = format!("SELECT * FROM feature_drift(previous, current, '{feature}', {bins})");
        let outputs = shell.execute_collect(&sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
        let batch = &outputs[0].batches[0];
        let cells = segsql::output::cells(&outputs[0].batches).expect("cells");
        assert_eq!(cells.len(), 1);
        for (i, field) in batch.schema().fields().iter().enumerate().skip(1) {
            let name = field.name();
            let want = &case[name.as_str()];
            if name.ends_with("_rows") || name.ends_with("_missing") {
                assert_eq!(&cells[0][i], want, "{feature} {name}");
            } else {
                assert_close(&format!("{feature} ({bins} bins) {name}"), number(want), number(&cells[0][i]), 1e-12);
            }
        }
    }
}
