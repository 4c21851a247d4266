//! Reads a CSV file's dialect and column types from a sample, the way DuckDB's sniffer
//! does: delimiter, quoting, header, a UTF-8 BOM, decimal commas and date formats.
//!
//! Plain Rust over bytes, so it is tested without a session; `csv_table` turns a
//! [`Dialect`] into a table. The rules, where they differ from DuckDB's, are chosen so that
//! a guess never changes a value: a date format is taken only when the sample rules out the
//! others (`03/04/2024` alone could be March or April), and digits with a leading zero stay
//! text (postcodes and ids keep their zeros).

use std::fmt::Write as _;

/// How much of a file the sniffer reads: enough rows for the types to settle, few enough
/// that registering a 1 GB file stays instant.
pub const SAMPLE_BYTES: usize = 1 << 20;

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// A date layout the sniffer recognises, as a chrono/DataFusion format string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    Iso,
    Compact,
    DotDmy,
    SlashDmy,
    SlashMdy,
}

impl DateFormat {
    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::Iso => "%Y-%m-%d",
            DateFormat::Compact => "%Y%m%d",
            DateFormat::DotDmy => "%d.%m.%Y",
            DateFormat::SlashDmy => "%d/%m/%Y",
            DateFormat::SlashMdy => "%m/%d/%Y",
        }
    }

    /// The format named by a strftime pattern, for `OPTIONS ('format.date_format' ...)`.
    pub fn from_pattern(pattern: &str) -> Option<DateFormat> {
        [DateFormat::Iso, DateFormat::Compact, DateFormat::DotDmy, DateFormat::SlashDmy, DateFormat::SlashMdy]
            .into_iter()
            .find(|f| f.pattern() == pattern)
    }

    fn parse(self, value: &str) -> Option<chrono::NaiveDate> {
        let bytes = value.as_bytes();
        let (y, m, d) = match self {
            DateFormat::Iso => split3(value, '-').filter(|p| p.0.len() == 4)?,
            DateFormat::Compact => {
                if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                (&value[..4], &value[4..6], &value[6..])
            }
            DateFormat::DotDmy => split3(value, '.').filter(|p| p.2.len() == 4).map(|(d, m, y)| (y, m, d))?,
            DateFormat::SlashDmy => split3(value, '/').filter(|p| p.2.len() == 4).map(|(d, m, y)| (y, m, d))?,
            DateFormat::SlashMdy => split3(value, '/').filter(|p| p.2.len() == 4).map(|(m, d, y)| (y, m, d))?,
        };
        let number = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())?
        };
        let year = number(y, 4)? as i32;
        if !(1900..=2100).contains(&year) && self == DateFormat::Compact {
            return None;
        }
        chrono::NaiveDate::from_ymd_opt(year, number(m, 2)?, number(d, 2)?)
    }
}

fn split3(value: &str, separator: char) -> Option<(&str, &str, &str)> {
    let mut parts = value.split(separator);
    let parts3 = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some(parts3)
}

/// What a column holds, and so how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    Integer,
    Double,
    /// `1.234,56`: read as text and converted, since Arrow's parser knows only the point.
    DecimalComma,
    Date(DateFormat),
    Timestamp,
    Text,
}

impl ColumnKind {
    pub fn sql_type(self) -> &'static str {
        match self {
            ColumnKind::Boolean => "BOOLEAN",
            ColumnKind::Integer => "BIGINT",
            ColumnKind::Double | ColumnKind::DecimalComma => "DOUBLE",
            ColumnKind::Date(_) => "DATE",
            ColumnKind::Timestamp => "TIMESTAMP",
            ColumnKind::Text => "VARCHAR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniffedColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// Values had spaces around them, so they are trimmed before conversion.
    pub padded: bool,
    /// Why a column that looked typed stays text (an ambiguous date), for `\d`.
    pub note: Option<String>,
}

impl SniffedColumn {
    /// True when Arrow's CSV reader cannot parse the values itself and the column is read
    /// as text, then converted.
    pub fn converted(&self) -> bool {
        match self.kind {
            ColumnKind::Text => false,
            ColumnKind::DecimalComma => true,
            ColumnKind::Date(format) => format != DateFormat::Iso || self.padded,
            _ => self.padded,
        }
    }
}

impl SniffedColumn {
    /// How `\d` says the column was read.
    pub fn read_as(&self) -> String {
        let mut text = match self.kind {
            ColumnKind::DecimalComma => "decimal comma".to_string(),
            ColumnKind::Date(format) => format!("date {}", format.pattern()),
            _ => String::new(),
        };
        if self.padded {
            text.push_str(if text.is_empty() { "trimmed" } else { ", trimmed" });
        }
        if let Some(note) = &self.note {
            text = note.clone();
        }
        text
    }
}

/// What the sniffer found, or was told by `OPTIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    pub has_header: bool,
    pub bom: bool,
    /// A quoted value in the sample spans lines, so the file cannot be split by byte range.
    pub newlines_in_values: bool,
    pub columns: Vec<SniffedColumn>,
    pub sampled_rows: usize,
}

