//! Chart annotations: a comment line before a statement such as
//! `-- @chart heatmap x=period y=cohort value=retention format=percent title="Monthly retention"`.

use datafusion::arrow::datatypes::Schema;

use super::finding::Finding;

/// The kinds of chart segsql draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Cells coloured by `value` on an `x` by `y` grid (optional `label` printed in cells).
    Heatmap,
    /// Horizontal bars: `x` categories, `y` lengths.
    Bar,
    /// Lines: `x` along the axis, `y` up, one line per `series` value.
    Line,
    /// Headline numbers as tiles, one per row: `label`, `value` and an optional `delta`.
    Kpi,
    /// Points at (`x`, `y`), sized by `size`, named by `label`, with optional quadrant
    /// lines and names (an impact–effort matrix).
    Scatter,
    /// Vertical columns per `x`, stacked by `series` (the segment mix by month).
    Stacked,
    /// One card per row, headed by `label`, listing the other columns (personas).
    Cards,
}

/// How numbers read on a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberFormat {
    Number,
    /// 0.25 → 25.0%
    Percent,
    /// 1234.5 → $1,234.50
    Currency,
}

impl NumberFormat {
    pub fn parse(text: &str) -> Option<NumberFormat> {
        match text.trim() {
            "number" => Some(NumberFormat::Number),
            "percent" | "pct" => Some(NumberFormat::Percent),
            "currency" | "money" => Some(NumberFormat::Currency),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub x: String,
    pub y: String,
    pub value: Option<String>,
    pub label: Option<String>,
    pub series: Option<String>,
    /// The change since the last run, for KPI tiles.
    pub delta: Option<String>,
    /// A column naming each KPI row's format (number, percent or currency).
    pub formats: Option<String>,
    /// A column saying which way each KPI row is better (`up`, the default, or `down`).
    pub good: Option<String>,
    /// Heatmap x values whose cells do not set the colour scale (`scale_excludes=0,1`).
    pub scale_excludes: Vec<String>,
    /// The column that sizes a scatter's points.
    pub size: Option<String>,
    /// A scatter's quadrant names: top left, top right, bottom left, bottom right.
    pub quadrants: Vec<String>,
    /// Where a scatter's quadrant lines cross (default: the middle of each axis's data range).
    pub x_split: Option<f64>,
    pub y_split: Option<f64>,
    /// Card columns shown as percentages and as money.
    pub percent: Vec<String>,
    pub currency: Vec<String>,
    pub format: NumberFormat,
    pub title: Option<String>,
}

const USAGE: &str = "use @chart heatmap x=COL y=COL value=COL [scale_excludes=X,...], @chart bar x=COL y=COL, @chart line x=COL y=COL [series=COL], \
                     @chart stacked x=COL y=COL series=COL, @chart scatter x=COL y=COL [size=COL] [label=COL] [quadrants=\"TL,TR,BL,BR\"] [x_split=N] [y_split=N], \
                     @chart cards label=COL [percent=COL,...] [currency=COL,...] \
                     or @chart kpi label=COL value=COL [delta=COL] [formats=COL] [good=COL], with optional format=number|percent|currency and title=\"...\"";

impl ChartSpec {
    /// Parses the text after `@chart`, as in the annotation or in `\chart`.
    pub fn parse(text: &str) -> Result<ChartSpec, String> {
        let words = split_words(text)?;
        let Some((kind, options)) = words.split_first() else {
            return Err(format!("@chart: missing the chart type; {USAGE}"));
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "heatmap" => ChartKind::Heatmap,
            "bar" => ChartKind::Bar,
            "line" => ChartKind::Line,
            "kpi" => ChartKind::Kpi,
            "scatter" => ChartKind::Scatter,
            "stacked" => ChartKind::Stacked,
            "cards" => ChartKind::Cards,
            other => return Err(format!("@chart: unknown chart type '{other}'; {USAGE}")),
        };
        let mut spec = ChartSpec {
            kind,
            x: String::new(),
            y: String::new(),
            value: None,
            label: None,
            series: None,
            delta: None,
            formats: None,
            good: None,
            scale_excludes: Vec::new(),
            size: None,
            quadrants: Vec::new(),
            x_split: None,
            y_split: None,
            percent: Vec::new(),
            currency: Vec::new(),
            format: NumberFormat::Number,
            title: None,
        };
        let list = |value: &str| value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        let split = |key: &str, value: &str| {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("@chart: {key} must be a number, got '{value}'"))
        };
        for option in options {
            let Some((key, value)) = option.split_once('=') else {
                return Err(format!("@chart: expected key=value, got '{option}'; {USAGE}"));
            };
            let value = value.to_string();
            match key {
                "x" => spec.x = value,
                "y" => spec.y = value,
                "value" => spec.value = Some(value),
                "label" => spec.label = Some(value),
                "series" => spec.series = Some(value),
                "delta" => spec.delta = Some(value),
                "formats" if kind == ChartKind::Kpi => spec.formats = Some(value),
                "good" if kind == ChartKind::Kpi => spec.good = Some(value),
                "scale_excludes" if kind == ChartKind::Heatmap => spec.scale_excludes = list(&value),
                "size" if kind == ChartKind::Scatter => spec.size = Some(value),
                "quadrants" if kind == ChartKind::Scatter => {
                    spec.quadrants = list(&value);
                    if spec.quadrants.len() != 4 {
                        return Err(format!(
                            "@chart scatter: quadrants takes four names (top left, top right, bottom left, bottom right), got {}",
                            spec.quadrants.len()
                        ));
                    }
                }
                "x_split" if kind == ChartKind::Scatter => spec.x_split = Some(split(key, &value)?),
                "y_split" if kind == ChartKind::Scatter => spec.y_split = Some(split(key, &value)?),
                "percent" if kind == ChartKind::Cards => spec.percent = list(&value),
                "currency" if kind == ChartKind::Cards => spec.currency = list(&value),
                "title" => spec.title = Some(value),
                "format" => {
                    spec.format = NumberFormat::parse(&value)
                        .ok_or_else(|| format!("@chart: unknown format '{value}'; use number, percent or currency"))?
                }
                other => return Err(format!("@chart: unknown option '{other}'; {USAGE}")),
            }
        }
        let missing = match kind {
            ChartKind::Kpi => spec.label.is_none() || spec.value.is_none(),
            ChartKind::Heatmap => spec.x.is_empty() || spec.y.is_empty() || spec.value.is_none(),
            ChartKind::Bar | ChartKind::Line | ChartKind::Scatter => spec.x.is_empty() || spec.y.is_empty(),
            ChartKind::Stacked => spec.x.is_empty() || spec.y.is_empty() || spec.series.is_none(),
            ChartKind::Cards => spec.label.is_none(),
        };
        if missing {
            return Err(format!("@chart {}: missing columns; {USAGE}", kind_name(kind)));
        }
        Ok(spec)
    }

    /// The columns the chart reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = [self.x.as_str(), self.y.as_str()].into_iter().filter(|c| !c.is_empty()).collect();
        columns.extend(self.value.as_deref());
        columns.extend(self.label.as_deref());
        columns.extend(self.series.as_deref());
        columns.extend(self.delta.as_deref());
        columns.extend(self.formats.as_deref());
        columns.extend(self.good.as_deref());
        columns.extend(self.size.as_deref());
        columns.extend(self.percent.iter().map(String::as_str));
        columns.extend(self.currency.iter().map(String::as_str));
        columns
    }

