//! The page written by `crmsync report quality --html FILE`. It is one self-contained file (inline CSS,
//! inline SVG charts, no scripts, no outside links) so that it can be mailed, archived and printed as it is,
//! and it is built from the same JSON that `--json` prints so the two never disagree.

use std::fmt::Write as _;

use serde_json::{Map, Value};

// Writing to a `String` cannot fail, so the `fmt::Result` is dropped in this one place.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// What stands in for a value the report does not have.
const NONE: &str = "—";
/// Completeness or validity under this share is drawn in the warning colour.
const LOW: f64 = 0.5;

// Chart geometry, in SVG user units; the viewBox scales it to the page.
const CHART_W: u32 = 720;
const LABEL_END: u32 = 182;
const PLOT_X: u32 = 190;
const PLOT_W: u32 = 440;
const AXIS_H: u32 = 24;
const ROW_H: u32 = 26;
const BAR_H: u32 = 16;
const BOTTOM: u32 = 8;
/// About what fits left of the plot at the chart's font size, counting a CJK character as two.
const LABEL_COLS: usize = 26;

const CSS: &str = r#"
:root {
  color-scheme: light;
  --ink: #1f2933; --muted: #616e7c; --line: #e1e5ea; --bg: #f5f7fa; --card: #ffffff;
  --bar: #3e7cb1; --track: #e8ecf1; --warn: #e08a2c; --warn-edge: #8a4b0f; --warn-ink: #9a4a07;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "PingFang SC", "Microsoft YaHei", sans-serif;
}
main { max-width: 960px; margin: 0 auto; padding: 32px 20px 48px; }
header { margin-bottom: 24px; }
.kicker { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .04em; text-transform: uppercase; }
h1 { margin: 2px 0 6px; font-size: 28px; line-height: 1.2; overflow-wrap: anywhere; }
h2 { margin: 0 0 4px; font-size: 19px; }
h3 { margin: 0 0 2px; font-size: 16px; overflow-wrap: anywhere; }
.meta { margin: 0; color: var(--muted); font-size: 14px; }
.meta span + span::before { content: " · "; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 20px; margin: 0 0 20px; }
.note { margin: 0 0 14px; color: var(--muted); font-size: 13px; }
.empty { margin: 8px 0 0; color: var(--muted); font-style: italic; }
dl.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin: 0 0 20px; }
dl.cards div { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
dl.cards dt { color: var(--muted); font-size: 13px; }
dl.cards dd { margin: 2px 0 0; font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
figure { margin: 0; }
svg.chart { display: block; width: 100%; max-width: 720px; height: auto; }
svg.chart text { font-size: 13px; fill: var(--ink); }
svg.chart .tick { fill: var(--muted); font-size: 11px; }
svg.chart line { stroke: var(--line); stroke-width: 1; }
svg.chart line.mid { stroke: #b8c0ca; stroke-dasharray: 3 3; }
svg.chart .track { fill: var(--track); }
svg.chart .bar { fill: var(--bar); }
svg.chart .bar.warn { fill: var(--warn); stroke: var(--warn-edge); stroke-width: 1; stroke-dasharray: 3 2; }
svg.chart .value { font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .03em;
  border-bottom: 2px solid var(--line); white-space: nowrap; }
tbody th { font-weight: 600; overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.low { color: var(--warn-ink); font-weight: 600; }
.low::after { content: " ▼"; font-size: 10px; }
.flag { color: var(--warn-ink); font-weight: 600; }
.val { white-space: pre-wrap; overflow-wrap: anywhere; background: #eef1f5; border-radius: 3px; padding: 0 3px; }
code, .id {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px;
}
.id { color: var(--muted); overflow-wrap: anywhere; }
.nil { color: var(--muted); font-style: italic; }
ul.list { list-style: none; margin: 0; padding: 0; }
ul.list li + li { margin-top: 3px; }
.more { color: var(--muted); font-size: 12px; }
.rule + .rule { margin-top: 22px; padding-top: 18px; border-top: 1px solid var(--line); }
.rule table { margin-top: 10px; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section, dl.cards div { border-color: #ccc; }
  section { break-inside: avoid-page; }
  .scroll { overflow: visible; }
  tr { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Renders a quality report (the JSON that `report quality --json` prints) as one self-contained HTML page.
pub fn render(report: &Value) -> String {
    let fields: Vec<&Map<String, Value>> = report
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let rules: Option<Vec<&Map<String, Value>>> =
        report.get("duplicates").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_object).collect());
    let entity = raw(report.get("entity"));

    let mut out = String::with_capacity(24 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    match &entity {
        Some(e) => put!(out, "<title>crmsync quality report — {}</title>\n", esc(e)),
        None => out.push_str("<title>crmsync quality report</title>\n"),
    }
    put!(out, "<style>{CSS}</style>\n</head>\n<body>\n<main>\n");

    header(&mut out, report, entity.as_deref());
    cards(&mut out, report, rules.as_deref());

    let completeness: Vec<(String, Option<f64>)> =
        fields.iter().map(|f| (field_name(f), ratio(f.get("completeness")))).collect();
    out.push_str("<section id=\"completeness\">\n<h2>Completeness</h2>\n");
    out.push_str("<p class=\"note\">Share of records that have a value in each field. ");
    out.push_str("Bars under 50% are orange with a dashed outline.</p>\n");
    chart(&mut out, "completeness-chart", "Completeness by field", &completeness, "No fields in this report.");
    out.push_str("</section>\n");

    // A field with no values has no validity (it is null then), so it would only be an empty row.
    let validity: Vec<(String, Option<f64>)> = fields
        .iter()
        .filter(|f| match f.get("filled").and_then(Value::as_f64) {
            Some(n) => n > 0.0,
            None => ratio(f.get("validity")).is_some(),
        })
        .map(|f| (field_name(f), ratio(f.get("validity"))))
        .collect();
    out.push_str("<section id=\"validity\">\n<h2>Validity</h2>\n");
    out.push_str("<p class=\"note\">Share of the filled values that are valid, for fields that have values. ");
    out.push_str("Bars under 50% are orange with a dashed outline.</p>\n");
    chart(&mut out, "validity-chart", "Validity by field", &validity, "No field has values to check.");
    out.push_str("</section>\n");

    fields_table(&mut out, &fields);
    duplicates(&mut out, rules.as_deref());

    out.push_str(
        "<footer>crmsync quality report · completeness = filled ÷ records · validity = valid ÷ filled · score = \
         0.4 × mean completeness + 0.4 × mean validity + 0.2 × (1 − records in duplicate groups ÷ records)</footer>\n",
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &Value, entity: Option<&str>) {
    out.push_str("<header>\n");
    match entity {
        Some(e) => put!(out, "<p class=\"kicker\">crmsync quality report</p>\n<h1>{}</h1>\n", esc(e)),
        None => out.push_str("<h1>crmsync quality report</h1>\n"),
    }
    let store = raw(report.get("store"));
    let generated = raw(report.get("generated_at"));
    if store.is_some() || generated.is_some() {
        out.push_str("<p class=\"meta\">");
        if let Some(s) = store {
            put!(out, "<span>Store <code>{}</code></span>", esc(&s));
        }
        if let Some(g) = generated {
            put!(out, "<span>Generated {}</span>", esc(&g));
        }
        out.push_str("</p>\n");
    }
    out.push_str("</header>\n");
}

fn cards(out: &mut String, report: &Value, rules: Option<&[&Map<String, Value>]>) {
    let groups = rules.map(|rules| {
        let sum = rules.iter().filter_map(|r| r.get("groups").and_then(Value::as_u64)).fold(0u64, u64::saturating_add);
        group_digits(&sum.to_string())
    });
    out.push_str("<dl class=\"cards\">\n");
    put!(out, "<div><dt>Records</dt><dd>{}</dd></div>\n", count(report.get("records")));
    put!(out, "<div><dt>Deleted</dt><dd>{}</dd></div>\n", count(report.get("deleted")));
    put!(out, "<div><dt>Overall score</dt><dd>{}</dd></div>\n", pct(report.get("score")));
    put!(out, "<div><dt>Duplicate groups</dt><dd>{}</dd></div>\n", groups.as_deref().unwrap_or(NONE));
    out.push_str("</dl>\n");
}

/// A horizontal bar chart of shares (0..1), one row per `(label, share)`, in the given order.
fn chart(out: &mut String, id: &str, title: &str, rows: &[(String, Option<f64>)], empty: &str) {
    if rows.is_empty() {
        put!(out, "<p class=\"empty\">{}</p>\n", esc(empty));
        return;
    }
    let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let height = AXIS_H.saturating_add(n.saturating_mul(ROW_H)).saturating_add(BOTTOM);
    let bottom = height - BOTTOM;
    put!(
        out,
        "<figure>\n<svg class=\"chart\" viewBox=\"0 0 {CHART_W} {height}\" width=\"{CHART_W}\" height=\"{height}\" \
         role=\"img\" aria-labelledby=\"{id}-title\">\n<title id=\"{id}-title\">{}</title>\n",
        esc(title)
    );
    for tick in [0u32, 25, 50, 75, 100] {
        let x = PLOT_X + PLOT_W * tick / 100;
        let class = if tick == 50 { " class=\"mid\"" } else { "" };
        put!(out, "<line{class} x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{bottom}\"/>", AXIS_H - 4);
        put!(out, "<text class=\"tick\" x=\"{x}\" y=\"14\" text-anchor=\"middle\">{tick}%</text>\n");
    }
    for (i, (label, share)) in rows.iter().enumerate() {
        let top = AXIS_H + u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(ROW_H) + (ROW_H - BAR_H) / 2;
        // About where a 13px line sits when centred on the bar.
        let baseline = f64::from(top) + 12.5;
        // (`<0.1%` is text to escape.)
        let shown = share.map_or_else(|| NONE.to_string(), |x| esc(&format_pct(x)));
        put!(out, "<g><title>{}: {shown}</title>\n", esc(label));
        put!(
            out,
            "<text class=\"label\" x=\"{LABEL_END}\" y=\"{baseline:.1}\" text-anchor=\"end\">{}</text>\n",
            esc(&shorten(label, LABEL_COLS))
        );
        put!(
            out,
            "<rect class=\"track\" x=\"{PLOT_X}\" y=\"{top}\" width=\"{PLOT_W}\" height=\"{BAR_H}\" rx=\"2\"/>\n"
        );
        let mut value_x = f64::from(PLOT_X) + 6.0;
        if let Some(s) = share {
            let width = s.clamp(0.0, 1.0) * f64::from(PLOT_W);
            let class = if *s < LOW { "bar warn" } else { "bar" };
            put!(
                out,
                "<rect class=\"{class}\" x=\"{PLOT_X}\" y=\"{top}\" width=\"{width:.1}\" height=\"{BAR_H}\" \
                 rx=\"2\"/>\n"
            );
            value_x += width;
        }
        put!(out, "<text class=\"value\" x=\"{value_x:.1}\" y=\"{baseline:.1}\">{shown}</text>\n</g>\n");
    }
    out.push_str("</svg>\n</figure>\n");
}

fn fields_table(out: &mut String, fields: &[&Map<String, Value>]) {
    out.push_str("<section id=\"fields\">\n<h2>Fields</h2>\n");
    if fields.is_empty() {
        out.push_str("<p class=\"empty\">No fields in this report.</p>\n</section>\n");
        return;
    }
    out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th scope=\"col\">Field</th>");
    out.push_str("<th scope=\"col\" class=\"num\">Filled</th><th scope=\"col\" class=\"num\">Completeness</th>");
    out.push_str("<th scope=\"col\" class=\"num\">Valid</th><th scope=\"col\" class=\"num\">Invalid</th>");
    out.push_str("<th scope=\"col\" class=\"num\">Validity</th><th scope=\"col\">Expected</th>");
    out.push_str("<th scope=\"col\">Invalid examples</th></tr></thead>\n<tbody>\n");
    for f in fields {
        put!(out, "<tr><th scope=\"row\">{}</th>", esc(&field_name(f)));
        put!(out, "<td class=\"num\">{}</td>", count(f.get("filled")));
        share_cell(out, f.get("completeness"));
        put!(out, "<td class=\"num\">{}</td>", count(f.get("valid")));
        let invalid = f.get("invalid");
        let some_invalid = invalid.and_then(Value::as_f64).is_some_and(|n| n > 0.0);
        put!(out, "<td class=\"num{}\">{}</td>", if some_invalid { " flag" } else { "" }, count(invalid));
        share_cell(out, f.get("validity"));
        put!(out, "<td>{}</td><td>", cell(f.get("expected")));
        invalid_examples(out, f.get("invalid_examples"), f.get("invalid").and_then(Value::as_u64));
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn share_cell(out: &mut String, v: Option<&Value>) {
    let low = ratio(v).is_some_and(|s| s < LOW);
    put!(out, "<td class=\"num{}\">{}</td>", if low { " low" } else { "" }, pct(v));
}

fn invalid_examples(out: &mut String, v: Option<&Value>, invalid: Option<u64>) {
    let examples = match v {
        Some(Value::Array(a)) if !a.is_empty() || invalid.is_some_and(|n| n > 0) => a,
        Some(Value::Array(_)) | Some(Value::Null) | None => return,
        Some(other) => {
            out.push_str(&cell(Some(other)));
            return;
        }
    };
    out.push_str("<ul class=\"list\">");
    // (As many as the report lists: `--examples`.)
    for ex in examples {
        // An example is normally {"id", "value"}; anything else is shown as the value itself.
        let value = if ex.is_object() { ex.get("value") } else { Some(ex) };
        put!(out, "<li>{}", value_html(value));
        if let Some(label) = raw(ex.get("label")).filter(|l| !l.is_empty() && Some(l) != raw(value).as_ref()) {
            put!(out, " <span class=\"val\">{}</span>", esc(&label));
        }
        if let Some(id) = raw(ex.get("id")) {
            put!(out, " <span class=\"id\">{}</span>", esc(&id));
        }
        out.push_str("</li>");
    }
    // (Of all the field's invalid values, not only those listed.)
    let shown = examples.len() as u64;
    let more = invalid.unwrap_or(shown).max(shown) - shown;
    if more > 0 {
        put!(out, "<li class=\"more\">and {} more</li>", group_digits(&more.to_string()));
    }
    out.push_str("</ul>");
}

fn duplicates(out: &mut String, rules: Option<&[&Map<String, Value>]>) {
    out.push_str("<section id=\"duplicates\">\n<h2>Duplicates</h2>\n");
    let rules = match rules {
        Some(r) if !r.is_empty() => r,
        _ => {
            out.push_str("<p class=\"empty\">No duplicate rules in this report.</p>\n</section>\n");
            return;
        }
    };
    for rule in rules {
        let name = raw(rule.get("rule")).unwrap_or_else(|| "(unnamed rule)".to_string());
        put!(out, "<div class=\"rule\">\n<h3>{}</h3>\n<p class=\"meta\">", esc(&name));
        let groups = rule.get("groups");
        let records = rule.get("records");
        if groups.is_some_and(|g| !g.is_null()) {
            put!(out, "<span><strong>{}</strong> {}</span>", count(groups), noun(groups, "group", "groups"));
        }
        if records.is_some_and(|r| !r.is_null()) {
            put!(out, "<span><strong>{}</strong> {}</span>", count(records), noun(records, "record", "records"));
        }
        out.push_str("</p>\n");
        let exact_only = rule.get("exact_only");
        if let Some(n) = exact_only.and_then(|e| e.get("records")).and_then(Value::as_u64).filter(|n| *n > 0) {
            put!(
                out,
                "<p class=\"empty\">{} records past the first {} of {} companies compared by exact name only.</p>\n",
                group_digits(&n.to_string()),
                count(exact_only.and_then(|e| e.get("past"))),
                count(exact_only.and_then(|e| e.get("companies")))
            );
        }
        let examples = rule.get("examples").and_then(Value::as_array).filter(|a| !a.is_empty());
        match examples {
            Some(examples) => {
                duplicate_examples(out, examples);
                if let Some(groups) = groups.and_then(Value::as_u64).filter(|g| *g > examples.len() as u64) {
                    put!(
                        out,
                        "<p class=\"empty\">The first {} of {} groups (<code>--examples N</code> lists more).</p>\n",
                        group_digits(&examples.len().to_string()),
                        group_digits(&groups.to_string())
                    );
                }
            }
            None if groups.and_then(Value::as_u64) == Some(0) => {
                out.push_str("<p class=\"empty\">No duplicates found.</p>\n");
            }
            None => out.push_str("<p class=\"empty\">No examples listed.</p>\n"),
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn duplicate_examples(out: &mut String, examples: &[Value]) {
    out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th scope=\"col\">Value</th>");
    // Records by what tells them apart (a contact's e-mail) where that is
    // not their name already.
    let labelled = examples.iter().any(|ex| ex.get("labels").is_some_and(|l| Some(l) != ex.get("names")));
    out.push_str("<th scope=\"col\">Names</th>");
    if labelled {
        out.push_str("<th scope=\"col\">Labels</th>");
    }
    out.push_str("<th scope=\"col\">IDs</th></tr></thead>\n<tbody>\n");
    for ex in examples {
        let value = if ex.is_object() { ex.get("value") } else { Some(ex) };
        put!(out, "<tr><td>{}</td><td>", value_html(value));
        list(out, ex.get("names"), "val");
        if labelled {
            out.push_str("</td><td>");
            list(out, ex.get("labels"), "val");
        }
        out.push_str("</td><td>");
        list(out, ex.get("ids"), "id");
        let listed = ex.get("ids").and_then(Value::as_array).map_or(0, Vec::len) as u64;
        if let Some(more) =
            ex.get("records").and_then(Value::as_u64).map(|n| n.saturating_sub(listed)).filter(|m| *m > 0)
        {
            put!(out, "<p class=\"empty\">and {} more</p>", group_digits(&more.to_string()));
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Writes an array as one item a line; a lone value is shown as it is.
fn list(out: &mut String, v: Option<&Value>, class: &str) {
    match v {
        Some(Value::Array(items)) => {
            out.push_str("<ul class=\"list\">");
            for item in items {
                match raw(Some(item)) {
                    Some(s) => put!(out, "<li><span class=\"{class}\">{}</span></li>", esc(&s)),
                    None => out.push_str("<li><span class=\"nil\">null</span></li>"),
                }
            }
            out.push_str("</ul>");
        }
        other => out.push_str(&cell(other)),
    }
}

/// A data value, shaded so that leading, trailing and doubled spaces show; those are often why a value is
/// invalid or a duplicate.
fn value_html(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<span class=\"nil\">null</span>".to_string(),
        Some(Value::String(s)) if s.is_empty() => "<span class=\"nil\">(empty)</span>".to_string(),
        other => format!("<code class=\"val\">{}</code>", esc(&raw(other).unwrap_or_default())),
    }
}

fn field_name(f: &Map<String, Value>) -> String {
    raw(f.get("field")).unwrap_or_else(|| "(unnamed field)".to_string())
}

/// The text of a JSON value, or `None` for a missing or null one.
fn raw(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Escaped text of a value for a table cell, with a placeholder when it is missing.
fn cell(v: Option<&Value>) -> String {
    raw(v).map_or_else(|| NONE.to_string(), |s| esc(&s))
}

fn ratio(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// A share as a percentage; a value that is not a number is shown as it is rather than dropped.
fn pct(v: Option<&Value>) -> String {
    match ratio(v) {
        Some(x) => esc(&format_pct(x)),
        None => cell(v),
    }
}

/// A share with one decimal. A share short of all never reads as
/// `100.0%`, nor one above none as `0.0%`: 8 invalid e-mails in 60,000 are
/// `>99.9%` valid, not all.
pub fn format_pct(x: f64) -> String {
    // Half a tenth rounds up: 96.55% is 96.6%, where binary fractions
    // would print 96.5.
    let s = format!("{:.1}%", (x * 1000.0 + 1e-6).round() / 10.0);
    match s.as_str() {
        "100.0%" if x < 1.0 => ">99.9%".to_string(),
        "0.0%" if x > 0.0 => "<0.1%".to_string(),
        // A tiny negative share would otherwise print as "-0.0%".
        "-0.0%" => "0.0%".to_string(),
        _ => s,
    }
}

/// A count with thousands separators, from the number's own digits so that integers past `u64` (kept exact by
/// arbitrary precision) group too.
fn count(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => group_digits(&n.to_string()),
        other => cell(other),
    }
}

fn group_digits(s: &str) -> String {
    let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn noun(n: Option<&Value>, one: &'static str, many: &'static str) -> &'static str {
    if n.and_then(Value::as_u64) == Some(1) { one } else { many }
}

/// Cuts `s` to about `max` columns for a chart label; the row's `<title>` keeps the whole text.
fn shorten(s: &str, max: usize) -> String {
    let width = |c: char| if is_wide(c) { 2 } else { 1 };
    if s.chars().map(width).sum::<usize>() <= max {
        return s.to_string();
    }
    let mut cols = 0;
    let mut out = String::new();
    for c in s.chars() {
        cols += width(c);
        if cols > max.saturating_sub(1) {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// East Asian wide and fullwidth characters, which take about two columns.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Escapes text for HTML content and attributes alike, inline SVG included.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Raw control characters are parse errors in HTML and invisible anyway; a control picture shows
            // that a value carries one, which is often why it is invalid.
            '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'));
            }
            '\u{7f}' => out.push('\u{2421}'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report() -> Value {
        json!({
            "entity": "contacts",
            "store": "crm.db",
            "generated_at": "2026-11-22T10:00:00Z",
            "records": 1200,
            "deleted": 3,
            "score": 0.91,
            "fields": [
                {"field": "email", "filled": 1150, "completeness": 0.958, "valid": 1140, "invalid": 10,
                 "validity": 0.991, "expected": "an email address",
                 "invalid_examples": [{"id": "01JD3Q8Z7K", "value": "bob@"},
                                      {"id": "01JD3Q8Z7M", "value": "ann at x"}]},
                {"field": "phone", "filled": 360, "completeness": 0.3, "valid": 150, "invalid": 210,
                 "validity": 0.4166, "expected": "a phone number in E.164 form",
                 "invalid_examples": [{"id": "01JD3Q9A01", "value": "12"}]},
                {"field": "city", "filled": 1200, "completeness": 1.0, "valid": 1200, "invalid": 0,
                 "validity": 1.0, "expected": "any text", "invalid_examples": []},
                {"field": "fax", "filled": 0, "completeness": 0.0, "valid": 0, "invalid": 0,
                 "validity": null, "expected": "a phone number", "invalid_examples": []}
            ],
            "duplicates": [
                {"rule": "same email", "groups": 12, "records": 25,
                 "examples": [{"value": "ann@example.com", "ids": ["01JD3QA001", "01JD3QA002"],
                               "names": ["Ann Lee", "Ann  Lee"]}]},
                {"rule": "same phone", "groups": 0, "records": 0, "examples": []},
                {"rule": "similar name at the same company", "groups": 3, "records": 6,
                 "examples": [{"value": "Acme", "ids": ["01JD3QB001", "01JD3QB002"],
                               "names": ["Jon Smith", "John Smith"]}]}
            ]
        })
    }

    /// The markup of one chart section, from its id to the end of its SVG.
    fn chart_of<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html.find(&format!("<section id=\"{id}\">")).expect("chart section");
        let end = start + html[start..].find("</svg>").expect("chart svg");
        &html[start..end]
    }

    #[test]
    fn title_header_and_summary_cards() {
        let html = render(&report());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>crmsync quality report — contacts</title>"));
        assert!(html.contains("<h1>contacts</h1>"));
        assert!(html.contains("<code>crm.db</code>"));
        assert!(html.contains("2026-11-22T10:00:00Z"));
        assert!(html.contains("<dt>Records</dt><dd>1,200</dd>"));
        assert!(html.contains("<dt>Deleted</dt><dd>3</dd>"));
        assert!(html.contains("<dt>Overall score</dt><dd>91.0%</dd>"));
        assert!(html.contains("<dt>Duplicate groups</dt><dd>15</dd>"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn every_field_appears_in_the_table_and_the_completeness_chart() {
        let html = render(&report());
        let chart = chart_of(&html, "completeness");
        for name in ["email", "phone", "city", "fax"] {
            assert!(html.contains(&format!("<th scope=\"row\">{name}</th>")), "{name} missing from the table");
            assert!(chart.contains(&format!(">{name}</text>")), "{name} missing from the chart");
        }
    }

    #[test]
    fn percentages_have_one_decimal() {
        let html = render(&report());
        for p in ["95.8%", "99.1%", "30.0%", "41.7%", "100.0%", "0.0%", "91.0%"] {
            assert!(html.contains(p), "{p} missing");
        }
        assert!(!html.contains("95.80%") && !html.contains("0.958"));
        assert_eq!(format_pct(-0.00001), "0.0%");
        assert_eq!(format_pct(59_992.0 / 60_000.0), ">99.9%");
        assert_eq!(format_pct(1.0), "100.0%");
        assert_eq!(format_pct(0.0001), "<0.1%");
        assert_eq!(format_pct(0.0), "0.0%");
        assert_eq!(pct(Some(&serde_json::json!(0.0001))), "&lt;0.1%", "escaped in HTML");
    }

    #[test]
    fn one_bar_per_field_and_validity_only_for_filled_fields() {
        let html = render(&report());
        assert_eq!(html.matches("<svg").count(), 2);
        let completeness = chart_of(&html, "completeness");
        assert_eq!(completeness.matches("<rect class=\"bar").count(), 4);
        let validity = chart_of(&html, "validity");
        assert_eq!(validity.matches("<rect class=\"bar").count(), 3);
        assert!(!validity.contains(">fax</text>"), "a field with no values has no validity bar");
    }

    #[test]
    fn bars_under_half_are_marked() {
        let html = render(&report());
        let completeness = chart_of(&html, "completeness");
        // phone (30%) and fax (0%).
        assert_eq!(completeness.matches("class=\"bar warn\"").count(), 2);
        let validity = chart_of(&html, "validity");
        assert_eq!(validity.matches("class=\"bar warn\"").count(), 1);
        // The number is printed next to every bar, so the chart reads without colour.
        assert!(completeness.contains(">30.0%</text>"));
    }

    #[test]
    fn bar_width_follows_the_share() {
        let html = render(&report());
        let completeness = chart_of(&html, "completeness");
        assert!(completeness.contains(&format!("width=\"{:.1}\"", 0.958 * f64::from(PLOT_W))));
        assert!(completeness.contains(&format!("class=\"bar\" x=\"{PLOT_X}\" y=\"29\" width=\"421.5\"")));
    }

    #[test]
    fn fields_table_shows_counts_expectations_and_examples() {
        let html = render(&report());
        assert!(html.contains("<td class=\"num\">1,150</td>"));
        assert!(html.contains("<td class=\"num\">1,140</td>"));
        assert!(html.contains("an email address"));
        assert!(html.contains("<code class=\"val\">bob@</code> <span class=\"id\">01JD3Q8Z7K</span>"));
        // fax has no values, so no validity.
        assert!(html.contains(&format!("<td class=\"num\">{NONE}</td><td>a phone number</td>")));
    }

    #[test]
    fn duplicates_section_per_rule() {
        let html = render(&report());
        for rule in ["same email", "same phone", "similar name at the same company"] {
            assert!(html.contains(&format!("<h3>{rule}</h3>")), "{rule} missing");
        }
        assert!(html.contains("<strong>12</strong> groups"));
        assert!(html.contains("<strong>25</strong> records"));
        assert!(html.contains("No duplicates found."));
        assert!(html.contains("<code class=\"val\">ann@example.com</code>"));
        // The doubled space is the whole difference between these two names, so it must survive.
        assert!(html.contains("<span class=\"val\">Ann  Lee</span>"));
        assert!(html.contains("<span class=\"id\">01JD3QA002</span>"));
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = "<script>alert(1)</script>";
        let mut r = report();
        r["entity"] = json!(evil);
        r["store"] = json!("a\"b'c&d");
        r["fields"][0]["field"] = json!(evil);
        r["fields"][0]["invalid_examples"][0]["value"] = json!(evil);
        r["duplicates"][0]["rule"] = json!(evil);
        r["duplicates"][0]["examples"][0]["names"][0] = json!(evil);
        let html = render(&r);
        assert!(!html.contains("<script"), "raw script tag in the output");
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
        assert!(html.contains(&format!("<title>crmsync quality report — {escaped}</title>")));
        assert!(chart_of(&html, "completeness").contains(&format!(">{escaped}</text>")));
        assert!(html.contains("a&quot;b&#39;c&amp;d"));
        // entity, field (table, two chart labels, two chart titles), example, rule, name.
        assert!(html.matches(escaped).count() >= 8);
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(esc("a\u{0}b\u{1b}c\u{7f}"), "a␀b␛c␡");
        assert_eq!(esc("tab\tand\nnewline"), "tab\tand\nnewline");
    }

    #[test]
    fn nothing_is_loaded_from_outside() {
        let html = render(&report());
        for needle in ["http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link"] {
            assert!(!html.contains(needle), "{needle} in the output");
        }
    }

    #[test]
    fn missing_or_odd_keys_render() {
        for r in [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!({"fields": null}),
            json!({"fields": null, "duplicates": null, "score": null}),
            json!({"fields": "email", "duplicates": {"rule": "x"}, "records": "many", "score": "high"}),
            json!({"fields": [null, 1, {}, {"field": "x", "completeness": "n/a", "invalid_examples": "bob"}]}),
            json!({"duplicates": [1, null, {}, {"rule": null, "groups": -2, "examples": [null, "v", {"ids": "one"}]}]}),
            json!({"score": 1e300, "records": -1234567}),
        ] {
            let html = render(&r);
            assert!(html.contains("</html>"), "{r}");
        }
        let html = render(&json!({}));
        assert!(html.contains("<title>crmsync quality report</title>"));
        assert!(html.contains(&format!("<dt>Records</dt><dd>{NONE}</dd>")));
        assert!(html.contains("No fields in this report."));
        assert!(!html.contains("<svg"));
        let html = render(&json!({"fields": null}));
        assert!(html.contains("No fields in this report."));
        let html = render(&json!({"records": "many", "score": "high"}));
        assert!(html.contains("<dd>many</dd>") && html.contains("<dd>high</dd>"));
    }

    #[test]
    fn chinese_text_is_kept_verbatim() {
        let r = json!({
            "entity": "联系人",
            "fields": [{"field": "电话", "filled": 2, "completeness": 0.5, "valid": 1, "invalid": 1, "validity": 0.5,
                        "expected": "电话号码", "invalid_examples": [{"id": "01JD", "value": "一二三"}]}],
            "duplicates": [{"rule": "同名", "groups": 1, "records": 2,
                            "examples": [{"value": "张伟", "ids": ["a", "b"], "names": ["张伟", "张 伟"]}]}]
        });
        let html = render(&r);
        assert!(html.contains("<title>crmsync quality report — 联系人</title>"));
        for s in [
            "<h1>联系人</h1>",
            ">电话</text>",
            "<th scope=\"row\">电话</th>",
            "电话号码",
            "一二三",
            "张 伟",
            "<h3>同名</h3>",
        ] {
            assert!(html.contains(s), "{s} missing");
        }
        assert!(html.contains("<strong>1</strong> group<"));
        assert!(!html.contains("&#"), "no numeric character references for plain text");
    }

    #[test]
    fn long_labels_are_shortened_in_the_chart_only() {
        let long = "custom_field_with_a_very_long_descriptive_name";
        let html = render(&json!({"fields": [{"field": long, "completeness": 0.7}]}));
        let chart = chart_of(&html, "completeness");
        assert!(chart.contains("<title>custom_field_with_a_very_long_descriptive_name: 70.0%</title>"));
        assert!(chart.contains(">custom_field_with_a_very_…</text>"));
        assert!(html.contains(&format!("<th scope=\"row\">{long}</th>")));
        assert_eq!(shorten("联系人联系人联系人联系人联系人", 10), "联系人联…");
        assert_eq!(shorten("email", 26), "email");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(group_digits("0"), "0");
        assert_eq!(group_digits("999"), "999");
        assert_eq!(group_digits("1200"), "1,200");
        assert_eq!(group_digits("1234567"), "1,234,567");
        assert_eq!(group_digits("-1234567"), "-1,234,567");
        assert_eq!(group_digits("1200.5"), "1200.5");
        // Arbitrary precision keeps integers past u64 exact; they group like any other.
        let big: Value = serde_json::from_str(r#"{"records": 1234567, "deleted": 123456789012345678901234}"#).unwrap();
        let html = render(&big);
        assert!(html.contains("<dd>1,234,567</dd>"));
        assert!(html.contains("<dd>123,456,789,012,345,678,901,234</dd>"));
        assert!(render(&report()).contains("1,200"));
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(render(&report()), render(&report()));
    }
}
