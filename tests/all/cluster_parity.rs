//! Clustering parity with scikit-learn: fixtures made by
//! tests/parity/make_cluster_fixtures.py with the real scikit-learn, checked here without
//! Python, through SQL as a user would write it.

use std::collections::HashMap;
use std::path::Path;

use segsql::output::Sink;
use segsql::script::Shell;

use crate::support::{assert_close, fixture, fixture_rows, query_cells};
use segsql::session::SessionOptions;

/// (id column, feature list) of each fixture dataset.
fn dataset(name: &str) -> (&'static str, &'static str) {
    match name {
        "iris" => ("id", "sepal_length, sepal_width, petal_length, petal_width"),
        "rfm_sample" => ("customer_id", "recency_days, frequency, monetary"),
        "blobs" => ("id", "x, y"),
        "rfm_sample_1000_zscore" => ("customer_id", "r, f, m"),
        other => panic!("unknown dataset {other}"),
    }
}

async fn shell_with_datasets(models: &Path) -> Shell {
    let mut shell = crate::support::shell(models);
    for name in ["iris", "rfm_sample", "blobs", "rfm_sample_1000_zscore"] {
        let path = fixture("cluster", &format!("{name}.csv"));
        query_cells(&mut shell, &format!("CREATE VIEW {name} AS SELECT * FROM '{path}'")).await;
    }
    let labels = fixture("cluster", "labels.csv");
    query_cells(&mut shell, &format!("CREATE VIEW labels AS SELECT * FROM '{labels}'")).await;
    shell
}

/// Two labellings describe the same partition: a one-to-one map takes one to the other.
fn same_partition(name: &str, expected: &HashMap<String, String>, actual: &HashMap<String, String>) {
    assert_eq!(expected.len(), actual.len(), "{name}: row count");
    let mut forward: HashMap<&str, &str> = HashMap::new();
    let mut backward: HashMap<&str, &str> = HashMap::new();
    for (id, theirs) in expected {
        let ours = actual.get(id).unwrap_or_else(|| panic!("{name}: id {id} missing"));
        assert_eq!(*forward.entry(theirs).or_insert(ours), ours.as_str(), "{name}: id {id} split from its cluster");
        assert_eq!(
            *backward.entry(ours).or_insert(theirs),
            theirs.as_str(),
            "{name}: id {id} merged into another cluster"
        );
    }
}

