//! ARCHITECTURE.md's rules, checked: `segsql-algo` depends on no DataFusion or Arrow crate,
//! and inside `segsql-udfs` the lower layers never import the layers above them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Package name -> dependency names, from Cargo.lock.
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let mut graph = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_string())
            .expect("a package has a name");
        let deps = match package.find("dependencies = [") {
            Some(start) => package[start..]
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with(']'))
                .filter_map(|l| l.trim().trim_matches(',').trim_matches('"').split(' ').next().map(str::to_string))
                .collect(),
            None => vec![],
        };
        graph.entry(name).or_insert_with(Vec::new).extend(deps);
    }
    graph
}

#[test]
fn the_algorithm_crate_has_no_datafusion_or_arrow_in_its_tree() {
    let graph = lock_graph();
    let mut seen = BTreeSet::new();
    let mut todo = vec!["segsql-algo".to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).cloned().unwrap_or_default());
        }
    }
    assert!(seen.len() > 5, "segsql-algo's tree was not found in Cargo.lock: {seen:?}");
    let forbidden: Vec<&String> =
        seen.iter().filter(|n| n.starts_with("datafusion") || n.starts_with("arrow") || *n == "parquet").collect();
    assert!(forbidden.is_empty(), "segsql-algo depends on {forbidden:?}");
}

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("source")));
        }
    }
    out
}

#[test]
fn lower_layers_of_the_udfs_crate_never_import_upper_ones() {
    let udfs = root().join("udfs/src");
    let families = ["rfm", "cohort", "cluster", "model", "stats", "registry", "plan"];
    let mut wrong = Vec::new();
    let mut lower: Vec<(String, String)> = sources(&udfs.join("internal"));
    lower.extend(sources(&udfs.join("common")));
    let plan = udfs.join("plan.rs");
    lower.push((plan.display().to_string(), std::fs::read_to_string(&plan).expect("plan.rs")));
    {
        for (path, text) in lower {
            let layer = if path.contains("/common/") { "common" } else { "internal or plan" };
            // Code, not doc links: the lines that are not comments.
            let code: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for family in families {
                let grouped = code.contains("use crate::{") && code.contains(&format!(" {family},"));
                if code.contains(&format!("crate::{family}::"))
                    || code.contains(&format!("crate::{family};"))
                    || grouped
                {
                    wrong.push(format!("{path} imports crate::{family}"));
                }
            }
            if layer == "common" && code.contains("crate::internal::") {
                wrong.push(format!("{path} imports crate::internal"));
            }
        }
    }
    for leaf in ["function.rs", "options.rs"] {
        let text = std::fs::read_to_string(udfs.join(leaf)).expect("leaf module");
        if text.contains("crate::") {
            wrong.push(format!("{leaf} is a leaf and imports segsql code"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_the_session_room_calls_the_udfs_crate() {
    let callers: Vec<String> = sources(&root().join("src"))
        .into_iter()
        .filter(|(path, text)| {
            !path.ends_with("session.rs") && !path.ends_with("lib.rs") && text.contains("segsql_udfs::")
        })
        .map(|(path, _)| path)
        .collect();
    assert!(callers.is_empty(), "call segsql_udfs through src/session.rs: {callers:?}");
}
