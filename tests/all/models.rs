//! Model files on disk: damaged and newer-format files, `SHOW MODELS` / `\models` with a
//! broken file, and rescoring after a file changes.

async fn error_of(shell: &mut segsql::script::Shell, sql: &str) -> String {
    match shell.execute_collect(sql).await {
        Ok(_) => panic!("{sql} should fail"),
        Err(e) => e.to_string(),
    }
}

async fn rows(shell: &mut segsql::script::Shell, sql: &str) -> Vec<Vec<String>> {
    let outputs = shell.execute_collect(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    segsql::output::cells(&outputs.last().expect("a result").batches).expect("cells")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_and_newer_model_files_are_clear_errors() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    std::fs::write(models.path().join("broken.json"), "{ not json").unwrap();
    let err = error_of(&mut shell, "SELECT kmeans_assign('broken', [1.0])").await;
    assert!(err.contains("kmeans_assign: model 'broken'") && err.contains("is not a segsql model file"), "{err}");
    assert!(err.contains("recreate it with CREATE OR REPLACE MODEL"), "{err}");

    std::fs::write(models.path().join("future.json"), r#"{"format_version": 7, "features": []}"#).unwrap();
    let err = error_of(&mut shell, "SELECT * FROM model_centroids('future')").await;
    assert!(
        err.contains("written by a newer segsql (model format 7; this segsql reads up to 1): upgrade segsql"),
        "{err}"
    );

    // A file whose parts do not fit together is refused before scoring can go wrong.
    rows(&mut shell, "CREATE MODEL good USING kmeans (k = 1) AS SELECT 1.0 AS a, 2.0 AS b").await;
    let path = models.path().join("good.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(models.path().join("cut.json"), text.replacen("\"b\"", "\"b\", \"c\"", 1)).unwrap();
    let err = error_of(&mut shell, "SELECT kmeans_assign('cut', [1.0, 2.0, 3.0])").await;
    assert!(err.contains("damaged"), "{err}");

    // SHOW MODELS lists every file and says what is wrong with the broken ones.
    let listed = rows(&mut shell, "SHOW MODELS").await;
    let status: Vec<(&str, &str)> = listed.iter().map(|r| (r[0].as_str(), r[r.len() - 1].as_str())).collect();
    assert_eq!(status.iter().map(|s| s.0).collect::<Vec<_>>(), vec!["broken", "cut", "future", "good"]);
    assert_eq!(status[3].1, "ok");
    assert!(status[0].1.contains("not a segsql model file"), "{listed:?}");

    // \models prints the same listing.
    let chunk = segsql::script::splitter::Chunk {
        kind: segsql::script::splitter::ChunkKind::Meta,
        text: "\\models".to_string(),
        line: 1,
    };
    shell.run_chunk(&chunk, &segsql::script::Origin::Interactive).await.expect("\\models runs");
    let segsql::output::Sink::Memory(printed) = shell.sink() else { panic!("memory sink") };
    let printed = String::from_utf8_lossy(printed);
    assert!(printed.contains("good") && printed.contains("broken"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_rereads_a_model_that_changed() {
    let models = tempfile::tempdir().expect("temp dir");
    let mut shell = crate::support::shell(models.path());
    rows(&mut shell, "CREATE MODEL m USING kmeans (k = 1) AS SELECT 0.0 AS a").await;
    assert_eq!(rows(&mut shell, "SELECT kmeans_distance('m', [3.0])").await[0][0], "3.0");
    rows(&mut shell, "CREATE OR REPLACE MODEL m USING kmeans (k = 1) AS SELECT 1.0 AS a").await;
    assert_eq!(rows(&mut shell, "SELECT kmeans_distance('m', [3.0])").await[0][0], "2.0");
}
