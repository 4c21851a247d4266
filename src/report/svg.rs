//! Charts as inline SVG, drawn by segsql itself: no scripts, no fonts or files from a
//! network, so a report opens offline.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::annotation::{ChartKind, ChartSpec, NumberFormat, kind_name};

/// A result as the chart sees it: the header and every cell as text.
pub struct Table<'a> {
    pub header: &'a [String],
    pub rows: &'a [Vec<String>],
}

impl Table<'_> {
    fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or(0)
    }
}

fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `1234567.8` → `1,234,568`; keeps two decimals below 100.
pub fn format_number(value: f64, format: NumberFormat) -> String {
    match format {
        NumberFormat::Percent => format!("{:.1}%", value * 100.0),
        NumberFormat::Currency => {
            let decimals = if value.abs() < 1000.0 && value.fract() != 0.0 { 2 } else { 0 };
            let text = grouped(value.abs(), decimals);
            if value < 0.0 { format!("-${text}") } else { format!("${text}") }
        }
        NumberFormat::Number => {
            let decimals = if value.fract() == 0.0 || value.abs() >= 100.0 { 0 } else { 2 };
            let text = grouped(value.abs(), decimals);
            if value < 0.0 { format!("-{text}") } else { text }
        }
    }
}

fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Round tick values covering `low..high`.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    // Not `high <= low`: a NaN bound must take this branch too.
    if high.partial_cmp(&low) != Some(std::cmp::Ordering::Greater) {
        return vec![low];
    }
    let raw = (high - low) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (low / step).floor();
    // Steps from below `low` to the first tick at or above `high`, so the axis covers both.
    let mut out = Vec::new();
    let mut i = 0.0;
    loop {
        let t = (first + i) * step;
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        if t >= high - step * 1e-9 {
            break;
        }
        i += 1.0;
    }
    out
}

/// Blue sequential scale: light for low values, dark for high.
fn colour(fraction: f64) -> (String, bool) {
    let f = fraction.clamp(0.0, 1.0);
    let (low, high) = ((239.0, 246.0, 255.0), (8.0, 48.0, 107.0));
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    (format!("#{:02x}{:02x}{:02x}", mix(low.0, high.0), mix(low.1, high.1), mix(low.2, high.2)), f > 0.55)
}

/// Okabe and Ito's colour-blind-safe palette, darkest first.
const PALETTE: [&str; 8] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
/// Each line series also has its own dash pattern, so the lines stay apart in grey print.
const DASHES: [&str; 8] = ["", "7 3", "2 3", "9 3 2 3", "4 4", "12 4", "1 2", "6 2 2 2"];

/// The chart for `table`, or a "no rows" panel for an empty result.
pub fn chart(spec: &ChartSpec, table: &Table) -> String {
    let title = spec.title.clone().unwrap_or_else(|| match spec.kind {
        ChartKind::Kpi => "Headline numbers".to_string(),
        ChartKind::Cards => format!("{} profiles", spec.label.as_deref().unwrap_or_default()),
        _ => format!("{} by {}", spec.value.as_ref().unwrap_or(&spec.y), spec.x),
    });
    if table.rows.is_empty() {
        return format!(
            "<svg class=\"chart\" data-kind=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"120\" role=\"img\" aria-label=\"{t}\">\
             <text x=\"10\" y=\"24\" class=\"title\">{t}</text><text x=\"240\" y=\"75\" text-anchor=\"middle\" class=\"empty\">no rows</text></svg>",
            kind_name(spec.kind),
            t = escape(&title)
        );
    }
    let svg = match spec.kind {
        ChartKind::Heatmap => heatmap(spec, table, &title),
        ChartKind::Bar => bar(spec, table, &title),
        ChartKind::Line => line(spec, table, &title),
        ChartKind::Kpi => kpi(spec, table, &title),
        ChartKind::Scatter => scatter(spec, table, &title),
        ChartKind::Stacked => stacked(spec, table, &title),
        ChartKind::Cards => cards(spec, table, &title),
    };
    with_view_box(svg)
}

/// Gives the chart a viewBox matching its size, so a narrower page (print) can scale it
/// down whole rather than cut it.
fn with_view_box(svg: String) -> String {
    let attribute = |name: &str| {
        let start = svg.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + svg[start..].find('"')?;
        Some((end, svg[start..end].to_string()))
    };
    match (attribute("width"), attribute("height")) {
        (Some(_), Some((end, height))) => {
            let width = attribute("width").map(|(_, w)| w).unwrap_or_default();
            format!("{}\" viewBox=\"0 0 {width} {height}{}", &svg[..end], &svg[end..])
        }
        _ => svg,
    }
}

/// A KPI row's format: its `formats` column's cell when the chart names one (headline
/// numbers mix counts, money and rates), else the chart's.
pub fn row_format(spec: &ChartSpec, table: &Table, row: &[String]) -> NumberFormat {
    spec.formats.as_deref().and_then(|c| NumberFormat::parse(&row[table.column(c)])).unwrap_or(spec.format)
}

