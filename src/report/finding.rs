//! Computed findings: a comment line before a statement such as
//! `-- @finding "{segment} brings {revenue_share:percent} of revenue"` states a fact from the
//! statement's result, so an executive summary is written by the data rather than by hand.
//! `{column}` reads the first row; `@finding each "..."` states one line per row.

use super::annotation::NumberFormat;
use super::svg::format_number;

/// One `@finding` template.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// One line per row (`@finding each`) rather than one from the first row.
    pub each: bool,
    pieces: Vec<Piece>,
    /// The template as written, for messages.
    template: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field { column: String, format: Option<NumberFormat> },
}

const USAGE: &str = "write -- @finding \"text with {column} or {column:percent|currency|number}\", \
                     or -- @finding each \"...\" for one line per row";

impl Finding {
    /// Parses the text after `@finding`.
    pub fn parse(text: &str) -> Result<Finding, String> {
        let text = text.trim();
        let (each, rest) = match text.strip_prefix("each") {
            Some(rest) if rest.starts_with(char::is_whitespace) => (true, rest.trim()),
            _ => (false, text),
        };
        let template = rest
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("@finding: the template must be in double quotes; {USAGE}"))?;
        Ok(Finding { each, pieces: pieces(template)?, template: template.to_string() })
    }

    /// The columns the template reads, in order.
    pub fn columns(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field { column, .. } => Some(column.as_str()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// Every column the template names must be in the result (checked before it runs).
    pub fn check(&self, header: &[String]) -> Result<(), String> {
        for column in self.columns() {
            if !header.iter().any(|h| h == column) {
                return Err(format!(
                    "@finding: column '{column}' is not in the result; its columns are {}",
                    header.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The finding's lines: one from the first row, or one per row with `each`. An empty
    /// result gives a line that says so, naming the statement, rather than no line at all:
    /// a summary must not silently lose a point.
    pub fn render(&self, header: &[String], rows: &[Vec<String>], title: Option<&str>) -> Vec<String> {
        if rows.is_empty() {
            return vec![match title {
                Some(title) => format!("{title}: no rows, so nothing to state"),
                None => format!("No rows for the finding \"{}\"", self.template),
            }];
        }
        let take = if self.each { rows.len() } else { 1 };
        rows.iter().take(take).map(|row| self.line(header, row)).collect()
    }

    fn line(&self, header: &[String], row: &[String]) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field { column, format } => {
                    let cell = header.iter().position(|h| h == column).and_then(|i| row.get(i));
                    out.push_str(&cell_text(cell.map(String::as_str), *format));
                }
            }
        }
        out
    }
}

/// A cell as a finding states it: `n/a` for NULL, numbers in the format asked for, text as is.
fn cell_text(cell: Option<&str>, format: Option<NumberFormat>) -> String {
    match (cell, format) {
        (None | Some("NULL"), _) => "n/a".to_string(),
        (Some(cell), Some(format)) => match cell.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => format_number(value, format),
            _ => cell.to_string(),
        },
        (Some(cell), None) => cell.to_string(),
    }
}

/// Splits a template into text and `{column[:format]}` fields; `{{` and `}}` are braces.
fn pieces(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err(format!("@finding: a '{{' is not closed in \"{template}\"; {USAGE}")),
                    }
                }
                let (column, format) = match field.split_once(':') {
                    Some((column, format)) => {
                        let parsed = NumberFormat::parse(format).ok_or_else(|| {
                            format!(
                                "@finding: unknown format '{}' in {{{field}}}; use percent, currency or number",
                                format.trim()
                            )
                        })?;
                        (column.trim(), Some(parsed))
                    }
                    None => (field.trim(), None),
                };
                if column.is_empty() {
                    return Err(format!("@finding: an empty {{}} in \"{template}\"; name a column: {{revenue}}"));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field { column: column.to_string(), format });
            }
            '}' => return Err(format!("@finding: a '}}' without its '{{' in \"{template}\"; write }}}} for a brace")),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn fills_columns_from_the_first_row_in_their_formats() {
        let finding = Finding::parse(
            r#""{segment} bring {share:percent} of {revenue:currency} from {customers:number} customers""#,
        )
        .unwrap();
        assert!(!finding.each);
        assert_eq!(finding.columns(), vec!["segment", "share", "revenue", "customers"]);
        let header = strings(&["segment", "share", "revenue", "customers"]);
        let rows =
            vec![strings(&["Champions", "0.4321", "1234567.891", "15230"]), strings(&["Loyal", "0.2", "1", "2"])];
        assert_eq!(
            finding.render(&header, &rows, None),
            vec!["Champions bring 43.2% of $1,234,568 from 15,230 customers"]
        );
    }

    #[test]
    fn each_states_every_row_and_nulls_read_as_n_a() {
        let finding = Finding::parse(r#"each "{channel}: LTV:CAC {ratio:number} {{x}}""#).unwrap();
        let header = strings(&["channel", "ratio"]);
        let rows = vec![strings(&["email", "4.5"]), strings(&["organic", "NULL"])];
        assert_eq!(finding.render(&header, &rows, None), vec!["email: LTV:CAC 4.50 {x}", "organic: LTV:CAC n/a {x}"]);
    }

    #[test]
    fn an_empty_result_says_so() {
        let finding = Finding::parse(r#""{a}""#).unwrap();
        assert_eq!(
            finding.render(&strings(&["a"]), &[], Some("Value at risk")),
            vec!["Value at risk: no rows, so nothing to state"]
        );
        assert_eq!(finding.render(&strings(&["a"]), &[], None), vec!["No rows for the finding \"{a}\""]);
    }

    #[test]
    fn a_missing_column_lists_the_columns() {
        let finding = Finding::parse(r#""{revenue_share:percent}""#).unwrap();
        assert_eq!(
            finding.check(&strings(&["segment", "revenue"])).unwrap_err(),
            "@finding: column 'revenue_share' is not in the result; its columns are segment, revenue"
        );
    }

    #[test]
    fn bad_templates_say_what_to_write() {
        assert!(Finding::parse("top segment {segment}").unwrap_err().contains("must be in double quotes"));
        assert!(Finding::parse(r#""{a""#).unwrap_err().contains("is not closed"));
        assert!(Finding::parse(r#""{a:euro}""#).unwrap_err().contains("unknown format 'euro'"));
        assert!(Finding::parse(r#""{}""#).unwrap_err().contains("name a column"));
        assert!(Finding::parse(r#""a } b""#).unwrap_err().contains("without its '{'"));
    }
}