    /// How a card shows `column`: as a percentage, as money, or as a plain number.
    pub fn card_format(&self, column: &str) -> NumberFormat {
        if self.percent.iter().any(|c| c == column) {
            NumberFormat::Percent
        } else if self.currency.iter().any(|c| c == column) {
            NumberFormat::Currency
        } else {
            NumberFormat::Number
        }
    }

    /// Every column the chart names must be in the result.
    /// False for a heatmap column that `scale_excludes` keeps out of the colour scale.
    pub fn scales(&self, x: &str) -> bool {
        !self.scale_excludes.iter().any(|e| e == x)
    }

    pub fn check(&self, schema: &Schema) -> Result<(), String> {
        for column in self.columns() {
            if schema.field_with_name(column).is_err() {
                let available: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "@chart {}: column '{column}' is not in the result; its columns are {}",
                    kind_name(self.kind),
                    available.join(", ")
                ));
            }
        }
        Ok(())
    }
}

pub fn kind_name(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Heatmap => "heatmap",
        ChartKind::Bar => "bar",
        ChartKind::Line => "line",
        ChartKind::Kpi => "kpi",
        ChartKind::Scatter => "scatter",
        ChartKind::Stacked => "stacked",
        ChartKind::Cards => "cards",
    }
}

/// Words separated by spaces; `key="a b"` keeps its quoted spaces.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err("@chart: a quote is not closed".to_string());
    }
    if !current.is_empty() {
        words.push(current);
    }
    Ok(words)
}

/// The parts of the stakeholder template, in the order the report shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Summary,
    Methodology,
    Personas,
    Metrics,
    Plays,
    Governance,
    Appendix,
}

impl Part {
    pub const ALL: [Part; 7] = [
        Part::Summary,
        Part::Methodology,
        Part::Personas,
        Part::Metrics,
        Part::Plays,
        Part::Governance,
        Part::Appendix,
    ];

    /// The name an `@section` line uses.
    pub fn name(self) -> &'static str {
        match self {
            Part::Summary => "summary",
            Part::Methodology => "methodology",
            Part::Personas => "personas",
            Part::Metrics => "metrics",
            Part::Plays => "plays",
            Part::Governance => "governance",
            Part::Appendix => "appendix",
        }
    }

    /// The heading the report gives it.
    pub fn heading(self) -> &'static str {
        match self {
            Part::Summary => "Executive summary",
            Part::Methodology => "Segmentation methodology and variables",
            Part::Personas => "Segment profiles (personas)",
            Part::Metrics => "Performance metrics",
            Part::Plays => "Recommended plays",
            Part::Governance => "Governance",
            Part::Appendix => "Appendix: the full tables",
        }
    }

    pub fn parse(text: &str) -> Result<Part, String> {
        let name = text.trim().to_ascii_lowercase();
        Part::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Part::ALL.iter().map(|p| p.name()).collect();
            format!("@section: unknown section '{}'; use one of {}", text.trim(), names.join(", "))
        })
    }
}

