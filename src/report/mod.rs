//! The HTML report (`--html FILE`): every result of a script as a table, with a chart where
//! an `@chart` annotation asks for one, in one self-contained file. Results are grouped into
//! the stakeholder template's parts (`@section`, in [`Part`] order; unplaced results go to
//! the appendix), with a table of contents and a print layout of one part per page (charts
//! scaled to the page; outside the appendix a charted result prints its chart, not its table).

pub mod annotation;
pub mod finding;
pub mod svg;
pub mod terminal;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use self::annotation::{ChartSpec, Part};
use self::svg::{Table, escape};

/// Rows of each result shown in the report's tables; charts use every row.
const TABLE_ROWS: usize = 100;

/// One statement's result.
#[derive(Debug)]
struct Section {
    title: String,
    part: Part,
    sql: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    chart: Option<ChartSpec>,
}

/// The results collected so far, and where they go.
#[derive(Debug)]
pub struct Report {
    path: PathBuf,
    sections: Vec<Section>,
    /// The run's parameters and data fingerprint, shown at the foot of the page.
    footer: Option<Footer>,
    /// The `@finding` lines, in run order: the executive summary's bullet list.
    findings: Vec<String>,
}

/// What a reader needs to know the numbers came from: the parameters (secrets redacted)
/// and which data. No clock times, so a rerun on the same data writes the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Footer {
    pub params: Vec<(String, String)>,
    /// A fingerprint of the `--data` files and how many there are; `None` for the built-in sample.
    pub data: Option<(String, usize)>,
}

impl Report {
    /// Checks that `path` can be written before any query runs.
    pub fn create(path: &Path) -> Result<Report, String> {
        std::fs::write(path, "").map_err(|e| format!("--html: cannot write {}: {e}", path.display()))?;
        Ok(Report { path: path.to_path_buf(), sections: Vec::new(), footer: None, findings: Vec::new() })
    }

    pub fn add(
        &mut self,
        title: Option<String>,
        part: Option<Part>,
        sql: &str,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        chart: Option<ChartSpec>,
    ) {
        let title = title.unwrap_or_else(|| format!("Result {}", self.sections.len() + 1));
        let part = part.unwrap_or(Part::Appendix);
        self.sections.push(Section { title, part, sql: statement_text(sql), header, rows, chart });
    }

    /// Adds lines to the executive summary's findings.
    pub fn add_findings(&mut self, lines: &[String]) {
        self.findings.extend_from_slice(lines);
    }

