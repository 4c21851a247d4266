//! `\if`, `\elif`, `\else`, `\endif` in scripts, as psql has them, with conditions a report
//! needs: `exists PATH` (a file or folder, such as last week's export), `defined NAME` (a
//! parameter, such as an optional key), `true`/`false`, each optionally preceded by `not`.
//! A block opens and closes in the same script; statements in a branch not taken are
//! skipped without being parsed or substituted, so they may use parameters that are not
//! defined.

use std::collections::BTreeMap;
use std::path::Path;

use super::params;
use crate::command::Command;
use crate::error::ShellError;

/// One of the four directives, with its condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    If(String),
    Elif(String),
    Else,
    EndIf,
}

impl Directive {
    /// The directive a parsed meta command is, if it is one.
    pub fn of(command: Command, args: &str) -> Option<Directive> {
        match command {
            Command::If => Some(Directive::If(args.to_string())),
            Command::Elif => Some(Directive::Elif(args.to_string())),
            Command::Else => Some(Directive::Else),
            Command::EndIf => Some(Directive::EndIf),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Block {
    /// The branch being read runs.
    active: bool,
    /// A branch of this block has run (or the whole block is skipped).
    done: bool,
    seen_else: bool,
}

/// The open blocks of one script.
#[derive(Debug, Default)]
pub struct Conditionals {
    stack: Vec<Block>,
}

impl Conditionals {
    /// True when statements at this point run.
    pub fn active(&self) -> bool {
        self.stack.last().is_none_or(|block| block.active)
    }

    /// Applies a directive; conditions are evaluated only where they could matter.
    pub fn apply(&mut self, directive: Directive, params: &BTreeMap<String, String>) -> Result<(), ShellError> {
        match directive {
            Directive::If(condition) => {
                let outer = self.active();
                // A condition that cannot be evaluated opens a block that runs no branch, so
                // that with --continue-on-error neither the block nor its \else runs.
                let holds = if outer { evaluate("\\if", &condition, params) } else { Ok(false) };
                let taken = *holds.as_ref().unwrap_or(&false);
                self.stack.push(Block { active: taken, done: taken || !outer || holds.is_err(), seen_else: false });
                holds?;
            }
            Directive::Elif(condition) => {
                let block = self.top("\\elif")?;
                if block.seen_else {
                    return Err(ShellError::message("\\elif after \\else; put every \\elif before the \\else"));
                }
                let holds = if block.done { Ok(false) } else { evaluate("\\elif", &condition, params) };
                let taken = *holds.as_ref().unwrap_or(&false);
                let block = self.top_mut();
                block.active = taken;
                block.done |= taken || holds.is_err();
                holds?;
            }
            Directive::Else => {
                let block = self.top("\\else")?;
                if block.seen_else {
                    return Err(ShellError::message("\\else twice in one \\if block"));
                }
                let block = self.top_mut();
                block.active = !block.done;
                block.done = true;
                block.seen_else = true;
            }
            Directive::EndIf => {
                self.top("\\endif")?;
                self.stack.pop();
            }
        }
        Ok(())
    }

    /// An error when the script ended inside a block.
    pub fn finish(&self) -> Result<(), ShellError> {
        match self.stack.len() {
            0 => Ok(()),
            n => Err(ShellError::message(format!(
                "{n} \\if block(s) not closed; end each with \\endif in the same script"
            ))),
        }
    }

    fn top(&self, directive: &str) -> Result<Block, ShellError> {
        self.stack.last().copied().ok_or_else(|| ShellError::message(format!("{directive} without \\if")))
    }

    fn top_mut(&mut self) -> &mut Block {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }
}

/// `[not] exists PATH | defined NAME | true | false`, after `${...}` substitution (except
/// the name of `defined`).
pub fn evaluate(directive: &str, condition: &str, params: &BTreeMap<String, String>) -> Result<bool, ShellError> {
    let usage = || {
        ShellError::message(format!(
            "{directive}: expected a condition: exists PATH, defined NAME, true or false (each may start with not), got '{condition}'"
        ))
    };
    let text = condition.trim();
    let (negate, text) = match text.strip_prefix("not ") {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let (word, rest) = text.split_once(char::is_whitespace).map_or((text, ""), |(w, r)| (w, r.trim()));
    let holds = match word.to_ascii_lowercase().as_str() {
        "defined" if params::is_valid_name(rest) => params.contains_key(rest),
        "exists" if !rest.is_empty() => {
            let path = params::substitute(rest, params)?;
            let path = path.trim().trim_matches('\'');
            Path::new(path).exists()
        }
        "true" | "on" | "1" if rest.is_empty() => true,
        "false" | "off" | "0" if rest.is_empty() => false,
        _ => return Err(usage()),
    };
    Ok(holds != negate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], params: &BTreeMap<String, String>) -> Result<Vec<usize>, ShellError> {
        let mut blocks = Conditionals::default();
        let mut ran = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with('\\') {
                let (command, args) = Command::parse(line)?;
                if let Some(directive) = Directive::of(command, args) {
                    blocks.apply(directive, params)?;
                    continue;
                }
            }
            if blocks.active() {
                ran.push(i);
            }
        }
        blocks.finish()?;
        Ok(ran)
    }

    #[test]
    fn branches_run_as_in_psql() {
        let params = BTreeMap::from([("key".to_string(), "x".to_string())]);
        let script = ["\\if defined key", "a", "\\elif true", "b", "\\else", "c", "\\endif", "d"];
        assert_eq!(run(&script, &params).unwrap(), vec![1, 7]);
        assert_eq!(run(&script, &BTreeMap::new()).unwrap(), vec![3, 7]);
        let nested = ["\\if false", "\\if true", "a", "\\endif", "\\else", "b", "\\endif"];
        assert_eq!(run(&nested, &params).unwrap(), vec![5]);
        assert_eq!(run(&["\\if not exists '/no/such/file'", "a", "\\endif"], &params).unwrap(), vec![1]);
    }

    #[test]
    fn a_branch_not_taken_may_name_undefined_parameters() {
        let script = ["\\if false", "\\if exists '${nowhere}/x'", "a", "\\endif", "\\endif"];
        assert_eq!(run(&script, &BTreeMap::new()).unwrap(), Vec::<usize>::new());
        let error = run(&["\\if exists '${nowhere}'", "\\endif"], &BTreeMap::new()).unwrap_err().to_string();
        assert!(error.contains("undefined parameter ${nowhere}"), "{error}");
    }

    #[test]
    fn a_condition_that_fails_runs_no_branch() {
        let mut blocks = Conditionals::default();
        let none = BTreeMap::new();
        assert!(blocks.apply(Directive::If("exists '${nope}'".into()), &none).is_err());
        assert!(!blocks.active());
        blocks.apply(Directive::Else, &none).unwrap();
        assert!(!blocks.active(), "the \\else of a failed \\if must not run either");
        blocks.apply(Directive::EndIf, &none).unwrap();
        assert!(blocks.active());
    }

    #[test]
    fn mistakes_are_named() {
        let none = BTreeMap::new();
        let message = |lines: &[&str]| run(lines, &none).unwrap_err().to_string();
        assert_eq!(message(&["\\endif"]), "\\endif without \\if");
        assert_eq!(message(&["\\if true"]), "1 \\if block(s) not closed; end each with \\endif in the same script");
        assert!(message(&["\\if maybe", "\\endif"]).starts_with("\\if: expected a condition"));
        assert_eq!(
            message(&["\\if true", "\\else", "\\elif true", "\\endif"]),
            "\\elif after \\else; put every \\elif before the \\else"
        );
    }
}
