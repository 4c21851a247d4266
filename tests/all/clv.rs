//! The CLV models through SQL against lifetimes 0.11.3: `CREATE MODEL ... USING bgnbd |
//! mbgnbd | pareto_nbd | gamma_gamma` on the histories lifetimes was fitted on,
//! `model_params`, and the
//! scoring functions on its per-customer predictions (tests/fixtures/clv/, written by
//! tests/parity/make_clv_fixtures.py with the real lifetimes; no Python here).

use std::path::Path;

use segsql::script::Shell;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clv").join(name).display().to_string()
}

fn rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn number(cell: &str) -> f64 {
    if cell.is_empty() || cell == "NULL" { f64::NAN } else { cell.parse().unwrap_or_else(|_| panic!("{cell}")) }
}

async fn query(shell: &mut Shell, sql: &str) -> Vec<Vec<String>> {
    let outputs = shell.execute_collect(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    segsql::output::cells(&outputs.last().expect("a result").batches).expect("cells")
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!((got - want).abs() <= rel * want.abs(), "{what}: segsql {got}, lifetimes {want}");
}

fn model_sql(name: &str, dataset: &str, kind: &str, penalizer: &str) -> String {
    let source = format!("'{}'", fixture(&format!("{dataset}.csv")));
    match kind {
        "gamma_gamma" => format!(
            "CREATE OR REPLACE MODEL {name} USING gamma_gamma (penalizer = {penalizer}) \
             AS SELECT frequency, monetary_value FROM {source} WHERE frequency > 0 AND monetary_value > 0"
        ),
        _ => format!(
            "CREATE OR REPLACE MODEL {name} USING {kind} (time_unit = 'week', penalizer = {penalizer}) \
             AS SELECT frequency, recency, \"T\" FROM {source}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fitted_parameters_equal_lifetimes() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let params = rows("params.csv");
    let mut fits: Vec<(String, String, String)> =
        params.iter().map(|r| (r[0].clone(), r[1].clone(), r[2].clone())).collect();
    fits.dedup();
    let mut checked = 0;
    for (dataset, kind, penalizer) in &fits {
        let created = query(&mut shell, &model_sql("m", dataset, kind, penalizer)).await;
        let got = query(&mut shell, "SELECT parameter, value, std_error FROM model_params('m')").await;
        let want: Vec<&Vec<String>> =
            params.iter().filter(|r| (&r[0], &r[1], &r[2]) == (dataset, kind, penalizer)).collect();
        assert_eq!(got.len(), want.len(), "{dataset} {kind} {penalizer}");
        for (g, w) in got.iter().zip(&want) {
            let what = format!("{dataset} {kind} penalizer {penalizer} {}", w[3]);
            assert_eq!(g[0], w[3], "{what}");
            close(&what, number(&g[1]), number(&w[4]), 1e-4);
            close(&format!("{what} std_error"), number(&g[2]), number(&w[5]), 1e-3);
            checked += 1;
        }
        // CREATE MODEL's log_likelihood is the sum in the data's own time unit.
        let ll = number(&want[0][6]);
        if ll.is_finite() {
            close(&format!("{dataset} {kind} log-likelihood"), number(&created[0][6]), ll, 1e-8);
        }
    }
    assert_eq!(checked, params.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_equal_lifetimes() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let predictions = rows("predictions.csv");
    let mut groups: Vec<(String, String)> = predictions.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    groups.dedup();
    let mut checked = 0;
    for (dataset, kind) in &groups {
        let want: Vec<&Vec<String>> = predictions.iter().filter(|r| (&r[0], &r[1]) == (dataset, kind)).collect();
        let values: Vec<String> =
            want.iter().map(|r| format!("({}, {}, {}, {}, {})", r[2], r[3], r[4], r[5], r[6])).collect();
        let data = format!("(VALUES {}) AS v(i, f, r, t, extra)", values.join(", "));
        let sql = if kind == "gamma_gamma" {
            query(&mut shell, &model_sql("spend", dataset, "gamma_gamma", "0")).await;
            query(&mut shell, &model_sql("buyers", dataset, "bgnbd", "0")).await;
            format!(
                "SELECT expected_avg_value('spend', f, extra), clv('buyers', 'spend', f, r, t, extra, 12, 0.01) \
                 FROM {data} ORDER BY i"
            )
        } else {
            query(&mut shell, &model_sql("buyers", dataset, kind, "0")).await;
            format!(
                "SELECT p_alive('buyers', f, r, t), expected_purchases('buyers', extra, f, r, t) FROM {data} ORDER BY i"
            )
        };
        let got = query(&mut shell, &sql).await;
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            let what = format!("{dataset} {kind} row {}", w[2]);
            // The fitted parameters agree to about 1e-6, and so do the predictions.
            close(&format!("{what} first"), number(&g[0]), number(&w[7]), 1e-5);
            close(&format!("{what} second"), number(&g[1]), number(&w[8]), 1e-5);
            checked += 1;
        }
    }
    assert_eq!(checked, predictions.len());
}

/// Pareto/NBD through SQL: the optimum of lifetimes' objective (which lifetimes' own
/// Nelder–Mead stops short of), its standard errors, and lifetimes' predictions there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pareto_nbd_reaches_the_optimum_and_predicts_as_lifetimes() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let params = rows("pareto_params.csv");
    let mut checked = 0;
    for chunk in params.chunks(4) {
        let (dataset, penalizer) = (&chunk[0][0], &chunk[0][1]);
        let created = query(&mut shell, &model_sql("p", dataset, "pareto_nbd", penalizer)).await;
        let got = query(&mut shell, "SELECT parameter, value, std_error FROM model_params('p')").await;
        for (g, w) in got.iter().zip(chunk) {
            let what = format!("{dataset} pareto_nbd penalizer {penalizer} {}", w[2]);
            assert_eq!(g[0], w[2], "{what}");
            close(&what, number(&g[1]), number(&w[4]), 1e-5);
            close(&format!("{what} std_error"), number(&g[2]), number(&w[5]), 1e-3);
            checked += 1;
        }
        if number(penalizer) == 0.0 {
            close(&format!("{dataset} log-likelihood"), number(&created[0][6]), number(&chunk[0][8]), 1e-9);
        }
    }
    assert_eq!(checked, params.len());
    let predictions = rows("pareto_predictions.csv");
    for dataset in ["cdnow", "sample_week", "generated_pareto"] {
        query(&mut shell, &model_sql("p", dataset, "pareto_nbd", "0")).await;
        let want: Vec<&Vec<String>> = predictions.iter().filter(|r| r[0] == dataset).collect();
        let values: Vec<String> =
            want.iter().map(|r| format!("({}, {}, {}, {}, {})", r[1], r[2], r[3], r[4], r[5])).collect();
        let sql = format!(
            "SELECT p_alive('p', f, r, t), expected_purchases('p', h, f, r, t) FROM (VALUES {}) AS v(i, f, r, t, h) ORDER BY i",
            values.join(", ")
        );
        let got = query(&mut shell, &sql).await;
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            close(&format!("{dataset} row {} p_alive", w[1]), number(&g[0]), number(&w[6]), 1e-6);
            close(&format!("{dataset} row {} expected", w[1]), number(&g[1]), number(&w[7]), 1e-6);
        }
    }
}

/// The same script, data and options write the same model bytes at any thread count.
#[test]
fn model_files_are_byte_identical_across_threads() {
    let mut files = Vec::new();
    for threads in ["1", "2", "4"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let churn = format!(
            "CREATE MODEL churn USING logistic_reg (label = 'churned', standardize = 'zscore') \
             AS SELECT recency, frequency, monetary, tenure, churned FROM '{}'",
            fixture("logistic_data.csv")
        );
        let sql = format!(
            "{};{};{churn}",
            model_sql("buyers", "sample_week", "bgnbd", "0"),
            model_sql("spend", "sample_week", "gamma_gamma", "0.001")
        ) + ";"
            + &model_sql("pareto", "sample_week", "pareto_nbd", "0");
        crate::support::run_in(dir.path(), &["--threads", threads, "-c", &sql]).expect_code(0);
        let read = |name: &str| std::fs::read(dir.path().join("models").join(name)).expect("model file");
        files.push((read("buyers.json"), read("spend.json"), read("churn.json"), read("pareto.json")));
    }
    assert!(files.windows(2).all(|w| w[0] == w[1]), "model files differ between thread counts");
}

/// Gamma-Gamma with q ≤ 1 has no finite population mean: the expected spend and CLV are
/// NULL (lifetimes gives negative or infinite figures). A file missing a parameter is
/// refused as damaged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_models_without_a_mean_give_null_and_damaged_files_are_refused() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    query(&mut shell, &model_sql("spend", "cdnow", "gamma_gamma", "0")).await;
    query(&mut shell, &model_sql("buyers", "cdnow", "bgnbd", "0")).await;
    let path = models.path().join("spend.json");
    let text = std::fs::read_to_string(&path).expect("model file");
    let q = text.find("\"name\": \"q\"").expect("q");
    let value = q + text[q..].find("\"value\": ").expect("value") + "\"value\": ".len();
    let end = value + text[value..].find(',').expect("end");
    std::fs::write(&path, format!("{}0.9{}", &text[..value], &text[end..])).expect("edit");
    let got =
        query(&mut shell, "SELECT expected_avg_value('spend', 2, 30.0), clv('buyers', 'spend', 2, 30.43, 38.86, 30.0)")
            .await;
    assert_eq!(got, vec![vec!["NULL".to_string(), "NULL".to_string()]]);

    std::fs::write(&path, text.replacen("\"name\": \"v\"", "\"name\": \"w\"", 1)).expect("edit");
    let outputs = shell.execute_collect("SELECT expected_avg_value('spend', 2, 30.0)").await;
    let Err(err) = outputs else { panic!("a damaged file must be refused") };
    let err = err.to_string();
    assert!(err.starts_with("expected_avg_value: model 'spend'") && err.contains("damaged"), "{err}");
}