/// A KPI's change since the last run with an arrow and a sign (colour alone would not
/// survive grey print), and whether it went up, down or nowhere.
pub fn change_text(change: f64, format: NumberFormat) -> (String, std::cmp::Ordering) {
    // A change too small to show at the value's precision ("+0.0%") is no change to a reader.
    let shown = format_number(change.abs(), format);
    if change != 0.0 && !shown.chars().any(|c| c.is_ascii_digit() && c != '0') {
        return ("≈ no change".to_string(), std::cmp::Ordering::Equal);
    }
    match change.partial_cmp(&0.0) {
        Some(std::cmp::Ordering::Greater) => {
            (format!("▲ +{}", format_number(change, format)), std::cmp::Ordering::Greater)
        }
        Some(std::cmp::Ordering::Less) => (format!("▼ {}", format_number(change, format)), std::cmp::Ordering::Less),
        _ => ("= no change".to_string(), std::cmp::Ordering::Equal),
    }
}

/// Headline numbers as tiles, four to a row: the label, the value large, and the change
/// since the last run with an arrow (colour alone would not survive grey print).
fn kpi(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (lc, vc) = (
        table.column(spec.label.as_deref().unwrap_or_default()),
        table.column(spec.value.as_deref().unwrap_or_default()),
    );
    let dc = spec.delta.as_deref().map(|d| table.column(d));
    let (tile_w, tile_h, gap, per_row) = (200.0, 92.0, 12.0, 4usize);
    let columns = table.rows.len().min(per_row);
    let width = 10.0 + columns as f64 * (tile_w + gap);
    let height = 40.0 + table.rows.len().div_ceil(per_row) as f64 * (tile_h + gap);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"kpi\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        t = escape(title)
    );
    for (i, row) in table.rows.iter().enumerate() {
        let x = 10.0 + (i % per_row) as f64 * (tile_w + gap);
        let y = 36.0 + (i / per_row) as f64 * (tile_h + gap);
        let format = row_format(spec, table, row);
        let value = number(&row[vc]).map_or_else(|| row[vc].clone(), |v| format_number(v, format));
        let _ = write!(
            svg,
            "<rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"{tile_w:.0}\" height=\"{tile_h:.0}\" rx=\"6\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" class=\"tick\">{}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" class=\"kpi-value\">{}</text>",
            x + 12.0,
            y + 22.0,
            escape(&row[lc]),
            x + 12.0,
            y + 56.0,
            escape(&value)
        );
        // Unknown (no earlier run, or not kept from it): nothing rather than a guess.
        if let Some(change) = dc.and_then(|d| number(&row[d])) {
            let (text, direction) = change_text(change, format);
            // Green for better: up, unless the row's `good` column says down (churn).
            let down_is_good = spec.good.as_deref().is_some_and(|g| row[table.column(g)].trim() == "down");
            let colour = match (direction, down_is_good) {
                (std::cmp::Ordering::Equal, _) => "#57606a",
                (std::cmp::Ordering::Greater, false) | (std::cmp::Ordering::Less, true) => "#1a7f37",
                _ => "#b42318",
            };
            let _ = write!(
                svg,
                "<text x=\"{:.0}\" y=\"{:.0}\" class=\"small\" fill=\"{colour}\">{}</text>",
                x + 12.0,
                y + 78.0,
                escape(&format!("{text} since last run"))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn categories(table: &Table, column: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for row in table.rows {
        if !seen.contains(&row[column]) {
            seen.push(row[column].clone());
        }
    }
    seen
}

fn heatmap(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (xc, yc) = (table.column(&spec.x), table.column(&spec.y));
    let vc = table.column(spec.value.as_deref().unwrap_or_default());
    let lc = spec.label.as_deref().map(|l| table.column(l));
    let xs = categories(table, xc);
    let ys = categories(table, yc);
    let mut cells: BTreeMap<(usize, usize), (Option<f64>, Option<String>)> = BTreeMap::new();
    for row in table.rows {
        let x = xs.iter().position(|v| *v == row[xc]).unwrap_or(0);
        let y = ys.iter().position(|v| *v == row[yc]).unwrap_or(0);
        cells.insert((x, y), (number(&row[vc]), lc.map(|l| row[l].clone())));
    }
    // Columns named by scale_excludes (a retention heatmap's period 0, always 100%) do not
    // stretch the colour scale; their cells take its nearest end.
    let values: Vec<f64> = cells.iter().filter(|((x, _), _)| spec.scales(&xs[*x])).filter_map(|(_, c)| c.0).collect();
    let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let cell_w = (720.0 / xs.len() as f64).clamp(34.0, 72.0);
    let cell_h = if ys.len() > 30 { 16.0 } else { 24.0 };
    let (left, top) = (120.0, 48.0);
    let width = left + cell_w * xs.len() as f64 + 110.0;
    let height = top + cell_h * ys.len() as f64 + 56.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        t = escape(title)
    );
    for (i, x) in xs.iter().enumerate() {
        let cx = left + cell_w * (i as f64 + 0.5);
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            top - 6.0,
            escape(x)
        );
    }
    for (j, y) in ys.iter().enumerate() {
        let cy = top + cell_h * (j as f64 + 0.5) + 4.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{cy:.1}\" text-anchor=\"end\" class=\"tick\">{}</text>",
            left - 6.0,
            escape(y)
        );
    }
    let font = if cell_w < 44.0 { "small" } else { "cell" };
    for ((x, y), (value, label)) in &cells {
        let (px, py) = (left + cell_w * *x as f64, top + cell_h * *y as f64);
        let Some(v) = value else {
            let _ = write!(
                svg,
                "<rect x=\"{px:.1}\" y=\"{py:.1}\" width=\"{cell_w:.1}\" height=\"{cell_h:.1}\" fill=\"#f2f2f2\"/>"
            );
            continue;
        };
        let fraction = if high > low { ((v - low) / (high - low)).clamp(0.0, 1.0) } else { 0.5 };
        let (fill, dark) = colour(fraction);
        let text = match label {
            Some(l) => l.clone(),
            None => format_number(*v, spec.format),
        };
        let _ = write!(
            svg,
            "<rect x=\"{px:.1}\" y=\"{py:.1}\" width=\"{cell_w:.1}\" height=\"{cell_h:.1}\" fill=\"{fill}\"><title>{} {} / {} {}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"{font}\" fill=\"{}\">{}</text>",
            escape(&spec.y),
            escape(&ys[*y]),
            escape(&spec.x),
            escape(&xs[*x]),
            escape(&format_number(*v, spec.format)),
            px + cell_w / 2.0,
            py + cell_h / 2.0 + 4.0,
            if dark { "#ffffff" } else { "#111111" },
            escape(&text)
        );
    }
    // Axis titles and the colour legend.
    let grid_bottom = top + cell_h * ys.len() as f64;
    axis_titles(
        &mut svg,
        (left + cell_w * xs.len() as f64 / 2.0, grid_bottom + 22.0),
        &spec.x,
        (14.0, top + (grid_bottom - top) / 2.0),
        &spec.y,
    );
    let legend_x = left + cell_w * xs.len() as f64 + 24.0;
    let id = format!("g{}", title.len() + xs.len() * 31 + ys.len());
    let _ = write!(
        svg,
        "<defs><linearGradient id=\"{id}\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\"><stop offset=\"0\" stop-color=\"{}\"/><stop offset=\"1\" stop-color=\"{}\"/></linearGradient></defs>\
         <g class=\"legend\"><text x=\"{legend_x:.1}\" y=\"{:.1}\" class=\"axis\">{}</text>\
         <rect x=\"{legend_x:.1}\" y=\"{top:.1}\" width=\"14\" height=\"120\" fill=\"url(#{id})\" stroke=\"#999\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text></g></svg>",
        colour(0.0).0,
        colour(1.0).0,
        top - 6.0,
        escape(spec.value.as_deref().unwrap_or_default()),
        legend_x + 18.0,
        top + 10.0,
        escape(&format_number(high, spec.format)),
        legend_x + 18.0,
        top + 120.0,
        escape(&format_number(low, spec.format)),
    );
    svg
}

