//! Backslash commands: `\d`, `\set`, `\i` and friends.
//!
//! [`Command`] is the one list: parsing a line, the `\?` table and the completion names all
//! come from it, so a command cannot be added to one and forgotten in another.

mod execute;

use std::path::Path;

use crate::error::ShellError;

pub(crate) use execute::Host;
pub use execute::{LastResult, matches_pattern};

/// What to do after a statement or meta command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Every meta command. The variants are declared in the order `\?` lists them, and
/// [`Command::ALL`] is checked at compile time to hold each exactly once in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Help,
    Tables,
    Functions,
    Timing,
    Include,
    Set,
    Default,
    Unset,
    Output,
    Load,
    Format,
    MaxRows,
    Sample,
    Models,
    Chart,
    If,
    Elif,
    Else,
    EndIf,
    Echo,
    Warn,
    Quit,
}

impl Command {
    pub const ALL: [Command; 22] = [
        Command::Help,
        Command::Tables,
        Command::Functions,
        Command::Timing,
        Command::Include,
        Command::Set,
        Command::Default,
        Command::Unset,
        Command::Output,
        Command::Load,
        Command::Format,
        Command::MaxRows,
        Command::Sample,
        Command::Models,
        Command::Chart,
        Command::If,
        Command::Elif,
        Command::Else,
        Command::EndIf,
        Command::Echo,
        Command::Warn,
        Command::Quit,
    ];

    /// The name that help and completion show, then the aliases that also work.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Command::Help => &["\\?", "\\help", "\\h"],
            Command::Tables => &["\\d"],
            Command::Functions => &["\\functions", "\\df"],
            Command::Timing => &["\\timing"],
            Command::Include => &["\\i", "\\include"],
            Command::Set => &["\\set"],
            Command::Default => &["\\default"],
            Command::Unset => &["\\unset"],
            Command::Output => &["\\o", "\\out"],
            Command::Load => &["\\load"],
            Command::Format => &["\\format", "\\pset"],
            Command::MaxRows => &["\\maxrows"],
            Command::Sample => &["\\sample"],
            Command::Models => &["\\models"],
            Command::Chart => &["\\chart"],
            Command::If => &["\\if"],
            Command::Elif => &["\\elif"],
            Command::Else => &["\\else"],
            Command::EndIf => &["\\endif"],
            Command::Echo => &["\\echo"],
            Command::Warn => &["\\warn"],
            Command::Quit => &["\\q", "\\quit"],
        }
    }

    pub fn name(self) -> &'static str {
        self.names()[0]
    }

    /// Its lines in the `\?` table: usage and what it does.
    pub fn help(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Command::Help => &[("\\?", "show this help")],
            Command::Tables => &[("\\d", "list tables"), ("\\d NAME", "show the columns of a table")],
            Command::Functions => &[("\\functions [PATTERN]", "list segsql's segmentation functions with their docs")],
            Command::Timing => &[("\\timing [on|off]", "print how long each statement takes")],
            Command::Include => &[("\\i FILE", "run a script (paths are relative to the including script)")],
            Command::Set => &[("\\set [NAME [VALUE]]", "set a ${NAME} parameter, or list them all")],
            Command::Default => {
                &[("\\default NAME VALUE", "set NAME unless --param or \\set already did (script defaults)")]
            }
            Command::Unset => &[("\\unset NAME", "remove a parameter")],
            Command::Output => &[("\\o [FILE]", "send results to FILE, or back to the screen")],
            Command::Load => &[("\\load DIR", "register the Parquet/CSV/JSON files and folders in DIR as tables")],
            Command::Format => &[("\\format FORMAT", "table, csv, tsv, json, ndjson or markdown")],
            Command::MaxRows => &[("\\maxrows N|all", "rows shown by the table format")],
            Command::Sample => &[("\\sample", "describe the built-in sample data")],
            Command::Models => &[("\\models", "list the saved models (same as SHOW MODELS)")],
            Command::Chart => {
                &[("\\chart TYPE x=.. y=.. [value=..]", "draw the last result: heatmap (x, y, value) or bar (x, y)")]
            }
            Command::If => &[(
                "\\if CONDITION",
                "run what follows up to \\elif, \\else or \\endif only if CONDITION: [not] exists PATH, defined NAME, true, false",
            )],
            Command::Elif => &[("\\elif CONDITION", "the next branch of an \\if block")],
            Command::Else => &[("\\else", "the branch of an \\if block that runs when no other did")],
            Command::EndIf => &[("\\endif", "close an \\if block (in the same script)")],
            Command::Echo => &[("\\echo TEXT", "print TEXT (with ${NAME} parameters) to the output")],
            Command::Warn => &[("\\warn TEXT", "print TEXT (with ${NAME} parameters) to stderr, as a notice")],
            Command::Quit => &[("\\q", "quit")],
        }
    }

    /// Splits a meta command line (starting with `\`) into the command and its arguments.
    pub fn parse(line: &str) -> Result<(Command, &str), ShellError> {
        let line = line.trim().trim_end_matches(';').trim();
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (line, ""),
        };
        match Command::ALL.into_iter().find(|command| command.names().contains(&word)) {
            Some(command) => Ok((command, rest)),
            None => Err(ShellError::message(format!("unknown command {word}; \\? lists the commands"))),
        }
    }

    /// Runs the command with `args` on `host`; relative paths start at `base_dir`.
    pub(crate) async fn execute(self, args: &str, host: &mut impl Host, base_dir: &Path) -> Result<Flow, ShellError> {
        execute::execute(self, args, host, base_dir).await
    }
}