/// The holdout check: a model fitted on rfm_calibration_holdout's calibration columns
/// predicts the holdout as lifetimes' does on lifetimes' own split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_evaluate_equals_lifetimes_on_the_holdout() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    query(
        &mut shell,
        "CREATE VIEW split AS SELECT * FROM rfm_calibration_holdout(sample.orders, customer_id, order_ts, amount, \
         '2025-01-05', '2025-06-29', 'week')",
    )
    .await;
    for want in rows("evaluate.csv") {
        let kind = &want[0];
        query(
            &mut shell,
            &format!(
                "CREATE OR REPLACE MODEL cal USING {kind} (time_unit = 'week') AS SELECT frequency_cal, recency_cal, \"T_cal\" FROM split"
            ),
        )
        .await;
        let got = query(&mut shell, "SELECT * FROM model_evaluate('cal', split)").await;
        assert_eq!(got[0][0], want[1], "{kind} customers");
        for (i, column) in ["actual_purchases", "predicted_purchases", "mae", "rmse"].iter().enumerate() {
            close(&format!("{kind} {column}"), number(&got[0][i + 1]), number(&want[i + 2]), 1e-6);
        }
    }
}

/// logistic_reg through SQL: the coefficients of scikit-learn's LogisticRegression(C = 1/l2)
/// on the same rows, and model_evaluate's metrics on the held-out rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logistic_reg_equals_scikit_learn() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    let data = fixture("logistic_data.csv");
    query(&mut shell, &format!("CREATE VIEW d AS SELECT * FROM '{data}'")).await;
    query(
        &mut shell,
        "CREATE VIEW train AS SELECT recency, frequency, monetary, tenure, churned FROM d WHERE part = 'train'",
    )
    .await;
    query(&mut shell, "CREATE VIEW test AS SELECT * FROM d WHERE part = 'test'").await;
    let params = rows("logistic_params.csv");
    let mut checked = 0;
    for metrics in rows("logistic_metrics.csv").iter().filter(|m| m[1] != "rounded") {
        let (l2, standardize) = (&metrics[0], &metrics[1]);
        query(
            &mut shell,
            &format!(
                "CREATE OR REPLACE MODEL churn USING logistic_reg (label = 'churned', l2 = {l2}, standardize = '{standardize}') \
                 AS SELECT * FROM train"
            ),
        )
        .await;
        let got = query(&mut shell, "SELECT parameter, value FROM model_params('churn')").await;
        let want: Vec<&Vec<String>> = params.iter().filter(|p| (&p[0], &p[1]) == (l2, standardize)).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g[0], w[2]);
            close(&format!("l2 {l2} {standardize} {}", w[2]), number(&g[1]), number(&w[3]), 1e-4);
            checked += 1;
        }
        let evaluated = query(&mut shell, "SELECT * FROM model_evaluate('churn', test)").await;
        assert_eq!(evaluated[0][0], metrics[2]);
        for (i, name) in ["roc_auc", "log_loss", "accuracy", "precision", "recall", "f1_score"].iter().enumerate() {
            close(
                &format!("l2 {l2} {standardize} {name}"),
                number(&evaluated[0][i + 1]),
                number(&metrics[i + 3]),
                1e-6,
            );
        }
    }
    assert_eq!(checked, params.len());
}