impl Dialect {
    /// One line for `\d NAME`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "CSV: delimiter {}, quote {}, {}",
            show_byte(self.delimiter),
            show_byte(self.quote),
            if self.has_header { "header row" } else { "no header row" }
        );
        if self.bom {
            text.push_str(", UTF-8 BOM");
        }
        if self.columns.iter().any(|c| c.kind == ColumnKind::DecimalComma) {
            text.push_str(", decimal comma");
        }
        let mut formats: Vec<&str> = self
            .columns
            .iter()
            .filter_map(|c| if let ColumnKind::Date(f) = c.kind { Some(f.pattern()) } else { None })
            .collect();
        formats.dedup();
        if !formats.is_empty() {
            let _ = write!(text, ", dates {}", formats.join(" and "));
        }
        let _ = write!(text, "; types from {} sampled rows", self.sampled_rows);
        text
    }
}

pub fn show_byte(b: u8) -> String {
    match b {
        b'\t' => "tab".to_string(),
        _ => format!("'{}'", b as char),
    }
}

/// Why a sample could not be read; the message says what was seen and what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniffError(pub String);

/// What the caller already knows; `None` lets the sniffer decide.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub delimiter: Option<u8>,
    pub quote: Option<u8>,
    pub has_header: Option<bool>,
    pub decimal_comma: Option<bool>,
    pub date_format: Option<DateFormat>,
}

/// Sniffs `sample`, the start of a file; `complete` says whether it is the whole file (if
/// not, its last line may be cut and is ignored).
pub fn sniff(sample: &[u8], complete: bool, hints: &Hints) -> Result<Dialect, SniffError> {
    let bom = sample.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &sample[3..] } else { sample };
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        // A sample can end inside a multi-byte character.
        Err(e) if !complete && e.error_len().is_none() => std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or(""),
        Err(e) => {
            return Err(SniffError(format!(
                "the file is not UTF-8 text (invalid byte at offset {}); convert it to UTF-8",
                e.valid_up_to() + usize::from(bom) * 3
            )));
        }
    };
    if text.trim().is_empty() {
        return Err(SniffError("the file is empty, so it has no columns to read".to_string()));
    }
    let quote = hints.quote.unwrap_or(b'"');
    let (delimiter, rows) = match hints.delimiter {
        Some(delimiter) => {
            let rows = split_rows(text, delimiter, quote, complete);
            if let Some(problem) = ragged(&rows) {
                return Err(SniffError(format!("with delimiter {} {problem}", show_byte(delimiter))));
            }
            (delimiter, rows)
        }
        None => choose_delimiter(text, quote, complete)?,
    };
    let newlines_in_values = rows.iter().flat_map(|r| r.fields.iter()).any(|f| f.contains('\n'));
    let (has_header, columns) = typed_columns(&rows, delimiter, hints);
    Ok(Dialect {
        delimiter,
        quote,
        has_header,
        bom,
        newlines_in_values,
        columns,
        sampled_rows: rows.len() - usize::from(has_header),
    })
}

/// Whether the first row is a header, and each column's name and kind.
fn typed_columns(rows: &[Row], delimiter: u8, hints: &Hints) -> (bool, Vec<SniffedColumn>) {
    let width = rows.first().map_or(0, |r| r.fields.len());
    let typed = |from: usize| -> Vec<(ColumnKind, bool, Option<String>)> {
        (0..width).map(|c| column_kind(rows[from..].iter().map(|r| r.fields[c].as_str()), delimiter, hints)).collect()
    };
    let below = typed(1.min(rows.len()));
    let has_header = match hints.has_header {
        Some(given) => given,
        None => looks_like_header(rows, &below),
    };
    let kinds = if has_header { below } else { typed(0) };
    let header: Vec<String> = if has_header { rows[0].fields.clone() } else { Vec::new() };
    let names = column_names(&header, width);
    let columns = names
        .into_iter()
        .zip(kinds)
        .map(|(name, (kind, padded, note))| SniffedColumn { name, kind, padded, note })
        .collect();
    (has_header, columns)
}