fn bar(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (xc, yc) = (table.column(&spec.x), table.column(&spec.y));
    let bars: Vec<(String, f64)> = table.rows.iter().map(|r| (r[xc].clone(), number(&r[yc]).unwrap_or(0.0))).collect();
    let low = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let high = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let ticks = ticks(low, high);
    let (axis_low, axis_high) = (ticks[0].min(low), ticks.last().copied().unwrap_or(high).max(high));
    let (left, top, plot_w, bar_h) = (170.0, 40.0, 520.0, 22.0);
    let height = top + bar_h * bars.len() as f64 + 60.0;
    let scale = |v: f64| left + (v - axis_low) / (axis_high - axis_low).max(f64::MIN_POSITIVE) * plot_w;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"bar\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        left + plot_w + 90.0,
        t = escape(title)
    );
    let bottom = top + bar_h * bars.len() as f64;
    for t in &ticks {
        let x = scale(*t);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" class=\"grid\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            bottom + 16.0,
            escape(&format_number(*t, spec.format))
        );
    }
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = top + bar_h * i as f64;
        let (x0, x1) = (scale(0.0_f64.max(axis_low)), scale(*value));
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"small\">{}</text>",
            left - 6.0,
            y + bar_h / 2.0 + 4.0,
            escape(label),
            x0.min(x1),
            y + 3.0,
            (x1 - x0).abs().max(1.0),
            bar_h - 6.0,
            PALETTE[0],
            escape(label),
            escape(&format_number(*value, spec.format)),
            x0.max(x1) + 4.0,
            y + bar_h / 2.0 + 4.0,
            escape(&format_number(*value, spec.format))
        );
    }
    axis_titles(&mut svg, (left + plot_w / 2.0, bottom + 38.0), &spec.y, (14.0, top + (bottom - top) / 2.0), &spec.x);
    svg.push_str("</svg>");
    svg
}

