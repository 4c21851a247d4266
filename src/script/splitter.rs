//! Splits a script into statements and meta commands.
//!
//! Semicolons inside string literals, quoted identifiers and comments do not end a
//! statement. A backslash at the start of a statement begins a meta command that runs to
//! the end of its line, as in psql. Each piece remembers the line of its first token so
//! that errors can say `FILE:LINE`.

/// What a piece of a script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// A SQL statement, without its terminating semicolon.
    Sql,
    /// A backslash command such as `\set as_of 2025-06-30`.
    Meta,
}

/// One statement or meta command of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub kind: ChunkKind,
    /// The text, including comments that precede the statement (chart annotations live there).
    pub text: String,
    /// 1-based line of the first token.
    pub line: usize,
}

/// The result of splitting: complete chunks, and trailing SQL that has no `;` yet.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub chunks: Vec<Chunk>,
    pub trailing: Option<Chunk>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    SingleQuote,
    DoubleQuote,
    LineComment,
    BlockComment,
}

/// Splits `source` into chunks.
pub fn split(source: &str) -> Split {
    let bytes = source.as_bytes();
    let mut split = Split::default();
    let mut state = State::Normal;
    let mut chunk_start = 0;
    // Line and offset of the first token of the current chunk, once one has been seen.
    let mut first_token: Option<(usize, usize)> = None;
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            State::Normal => match byte {
                b'-' if next == Some(b'-') => {
                    state = State::LineComment;
                    i += 1;
                }
                b'/' if next == Some(b'*') => {
                    state = State::BlockComment;
                    i += 1;
                }
                b';' => {
                    if let Some((token_line, _)) = first_token {
                        split.chunks.push(Chunk {
                            kind: ChunkKind::Sql,
                            text: source[chunk_start..i].trim().to_string(),
                            line: token_line,
                        });
                    }
                    chunk_start = i + 1;
                    first_token = None;
                }
                b'\\' if first_token.is_none() => {
                    let end = source[i..].find('\n').map_or(source.len(), |n| i + n);
                    split.chunks.push(Chunk { kind: ChunkKind::Meta, text: source[i..end].trim().to_string(), line });
                    // The newline itself is handled by the main loop so the line count stays right.
                    i = end;
                    chunk_start = end;
                    continue;
                }
                _ => {
                    if !byte.is_ascii_whitespace() && first_token.is_none() {
                        first_token = Some((line, i));
                    }
                    match byte {
                        b'\'' => state = State::SingleQuote,
                        b'"' => state = State::DoubleQuote,
                        _ => {}
                    }
                }
            },
            // A doubled quote inside a literal closes and reopens it, which this handles for free.
            State::SingleQuote if byte == b'\'' => state = State::Normal,
            State::DoubleQuote if byte == b'"' => state = State::Normal,
            State::LineComment if byte == b'\n' => state = State::Normal,
            State::BlockComment if byte == b'*' && next == Some(b'/') => {
                state = State::Normal;
                i += 1;
            }
            _ => {}
        }
        if byte == b'\n' {
            line += 1;
        }
        i += 1;
    }
    if let Some((token_line, _)) = first_token {
        split.trailing =
            Some(Chunk { kind: ChunkKind::Sql, text: source[chunk_start..].trim().to_string(), line: token_line });
    }
    split
}

/// True when `input` ends inside a statement that still needs its `;`.
///
/// The REPL keeps reading lines while this holds.
pub fn needs_more_input(input: &str) -> bool {
    split(input).trailing.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<(ChunkKind, String, usize)> {
        split(source).chunks.into_iter().map(|c| (c.kind, c.text, c.line)).collect()
    }

    #[test]
    fn splits_on_semicolons() {
        assert_eq!(
            texts("SELECT 1;\nSELECT 2;"),
            vec![(ChunkKind::Sql, "SELECT 1".into(), 1), (ChunkKind::Sql, "SELECT 2".into(), 2)]
        );
    }

    #[test]
    fn semicolons_in_strings_and_comments_do_not_split() {
        let source = "SELECT 'a;b', \"c;d\" -- e;f\n/* g;\nh */ FROM t;\nSELECT 'it''s; ok';";
        let chunks = texts(source);
        assert_eq!(chunks.len(), 2);
        assert!(chunks[0].1.ends_with("FROM t"));
        assert_eq!(chunks[1], (ChunkKind::Sql, "SELECT 'it''s; ok'".into(), 4));
    }

    #[test]
    fn line_is_the_first_token_not_the_leading_comment() {
        let chunks = split("SELECT 1;\n\n-- about the next one\n\n  SELECT\n 2;").chunks;
        assert_eq!(chunks[1].line, 5);
        assert!(chunks[1].text.starts_with("-- about the next one"));
    }

    #[test]
    fn meta_commands_run_to_end_of_line() {
        assert_eq!(
            texts("\\set x 1\nSELECT ${x};\n  \\timing on\n"),
            vec![
                (ChunkKind::Meta, "\\set x 1".into(), 1),
                (ChunkKind::Sql, "SELECT ${x}".into(), 2),
                (ChunkKind::Meta, "\\timing on".into(), 3),
            ]
        );
    }

    #[test]
    fn backslash_inside_a_statement_is_not_a_meta_command() {
        let chunks = texts("SELECT\n'a\\b';");
        assert_eq!(chunks, vec![(ChunkKind::Sql, "SELECT\n'a\\b'".into(), 1)]);
    }

    #[test]
    fn trailing_statement_without_semicolon() {
        let result = split("SELECT 1; SELECT 2");
        assert_eq!(result.chunks.len(), 1);
        assert_eq!(result.trailing.map(|c| c.text), Some("SELECT 2".into()));
        assert!(split("SELECT 1; -- done\n").trailing.is_none());
    }

    #[test]
    fn empty_statements_are_skipped() {
        assert!(texts(";;  ;\n-- only a comment\n;").is_empty());
    }

    #[test]
    fn needs_more_input_inside_open_string() {
        assert!(needs_more_input("SELECT 'abc;"));
        assert!(needs_more_input("SELECT 1"));
        assert!(!needs_more_input("SELECT 1;"));
        assert!(!needs_more_input("\\d"));
        assert!(!needs_more_input("  "));
        assert!(needs_more_input("SELECT /* ; */ 1"));
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        assert_eq!(texts("SELECT 'é;ü';"), vec![(ChunkKind::Sql, "SELECT 'é;ü'".into(), 1)]);
    }
}
