//! The function docs: generated files are current and every example runs.

use std::path::Path;

use segsql::script::Origin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compares a generated file with the checked-in one; `SEGSQL_BLESS=1` rewrites it.
fn check_generated(path: &Path, expected: &str) {
    if std::env::var_os("SEGSQL_BLESS").is_some() {
        std::fs::write(path, expected).expect("write generated file");
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale: run `SEGSQL_BLESS=1 cargo test --test all docs` and commit the result",
        path.display()
    );
}

#[test]
fn functions_reference_is_current() {
    let functions = segsql_udfs::functions();
    let mut reference = segsql_udfs::docs::markdown_reference(&functions);
    reference.push_str(&segsql_udfs::docs::markdown_internal(&segsql_udfs::internal_functions()));
    check_generated(&root().join("docs/functions.md"), &reference);
}

#[test]
fn readme_function_table_is_current() {
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md exists");
    let (start, end) = ("<!-- functions:start -->\n", "<!-- functions:end -->");
    let from = readme.find(start).expect("README has the functions:start marker") + start.len();
    let to = readme.find(end).expect("README has the functions:end marker");
    let table = segsql_udfs::docs::markdown_table(&segsql_udfs::functions());
    let expected = format!("{}{}{}", &readme[..from], table, &readme[to..]);
    check_generated(&readme_path, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_example_runs() {
    for function in segsql_udfs::functions() {
        let Some(example) = function.documentation().and_then(|d| d.sql_example.clone()) else {
            continue;
        };
        let models = tempfile::tempdir().expect("temp dir");
        let mut shell = crate::support::shell(models.path());
        let result = shell.run_script(&example, &Origin::Command).await;
        assert!(result.is_ok(), "the example of {} fails:\n{example}", function.name());
    }
}
