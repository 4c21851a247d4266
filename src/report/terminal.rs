//! `\chart`: the last result as a coloured heatmap or a bar chart in the terminal.

use std::fmt::Write;

use super::annotation::{ChartKind, ChartSpec};
use super::svg::format_number;

fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The chart as text with ANSI colours (256-colour blues for heatmaps).
pub fn render(spec: &ChartSpec, header: &[String], rows: &[Vec<String>], width: usize) -> String {
    if rows.is_empty() {
        return "no rows\n".to_string();
    }
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    let mut out = String::new();
    if let Some(title) = &spec.title {
        let _ = writeln!(out, "{title}");
    }
    match spec.kind {
        ChartKind::Heatmap => {
            let (xc, yc, vc) = (column(&spec.x), column(&spec.y), column(spec.value.as_deref().unwrap_or_default()));
            let mut xs: Vec<&str> = Vec::new();
            let mut ys: Vec<&str> = Vec::new();
            for row in rows {
                if !xs.contains(&row[xc].as_str()) {
                    xs.push(&row[xc]);
                }
                if !ys.contains(&row[yc].as_str()) {
                    ys.push(&row[yc]);
                }
            }
            // As in the HTML: scale_excludes columns do not stretch the colour scale.
            let values: Vec<f64> = rows.iter().filter(|r| spec.scales(&r[xc])).filter_map(|r| number(&r[vc])).collect();
            let (low, high) =
                values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
            let cell = 7;
            let label_w = ys.iter().map(|y| y.chars().count()).max().unwrap_or(0).max(spec.y.len()).min(14);
            let _ = write!(out, "{:>label_w$} ", spec.y);
            for x in &xs {
                let _ = write!(out, "{:>cell$}", x.chars().take(cell - 1).collect::<String>());
            }
            out.push('\n');
            // Blues from light (255-ish) to dark, in the xterm 256-colour cube.
            const SHADES: [u8; 6] = [195, 153, 117, 75, 33, 19];
            for y in &ys {
                let _ = write!(out, "{:>label_w$} ", y.chars().take(label_w).collect::<String>());
                for x in &xs {
                    let value = rows.iter().find(|r| r[xc] == *x && r[yc] == *y).and_then(|r| number(&r[vc]));
                    match value {
                        None => {
                            let _ = write!(out, "{:>cell$}", "");
                        }
                        Some(v) => {
                            let f = if high > low { ((v - low) / (high - low)).clamp(0.0, 1.0) } else { 0.5 };
                            let shade = SHADES[((f * 5.0).round() as usize).min(5)];
                            let fg = if f > 0.55 { 15 } else { 16 };
                            let text = format_number(v, spec.format);
                            let _ = write!(out, "\x1b[48;5;{shade}m\x1b[38;5;{fg}m{text:>cell$}\x1b[0m");
                        }
                    }
                }
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "{:>label_w$} {} from {} (light) to {} (dark)",
                "",
                spec.value.as_deref().unwrap_or_default(),
                format_number(low, spec.format),
                format_number(high, spec.format)
            );
        }
        ChartKind::Kpi => {
            let (lc, vc) =
                (column(spec.label.as_deref().unwrap_or_default()), column(spec.value.as_deref().unwrap_or_default()));
            let dc = spec.delta.as_deref().map(column);
            let label_w = rows.iter().map(|r| r[lc].chars().count()).max().unwrap_or(0).min(32);
            for row in rows {
                let format = super::svg::row_format(spec, &super::svg::Table { header, rows }, row);
                let value = number(&row[vc]).map_or_else(|| row[vc].clone(), |v| format_number(v, format));
                let change = dc
                    .and_then(|d| number(&row[d]))
                    .map_or_else(String::new, |d| format!("  {}", super::svg::change_text(d, format).0));
                let _ = writeln!(out, "{:<label_w$}  \x1b[1m{value}\x1b[0m{change}", row[lc]);
            }
        }
        ChartKind::Bar | ChartKind::Line => {
            let (xc, yc) = (column(&spec.x), column(&spec.y));
            let bars: Vec<(&str, f64)> = rows.iter().map(|r| (r[xc].as_str(), number(&r[yc]).unwrap_or(0.0))).collect();
            let high = bars.iter().map(|b| b.1.abs()).fold(0.0, f64::max);
            let label_w = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0).min(24);
            let room = width.saturating_sub(label_w + 16).max(10);
            for (label, value) in bars {
                let length = if high > 0.0 { value.abs() / high * room as f64 } else { 0.0 };
                let full = length.floor() as usize;
                let eighths = ((length - full as f64) * 8.0).round() as usize;
                let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"][eighths.min(8)];
                let _ = writeln!(
                    out,
                    "{:>label_w$} \x1b[38;5;33m{}{}\x1b[0m {}",
                    label.chars().take(label_w).collect::<String>(),
                    "█".repeat(full),
                    partial,
                    format_number(value, spec.format)
                );
            }
        }
    }
    out
}