fn by_id(rows: Vec<Vec<String>>) -> HashMap<String, String> {
    rows.into_iter().map(|r| (r[0].clone(), r[1].clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmeans_matches_scikit_learn_from_the_same_start() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = shell_with_datasets(models.path()).await;
    let labels = fixture_rows("cluster", "kmeans_sklearn_labels.csv");
    let centers = fixture_rows("cluster", "kmeans_sklearn_centers.csv");
    for case in fixture_rows("cluster", "kmeans_sklearn.csv") {
        let (data, standardize, k) = (&case["dataset"], &case["standardize"], &case["k"]);
        let name = format!("kmeans {data} {standardize} k={k}");
        let (id, features) = dataset(data);
        let ids = case["init_ids"].replace(' ', ", ");
        let created = query_cells(
            &mut shell,
            &format!(
                "CREATE OR REPLACE MODEL parity USING kmeans (k = {k}, standardize = '{standardize}', \
                 init = (SELECT {features} FROM {data} WHERE {id} IN ({ids}) ORDER BY {id})) \
                 AS SELECT {features} FROM {data}"
            ),
        )
        .await;
        assert_close(
            &format!("{name} inertia"),
            case["inertia"].parse().unwrap(),
            created[0][5].parse().unwrap(),
            1e-9,
        );
        assert_eq!(created[0][4], case["n_iter"], "{name}: iterations");

        let ours = by_id(
            query_cells(&mut shell, &format!("SELECT {id}, kmeans_assign('parity', [{features}]) FROM {data}")).await,
        );
        let mut theirs = HashMap::new();
        for row in labels.iter().filter(|r| &r["dataset"] == data && &r["standardize"] == standardize && &r["k"] == k) {
            theirs.insert(row["id"].clone(), row["label"].clone());
        }
        same_partition(&name, &theirs, &ours);

        // Centroids in raw units, matched through the labels.
        let centroids = query_cells(&mut shell, "SELECT * FROM model_centroids('parity')").await;
        let feature_names: Vec<&str> = features.split(", ").collect();
        for row in centers.iter().filter(|r| &r["dataset"] == data && &r["standardize"] == standardize && &r["k"] == k)
        {
            let member = theirs.iter().find(|(_, l)| **l == row["center"]).map(|(id, _)| id).expect("a member");
            let cluster = &ours[member];
            let ours_row = centroids.iter().find(|c| &c[0] == cluster).expect("our cluster");
            let column = 2 + feature_names.iter().position(|f| *f == row["feature"]).expect("feature");
            assert_close(
                &format!("{name} centre {}", row["feature"]),
                row["value"].parse().unwrap(),
                ours_row[column].parse().unwrap(),
                1e-9,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_indices_match_scikit_learn() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = shell_with_datasets(models.path()).await;
    for case in fixture_rows("cluster", "validation_sklearn.csv") {
        let (data, labels_name) = (&case["dataset"], &case["labels_name"]);
        let (id, features) = dataset(data);
        let joined = format!(
            "FROM {data} d JOIN labels l ON d.{id} = l.id AND l.dataset = '{data}' AND l.labels_name = '{labels_name}'"
        );
        let got = query_cells(
            &mut shell,
            &format!(
                "SELECT silhouette([{features}], label), davies_bouldin([{features}], label), \
                 calinski_harabasz([{features}], label) {joined}"
            ),
        )
        .await;
        for (column, metric) in ["silhouette", "davies_bouldin", "calinski_harabasz"].iter().enumerate() {
            assert_close(
                &format!("{data}/{labels_name} {metric}"),
                case[*metric].parse().unwrap(),
                got[0][column].parse().unwrap(),
                1e-9,
            );
        }
        let samples = by_id(
            query_cells(&mut shell, &format!("SELECT d.{id}, silhouette_sample([{features}], label) OVER () {joined}"))
                .await,
        );
        for row in fixture_rows("cluster", "silhouette_samples.csv")
            .iter()
            .filter(|r| &r["dataset"] == data && &r["labels_name"] == labels_name)
        {
            assert_close(
                &format!("{data}/{labels_name} s({})", row["id"]),
                row["s"].parse().unwrap(),
                samples[&row["id"]].parse().unwrap(),
                1e-9,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbscan_labels_equal_scikit_learn() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = shell_with_datasets(models.path()).await;
    let all = fixture_rows("cluster", "dbscan_sklearn.csv");
    let mut cases: Vec<(String, String, String)> =
        all.iter().map(|r| (r["dataset"].clone(), r["eps"].clone(), r["min_samples"].clone())).collect();
    cases.dedup();
    assert!(cases.len() >= 5);
    for (data, eps, min_samples) in cases {
        let (id, features) = dataset(&data);
        let ours = by_id(
            query_cells(
                &mut shell,
                &format!("SELECT {id}, dbscan([{features}], {eps}, {min_samples}) OVER () FROM {data}"),
            )
            .await,
        );
        for row in all.iter().filter(|r| r["dataset"] == data && r["eps"] == eps && r["min_samples"] == min_samples) {
            assert_eq!(
                ours[&row["id"]], row["label"],
                "dbscan {data} eps={eps} min_points={min_samples} id {}",
                row["id"]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hclust_partitions_equal_scikit_learn_for_every_linkage() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = shell_with_datasets(models.path()).await;
    let all = fixture_rows("cluster", "hclust_sklearn.csv");
    let mut cases: Vec<(String, String, String)> =
        all.iter().map(|r| (r["dataset"].clone(), r["linkage"].clone(), r["k"].clone())).collect();
    cases.dedup();
    for (data, linkage, k) in cases {
        let (id, features) = dataset(&data);
        let source = if data == "rfm_sample" { "rfm_sample_1000_zscore".to_string() } else { data.clone() };
        let (id, features) = if source != data { dataset(&source) } else { (id, features) };
        let ours = by_id(
            query_cells(
                &mut shell,
                &format!("SELECT {id}, hclust([{features}], {k}, '{linkage}') OVER () FROM {source}"),
            )
            .await,
        );
        let theirs: HashMap<String, String> = all
            .iter()
            .filter(|r| r["dataset"] == data && r["linkage"] == linkage && r["k"] == k)
            .map(|r| (r["id"].clone(), r["label"].clone()))
            .collect();
        same_partition(&format!("hclust {data} {linkage} k={k}"), &theirs, &ours);
    }
}

/// SPEC 5: the same seed gives the same labels and the same model file at any thread
/// count and on every rerun. Each run gets a runtime of its own size, as `--threads` gives
/// the CLI, and the kernels are checked to see that size; the k-means input is 40,000 rows
/// (five 8,192-row chunks), so its passes really are split across the threads.
#[test]
fn models_and_labels_are_byte_identical_across_threads_and_reruns() {
    let mut files = Vec::new();
    let mut label_runs = Vec::new();
    let path = fixture("cluster", "rfm_sample.csv");
    let big = format!(
        "(SELECT customer_id * 10 + i AS customer_id, recency_days + i * 0.25 AS recency_days, frequency, \
         monetary + i AS monetary FROM '{path}' CROSS JOIN generate_series(0, 9) AS copies(i))"
    );
    for threads in [1, 2, 4, 2] {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("runtime");
        let (file, labels) = runtime.block_on(async {
            assert_eq!(segsql_udfs::common::kernel_threads().get(), threads, "kernels follow the runtime's size");
            let models = tempfile::tempdir().expect("temp dir");
            let options = SessionOptions {
                threads: Some(threads),
                memory_limit: None,
                models_dir: models.path().to_path_buf(),
                cluster: None,
            };
            let mut shell = Shell::new(&options).expect("session");
            shell.set_sink(Sink::Memory(Vec::new()));
            query_cells(
                &mut shell,
                &format!(
                    "CREATE MODEL m USING kmeans (k = 5, n_init = 3, seed = 7, standardize = 'zscore') \
                     AS SELECT recency_days, frequency, monetary FROM {big}"
                ),
            )
            .await;
            let file = std::fs::read(models.path().join("m.json")).expect("model file");
            let mut labels = query_cells(
                &mut shell,
                &format!(
                    "SELECT customer_id, kmeans([recency_days, frequency, monetary], 6, 3) OVER () AS k \
                     FROM {big} ORDER BY customer_id"
                ),
            )
            .await;
            labels.extend(
                query_cells(
                    &mut shell,
                    &format!(
                        "SELECT customer_id, dbscan([recency_days, frequency], 5, 4) OVER () AS d, \
                         silhouette_sample([recency_days, frequency], customer_id % 3) OVER () AS s \
                         FROM '{path}' ORDER BY customer_id"
                    ),
                )
                .await,
            );
            (file, labels)
        });
        files.push(file);
        label_runs.push(labels);
    }
    assert!(files.windows(2).all(|w| w[0] == w[1]), "model files differ between thread counts or runs");
    assert!(label_runs.windows(2).all(|w| w[0] == w[1]), "labels differ between thread counts or runs");
}