fn line(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (xc, yc) = (table.column(&spec.x), table.column(&spec.y));
    let sc = spec.series.as_deref().map(|s| table.column(s));
    let xs = categories(table, xc);
    let series_names = match sc {
        Some(sc) => categories(table, sc),
        None => vec![spec.y.clone()],
    };
    let points: Vec<(usize, usize, f64)> = table
        .rows
        .iter()
        .filter_map(|r| {
            let x = xs.iter().position(|v| *v == r[xc])?;
            let s = sc.map_or(Some(0), |sc| series_names.iter().position(|v| *v == r[sc]))?;
            Some((s, x, number(&r[yc])?))
        })
        .collect();
    let low = points.iter().map(|p| p.2).fold(0.0, f64::min);
    let high = points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max).max(low);
    let ticks = ticks(low, high);
    let (axis_low, axis_high) = (ticks[0].min(low), ticks.last().copied().unwrap_or(high).max(high));
    let (left, top, plot_w, plot_h) = (80.0, 40.0, 560.0, 260.0);
    let step = if xs.len() > 1 { plot_w / (xs.len() - 1) as f64 } else { 0.0 };
    let px = |x: usize| left + step * x as f64 + if xs.len() == 1 { plot_w / 2.0 } else { 0.0 };
    let py = |v: f64| top + plot_h - (v - axis_low) / (axis_high - axis_low).max(f64::MIN_POSITIVE) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"line\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        left + plot_w + 170.0,
        top + plot_h + 60.0,
        t = escape(title)
    );
    for t in &ticks {
        let y = py(*t);
        y_gridline(&mut svg, (left, left + plot_w), y, &format_number(*t, spec.format));
    }
    // Skip x labels that would overlap: a label needs about 7 px per character.
    let widest = xs.iter().map(|x| x.chars().count()).max().unwrap_or(1) as f64 * 7.0 + 8.0;
    let label_every = if step > 0.0 { (widest / step).ceil().max(1.0) as usize } else { 1 };
    for (i, x) in xs.iter().enumerate().filter(|(i, _)| i % label_every == 0) {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            px(i),
            top + plot_h + 16.0,
            escape(x)
        );
    }
    for (s, name) in series_names.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let dash = match DASHES[s % DASHES.len()] {
            "" => String::new(),
            pattern => format!(" stroke-dasharray=\"{pattern}\""),
        };
        let mut own: Vec<&(usize, usize, f64)> = points.iter().filter(|p| p.0 == s).collect();
        own.sort_by_key(|p| p.1);
        let path: Vec<String> = own.iter().map(|p| format!("{:.1},{:.1}", px(p.1), py(p.2))).collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>",
            path.join(" ")
        );
        for p in &own {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{} {}: {}</title></circle>",
                px(p.1),
                py(p.2),
                escape(name),
                escape(&xs[p.1]),
                escape(&format_number(p.2, spec.format))
            );
        }
        if series_names.len() > 1 || spec.series.is_some() {
            let ly = top + 14.0 + 18.0 * s as f64;
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
                left + plot_w + 12.0,
                ly - 4.0,
                left + plot_w + 36.0,
                ly - 4.0,
                left + plot_w + 42.0,
                ly,
                escape(name)
            );
        }
    }
    axis_titles(&mut svg, (left + plot_w / 2.0, top + plot_h + 40.0), &spec.x, (16.0, top + plot_h / 2.0), &spec.y);
    svg.push_str("</svg>");
    svg
}

/// A horizontal grid line across the plot at `y`, labelled on the left.
fn y_gridline(svg: &mut String, (left, right): (f64, f64), y: f64, label: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\">{}</text>",
        left - 6.0,
        y + 4.0,
        escape(label)
    );
}

/// The x-axis title centred at `x_at` and the y-axis title turned upright at `y_at`.
fn axis_titles(svg: &mut String, x_at: (f64, f64), x_title: &str, y_at: (f64, f64), y_title: &str) {
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"axis\">{}</text>\
         <text x=\"{:.0}\" y=\"{:.1}\" class=\"axis\" transform=\"rotate(-90 {:.0} {:.1})\" text-anchor=\"middle\">{}</text>",
        x_at.0,
        x_at.1,
        escape(x_title),
        y_at.0,
        y_at.1,
        y_at.0,
        y_at.1,
        escape(y_title)
    );
}

