//! Every registered function is exercised by the sqllogictest files: a new function without
//! its `.slt` coverage fails here, naming it.

use std::path::Path;

fn slt_text(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("tests/slt is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            slt_text(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            // Statements and queries only: a function named in a comment is not covered.
            let text = std::fs::read_to_string(&path).expect("slt file").to_lowercase();
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        }
    }
}

#[test]
fn every_registered_function_has_slt_coverage() {
    let mut text = String::new();
    slt_text(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt"), &mut text);
    let uncovered: Vec<String> = segsql_udfs::functions()
        .iter()
        .map(|f| f.name().to_lowercase())
        .filter(|name| {
            // A call (`rfm(`) for functions, the statement's words for statements.
            let call = format!("{name}(");
            if name.contains(' ') { !text.contains(name.as_str()) } else { !text.contains(&call) }
        })
        .collect();
    assert!(uncovered.is_empty(), "functions with no .slt coverage under tests/slt: {}", uncovered.join(", "));
}

// The internal `segsql_*` functions run inside the table functions; the plan round-trip
// test checks that each appears in one of its plans (roundtrip.rs).