/// Header and column kinds of rows already split into cells (a spreadsheet's, as text),
/// by the same rules as a CSV file's; numbers are expected with a decimal point.
pub fn type_cells(rows: Vec<Vec<String>>, hints: &Hints) -> (bool, Vec<SniffedColumn>) {
    let rows: Vec<Row> = rows.into_iter().enumerate().map(|(i, fields)| Row { fields, line: i + 1 }).collect();
    typed_columns(&rows, b',', hints)
}

#[derive(Debug)]
struct Row {
    fields: Vec<String>,
    line: usize,
}

/// What the RFC 4180 scanner ([`scan`]) reports: a quoted field may hold the delimiter, line
/// breaks and doubled quotes; blank lines are skipped, as DuckDB does.
trait Cells {
    /// A character of the current field.
    fn push(&mut self, c: char);
    /// Whether the current field has no characters yet.
    fn field_empty(&self) -> bool;
    /// The current field ends at a delimiter.
    fn end_field(&mut self);
    /// The current row ends (its last field with it), unless it is blank; it began on `line`.
    fn end_row(&mut self, line: usize, keep: bool);
    /// Fields already ended in the current row.
    fn fields_in_row(&self) -> usize;
}

/// Feeds `text` to `cells` by RFC 4180. A cut sample's last line (`complete` false) is
/// probably incomplete and is dropped.
fn scan(text: &str, delimiter: u8, quote: u8, complete: bool, cells: &mut impl Cells) {
    let (delimiter, quote) = (delimiter as char, quote as char);
    let (mut in_quotes, mut was_quoted) = (false, false);
    let (mut line, mut row_line) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    cells.push(quote);
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                if c == '\n' {
                    line += 1;
                }
                cells.push(c);
            }
            continue;
        }
        match c {
            c if c == quote && cells.field_empty() && !was_quoted => {
                in_quotes = true;
                was_quoted = true;
            }
            c if c == delimiter => {
                cells.end_field();
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                let blank = cells.fields_in_row() == 0 && cells.field_empty() && !was_quoted;
                cells.end_row(row_line, !blank);
                was_quoted = false;
                line += 1;
                row_line = line;
            }
            c => cells.push(c),
        }
    }
    let pending = !cells.field_empty() || cells.fields_in_row() > 0 || was_quoted;
    cells.end_row(row_line, complete && !in_quotes && pending);
}

/// Rows of owned fields.
#[derive(Default)]
struct Rows {
    rows: Vec<Row>,
    fields: Vec<String>,
    field: String,
}

impl Cells for Rows {
    fn push(&mut self, c: char) {
        self.field.push(c);
    }
    fn field_empty(&self) -> bool {
        self.field.is_empty()
    }
    fn end_field(&mut self) {
        self.fields.push(std::mem::take(&mut self.field));
    }
    fn end_row(&mut self, line: usize, keep: bool) {
        self.end_field();
        let fields = std::mem::take(&mut self.fields);
        if keep {
            self.rows.push(Row { fields, line });
        }
    }
    fn fields_in_row(&self) -> usize {
        self.fields.len()
    }
}

/// Splits `text` into rows of fields (see [`scan`]).
fn split_rows(text: &str, delimiter: u8, quote: u8, complete: bool) -> Vec<Row> {
    let mut rows = Rows::default();
    scan(text, delimiter, quote, complete, &mut rows);
    rows.rows
}

/// The rows' field counts when they differ, as the end of an error message.
fn ragged(rows: &[Row]) -> Option<String> {
    let first = rows.first()?.fields.len();
    let odd = rows.iter().find(|r| r.fields.len() != first)?;
    Some(format!("line {} has {} fields but line {} has {}", rows[0].line, first, odd.line, odd.fields.len()))
}