/// The ends of an axis that starts at zero (or below, for negative data) and leaves room
/// above the largest value for its label.
fn axis(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((0.0_f64, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    let high = if high > low { high } else { low + 1.0 };
    let ticks = ticks(low, high + (high - low) * 0.08);
    (ticks[0].min(low), ticks.last().copied().unwrap_or(high).max(high))
}

/// Points with a label each (so they read in grey print), sized by `size`, with dashed
/// quadrant lines and the quadrants' names in their corners.
fn scatter(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (xc, yc) = (table.column(&spec.x), table.column(&spec.y));
    let lc = spec.label.as_deref().map(|l| table.column(l));
    let sc = spec.size.as_deref().map(|s| table.column(s));
    let points: Vec<(f64, f64, f64, String)> = table
        .rows
        .iter()
        .filter_map(|r| {
            let size = sc.and_then(|c| number(&r[c])).unwrap_or(1.0).max(0.0);
            Some((number(&r[xc])?, number(&r[yc])?, size, lc.map(|c| r[c].clone()).unwrap_or_default()))
        })
        .collect();
    let (x_low, x_high) = axis(points.iter().map(|p| p.0));
    let (y_low, y_high) = axis(points.iter().map(|p| p.1));
    let biggest = points.iter().map(|p| p.2).fold(0.0, f64::max);
    let (left, top, plot_w, plot_h) = (90.0, 40.0, 560.0, 340.0);
    let px = |v: f64| left + (v - x_low) / (x_high - x_low) * plot_w;
    let py = |v: f64| top + plot_h - (v - y_low) / (y_high - y_low) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"scatter\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        left + plot_w + 190.0,
        top + plot_h + 60.0,
        t = escape(title)
    );
    for t in ticks(y_low, y_high).into_iter().filter(|t| *t <= y_high) {
        let y = py(t);
        y_gridline(&mut svg, (left, left + plot_w), y, &format_number(t, spec.format));
    }
    for t in ticks(x_low, x_high).into_iter().filter(|t| *t <= x_high) {
        let x = px(t);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"grid\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            top + plot_h,
            top + plot_h + 16.0,
            escape(&format_number(t, NumberFormat::Number))
        );
    }
    if !points.is_empty() && (!spec.quadrants.is_empty() || spec.x_split.is_some() || spec.y_split.is_some()) {
        let middle = |values: Vec<f64>| {
            let (l, h) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
            (l + h) / 2.0
        };
        let xs = px(spec.x_split.unwrap_or_else(|| middle(points.iter().map(|p| p.0).collect())));
        let ys = py(spec.y_split.unwrap_or_else(|| middle(points.iter().map(|p| p.1).collect())));
        let _ = write!(
            svg,
            "<line x1=\"{xs:.1}\" y1=\"{top:.1}\" x2=\"{xs:.1}\" y2=\"{:.1}\" stroke=\"#555\" stroke-dasharray=\"6 4\"/>\
             <line x1=\"{left:.1}\" y1=\"{ys:.1}\" x2=\"{:.1}\" y2=\"{ys:.1}\" stroke=\"#555\" stroke-dasharray=\"6 4\"/>",
            top + plot_h,
            left + plot_w
        );
        let corners = [
            (left + 6.0, top + 16.0, "start"),
            (left + plot_w - 6.0, top + 16.0, "end"),
            (left + 6.0, top + plot_h - 8.0, "start"),
            (left + plot_w - 6.0, top + plot_h - 8.0, "end"),
        ];
        for (name, (x, y, anchor)) in spec.quadrants.iter().zip(corners) {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" class=\"quadrant\">{}</text>",
                escape(name)
            );
        }
    }
    // Labels move down until they clear the labels already placed (about 6 px a character).
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    let mut label_at = |x: f64, y: f64, text: &str| {
        let w = 6.0 * text.chars().count() as f64;
        let mut y = y;
        while placed.iter().any(|(px, py, pw)| x < px + pw && *px < x + w && (y - py).abs() < 11.0) {
            y += 11.0;
        }
        placed.push((x, y, w));
        y
    };
    // Largest first, so small points stay on top and visible.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|a, b| points[*b].2.total_cmp(&points[*a].2).then(a.cmp(b)));
    for i in order {
        let (x, y, size, label) = &points[i];
        // Area proportional to size.
        let r = if biggest > 0.0 { 5.0 + 23.0 * (size / biggest).sqrt() } else { 6.0 };
        let colour = PALETTE[i % PALETTE.len()];
        let ly = label_at(px(*x) + r + 3.0, py(*y) + 3.0, label);
        let size_text = sc.map(|_| {
            format!(", {}: {}", spec.size.as_deref().unwrap_or_default(), format_number(*size, NumberFormat::Number))
        });
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\" fill=\"{colour}\" fill-opacity=\"0.55\" stroke=\"#222\"><title>{}: {} {}, {} {}{}</title></circle>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"small\">{}</text>",
            px(*x),
            py(*y),
            escape(label),
            escape(&spec.x),
            escape(&format_number(*x, NumberFormat::Number)),
            escape(&spec.y),
            escape(&format_number(*y, spec.format)),
            escape(&size_text.unwrap_or_default()),
            px(*x) + r + 3.0,
            ly,
            escape(label)
        );
    }
    axis_titles(&mut svg, (left + plot_w / 2.0, top + plot_h + 40.0), &spec.x, (16.0, top + plot_h / 2.0), &spec.y);
    if let Some(size) = &spec.size {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">point area: {}</text>",
            left + plot_w + 14.0,
            top + 12.0,
            escape(size)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Fill patterns laid over the series colours, so stacked series stay apart in grey print.
const HATCHES: [&str; 4] = ["", "h1", "h2", "h3"];
const HATCH_DEFS: &str = "<defs>\
    <pattern id=\"h1\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"2\"/></pattern>\
    <pattern id=\"h2\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\"><circle cx=\"2.5\" cy=\"2.5\" r=\"1.2\" fill=\"#fff\"/></pattern>\
    <pattern id=\"h3\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><line x1=\"0\" y1=\"3\" x2=\"6\" y2=\"3\" stroke=\"#fff\" stroke-width=\"1.5\"/></pattern></defs>";

/// A series' colour and overlay: eight colours, and a different overlay each time they repeat.
fn series_fill(s: usize) -> (&'static str, &'static str) {
    (PALETTE[s % PALETTE.len()], HATCHES[(s + s / PALETTE.len()) % HATCHES.len()])
}

/// Columns per `x`, each stacked from its `series` values in order of first appearance.
fn stacked(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let (xc, yc) = (table.column(&spec.x), table.column(&spec.y));
    let sc = table.column(spec.series.as_deref().unwrap_or_default());
    let xs = categories(table, xc);
    let series = categories(table, sc);
    let mut values = vec![vec![0.0; series.len()]; xs.len()];
    for row in table.rows {
        let x = xs.iter().position(|v| *v == row[xc]).unwrap_or(0);
        let s = series.iter().position(|v| *v == row[sc]).unwrap_or(0);
        // Negative parts cannot stack on a column; they count as zero.
        values[x][s] += number(&row[yc]).unwrap_or(0.0).max(0.0);
    }
    let (_, high) = axis(values.iter().map(|v| v.iter().sum::<f64>()));
    let (left, top, plot_h) = (90.0, 40.0, 300.0);
    let col_w = (640.0 / xs.len() as f64).clamp(14.0, 60.0);
    let plot_w = col_w * xs.len() as f64;
    let py = |v: f64| top + plot_h - v / high * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"stacked\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"{t}\">{HATCH_DEFS}\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        left + plot_w + 200.0,
        (top + plot_h + 70.0).max(top + 20.0 * series.len() as f64 + 20.0),
        t = escape(title)
    );
    for t in ticks(0.0, high).into_iter().filter(|t| *t <= high) {
        let y = py(t);
        y_gridline(&mut svg, (left, left + plot_w), y, &format_number(t, spec.format));
    }
    let widest = xs.iter().map(|x| x.chars().count()).max().unwrap_or(1) as f64 * 7.0 + 6.0;
    let label_every = (widest / col_w).ceil().max(1.0) as usize;
    for (i, x) in xs.iter().enumerate() {
        let x0 = left + col_w * i as f64;
        let mut base = 0.0;
        for (s, name) in series.iter().enumerate() {
            let v = values[i][s];
            if v <= 0.0 {
                continue;
            }
            let (colour, hatch) = series_fill(s);
            let (y1, y0) = (py(base + v), py(base));
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{} {}, {}: {}</title></rect>",
                x0 + 1.0,
                col_w - 2.0,
                (y0 - y1).max(0.5),
                escape(&spec.x),
                escape(x),
                escape(name),
                escape(&format_number(v, spec.format))
            );
            if !hatch.is_empty() {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"url(#{hatch})\" pointer-events=\"none\"/>",
                    x0 + 1.0,
                    col_w - 2.0,
                    (y0 - y1).max(0.5)
                );
            }
            base += v;
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\" transform=\"rotate(-35 {:.1} {:.1})\">{}</text>",
                x0 + col_w / 2.0,
                top + plot_h + 14.0,
                x0 + col_w / 2.0,
                top + plot_h + 14.0,
                escape(x)
            );
        }
    }
    // The legend lists the series top of the stack first, as they read on the columns.
    for (row, s) in (0..series.len()).rev().enumerate() {
        let (colour, hatch) = series_fill(s);
        let (lx, ly) = (left + plot_w + 16.0, top + 20.0 * row as f64);
        let _ = write!(svg, "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"14\" height=\"14\" fill=\"{colour}\"/>");
        if !hatch.is_empty() {
            let _ =
                write!(svg, "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"14\" height=\"14\" fill=\"url(#{hatch})\"/>");
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            lx + 20.0,
            ly + 11.0,
            escape(&series[s])
        );
    }
    let _ = write!(
        svg,
        "<text x=\"16\" y=\"{:.1}\" class=\"axis\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">{}</text></svg>",
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(&spec.y)
    );
    svg
}

