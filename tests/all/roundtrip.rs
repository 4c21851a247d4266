//! Functions that travel (SPEC section 6): for a query of every function family, the
//! physical plan is serialised with datafusion-proto's default codec, decoded in a fresh
//! `SessionContext` that only had `segsql_udfs::register_all` applied (no tables, no scheme
//! table, no shell), executed there, and compared with the direct result. A function that
//! kept configuration in its Rust struct would be decoded by name with the defaults and
//! give a different answer, or fail to decode.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::{physical_plan_from_bytes, physical_plan_to_bytes};

/// The data every query reads, built in SQL so the scans are in-memory sources.
pub(crate) const SETUP: &[&str] = &[
    "CREATE TABLE orders AS SELECT
        (i % 300) + 1 AS customer_id,
        to_timestamp(1704067200 + ((i * 7919) % 700) * 86400 + (i % 24) * 3600) AS order_ts,
        CAST(((i * 37) % 5000) / 100.0 AS DECIMAL(10, 2)) AS amount,
        ((i * 37) % 5000) / 100.0 AS amount_double
     FROM generate_series(0, 2999) AS t(i)",
    "CREATE TABLE events AS SELECT
        (i % 200) + 1 AS user_id,
        to_timestamp(1735689600 + ((i * 13) % 5000) * 60) AS ts,
        CASE (i * 7) % 4 WHEN 0 THEN 'view' WHEN 1 THEN 'cart' WHEN 2 THEN 'checkout' ELSE 'purchase' END AS event
     FROM generate_series(0, 1999) AS t(i)",
    "CREATE TABLE points AS SELECT
        i AS id,
        CAST((i * 7919) % 101 AS DOUBLE) / 10.0 + (i % 3) * 20.0 AS x,
        CAST((i * 104729) % 97 AS DOUBLE) / 10.0 + (i % 3) * 5.0 AS y
     FROM generate_series(0, 599) AS t(i)",
    "CREATE VIEW labelled AS SELECT x, y, x > 30 AS above FROM points",
    "CREATE VIEW split AS SELECT * FROM rfm_calibration_holdout(orders, customer_id, order_ts, amount_double,
        '2024-12-01', '2025-12-01', 'week')",
    "CREATE VIEW snap_a AS SELECT id AS customer_id, CAST(id % 3 AS VARCHAR) AS segment, x, y FROM points WHERE id < 500",
    "CREATE VIEW snap_b AS SELECT id AS customer_id, CAST((id * 7) % 4 AS VARCHAR) AS segment, x + 1 AS x, y FROM points WHERE id > 100",
    "CREATE TABLE scheme (segment VARCHAR, r_min INT, r_max INT, f_min INT, f_max INT) AS VALUES
        ('Best', 3, 3, 2, 3), ('Good', 2, 3, 1, 3), ('Rest', 1, 3, 1, 3)",
];

