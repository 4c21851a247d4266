//! `${name}` parameter substitution.
//!
//! Substitution happens on each statement just before it is parsed, so `\set` in a script
//! affects the statements after it. Values are pasted as text, also inside string
//! literals (`'${as_of}'` is the usual way to pass a date). Comments are left alone, so a
//! commented-out statement cannot fail on an undefined parameter, except for annotation
//! lines (`-- @chart`, `-- @finding`...), which are instructions and take parameters too.
//! `$${name}` stands for a literal `${name}`.

use std::collections::BTreeMap;
use std::fmt;

/// A parameter that the text uses but nobody defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndefinedParam(pub String);

impl fmt::Display for UndefinedParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "undefined parameter ${{{0}}}: pass --param {0}=VALUE or add `\\set {0} VALUE` before this statement",
            self.0
        )
    }
}

impl std::error::Error for UndefinedParam {}

impl From<UndefinedParam> for crate::error::ShellError {
    fn from(error: UndefinedParam) -> Self {
        crate::error::ShellError::Message(error.to_string())
    }
}

/// True for names that `${...}` and `--param` accept.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME VALUE` of `\set` and `\default`: the name, and the rest trimmed (empty if none).
pub fn assignment(text: &str) -> (&str, &str) {
    text.split_once(char::is_whitespace).map_or((text, ""), |(name, value)| (name, value.trim()))
}

/// Replaces every `${name}` outside comments with its value.
pub fn substitute(text: &str, params: &BTreeMap<String, String>) -> Result<String, UndefinedParam> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_quote: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if in_quote.is_none() {
            if rest.starts_with("--") {
                let end = rest.find('\n').unwrap_or(rest.len());
                let comment = &rest[..end];
                if comment[2..].trim_start().starts_with('@') {
                    out.push_str(&substitute_plain(comment, params)?);
                } else {
                    out.push_str(comment);
                }
                rest = &rest[end..];
                continue;
            }
            if rest.starts_with("/*") {
                let end = rest.find("*/").map_or(rest.len(), |n| n + 2);
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("$$")
            && after.starts_with('{')
        {
            let end = after.find('}').map_or(after.len(), |n| n + 1);
            out.push('$');
            out.push_str(&after[..end]);
            rest = &after[end..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("${")
            && let Some(close) = after.find('}')
            && is_valid_name(&after[..close])
        {
            let name = &after[..close];
            let value = params.get(name).ok_or_else(|| UndefinedParam(name.to_string()))?;
            out.push_str(value);
            rest = &after[close + 1..];
            continue;
        }
        match (in_quote, c) {
            (None, '\'' | '"') => in_quote = Some(c),
            (Some(q), c) if q == c => in_quote = None,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// Replaces every `${name}` in `text`, quotes and comment markers included.
fn substitute_plain(text: &str, params: &BTreeMap<String, String>) -> Result<String, UndefinedParam> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let at = &rest[start..];
        if let Some(after) = at.strip_prefix("$${") {
            let end = after.find('}').map_or(after.len(), |n| n + 1);
            out.push_str("${");
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else if let Some(after) = at.strip_prefix("${")
            && let Some(close) = after.find('}')
            && is_valid_name(&after[..close])
        {
            let name = &after[..close];
            out.push_str(params.get(name).ok_or_else(|| UndefinedParam(name.to_string()))?);
            rest = &after[close + 1..];
        } else {
            out.push('$');
            rest = &at[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_in_sql_and_strings() {
        let p = params(&[("as_of", "2025-06-30"), ("t", "orders")]);
        assert_eq!(
            substitute("SELECT * FROM ${t} WHERE ts < '${as_of}'", &p).unwrap(),
            "SELECT * FROM orders WHERE ts < '2025-06-30'"
        );
    }

    #[test]
    fn undefined_parameter_is_named() {
        let err = substitute("SELECT ${missing}", &params(&[])).unwrap_err();
        assert_eq!(err, UndefinedParam("missing".into()));
        assert!(err.to_string().contains("--param missing=VALUE"));
    }

    #[test]
    fn annotation_lines_are_substituted() {
        let p = params(&[("split", "2.5")]);
        let text = "-- @chart scatter x=a y=b x_split=${split} title=\"at ${split}, not $${split}\"\n-- plain ${nothing}\nSELECT 1";
        assert_eq!(
            substitute(text, &p).unwrap(),
            "-- @chart scatter x=a y=b x_split=2.5 title=\"at 2.5, not ${split}\"\n-- plain ${nothing}\nSELECT 1"
        );
        assert_eq!(substitute("--@finding \"${missing}\"", &p).unwrap_err(), UndefinedParam("missing".into()));
    }

    #[test]
    fn comments_are_not_substituted() {
        let text = "-- uses ${nothing}\nSELECT 1 /* ${nor_this} */";
        assert_eq!(substitute(text, &params(&[])).unwrap(), text);
    }

    #[test]
    fn comment_markers_inside_strings_do_not_hide_params() {
        let p = params(&[("x", "1")]);
        assert_eq!(substitute("SELECT '--', ${x}", &p).unwrap(), "SELECT '--', 1");
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(substitute("SELECT '$${x}'", &params(&[])).unwrap(), "SELECT '${x}'");
    }

    #[test]
    fn non_names_are_left_alone() {
        let text = "SELECT '${not a name}', '${' ";
        assert_eq!(substitute(text, &params(&[])).unwrap(), text);
    }

    #[test]
    fn values_are_not_rescanned() {
        let p = params(&[("a", "${b}")]);
        assert_eq!(substitute("${a}", &p).unwrap(), "${b}");
    }

    #[test]
    fn name_rules() {
        assert!(is_valid_name("as_of"));
        assert!(is_valid_name("_x1"));
        assert!(!is_valid_name("1x"));
        assert!(!is_valid_name("a-b"));
        assert!(!is_valid_name(""));
    }
}