/// How a delimiter splits the sample, counted without building the rows: what choosing a
/// delimiter needs, so only the chosen one's rows are built (splitting the 1 MiB sample into
/// strings once per candidate was most of the cost of opening a CSV file).
#[derive(Debug, Default, PartialEq)]
struct Shape {
    rows: usize,
    /// The first row's line and width.
    first: Option<(usize, usize)>,
    /// The first row whose width differs from the first row's.
    odd: Option<(usize, usize)>,
    /// Rows of more than one field.
    multi: usize,
}

impl Shape {
    fn add(&mut self, line: usize, width: usize) {
        self.rows += 1;
        self.multi += usize::from(width > 1);
        match self.first {
            None => self.first = Some((line, width)),
            Some((_, w)) if w != width && self.odd.is_none() => self.odd = Some((line, width)),
            _ => {}
        }
    }

    /// As [`ragged`] says it.
    fn ragged(&self) -> Option<String> {
        let ((line, width), (odd_line, odd_width)) = (self.first?, self.odd?);
        Some(format!("line {line} has {width} fields but line {odd_line} has {odd_width}"))
    }
}

/// A [`Shape`] being counted: the current row's ended fields and whether its current field
/// is still empty.
struct Counting {
    shape: Shape,
    fields: usize,
    field_empty: bool,
}

impl Cells for Counting {
    fn push(&mut self, _: char) {
        self.field_empty = false;
    }
    fn field_empty(&self) -> bool {
        self.field_empty
    }
    fn end_field(&mut self) {
        self.fields += 1;
        self.field_empty = true;
    }
    fn end_row(&mut self, line: usize, keep: bool) {
        if keep {
            self.shape.add(line, self.fields + 1);
        }
        (self.fields, self.field_empty) = (0, true);
    }
    fn fields_in_row(&self) -> usize {
        self.fields
    }
}

/// [`split_rows`]'s row widths, by the same scanner, without allocating.
fn shape(text: &str, delimiter: u8, quote: u8, complete: bool) -> Shape {
    let mut counting = Counting { shape: Shape::default(), fields: 0, field_empty: true };
    scan(text, delimiter, quote, complete, &mut counting);
    counting.shape
}

/// The delimiter that gives every row the same number of fields, the most fields winning;
/// a file where none does is an error listing what each gave.
fn choose_delimiter(text: &str, quote: u8, complete: bool) -> Result<(u8, Vec<Row>), SniffError> {
    let mut best: Option<(u8, usize)> = None;
    let mut single: Option<u8> = None;
    let mut seen = Vec::new();
    // A delimiter that splits most rows is the file's, even if some rows are broken: then
    // the file is not read as one column of text but reported.
    let mut splits_most = false;
    for delimiter in DELIMITERS {
        let shape = shape(text, delimiter, quote, complete);
        let width = shape.first.map_or(0, |(_, w)| w);
        match shape.ragged() {
            Some(problem) => {
                splits_most |= shape.multi * 2 > shape.rows;
                seen.push(format!("{} gives rows of different widths ({problem})", show_byte(delimiter)))
            }
            None if width > 1 && best.is_none_or(|(_, w)| width > w) => best = Some((delimiter, width)),
            None if single.is_none() => single = Some(delimiter),
            None => {}
        }
    }
    // Several columns if some delimiter gives them; else one column, split by a delimiter
    // that leaves every row whole.
    if let Some(delimiter) = best.map(|(d, _)| d).or(single.filter(|_| !splits_most)) {
        return Ok((delimiter, split_rows(text, delimiter, quote, complete)));
    }
    Err(SniffError(format!("no delimiter gives every row the same number of fields: {}", seen.join("; "))))
}

fn is_integer(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'))
        && v.parse::<i64>().is_ok()
}