    pub fn set_footer(&mut self, footer: Footer) {
        self.footer = Some(footer);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file (called at the end of the run, also after a failure).
    pub fn write(&self) -> Result<(), String> {
        std::fs::write(&self.path, self.html())
            .map_err(|e| format!("--html: cannot write {}: {e}", self.path.display()))
    }

    pub fn html(&self) -> String {
        let mut out = String::from(HEAD);
        let charts = self.sections.iter().filter(|s| s.chart.is_some()).count();
        let _ = write!(
            out,
            "<body data-charts=\"{charts}\"><header><h1>Segmentation report</h1><p>{} results, {charts} charts. Made by segsql {}.</p></header><nav><ol>",
            self.sections.len(),
            env!("CARGO_PKG_VERSION")
        );
        // Each part in template order, its results in the order they ran.
        let parts: Vec<(Part, Vec<(usize, &Section)>)> = Part::ALL
            .into_iter()
            .map(|part| (part, self.sections.iter().enumerate().filter(|(_, s)| s.part == part).collect::<Vec<_>>()))
            .filter(|(part, results)| !results.is_empty() || (*part == Part::Summary && !self.findings.is_empty()))
            .collect();
        for (part, results) in &parts {
            let _ = write!(out, "<li><a href=\"#{}\">{}</a><ol>", part.name(), escape(part.heading()));
            if *part == Part::Summary && !self.findings.is_empty() {
                out.push_str("<li><a href=\"#findings\">Key findings</a></li>");
            }
            for (i, section) in results {
                let _ = write!(out, "<li><a href=\"#s{i}\">{}</a></li>", escape(&section.title));
            }
            out.push_str("</ol></li>");
        }
        out.push_str("</ol></nav><main>");
        for (part, results) in &parts {
            let _ = write!(out, "<div class=\"part\" id=\"{}\"><h2>{}</h2>", part.name(), escape(part.heading()));
            if *part == Part::Summary && !self.findings.is_empty() {
                out.push_str("<section id=\"findings\" class=\"findings\"><h3>Key findings</h3><ul>");
                for finding in &self.findings {
                    let _ = write!(out, "<li>{}</li>", escape(finding));
                }
                out.push_str("</ul></section>");
            }
            for (i, section) in results {
                let _ = write!(out, "<section id=\"s{i}\"><h3>{}</h3>", escape(&section.title));
                if let Some(spec) = &section.chart {
                    let table = Table { header: &section.header, rows: &section.rows };
                    let _ = write!(out, "<figure>{}</figure>", svg::chart(spec, &table));
                }
                out.push_str(&table_html(&section.header, &section.rows));
                let _ = write!(
                    out,
                    "<details><summary>SQL</summary><pre>{}</pre></details></section>",
                    escape(&section.sql)
                );
            }
            out.push_str("</div>");
        }
        out.push_str("</main>");
        if let Some(footer) = &self.footer {
            out.push_str("<footer><p>Parameters: ");
            let params: Vec<String> =
                footer.params.iter().map(|(k, v)| format!("<code>{}</code> = {}", escape(k), escape(v))).collect();
            out.push_str(&if params.is_empty() { "none".to_string() } else { params.join(", ") });
            let _ = match &footer.data {
                Some((fingerprint, files)) => write!(
                    out,
                    "</p><p>Data fingerprint <code>{fingerprint}</code> ({files} file{}: names, sizes and modification times).",
                    if *files == 1 { "" } else { "s" }
                ),
                None => write!(out, "</p><p>Data: the built-in sample."),
            };
            let _ = write!(out, " Made by segsql {}.</p></footer>", env!("CARGO_PKG_VERSION"));
        }
        out.push_str(VISIBILITY_CHECK);
        out.push_str("</body></html>\n");
        out
    }
}

/// The statement without the comments before it (they became the title and chart).
fn statement_text(sql: &str) -> String {
    let lines: Vec<&str> =
        sql.lines().skip_while(|l| l.trim().is_empty() || l.trim_start().starts_with("--")).collect();
    lines.join("\n").trim().to_string()
}

fn table_html(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<div class=\"table\"><table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows.iter().take(TABLE_ROWS) {
        out.push_str("<tr>");
        for cell in row {
            let numeric = cell.parse::<f64>().is_ok();
            let _ = write!(out, "<td{}>{}</td>", if numeric { " class=\"n\"" } else { "" }, escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    let shown = rows.len().min(TABLE_ROWS);
    let _ = write!(
        out,
        "<p class=\"rows\">{} row{}{}</p>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if shown < rows.len() { format!(" (first {shown} shown)") } else { String::new() }
    );
    out
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Segmentation report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
header{background:#0b3d6e;color:#fff;padding:18px 32px}header h1{margin:0;font-size:24px}header p{margin:4px 0 0;opacity:.85}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #e1e4e8;font-size:13px}nav>ol{columns:2;margin:0}nav ol ol{margin:0 0 6px}
main{padding:8px 32px 40px}footer{padding:8px 32px 24px;font-size:12px;color:#57606a;border-top:1px solid #e1e4e8}section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;margin:18px 0;padding:12px 20px}
h2{font-size:21px;margin:26px 0 4px;color:#0b3d6e}svg.chart{max-width:100%;height:auto}h3{font-size:17px;margin:4px 0 10px}figure{margin:0 0 10px;overflow-x:auto}
.table{max-height:360px;overflow:auto;border:1px solid #eaecef}table{border-collapse:collapse;font-size:12px}
th{position:sticky;top:0;background:#f1f3f5;text-align:left}th,td{padding:3px 8px;border-bottom:1px solid #eaecef;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}.rows{font-size:12px;color:#586069;margin:4px 0}
.findings ul{margin:0;padding-left:22px;font-size:15px;line-height:1.5}.findings li{margin:3px 0}
pre{font-size:12px;background:#f6f8fa;padding:8px;overflow-x:auto}
svg .title{font-size:14px;font-weight:600}svg .tick{font-size:11px;fill:#444}svg .axis{font-size:12px;fill:#222;font-weight:600}
svg .cell{font-size:11px}svg .quadrant{font-size:13px;font-style:italic;fill:#57606a}svg .card-title{font-size:15px;font-weight:600;fill:#0b3d6e}svg .small{font-size:9px}svg .kpi-value{font-size:26px;font-weight:600;fill:#0b3d6e}svg .grid{stroke:#e5e5e5}svg .empty{font-size:16px;fill:#888}
@media print{body{background:#fff}nav{break-after:page}.part{break-before:page}.part:first-of-type{break-before:auto}
section{border:0;padding:0 0 8px;break-inside:auto}figure,h3{break-inside:avoid;break-after:avoid}figure{overflow:visible}

.table{max-height:none;overflow:visible;border:0}table{font-size:9px;max-width:100%}th,td{white-space:normal;overflow-wrap:anywhere;padding:2px 4px}
.part:not(#appendix) section:has(figure) .table,.part:not(#appendix) section:has(figure) .rows{display:none}details{display:none}th{position:static}}
</style></head>
"#;

/// Marks the page with how many charts are laid out with a visible size, so a headless
/// browser test can check the charts really render. Inline: nothing is fetched.
const VISIBILITY_CHECK: &str = r#"<script>
document.body.setAttribute("data-overflowing-charts", Array.from(document.querySelectorAll("section svg.chart")).filter(function (c) {
  var box = c.closest("section").getBoundingClientRect(); var r = c.getBoundingClientRect();
  return r.right > box.right + 0.5 || r.left < box.left - 0.5;
}).length);
document.body.setAttribute("data-visible-charts", Array.from(document.querySelectorAll("svg.chart")).filter(function (c) {
  var r = c.getBoundingClientRect(); var s = getComputedStyle(c);
  return r.width > 50 && r.height > 50 && s.visibility !== "hidden" && s.display !== "none" && c.querySelectorAll("rect,polyline,text").length > 2;
}).length);
</script>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_has_tables_charts_and_no_network() {
        let dir = std::env::temp_dir().join(format!("segsql-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut report = Report::create(&dir.join("r.html")).unwrap();
        let chart = ChartSpec::parse("bar x=segment y=revenue format=currency").ok();
        report.add(
            Some("Revenue".into()),
            None,
            "-- Revenue\nSELECT 1",
            vec!["segment".into(), "revenue".into()],
            vec![vec!["a".into(), "10.5".into()]],
            chart,
        );
        let html = report.html();
        assert!(html.contains("<svg class=\"chart\" data-kind=\"bar\""));
        assert!(html.contains("$10.50"));
        assert!(html.contains("<pre>SELECT 1</pre>"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing is loaded from a network");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn parts_come_in_template_order_with_their_results_in_run_order() {
        let mut report = Report { path: PathBuf::new(), sections: Vec::new(), footer: None, findings: Vec::new() };
        let mut add =
            |title: &str, part| report.add(Some(title.into()), part, "SELECT 1", vec!["x".into()], vec![], None);
        add("row counts", None);
        add("personas", Some(Part::Personas));
        add("kpis", Some(Part::Summary));
        add("more personas", Some(Part::Personas));
        let html = report.html();
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        let main = at("<main>");
        let order = [
            "id=\"summary\"",
            ">kpis<",
            "id=\"personas\"",
            ">personas<",
            ">more personas<",
            "id=\"appendix\"",
            ">row counts<",
        ]
        .map(|n| html[main..].find(n).unwrap_or_else(|| panic!("{n} missing from the body")));
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(!html.contains("id=\"metrics\""), "parts without results are left out");
        assert!(at("<a href=\"#summary\">Executive summary</a>") < at("<a href=\"#appendix\">"));
    }

    #[test]
    fn findings_open_the_executive_summary() {
        let mut report = Report { path: PathBuf::new(), sections: Vec::new(), footer: None, findings: Vec::new() };
        report.add(Some("row counts".into()), None, "SELECT 1", vec!["x".into()], vec![], None);
        report.add_findings(&["Champions bring 40.0% of revenue <&>".to_string()]);
        let html = report.html();
        let main = html.find("<main>").unwrap();
        let findings = html.find("<section id=\"findings\"").unwrap();
        assert!(main < html.find("id=\"summary\"").unwrap() && html.find("id=\"summary\"").unwrap() < findings);
        assert!(findings < html.find("id=\"appendix\"").unwrap());
        assert!(html.contains("<li>Champions bring 40.0% of revenue &lt;&amp;&gt;</li>"));
        assert!(html.contains("<a href=\"#findings\">Key findings</a>"));
    }

    #[test]
    fn an_unwritable_path_fails_at_once() {
        assert!(Report::create(Path::new("/nonexistent-dir/x.html")).unwrap_err().contains("--html: cannot write"));
    }
}