// ALL holds every variant once, in declaration order: a new variant that is not added
// to ALL (or one added twice) fails the build rather than going missing from the help.
const _: () = {
    let mut index = 0;
    while index < Command::ALL.len() {
        assert!(Command::ALL[index] as usize == index);
        index += 1;
    }
    assert!(Command::ALL.len() == Command::Quit as usize + 1);
};

/// The `\?` table: usage and what it does, in the order of [`Command::ALL`], closed by
/// the spelled-out help alias for those who type `\help` by habit.
pub fn help_rows() -> Vec<(&'static str, &'static str)> {
    let mut rows: Vec<_> = Command::ALL.iter().flat_map(|command| command.help().iter().copied()).collect();
    rows.push((Command::Help.names()[1], "same as \\?"));
    rows
}

/// The names alone (`\d`, `\set`, ...), for completion.
pub fn command_names() -> Vec<&'static str> {
    Command::ALL.iter().map(|command| command.name()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn patterns() {
        assert!(matches_pattern("kmeans_assign", "kmeans"));
        assert!(matches_pattern("kmeans_assign", "KMEANS*"));
        assert!(matches_pattern("kmeans_assign", "*assign"));
        assert!(matches_pattern("rfm_segment", "r*seg*"));
        assert!(!matches_pattern("rfm_segment", "*kmeans*"));
        assert!(!matches_pattern("rfm", "rfm_*"));
    }

    #[test]
    fn command_names_are_unique_and_backslashed() {
        let every_name: Vec<&str> = Command::ALL.iter().flat_map(|command| command.names().iter().copied()).collect();
        let mut seen = HashSet::new();
        let repeated: Vec<&str> = every_name.iter().copied().filter(|name| !seen.insert(*name)).collect();
        assert!(repeated.is_empty(), "names used by more than one command: {repeated:?}");
        assert!(every_name.iter().all(|n| n.starts_with('\\') && n.len() > 1), "{every_name:?}");
        let shown = command_names();
        assert_eq!(shown.iter().collect::<HashSet<_>>().len(), shown.len(), "{shown:?}");
        assert!(shown.contains(&"\\functions"));
    }

    #[test]
    fn every_help_line_starts_with_a_name_of_its_command() {
        for command in Command::ALL {
            for (usage, _) in command.help() {
                let word = usage.split(' ').next().unwrap_or(usage);
                assert!(command.names().contains(&word), "{usage} is listed under {command:?}");
            }
        }
    }

    #[test]
    fn the_help_table_is_the_one_users_know() {
        let usages: Vec<&str> = help_rows().iter().map(|(usage, _)| *usage).collect();
        assert_eq!(usages.first(), Some(&"\\?"));
        assert_eq!(usages.last(), Some(&"\\help"));
        assert_eq!(usages.len(), 24);
    }

    #[test]
    fn lines_parse_into_commands() {
        assert_eq!(Command::parse("\\d sample.orders;").unwrap(), (Command::Tables, "sample.orders"));
        assert_eq!(Command::parse("\\help").unwrap(), (Command::Help, ""));
        assert_eq!(Command::parse("  \\set as_of 2025-06-30 ").unwrap(), (Command::Set, "as_of 2025-06-30"));
        let error = Command::parse("\\nope x").unwrap_err().to_string();
        assert_eq!(error, "unknown command \\nope; \\? lists the commands");
    }
}