fn is_double(v: &str) -> bool {
    let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = (!whole.is_empty() || !fraction.is_empty())
        && digits(whole)
        && digits(fraction)
        && !(whole.len() > 1 && whole.starts_with('0'));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// `1234,56`, `1.234,56`, `-0,5` or a plain integer (`1.234` as a thousands group).
fn decimal_comma(v: &str) -> Option<bool> {
    let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (whole, fraction) = match unsigned.split_once(',') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let whole_ok = if whole.contains('.') {
        let mut groups = whole.split('.');
        let first = groups.next().unwrap_or("");
        digits(first) && first.len() <= 3 && groups.all(|g| g.len() == 3 && digits(g))
    } else {
        digits(whole)
    };
    if !whole_ok || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    Some(fraction.is_some())
}

fn is_boolean(v: &str) -> bool {
    v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
}

fn is_timestamp(v: &str) -> bool {
    let Some((date, time)) = v.split_once([' ', 'T']) else {
        return false;
    };
    if DateFormat::Iso.parse(date).is_none() {
        return false;
    }
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    (parts.len() == 2 || parts.len() == 3)
        && parts.iter().all(|p| two_digits(p))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts.get(2).is_none_or(|s| *s < "61")
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (fraction.is_empty() || parts.len() == 3)
}

/// The narrowest kind that reads every non-empty value, whether values were padded, and
/// a note when a date format was ambiguous.
fn column_kind<'a>(
    values: impl Iterator<Item = &'a str> + Clone,
    delimiter: u8,
    hints: &Hints,
) -> (ColumnKind, bool, Option<String>) {
    let present = values.filter(|v| !v.trim().is_empty());
    let padded = present.clone().any(|v| v.trim() != v);
    let mut trimmed = present.map(str::trim).peekable();
    if trimmed.peek().is_none() {
        return (ColumnKind::Text, false, None);
    }
    let all = |test: &dyn Fn(&str) -> bool| trimmed.clone().all(test);
    if all(&is_boolean) {
        return (ColumnKind::Boolean, padded, None);
    }
    // Before integers: `20240131` is a date when every value is one.
    if hints.date_format.is_none_or(|f| f == DateFormat::Compact) && all(&|v| DateFormat::Compact.parse(v).is_some()) {
        return (ColumnKind::Date(DateFormat::Compact), padded, None);
    }
    if all(&is_integer) {
        return (ColumnKind::Integer, padded, None);
    }
    let comma_allowed = hints.decimal_comma.unwrap_or(delimiter != b',');
    let comma_values = || trimmed.clone().map(decimal_comma);
    if comma_allowed && comma_values().all(|d| d.is_some()) && comma_values().any(|d| d == Some(true)) {
        return (ColumnKind::DecimalComma, padded, None);
    }
    if hints.decimal_comma != Some(true) && all(&is_double) {
        return (ColumnKind::Double, padded, None);
    }
    if let Some(format) = hints.date_format {
        if all(&|v| format.parse(v).is_some()) {
            return (ColumnKind::Date(format), padded, None);
        }
    } else {
        for format in [DateFormat::Iso, DateFormat::Compact, DateFormat::DotDmy] {
            if all(&|v| format.parse(v).is_some()) {
                return (ColumnKind::Date(format), padded, None);
            }
        }
        let dmy = all(&|v| DateFormat::SlashDmy.parse(v).is_some());
        let mdy = all(&|v| DateFormat::SlashMdy.parse(v).is_some());
        match (dmy, mdy) {
            (true, false) => return (ColumnKind::Date(DateFormat::SlashDmy), padded, None),
            (false, true) => return (ColumnKind::Date(DateFormat::SlashMdy), padded, None),
            (true, true) => {
                let note = "text: %d/%m/%Y or %m/%d/%Y? no day above 12 in the sample; set 'format.date_format'";
                return (ColumnKind::Text, false, Some(note.to_string()));
            }
            (false, false) => {}
        }
    }
    if all(&is_timestamp) {
        return (ColumnKind::Timestamp, padded, None);
    }
    (ColumnKind::Text, false, None)
}

/// True when `value` reads as `kind` (empty reads as NULL).
fn fits(value: &str, kind: ColumnKind) -> bool {
    let value = value.trim();
    value.is_empty()
        || match kind {
            ColumnKind::Boolean => is_boolean(value),
            ColumnKind::Integer => is_integer(value),
            ColumnKind::Double => is_double(value) || is_integer(value),
            ColumnKind::DecimalComma => decimal_comma(value).is_some(),
            ColumnKind::Date(format) => format.parse(value).is_some(),
            ColumnKind::Timestamp => is_timestamp(value),
            ColumnKind::Text => true,
        }
}

