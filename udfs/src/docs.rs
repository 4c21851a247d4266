//! Markdown rendering of the functions' in-code documentation.
//!
//! `docs/functions.md` and the README's function table are generated from here, and a
//! test fails when either is stale.

use std::fmt::Write;

use crate::function::{InternalFunction, SegFunction};

/// The first sentence of a description: the one-line summary used in listings.
pub fn summary(description: &str) -> &str {
    let text = description.trim();
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// The README table: one row per function with its one-line summary.
pub fn markdown_table(functions: &[SegFunction]) -> String {
    let mut out = String::from("| function | kind | what it does |\n|---|---|---|\n");
    for function in functions {
        let description = function.documentation().map(|d| d.description.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "| [`{name}`](docs/functions.md#{anchor}) | {kind} | {summary} |",
            name = function.name(),
            anchor = function.name().to_lowercase().replace(' ', "-"),
            kind = function.kind(),
            summary = summary(description).replace('|', "\\|").replace('\n', " "),
        );
    }
    out
}

/// The internal functions, as an appendix to the reference: registered so plans travel,
/// called by the table functions, not meant to be called by hand.
pub fn markdown_internal(functions: &[InternalFunction]) -> String {
    let mut out = String::from(
        "\n## Internal functions\n\nThe building blocks the table functions plan with. `register_all` registers them so \
         that a plan calling them can be decoded by name anywhere (a distributed worker, another binding); their \
         arguments may change between versions, so call the public functions above instead.\n\n\
         | function | kind | what it does |\n|---|---|---|\n",
    );
    for internal in functions {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            internal.syntax.replace('|', "\\|"),
            internal.function.kind(),
            internal.purpose.replace('|', "\\|")
        );
    }
    out
}

/// The full reference: description, syntax, arguments and example of every function.
pub fn markdown_reference(functions: &[SegFunction]) -> String {
    let mut out = String::from(
        "# segsql functions\n\n<!-- Generated from the in-code docs by `SEGSQL_BLESS=1 cargo test`; do not edit. -->\n",
    );
    if functions.is_empty() {
        out.push_str("\nNo segmentation functions are registered yet.\n");
    }
    for function in functions {
        let _ = write!(out, "\n## {}\n\n*{} function*\n\n", function.name(), function.kind());
        let Some(doc) = function.documentation() else {
            continue;
        };
        let _ = write!(out, "{}\n\n```sql\n{}\n```\n", doc.description.trim(), doc.syntax_example);
        if let Some(arguments) = &doc.arguments {
            out.push_str("\n| argument | meaning |\n|---|---|\n");
            for (name, meaning) in arguments {
                let _ = writeln!(out, "| `{name}` | {} |", meaning.replace('|', "\\|"));
            }
        }
        if let Some(example) = &doc.sql_example {
            let _ = write!(out, "\nExample:\n\n```sql\n{}\n```\n", example.trim());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_the_first_sentence() {
        assert_eq!(summary("Scores x. Then more."), "Scores x.");
        assert_eq!(summary("  One sentence only  "), "One sentence only");
        assert_eq!(summary("Uses 1.5 bins. More."), "Uses 1.5 bins.");
    }

    #[test]
    fn empty_registry_renders() {
        assert!(markdown_reference(&[]).contains("No segmentation functions"));
        assert_eq!(markdown_table(&[]).lines().count(), 2);
    }
}