/// A card's lines: every column but the label, named and formatted.
pub fn card_lines(spec: &ChartSpec, header: &[String], row: &[String]) -> Vec<(String, String)> {
    let label = spec.label.as_deref().unwrap_or_default();
    header
        .iter()
        .zip(row)
        .filter(|(h, _)| h.as_str() != label)
        .map(|(h, cell)| {
            let text = match number(cell) {
                Some(v) => format_number(v, spec.card_format(h)),
                None if cell == "NULL" => "n/a".to_string(),
                None => cell.clone(),
            };
            (h.replace('_', " "), text)
        })
        .collect()
}

/// One card per row, three to a row: the label as heading, then each column's value.
fn cards(spec: &ChartSpec, table: &Table, title: &str) -> String {
    let lc = table.column(spec.label.as_deref().unwrap_or_default());
    let (card_w, gap, per_row, line_h) = (250.0, 12.0, 3usize, 17.0);
    let lines: Vec<Vec<(String, String)>> = table.rows.iter().map(|r| card_lines(spec, table.header, r)).collect();
    let longest = lines.iter().map(Vec::len).max().unwrap_or(0);
    // Short values sit right of their name; longer text (a description) wraps under it.
    let wrapped: Vec<Vec<(String, Vec<String>, bool)>> = lines
        .into_iter()
        .map(|card| {
            card.into_iter()
                .map(|(k, v)| {
                    let room = 38 - k.chars().count().min(20);
                    if v.chars().count() > room { (k, wrap(&v, 40), true) } else { (k, vec![v], false) }
                })
                .collect()
        })
        .collect();
    let lines_of = |card: &Vec<(String, Vec<String>, bool)>| {
        card.iter().map(|(_, v, below)| if *below { v.len() + 1 } else { 1 }).sum::<usize>()
    };
    let card_h = 40.0 + line_h * wrapped.iter().map(lines_of).max().unwrap_or(0).max(longest) as f64;
    let columns = table.rows.len().min(per_row);
    let width = 10.0 + columns as f64 * (card_w + gap);
    let height = 40.0 + table.rows.len().div_ceil(per_row) as f64 * (card_h + gap);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-kind=\"cards\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"10\" y=\"22\" class=\"title\">{t}</text>",
        t = escape(title)
    );
    for (i, (row, card)) in table.rows.iter().zip(&wrapped).enumerate() {
        let x = 10.0 + (i % per_row) as f64 * (card_w + gap);
        let y = 36.0 + (i / per_row) as f64 * (card_h + gap);
        let _ = write!(
            svg,
            "<rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"{card_w:.0}\" height=\"{card_h:.0}\" rx=\"6\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/>\
             <rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"6\" height=\"{card_h:.0}\" fill=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" class=\"card-title\">{}</text>",
            PALETTE[i % PALETTE.len()],
            x + 16.0,
            y + 24.0,
            escape(&row[lc])
        );
        let mut line = 0;
        for (key, values, below) in card {
            let ly = |line: usize| y + 46.0 + line_h * line as f64;
            let _ =
                write!(svg, "<text x=\"{:.0}\" y=\"{:.0}\" class=\"tick\">{}</text>", x + 16.0, ly(line), escape(key));
            if let (false, [value]) = (below, values.as_slice()) {
                let _ = write!(
                    svg,
                    "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" class=\"cell\">{}</text>",
                    x + card_w - 12.0,
                    ly(line),
                    escape(value)
                );
            } else {
                // Text that wraps goes under its name, left-aligned.
                for value in values {
                    line += 1;
                    let _ = write!(
                        svg,
                        "<text x=\"{:.0}\" y=\"{:.0}\" class=\"cell\">{}</text>",
                        x + 16.0,
                        ly(line),
                        escape(value)
                    );
                }
            }
            line += 1;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Splits text at spaces into lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant, reason = "3.14159 is a number to round, not pi")]
    fn numbers_read_well() {
        assert_eq!(format_number(0.2534, NumberFormat::Percent), "25.3%");
        assert_eq!(format_number(1234567.8, NumberFormat::Currency), "$1,234,568");
        assert_eq!(format_number(12.5, NumberFormat::Currency), "$12.50");
        assert_eq!(format_number(-1500.0, NumberFormat::Number), "-1,500");
        assert_eq!(format_number(3.14159, NumberFormat::Number), "3.14");
    }

    #[test]
    fn kpi_tiles_carry_value_change_and_an_arrow() {
        let spec = ChartSpec::parse("kpi label=metric value=value delta=change format=currency").unwrap();
        let header = ["metric".to_string(), "value".to_string(), "change".to_string()];
        let rows: Vec<Vec<String>> = [["revenue", "125000", "-2500"], ["customers", "4012", "0"], ["new", "12", ""]]
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert!(svg.contains("data-kind=\"kpi\"") && svg.matches("<rect").count() == 3);
        assert!(svg.contains(">$125,000<") && svg.contains("▼ -$2,500 since last run"), "{svg}");
        assert!(svg.contains("= no change since last run") && svg.matches("since last run").count() == 2, "{svg}");
        let spec = ChartSpec::parse("kpi label=metric value=value formats=unit").unwrap();
        let header = ["metric".to_string(), "value".to_string(), "unit".to_string()];
        let rows = vec![
            vec!["repeat".to_string(), "0.25".to_string(), "percent".to_string()],
            vec!["n".to_string(), "7".to_string(), "".to_string()],
        ];
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert!(svg.contains(">25.0%<") && svg.contains(">7<"), "{svg}");
        assert_eq!(change_text(0.0004, NumberFormat::Percent).0, "≈ no change");
        assert_eq!(change_text(-0.004, NumberFormat::Percent).0, "▼ -0.4%");
        let spec = ChartSpec::parse("kpi label=metric value=value delta=change good=good format=percent").unwrap();
        let header = ["metric", "value", "change", "good"].map(String::from);
        let rows = vec![
            ["churn", "0.4", "0.1", "down"].map(String::from).to_vec(),
            ["repeat", "0.4", "0.1", "up"].map(String::from).to_vec(),
        ];
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert!(
            svg.contains("fill=\"#b42318\">▲ +10.0% since last run")
                && svg.contains("fill=\"#1a7f37\">▲ +10.0% since last run"),
            "{svg}"
        );
    }

    #[test]
    fn line_series_differ_by_dash_as_well_as_colour() {
        let spec = ChartSpec::parse("line x=k y=v series=s").unwrap();
        let header = ["k".to_string(), "v".to_string(), "s".to_string()];
        let rows: Vec<Vec<String>> = [["1", "2", "a"], ["2", "3", "a"], ["1", "1", "b"], ["2", "4", "b"]]
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert!(svg.contains("stroke=\"#0072B2\" stroke-width=\"2\"/>"), "the first series is solid: {svg}");
        assert_eq!(
            svg.matches("stroke=\"#D55E00\" stroke-width=\"2\" stroke-dasharray=\"7 3\"").count(),
            2,
            "line and legend"
        );
    }

    #[test]
    fn excluded_columns_do_not_stretch_the_colour_scale() {
        let header = ["period".to_string(), "cohort".to_string(), "retention".to_string()];
        let rows: Vec<Vec<String>> = [["0", "a", "1.0"], ["1", "a", "0.2"], ["2", "a", "0.1"]]
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        let table = Table { header: &header, rows: &rows };
        let plain = chart(&ChartSpec::parse("heatmap x=period y=cohort value=retention").unwrap(), &table);
        let spec = ChartSpec::parse("heatmap x=period y=cohort value=retention scale_excludes=0").unwrap();
        let scaled = chart(&spec, &table);
        // Period 1 is the darkest cell once period 0 is left out of the scale (and 0 takes the same end).
        let fill_of = |svg: &str, title: &str| {
            let at = svg.find(title).unwrap_or_else(|| panic!("{title} in {svg}"));
            let before = &svg[..at];
            let start = before.rfind("fill=\"").expect("a fill") + 6;
            before[start..start + 7].to_string()
        };
        assert_eq!(fill_of(&scaled, "period 1: 0.20"), fill_of(&scaled, "period 0: 1"));
        assert_ne!(fill_of(&plain, "period 1: 0.20"), fill_of(&plain, "period 0: 1"));
    }

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    #[test]
    fn scatter_points_are_labelled_sized_and_split_into_quadrants() {
        let spec = ChartSpec::parse(
            "scatter x=effort y=impact size=customers label=play format=currency quadrants=\"Quick wins,Major projects,Fill-ins,Thankless tasks\" x_split=3",
        )
        .unwrap();
        let header = ["play", "effort", "impact", "customers"].map(String::from);
        let rows = rows(&[&["Win-back", "2", "50000", "400"], &["Upsell", "4", "1000", "100"]]);
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(
            svg.contains(">Win-back</text>")
                && svg.contains(">Quick wins</text>")
                && svg.contains(">Thankless tasks</text>")
        );
        // Four times the customers, twice the radius (area follows size), bigger drawn first.
        let radius = |label: &str| {
            let at = svg.find(&format!("<title>{label}:")).unwrap();
            let before = &svg[..at];
            let r = &before[before.rfind("r=\"").unwrap() + 3..];
            r[..r.find('"').unwrap()].parse::<f64>().unwrap()
        };
        assert_eq!((radius("Win-back"), radius("Upsell")), (28.0, 5.0 + 23.0 * 0.5));
        assert!(svg.find("<title>Win-back").unwrap() < svg.find("<title>Upsell").unwrap());
        assert!(svg.contains("impact $50,000, customers: 400"), "{svg}");
    }

    #[test]
    fn stacked_columns_add_up_and_their_series_differ_in_grey() {
        let spec = ChartSpec::parse("stacked x=month y=revenue series=segment").unwrap();
        let header = ["month", "segment", "revenue"].map(String::from);
        let rows = rows(&[&["2025-01", "a", "10"], &["2025-01", "b", "30"], &["2025-02", "a", "20"]]);
        let svg = chart(&spec, &Table { header: &header, rows: &rows });
        assert_eq!(svg.matches("<title>month").count(), 3);
        assert!(svg.contains("fill=\"url(#h1)\""), "the second series has an overlay: {svg}");
        assert_eq!(series_fill(0), (PALETTE[0], ""));
        assert_ne!(series_fill(8), series_fill(0), "colours repeat with another overlay");
    }

    #[test]
    fn cards_list_every_column_but_the_label_in_its_format() {
        let spec = ChartSpec::parse("cards label=persona percent=revenue_share currency=clv").unwrap();
        let header = ["persona", "customers", "revenue_share", "clv", "play"].map(String::from);
        let row = ["1. VIP", "1200", "0.4", "812.5", "VIP upsell"].map(String::from);
        assert_eq!(
            card_lines(&spec, &header, &row),
            vec![
                ("customers".to_string(), "1,200".to_string()),
                ("revenue share".to_string(), "40.0%".to_string()),
                ("clv".to_string(), "$812.50".to_string()),
                ("play".to_string(), "VIP upsell".to_string())
            ]
        );
        let svg = chart(&spec, &Table { header: &header, rows: &[row.to_vec()] });
        assert!(svg.contains("class=\"card-title\">1. VIP<"), "{svg}");
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(0.0, 0.9), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(-5.0, 5.0), vec![-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn charts_scale_to_a_narrower_page() {
        let spec = ChartSpec::parse("bar x=a y=b").unwrap();
        let svg = chart(&spec, &Table { header: &["a".into(), "b".into()], rows: &[vec!["x".into(), "1".into()]] });
        assert!(svg.starts_with("<svg class=\"chart\" data-kind=\"bar\" xmlns=\"http://www.w3.org/2000/svg\" width=\"780\" height=\"122\" viewBox=\"0 0 780 122\""), "{svg}");
    }

    #[test]
    fn an_empty_result_says_no_rows() {
        let spec = ChartSpec::parse("bar x=a y=b").unwrap();
        let svg = chart(&spec, &Table { header: &["a".into(), "b".into()], rows: &[] });
        assert!(svg.contains("no rows"));
    }
}