/// What the comments before a statement say: its title (the first plain comment line),
/// its chart, if an `@chart` line asks for one, the report section an `@section` line
/// puts it (and the rest of its script) in, and the `@finding`s it states.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Annotations {
    pub title: Option<String>,
    pub chart: Option<ChartSpec>,
    pub part: Option<Part>,
    pub findings: Vec<Finding>,
}

/// Reads the comment lines that precede the first SQL token of a chunk.
pub fn annotations(chunk: &str) -> Result<Annotations, String> {
    let mut found = Annotations::default();
    for line in chunk.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else { break };
        let comment = comment.trim();
        if let Some(chart) = comment.strip_prefix("@chart") {
            found.chart = Some(ChartSpec::parse(chart)?);
        } else if let Some(finding) = comment.strip_prefix("@finding") {
            found.findings.push(Finding::parse(finding)?);
        } else if let Some(part) = comment.strip_prefix("@section") {
            found.part = Some(Part::parse(part)?);
        } else if found.title.is_none() && !comment.is_empty() {
            found.title = Some(comment.to_string());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_title_and_chart() {
        let chunk = "-- 2. Monthly retention\n-- @chart heatmap x=period y=cohort value=retention format=percent title=\"Monthly retention\"\nSELECT 1";
        let found = annotations(chunk).unwrap();
        assert_eq!(found.title.as_deref(), Some("2. Monthly retention"));
        let chart = found.chart.unwrap();
        assert_eq!(chart.kind, ChartKind::Heatmap);
        assert_eq!(chart.value.as_deref(), Some("retention"));
        assert_eq!(chart.format, NumberFormat::Percent);
        assert_eq!(chart.title.as_deref(), Some("Monthly retention"));
    }

    #[test]
    fn sections_are_named_from_the_template() {
        let found = annotations("-- @section Personas\n-- Who they are\nSELECT 1").unwrap();
        assert_eq!((found.part, found.title.as_deref()), (Some(Part::Personas), Some("Who they are")));
        assert_eq!(
            annotations("-- @section people\nSELECT 1").unwrap_err(),
            "@section: unknown section 'people'; use one of summary, methodology, personas, metrics, plays, governance, appendix"
        );
        assert!(Part::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn kpi_tiles_need_a_label_and_a_value() {
        let spec = ChartSpec::parse("kpi label=metric value=value delta=change format=percent").unwrap();
        assert_eq!((spec.kind, spec.columns()), (ChartKind::Kpi, vec!["value", "metric", "change"]));
        assert!(ChartSpec::parse("kpi value=v").unwrap_err().starts_with("@chart kpi: missing columns"));
    }

    #[test]
    fn scatter_stacked_and_cards_name_their_columns() {
        let spec = ChartSpec::parse("scatter x=effort y=impact size=customers label=play quadrants=\"Quick wins,Major projects,Fill-ins,Thankless tasks\" x_split=3").unwrap();
        assert_eq!(spec.columns(), vec!["effort", "impact", "play", "customers"]);
        assert_eq!((spec.quadrants.len(), spec.x_split, spec.y_split), (4, Some(3.0), None));
        assert!(ChartSpec::parse("scatter x=a y=b quadrants=a,b").unwrap_err().contains("four names"));
        assert!(ChartSpec::parse("scatter x=a y=b x_split=mid").unwrap_err().contains("x_split must be a number"));
        assert!(
            ChartSpec::parse("stacked x=month y=revenue").unwrap_err().starts_with("@chart stacked: missing columns")
        );
        let cards = ChartSpec::parse("cards label=persona percent=share currency=aov,clv").unwrap();
        assert_eq!(cards.card_format("clv"), NumberFormat::Currency);
        assert_eq!(cards.card_format("share"), NumberFormat::Percent);
        assert_eq!(cards.card_format("orders"), NumberFormat::Number);
        assert!(ChartSpec::parse("bar x=a y=b size=c").unwrap_err().contains("unknown option 'size'"));
    }

    #[test]
    fn comments_after_the_statement_starts_are_not_annotations() {
        assert_eq!(annotations("SELECT 1 -- @chart bar x=a y=b").unwrap(), Annotations::default());
    }

    #[test]
    fn bad_annotations_say_what_to_write() {
        assert!(ChartSpec::parse("pie x=a y=b").unwrap_err().contains("unknown chart type 'pie'"));
        assert!(ChartSpec::parse("heatmap x=a y=b").unwrap_err().contains("missing columns"));
        assert!(ChartSpec::parse("bar x=a y=b format=euro").unwrap_err().contains("unknown format 'euro'"));
    }
}