/// One query per family, each with a total ORDER BY so results compare row for row.
pub(crate) const QUERIES: &[(&str, &str)] = &[
    ("rfm", "SELECT * FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01') ORDER BY customer_id"),
    ("lifecycle", "SELECT * FROM lifecycle(orders, customer_id, order_ts, '2026-01-01', 20, 60, 120) ORDER BY customer_id"),
    (
        "rfm on doubles, 4 bins",
        "SELECT * FROM rfm(orders, customer_id, order_ts, amount_double, NULL, 4) ORDER BY customer_id",
    ),
    (
        "quantile_score and rfm_score",
        "SELECT customer_id, quantile_score(sum(amount), 4) OVER () AS q,
                rfm_score(DATE '2026-01-01' - max(order_ts)::DATE, count(*), sum(amount)) OVER () AS code
         FROM orders GROUP BY customer_id ORDER BY customer_id",
    ),
    (
        "rfm_segment with a scheme table",
        "SELECT customer_id, rfm_segment(r_score, f_score, 'scheme') AS seg
         FROM rfm(orders, customer_id, order_ts, amount, '2026-01-01', 3) ORDER BY customer_id",
    ),
    ("rfm_summary (BTYD)", "SELECT * FROM rfm_summary(orders, customer_id, order_ts, amount) ORDER BY customer_id"),
    (
        "rfm_summary by week on doubles",
        "SELECT * FROM rfm_summary(orders, customer_id, order_ts, amount_double, '2025-12-31', 'week') ORDER BY customer_id",
    ),
    (
        "cohort_retention",
        "SELECT * FROM cohort_retention(orders, customer_id, order_ts, 'quarter', 'on_or_after', 5) ORDER BY cohort, period",
    ),
    (
        "cohort_revenue",
        "SELECT * FROM cohort_revenue(orders, customer_id, order_ts, amount, 'month') ORDER BY cohort, period",
    ),
    (
        "funnel with a window",
        "SELECT * FROM funnel(events, user_id, ts, event, 'view,cart,checkout,purchase', '2 days') ORDER BY step",
    ),
    (
        "kmeans, dbscan and hclust windows",
        "SELECT id, kmeans([x, y], 3, 7) OVER () AS km, dbscan([x, y], 2.5, 4) OVER () AS db,
                hclust([x, y], 3, 'ward') OVER () AS hc
         FROM points ORDER BY id",
    ),
    (
        "silhouette and friends",
        "SELECT round(silhouette([x, y], c), 12) AS s, round(silhouette([x, y], c, 200, 3), 12) AS sampled,
                round(davies_bouldin([x, y], c), 12) AS db, round(calinski_harabasz([x, y], c), 9) AS ch
         FROM (SELECT x, y, kmeans([x, y], 3) OVER () AS c FROM points)",
    ),
    (
        "kmeans_elbow",
        "SELECT k, round(inertia, 9) AS inertia, round(silhouette, 12) AS s, is_knee
         FROM kmeans_elbow(points, 'x, y', 1, 5, 3) ORDER BY k",
    ),
    ("silhouette_sample", "SELECT id, silhouette_sample([x, y], id % 3) OVER () AS s FROM points ORDER BY id"),
    (
        "model scoring",
        "SELECT id, kmeans_assign('roundtrip', [x, y]) AS cluster, kmeans_distance('roundtrip', [x, y]) AS d
         FROM points ORDER BY id",
    ),
    ("model_centroids", "SELECT * FROM model_centroids('roundtrip') ORDER BY cluster_id"),
    (
        "CLV scoring",
        "SELECT customer_id, p_alive('rt_buyers', frequency, recency, \"T\") AS p,
                expected_purchases('rt_buyers', 30, frequency, recency, \"T\") AS e,
                expected_avg_value('rt_spend', frequency, monetary_value) AS v,
                clv('rt_buyers', 'rt_spend', frequency, recency, \"T\", monetary_value, 6, 0.02) AS clv
         FROM rfm_summary(orders, customer_id, order_ts, amount) ORDER BY customer_id",
    ),
    ("model_params", "SELECT * FROM model_params('rt_buyers')"),
    ("model_evaluate", "SELECT * FROM model_evaluate('rt_buyers', split)"),
    ("predict_proba", "SELECT id, predict_proba('rt_churn', [x, y]) AS p FROM points ORDER BY id"),
    ("model_evaluate, logistic_reg", "SELECT * FROM model_evaluate('rt_churn', labelled)"),
    (
        "rfm_calibration_holdout",
        "SELECT * FROM rfm_calibration_holdout(orders, customer_id, order_ts, amount_double, '2024-12-01', '2025-12-01')
         ORDER BY customer_id",
    ),
    (
        "psi, adjusted_rand, mutual_info",
        "SELECT round(psi(a, b), 12) AS psi, adjusted_rand(a, b) AS ari, round(mutual_info(a, b), 12) AS nmi
         FROM (SELECT id % 5 AS a, (id * 3) % 7 AS b FROM points)",
    ),
    ("pseudonymize", "SELECT id, pseudonymize(id, 'a-key-of-16-bytes!') AS p FROM points WHERE id < 5 ORDER BY id"),
    (
        "segment_transitions",
        "SELECT * FROM segment_transitions(snap_a, snap_b, customer_id, segment) ORDER BY from_segment, to_segment",
    ),
    ("feature_drift", "SELECT * FROM feature_drift(snap_a, snap_b, 'x, y', 5)"),
    ("kmeans_stability", "SELECT * FROM kmeans_stability(points, 'x, y', 3, 3) ORDER BY resample"),
    (
        "k_anonymous",
        "SELECT segment, count(*) AS n, max(rows_dropped) AS dropped
         FROM k_anonymous(snap_a, 'segment', 100) GROUP BY segment ORDER BY segment",
    ),
    ("model_compare", "SELECT * FROM model_compare('roundtrip', 'roundtrip', points) ORDER BY old_cluster"),
    (
        "prop_ztest",
        "SELECT prop_ztest(120, 1000, 150, 1000) AS t, prop_ztest(successes, 500, 60, 500) AS c
         FROM (VALUES (40), (55), (70)) AS v(successes) ORDER BY successes",
    ),
    (
        "ab_sample_size",
        "SELECT ab_sample_size(0.1, 0.02) AS d, ab_sample_size(base, 0.01, 0.01, 0.9) AS c
         FROM (VALUES (0.05), (0.2)) AS v(base) ORDER BY base",
    ),
];

fn config() -> SessionConfig {
    SessionConfig::new().with_target_partitions(3)
}

/// A model for the scoring query, trained by the library as CREATE MODEL trains it.
pub(crate) fn write_model(dir: &std::path::Path) {
    let points =
        ndarray::Array2::from_shape_fn((60, 2), |(i, d)| ((i * 7 + d * 13) % 50) as f64 + (i % 3) as f64 * 30.0);
    let mut options = segsql_udfs::model::TrainOptions::new(3);
    options.standardize = segsql_udfs::model::Standardize::Zscore;
    let model = segsql_udfs::model::train_kmeans("roundtrip", vec!["x".into(), "y".into()], points.view(), 0, &options)
        .expect("model trains");
    let store = segsql_udfs::ModelStore::new(dir);
    store.save(&segsql_udfs::model::Model::KMeans(model), true).expect("model saved");
    // CLV models fitted as CREATE MODEL fits them, on the sample's weekly histories.
    let text = std::fs::read_to_string("tests/fixtures/clv/sample_week.csv").expect("fixture");
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().expect("number")).collect()).collect();
    let histories: Vec<[f64; 3]> = rows.iter().map(|r| [r[0], r[1], r[2]]).collect();
    let params = segsql_algo::clv::FitParams::default();
    let one = segsql_algo::Threads::ONE;
    let (_, fit) = segsql_algo::clv::fit_beta_geo(segsql_algo::clv::bgnbd::Variant::Bg, &histories, params, one)
        .expect("bgnbd fits");
    let unit = Some(segsql_algo::clv::TimeUnit::Week);
    let buyers = segsql_algo::model::ClvModel::new("rt_buyers", "bgnbd", vec![], unit, params, fit, Default::default());
    let spends: Vec<[f64; 2]> = rows.iter().filter(|r| r[0] > 0.0 && r[3] > 0.0).map(|r| [r[0], r[3]]).collect();
    let (_, fit) = segsql_algo::clv::fit_gamma_gamma(&spends, params, one).expect("gamma_gamma fits");
    let spend =
        segsql_algo::model::ClvModel::new("rt_spend", "gamma_gamma", vec![], None, params, fit, Default::default());
    for model in [buyers, spend] {
        store.save(&segsql_udfs::model::Model::Clv(model), true).expect("model saved");
    }
    // A propensity model on the points table's shape: is x above 30?
    let x: Vec<f64> = (0..600)
        .flat_map(|i| [((i * 7919) % 101) as f64 / 10.0 + (i % 3) as f64 * 20.0, ((i * 104729) % 97) as f64 / 10.0])
        .collect();
    let y: Vec<bool> = (0..600).map(|i| (i * 31) % 7 < 3).collect();
    let fit = segsql_algo::clv::logistic::fit_logistic(&x, &y, 2, Default::default(), one).expect("logistic fits");
    let churn = segsql_algo::model::LogisticModel {
        format_version: segsql_algo::model::FORMAT_VERSION,
        segsql_version: String::new(),
        name: "rt_churn".into(),
        algorithm: "logistic_reg".into(),
        features: vec!["x".into(), "y".into()],
        label: "above".into(),
        standardize: segsql_algo::model::Scaler {
            method: segsql_algo::model::Standardize::None,
            center: vec![0.0, 0.0],
            scale: vec![1.0, 1.0],
        },
        l2: 1.0,
        max_iter: 1000,
        tol: 1e-8,
        intercept: fit.intercept,
        coefficients: fit.coefficients,
        iterations: fit.iterations,
        objective: fit.objective,
        training_rows: 600,
        positives: y.iter().filter(|&&v| v).count() as u64,
        skipped_rows: 0,
    };
    store.save(&segsql_udfs::model::Model::Logistic(churn), true).expect("model saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_runs_the_same_after_a_plan_round_trip() {
    let models = tempfile::tempdir().expect("temp dir");
    write_model(models.path());
    let models_dir = models.path().to_string_lossy().into_owned();

    let ctx = SessionContext::new_with_config(config());
    segsql_udfs::register_all(&ctx);
    segsql_udfs::set_models_dir(&ctx, models_dir.clone());
    for statement in SETUP {
        ctx.sql(statement).await.expect("setup").collect().await.expect("setup runs");
    }

    let mut failures = Vec::new();
    let mut plans = String::new();
    for (family, query) in QUERIES {
        let frame = ctx.sql(query).await.expect(family);
        // The physical display names window functions by alias only; the logical one by call.
        plans.push_str(&frame.clone().into_optimized_plan().expect(family).display_indent().to_string());
        let plan = frame.create_physical_plan().await.expect(family);
        let direct = pretty_format_batches(&collect(plan.clone(), ctx.task_ctx()).await.expect(family))
            .expect("prints")
            .to_string();
        let bytes = match physical_plan_to_bytes(plan) {
            Ok(bytes) => bytes,
            Err(e) => {
                failures.push(format!("{family}: cannot encode: {e}"));
                continue;
            }
        };
        // Like a worker: only the functions and the session's settings, no tables.
        let fresh = SessionContext::new_with_config(config());
        segsql_udfs::register_all(&fresh);
        segsql_udfs::set_models_dir(&fresh, models_dir.clone());
        let decoded = match physical_plan_from_bytes(&bytes, &fresh.task_ctx()) {
            Ok(plan) => plan,
            Err(e) => {
                failures.push(format!("{family}: cannot decode: {e}"));
                continue;
            }
        };
        let travelled = match collect(decoded, fresh.task_ctx()).await {
            Ok(batches) => pretty_format_batches(&batches).expect("prints").to_string(),
            Err(e) => {
                failures.push(format!("{family}: decoded plan fails: {e}"));
                continue;
            }
        };
        assert!(direct.lines().count() > 4, "{family}: the query should return rows:\n{direct}");
        if direct != travelled {
            failures
                .push(format!("{family}: results differ\n--- direct\n{direct}\n--- after the round trip\n{travelled}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every internal function was in some plan above, so each one was shown to travel.
    let missing: Vec<String> = segsql_udfs::internal_functions()
        .iter()
        .map(|f| f.function.name().to_string())
        .filter(|name| !plans.contains(&format!("{name}(")))
        .collect();
    assert!(missing.is_empty(), "internal functions no round-trip plan used: {}", missing.join(", "));
}

/// The check above must be able to fail: a plan whose scheme is looked up by name on the
/// other side (as `rfm_segment` once did) decodes to the default scheme there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheme_travels_as_its_rules() {
    let ctx = SessionContext::new_with_config(config());
    segsql_udfs::register_all(&ctx);
    for statement in SETUP {
        ctx.sql(statement).await.expect("setup").collect().await.expect("setup runs");
    }
    // Scores from columns, so the call is not folded to a constant while planning.
    let query = "SELECT rfm_segment(r, f, 'scheme') AS seg FROM (VALUES (3, 3), (1, 2)) AS t(r, f)";
    let plan = ctx.sql(query).await.expect("plans").create_physical_plan().await.expect("plans");
    let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string();
    assert!(
        shown.contains("segsql_segment_rules(") && shown.contains(r#"[["Best",3,3,2,3]"#),
        "the planned call carries the scheme's rules, not its name:\n{shown}"
    );
}