/// A header is a first row that does not fit the types below it; over text columns, a
/// first row of distinct names none of which occurs again in its column.
fn looks_like_header(rows: &[Row], below: &[(ColumnKind, bool, Option<String>)]) -> bool {
    let Some(first) = rows.first() else {
        return false;
    };
    let typed: Vec<usize> = (0..below.len()).filter(|&c| below[c].0 != ColumnKind::Text).collect();
    if typed.iter().any(|&c| !fits(&first.fields[c], below[c].0)) {
        return true;
    }
    if !typed.is_empty() {
        return false;
    }
    let names: Vec<&str> = first.fields.iter().map(|f| f.trim()).collect();
    let distinct = names.iter().enumerate().all(|(i, n)| !n.is_empty() && !names[..i].contains(n));
    distinct && (0..names.len()).all(|c| rows[1..].iter().all(|r| r.fields[c].trim() != names[c]))
}

/// Names from the header (trimmed; blanks and repeats made unique), or `column_1`...
fn column_names(header: &[String], width: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(width);
    for i in 0..width {
        let given = header.get(i).map(|h| h.trim()).filter(|h| !h.is_empty());
        let base = given.map_or_else(|| format!("column_{}", i + 1), str::to_string);
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(text: &str) -> Dialect {
        sniff(text.as_bytes(), true, &Hints::default()).unwrap()
    }

    fn kinds(d: &Dialect) -> Vec<(&str, &str)> {
        d.columns.iter().map(|c| (c.name.as_str(), c.kind.sql_type())).collect()
    }

    #[test]
    fn a_european_export() {
        let d = sniffed(
            "\u{feff}Kunde;Datum;Betrag;Notiz\n17;03.01.2024;1.234,56;\"a; b\"\n18;14.02.2024;12,5;\n19;;-3;x\n",
        );
        assert_eq!(d.delimiter, b';');
        assert!(d.has_header && d.bom);
        assert_eq!(kinds(&d), [("Kunde", "BIGINT"), ("Datum", "DATE"), ("Betrag", "DOUBLE"), ("Notiz", "VARCHAR")]);
        assert_eq!(d.columns[1].kind, ColumnKind::Date(DateFormat::DotDmy));
        assert_eq!(d.columns[2].kind, ColumnKind::DecimalComma);
        assert_eq!(
            d.describe(),
            "CSV: delimiter ';', quote '\"', header row, UTF-8 BOM, decimal comma, dates %d.%m.%Y; types from 3 sampled rows"
        );
    }

    #[test]
    fn comma_files_keep_the_point() {
        let d = sniffed("id,amount,when\n1,2.50,2024-01-02 10:00:00\n2,3,2024-01-03T11:30:00.25\n");
        assert_eq!(kinds(&d), [("id", "BIGINT"), ("amount", "DOUBLE"), ("when", "TIMESTAMP")]);
        assert!(d.columns.iter().all(|c| !c.converted()));
    }

    #[test]
    fn no_header_gives_numbered_columns() {
        let d = sniffed("1|true|20240131\n2|FALSE|20231201\n");
        assert!(!d.has_header);
        assert_eq!(kinds(&d), [("column_1", "BIGINT"), ("column_2", "BOOLEAN"), ("column_3", "DATE")]);
    }

    #[test]
    fn slash_dates_only_when_unambiguous() {
        let d = sniffed("d\n03/04/2024\n05/06/2024\n");
        assert_eq!(d.columns[0].kind, ColumnKind::Text);
        assert!(d.columns[0].note.as_deref().unwrap().contains("format.date_format"));
        assert_eq!(sniffed("d\n03/04/2024\n25/06/2024\n").columns[0].kind, ColumnKind::Date(DateFormat::SlashDmy));
        assert_eq!(sniffed("d\n03/04/2024\n06/25/2024\n").columns[0].kind, ColumnKind::Date(DateFormat::SlashMdy));
        let told = Hints { date_format: Some(DateFormat::SlashDmy), ..Hints::default() };
        let d = sniff(b"d\n03/04/2024\n05/06/2024\n", true, &told).unwrap();
        assert_eq!(d.columns[0].kind, ColumnKind::Date(DateFormat::SlashDmy));
    }

    #[test]
    fn leading_zeros_stay_text_and_text_headers_are_found() {
        let d = sniffed("zip,city\n01234,Berlin\n10115,Berlin\n");
        assert!(d.has_header);
        assert_eq!(kinds(&d), [("zip", "VARCHAR"), ("city", "VARCHAR")]);
        // The first row repeats below, so it is data.
        assert!(!sniffed("a,b\nc,d\na,e\n").has_header);
    }

    #[test]
    fn quoted_fields_hold_delimiters_newlines_and_quotes() {
        let d = sniffed("name,note\n\"Smith, J\",\"said \"\"hi\"\"\nthen left\"\n\"Doe\",\n");
        assert_eq!(d.delimiter, b',');
        assert!(d.newlines_in_values);
        assert_eq!(d.columns.len(), 2);
        assert_eq!(d.sampled_rows, 2);
    }

    #[test]
    fn a_cut_sample_drops_its_last_line() {
        let d = sniff(b"a;b\n1;2\n3;4\n5", false, &Hints::default()).unwrap();
        assert_eq!(d.sampled_rows, 2);
        assert_eq!(kinds(&d), [("a", "BIGINT"), ("b", "BIGINT")]);
    }

    #[test]
    fn ragged_files_say_what_each_delimiter_gave() {
        let err = sniff(b"hello there\nfree text, with; some | marks\tand a tab\nmore\n", true, &Hints::default())
            .unwrap_err();
        assert!(err.0.starts_with("no delimiter gives every row the same number of fields: ',' gives"), "{}", err.0);
        assert!(err.0.contains("line 1 has 1 fields but line 2 has 2"), "{}", err.0);
        let told = Hints { delimiter: Some(b';'), ..Hints::default() };
        let err = sniff(b"a;b\n1;2;3\n", true, &told).unwrap_err();
        assert_eq!(err.0, "with delimiter ';' line 1 has 2 fields but line 2 has 3");
    }

    #[test]
    fn a_broken_row_is_reported_not_read_as_one_column() {
        let err = sniff(b"a,b\n1,2\n3,4,5\n6,7\n", true, &Hints::default()).unwrap_err();
        assert!(
            err.0.contains("',' gives rows of different widths (line 1 has 2 fields but line 3 has 3)"),
            "{}",
            err.0
        );
    }

    #[test]
    fn single_columns_empty_files_and_bad_bytes() {
        assert_eq!(kinds(&sniffed("n\n1\n2\n")), [("n", "BIGINT")]);
        assert!(sniff(b"\n\n", true, &Hints::default()).unwrap_err().0.contains("empty"));
        assert!(sniff(b"a,b\n\xff,1\n", true, &Hints::default()).unwrap_err().0.contains("not UTF-8"));
    }

    #[test]
    fn blank_and_duplicate_header_names_are_made_unique() {
        assert_eq!(column_names(&["a".into(), "".into(), "a".into()], 4), ["a", "column_2", "a_2", "column_4"]);
    }

    #[test]
    fn counting_agrees_with_splitting() {
        let samples = [
            "a,b;c\n1,2;3\n\n4,5;6\r\n",
            "x\ty\n\"q\ttab\"\t2\n3\t\"multi\nline\"\n",
            "a|b\n\"\"|\n|\n1|2|3\npartial|la",
            "\"a\"\"b\",c\n\"\"\n,\n\r\n1,2",
            "only one column\nsecond\n",
        ];
        for text in samples {
            for complete in [true, false] {
                for delimiter in DELIMITERS {
                    let rows = split_rows(text, delimiter, b'"', complete);
                    let mut expected = Shape::default();
                    for row in &rows {
                        expected.add(row.line, row.fields.len());
                    }
                    assert_eq!(shape(text, delimiter, b'"', complete), expected, "{text:?} {delimiter} {complete}");
                    assert_eq!(expected.ragged(), ragged(&rows));
                }
            }
        }
    }

    #[test]
    fn number_shapes() {
        assert!(is_double("1.5e-3") && is_double(".5") && is_double("-2.") && !is_double("1.2.3") && !is_double("e5"));
        assert!(is_integer("-42") && !is_integer("007") && is_integer("0") && !is_integer("99999999999999999999"));
        assert_eq!(decimal_comma("1.234.567,8"), Some(true));
        assert_eq!(decimal_comma("1.234"), Some(false));
        assert_eq!(decimal_comma("12.34"), None);
        assert!(
            is_timestamp("2024-02-29 23:59")
                && !is_timestamp("2024-02-30 10:00:00")
                && !is_timestamp("2024-01-01 25:00")
        );
        assert_eq!(DateFormat::Compact.parse("18991231"), None);
    }
}