/// A chart's result kept for the run's closing summary.
#[derive(Debug, Clone)]
pub struct Tiles {
    pub spec: ChartSpec,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The run's closing summary: its findings and headline numbers as plain tables (no
/// colours), so the stdout of a weekly run reads well in a mail.
pub fn summary(findings: &[String], tiles: &[Tiles], width: Option<u16>) -> String {
    use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
    let new_table = |header: Vec<&str>| {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        if let Some(width) = width {
            table.set_width(width).set_content_arrangement(ContentArrangement::Dynamic);
        }
        table.set_header(header);
        table
    };
    let mut out = String::new();
    if !findings.is_empty() {
        let mut table = new_table(vec!["#", "finding"]);
        for (i, finding) in findings.iter().enumerate() {
            table.add_row(vec![Cell::new(i + 1).set_alignment(CellAlignment::Right), Cell::new(finding)]);
        }
        let _ = writeln!(out, "Summary of the run\n{table}");
    }
    for tile in tiles {
        let spec = &tile.spec;
        let (header, rows) = (&tile.header[..], &tile.rows[..]);
        let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
        let (lc, vc) =
            (column(spec.label.as_deref().unwrap_or_default()), column(spec.value.as_deref().unwrap_or_default()));
        let dc = spec.delta.as_deref().map(column);
        let mut table =
            new_table(if dc.is_some() { vec!["metric", "value", "change"] } else { vec!["metric", "value"] });
        for row in rows {
            let format = super::svg::row_format(spec, &super::svg::Table { header, rows }, row);
            let value = number(&row[vc]).map_or_else(|| row[vc].clone(), |v| format_number(v, format));
            let mut cells = vec![Cell::new(&row[lc]), Cell::new(value).set_alignment(CellAlignment::Right)];
            if let Some(d) = dc {
                // No earlier run, or a number not kept from it: say so rather than leave a gap.
                let change =
                    number(&row[d]).map_or_else(|| "n/a".to_string(), |d| super::svg::change_text(d, format).0);
                cells.push(Cell::new(change).set_alignment(CellAlignment::Right));
            }
            table.add_row(cells);
        }
        let title = spec.title.as_deref().unwrap_or("Headline numbers");
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{title}\n{table}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_plain_tables() {
        let spec =
            ChartSpec::parse("kpi label=metric value=value delta=change formats=unit title=\"Headline\"").unwrap();
        let tiles = Tiles {
            spec,
            header: ["metric", "value", "change", "unit"].map(String::from).to_vec(),
            rows: vec![
                ["revenue", "1234.5", "-10", "currency"].map(String::from).to_vec(),
                ["churn", "0.25", "NULL", "percent"].map(String::from).to_vec(),
            ],
        };
        let text = summary(&["Champions bring 40.0% of revenue".to_string()], &[tiles], None);
        assert!(!text.contains('\x1b'), "no colours in a mail: {text}");
        assert!(text.starts_with("Summary of the run\n"), "{text}");
        assert!(text.contains("│ 1 ┆ Champions bring 40.0% of revenue │"), "{text}");
        assert!(text.contains("\n\nHeadline\n"), "{text}");
        assert!(text.contains("│ revenue ┆ $1,234 ┆ ▼ -$10 │"), "{text}");
        assert!(text.contains("│ churn   ┆  25.0% ┆    n/a │"), "{text}");
        assert_eq!(summary(&[], &[], None), "");
    }

    #[test]
    fn kpi_lines_show_value_and_change() {
        let spec = ChartSpec::parse("kpi label=metric value=value delta=change format=percent").unwrap();
        let header = ["metric".to_string(), "value".to_string(), "change".to_string()];
        let rows = vec![
            vec!["repeat rate".to_string(), "0.41".to_string(), "0.02".to_string()],
            vec!["churn".to_string(), "0.2".to_string(), "".to_string()],
        ];
        let text = render(&spec, &header, &rows, 80);
        assert!(text.contains("repeat rate  \x1b[1m41.0%\x1b[0m  ▲ +2.0%"), "{text}");
        assert!(text.contains("churn        \x1b[1m20.0%\x1b[0m\n"), "{text}");
    }

    #[test]
    fn bars_scale_to_the_largest() {
        let spec = ChartSpec::parse("bar x=s y=v").unwrap();
        let text = render(
            &spec,
            &["s".into(), "v".into()],
            &[vec!["a".into(), "10".into()], vec!["b".into(), "5".into()]],
            40,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].matches('█').count() > lines[1].matches('█').count());
        assert!(render(&spec, &["s".into(), "v".into()], &[], 40).contains("no rows"));
    }

    #[test]
    fn heatmap_has_a_legend() {
        let spec = ChartSpec::parse("heatmap x=p y=c value=r format=percent").unwrap();
        let rows =
            vec![vec!["0".into(), "2025-01".into(), "1.0".into()], vec!["1".into(), "2025-01".into(), "0.4".into()]];
        let text = render(&spec, &["p".into(), "c".into(), "r".into()], &rows, 80);
        assert!(text.contains("100.0%") && text.contains("from 40.0% (light) to 100.0% (dark)"));
        // Leaving period 0 out of the scale, as the retention heatmaps do.
        let rows = vec![
            vec!["0".into(), "2025-01".into(), "1.0".into()],
            vec!["1".into(), "2025-01".into(), "0.4".into()],
            vec!["2".into(), "2025-01".into(), "0.2".into()],
        ];
        let spec = ChartSpec::parse("heatmap x=p y=c value=r format=percent scale_excludes=0").unwrap();
        let text = render(&spec, &["p".into(), "c".into(), "r".into()], &rows, 80);
        assert!(text.contains("from 20.0% (light) to 40.0% (dark)"), "{text}");
    }
}
