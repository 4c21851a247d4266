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
        ChartKind::Scatter => scatter(spec, header, rows, width, &mut out),
        ChartKind::Stacked => stacked(spec, header, rows, width, &mut out),
        ChartKind::Cards => {
            let lc = column(spec.label.as_deref().unwrap_or_default());
            for row in rows {
                let lines = super::svg::card_lines(spec, header, row);
                let key_w = lines.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
                let _ = writeln!(out, "\x1b[1m{}\x1b[0m", row[lc]);
                for (key, value) in lines {
                    let _ = writeln!(out, "  {key:<key_w$}  {value}");
                }
                out.push('\n');
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

/// Marks for a scatter's points: the legend below the plot says which is which.
const MARKS: &[u8] = b"123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Points on a character grid, numbered, with the quadrant lines dotted and a legend.
fn scatter(spec: &ChartSpec, header: &[String], rows: &[Vec<String>], width: usize, out: &mut String) {
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    let (xc, yc) = (column(&spec.x), column(&spec.y));
    let lc = spec.label.as_deref().map(column);
    let sc = spec.size.as_deref().map(column);
    let points: Vec<(f64, f64, &[String])> =
        rows.iter().filter_map(|r| Some((number(&r[xc])?, number(&r[yc])?, r.as_slice()))).collect();
    let range = |values: Vec<f64>| {
        let (l, h) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
        let l = l.min(0.0);
        (l, if h > l { h } else { l + 1.0 })
    };
    let (x_low, x_high) = range(points.iter().map(|p| p.0).collect());
    let (y_low, y_high) = range(points.iter().map(|p| p.1).collect());
    let (plot_w, plot_h) = (width.saturating_sub(16).clamp(20, 72), 16usize);
    let gx = |v: f64| (((v - x_low) / (x_high - x_low)) * (plot_w - 1) as f64).round() as usize;
    let gy = |v: f64| plot_h - 1 - (((v - y_low) / (y_high - y_low)) * (plot_h - 1) as f64).round() as usize;
    let mut grid = vec![vec![' '; plot_w]; plot_h];
    let split = !spec.quadrants.is_empty() || spec.x_split.is_some() || spec.y_split.is_some();
    if split && !points.is_empty() {
        let middle = |values: Vec<f64>| {
            let (l, h) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
            (l + h) / 2.0
        };
        let sx = gx(spec.x_split.unwrap_or_else(|| middle(points.iter().map(|p| p.0).collect()))).min(plot_w - 1);
        let sy = gy(spec.y_split.unwrap_or_else(|| middle(points.iter().map(|p| p.1).collect()))).min(plot_h - 1);
        for row in grid.iter_mut() {
            row[sx] = '┊';
        }
        for cell in grid[sy].iter_mut() {
            *cell = if *cell == '┊' { '┼' } else { '┈' };
        }
    }
    for (i, (x, y, _)) in points.iter().enumerate() {
        grid[gy(*y).min(plot_h - 1)][gx(*x).min(plot_w - 1)] = char::from(MARKS[i % MARKS.len()]);
    }
    let high_text = format_number(y_high, spec.format);
    let low_text = format_number(y_low, spec.format);
    let label_w = high_text.chars().count().max(low_text.chars().count());
    for (i, row) in grid.iter().enumerate() {
        let tick = match i {
            0 => high_text.as_str(),
            i if i == plot_h - 1 => low_text.as_str(),
            _ => "",
        };
        let _ = writeln!(out, "{tick:>label_w$} │{}", row.iter().collect::<String>());
    }
    let _ = writeln!(out, "{:>label_w$} └{}", "", "─".repeat(plot_w));
    let left = format_number(x_low, super::annotation::NumberFormat::Number);
    let right = format_number(x_high, super::annotation::NumberFormat::Number);
    let _ = writeln!(
        out,
        "{:>label_w$}  {left}{:^gap$}{right}",
        "",
        spec.x,
        gap = plot_w.saturating_sub(left.len() + right.len())
    );
    if spec.quadrants.len() == 4 {
        let q = &spec.quadrants;
        let _ = writeln!(
            out,
            "quadrants: top left {}, top right {}, bottom left {}, bottom right {}",
            q[0], q[1], q[2], q[3]
        );
    }
    for (i, (x, y, row)) in points.iter().enumerate() {
        let name = lc.map_or_else(String::new, |c| format!(" {}", row[c]));
        let size = match (sc, spec.size.as_deref()) {
            (Some(c), Some(label)) => format!(
                ", {label} {}",
                number(&row[c])
                    .map_or_else(|| row[c].clone(), |v| format_number(v, super::annotation::NumberFormat::Number))
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{}{name}: {} {}, {} {}{size}",
            char::from(MARKS[i % MARKS.len()]),
            spec.x,
            format_number(*x, super::annotation::NumberFormat::Number),
            spec.y,
            format_number(*y, spec.format)
        );
    }
}

/// One horizontal bar per `x`, its parts drawn with a glyph per series (so it reads
/// without colour too) and a legend.
fn stacked(spec: &ChartSpec, header: &[String], rows: &[Vec<String>], width: usize, out: &mut String) {
    const GLYPHS: [char; 4] = ['█', '▓', '▒', '░'];
    const COLOURS: [u8; 8] = [25, 166, 29, 175, 214, 74, 244, 227];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    let (xc, yc, sc) = (column(&spec.x), column(&spec.y), column(spec.series.as_deref().unwrap_or_default()));
    let mut xs: Vec<&str> = Vec::new();
    let mut series: Vec<&str> = Vec::new();
    for row in rows {
        if !xs.contains(&row[xc].as_str()) {
            xs.push(&row[xc]);
        }
        if !series.contains(&row[sc].as_str()) {
            series.push(&row[sc]);
        }
    }
    let mut values = vec![vec![0.0; series.len()]; xs.len()];
    for row in rows {
        let x = xs.iter().position(|v| *v == row[xc]).unwrap_or(0);
        let s = series.iter().position(|v| *v == row[sc]).unwrap_or(0);
        values[x][s] += number(&row[yc]).unwrap_or(0.0).max(0.0);
    }
    let high = values.iter().map(|v| v.iter().sum::<f64>()).fold(0.0, f64::max);
    let label_w = xs.iter().map(|x| x.chars().count()).max().unwrap_or(0).min(16);
    let room = width.saturating_sub(label_w + 16).max(10) as f64;
    let style = |s: usize| (GLYPHS[(s + s / COLOURS.len()) % GLYPHS.len()], COLOURS[s % COLOURS.len()]);
    for (i, x) in xs.iter().enumerate() {
        let _ = write!(out, "{:>label_w$} ", x.chars().take(label_w).collect::<String>());
        // Cumulative rounding, so the parts add up to the whole bar.
        let (mut total, mut drawn) = (0.0, 0usize);
        for (s, value) in values[i].iter().enumerate() {
            total += value;
            let end = if high > 0.0 { (total / high * room).round() as usize } else { 0 };
            let (glyph, colour) = style(s);
            let _ = write!(out, "\x1b[38;5;{colour}m{}\x1b[0m", glyph.to_string().repeat(end.saturating_sub(drawn)));
            drawn = drawn.max(end);
        }
        let _ = writeln!(out, " {}", format_number(total, spec.format));
    }
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let (glyph, colour) = style(s);
            format!("\x1b[38;5;{colour}m{glyph}{glyph}\x1b[0m {name}")
        })
        .collect();
    let _ = writeln!(out, "{}", legend.join("  "));
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

    fn table(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    #[test]
    fn scatter_numbers_its_points_and_names_them_below() {
        let spec = ChartSpec::parse("scatter x=effort y=impact size=n label=play format=currency quadrants=\"Quick wins,Major,Fill-ins,Thankless\" x_split=3").unwrap();
        let header = ["play", "effort", "impact", "n"].map(String::from);
        let rows = table(&[&["Win-back", "1", "100", "5"], &["Upsell", "5", "0", "7"]]);
        let text = render(&spec, &header, &rows, 60);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("$100 │") && lines[0].contains('1'), "the first point at the top: {text}");
        assert!(lines[15].starts_with("  $0 │") && lines[15].ends_with('2'), "{text}");
        assert!(text.contains("┊") && text.contains("quadrants: top left Quick wins"), "{text}");
        assert!(text.contains("1 Win-back: effort 1, impact $100, n 5\n"), "{text}");
    }

    #[test]
    fn stacked_bars_have_a_glyph_per_series() {
        let spec = ChartSpec::parse("stacked x=m y=v series=s").unwrap();
        let header = ["m", "s", "v"].map(String::from);
        let rows = table(&[&["jan", "a", "10"], &["jan", "b", "10"], &["feb", "a", "5"]]);
        let text = render(&spec, &header, &rows, 40);
        let lines: Vec<&str> = text.lines().collect();
        // 21 columns of room: the parts round cumulatively so the whole bar is exact.
        assert_eq!((lines[0].matches('█').count(), lines[0].matches('▓').count()), (11, 10), "{text}");
        assert_eq!(lines[1].matches('█').count(), 5, "{text}");
        assert!(lines[2].contains("██\x1b[0m a") && lines[2].contains("▓▓\x1b[0m b"), "{text}");
    }

    #[test]
    fn cards_print_one_block_per_row() {
        let spec = ChartSpec::parse("cards label=persona percent=share").unwrap();
        let text = render(&spec, &["persona".into(), "share".into()], &table(&[&["VIP", "0.25"]]), 40);
        assert_eq!(text, "\x1b[1mVIP\x1b[0m\n  share  25.0%\n\n");
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
