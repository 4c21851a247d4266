//! How many statements a run will execute, counted before it starts, for the `[17/42]` of
//! the progress line on a terminal.
//!
//! The count reads the scripts as the run will: it follows `\i`, keeps the parameters that
//! `\set`, `\default` and `\unset` change, and takes the `\if` branches their conditions
//! choose. A condition can only be wrong here when a statement of the same run creates
//! the file an `\if exists` asks about; the progress line then grows its total as it goes.

use std::collections::BTreeMap;
use std::path::Path;

use super::conditional::{Conditionals, Directive};
use super::shell::{Origin, read_script};
use super::splitter::{self, ChunkKind};
use crate::command::Command;

/// Deeper than this the run itself stops with an error; so does the count.
const MAX_DEPTH: usize = 16;

/// The SQL statements (chunks of SQL text) that running `sources` in order will execute.
pub fn count(sources: &[(String, Origin)], params: &BTreeMap<String, String>) -> usize {
    let mut params = params.clone();
    sources.iter().map(|(source, origin)| count_script(source, &origin.base_dir(), &mut params, 0)).sum()
}

fn count_script(source: &str, base_dir: &Path, params: &mut BTreeMap<String, String>, depth: usize) -> usize {
    let split = splitter::split(source);
    let mut blocks = Conditionals::default();
    let mut statements = 0;
    for chunk in split.chunks.into_iter().chain(split.trailing) {
        if chunk.kind == ChunkKind::Sql {
            statements += usize::from(blocks.active());
            continue;
        }
        let Ok((command, args)) = Command::parse(&chunk.text) else { continue };
        if let Some(directive) = Directive::of(command, args) {
            // The run stops at a bad directive; what was counted so far is the total.
            if blocks.apply(directive, params).is_err() {
                return statements;
            }
            continue;
        }
        if !blocks.active() {
            continue;
        }
        match command {
            Command::Include if depth + 1 < MAX_DEPTH && !args.is_empty() => {
                let path = Path::new(args);
                let path = if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) };
                if let Ok(included) = read_script(&path) {
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    statements += count_script(&included, &dir, params, depth + 1);
                }
            }
            Command::Set | Command::Default => {
                let (name, value) = super::params::assignment(args);
                if !name.is_empty() && (command == Command::Set || !params.contains_key(name)) {
                    params.insert(name.to_string(), value.to_string());
                }
            }
            Command::Unset => {
                params.remove(args);
            }
            _ => {}
        }
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(source: &str, params: &[(&str, &str)]) -> usize {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        count(&[(source.to_string(), Origin::Command)], &params)
    }

    #[test]
    fn statements_in_branches_not_taken_are_not_counted() {
        let script = "SELECT 1; \\if defined key\nSELECT 2; SELECT 3;\n\\else\nSELECT 4;\n\\endif\nSELECT 5;";
        assert_eq!(counted(script, &[]), 3);
        assert_eq!(counted(script, &[("key", "x")]), 4);
    }

    #[test]
    fn set_default_and_unset_change_later_conditions() {
        let guarded = "\\if not defined done\nSELECT 1;\n\\set done true\n\\endif\n";
        assert_eq!(counted(&guarded.repeat(3), &[]), 1);
        let reset = format!("{guarded}\\unset done\n{guarded}");
        assert_eq!(counted(&reset, &[]), 2);
        assert_eq!(counted("\\default key x\n\\if defined key\nSELECT 1;\n\\endif", &[]), 1);
    }

    #[test]
    fn includes_are_followed_relative_to_the_including_script() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/inner.sql"), "SELECT 1; SELECT 2;").unwrap();
        std::fs::write(dir.path().join("sub/outer.sql"), "\\i inner.sql\nSELECT 3;").unwrap();
        let main = dir.path().join("main.sql");
        std::fs::write(&main, "\\i sub/outer.sql\n\\i sub/outer.sql\n\\i missing.sql\nSELECT 4").unwrap();
        let source = std::fs::read_to_string(&main).unwrap();
        assert_eq!(count(&[(source, Origin::File(main))], &BTreeMap::new()), 7);
    }

    #[test]
    fn a_script_including_itself_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loop.sql");
        std::fs::write(&path, "SELECT 1;\n\\i loop.sql\n").unwrap();
        let source = std::fs::read_to_string(&path).unwrap();
        assert_eq!(count(&[(source, Origin::File(path))], &BTreeMap::new()), MAX_DEPTH);
    }
}
