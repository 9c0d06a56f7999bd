//! `crmsync report quality --entity E [--html FILE]`: completeness,
//! validity and duplicate candidates of the stored records.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use crmsync_core::Entity;

use crate::Global;
use crate::cmd::usage;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Per field completeness and validity, duplicate candidates, counts.
    Quality(QualityArgs),
}

#[derive(ClapArgs, Debug)]
pub struct QualityArgs {
    /// companies, contacts, deals or activities.
    #[arg(long, value_name = "ENTITY")]
    pub entity: String,
    /// Also write the report as one self-contained HTML page with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
    /// How many duplicate groups of each rule, and invalid values of each
    /// field, to list (all are counted).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub examples: usize,
}

fn pct(x: &serde_json::Value) -> String {
    x.as_f64().map_or_else(|| "-".to_string(), crate::report_html::format_pct)
}

pub fn run(command: Command, db: &str, g: Global) -> Result<ExitCode> {
    let Command::Quality(args) = command;
    let entity: Entity = args.entity.parse().map_err(usage)?;
    let mut store = crmsync_store::open_current(db)?;
    let report = store.quality(entity, args.examples)?;
    if let Some(path) = &args.html {
        let html = crate::report_html::render(&report);
        let (output, mut out) = crate::io::Output::create(path)?;
        out.write_all(html.as_bytes()).with_context(|| format!("cannot write {path}"))?;
        out.flush()?;
        drop(out);
        output.commit()?;
    }
    if g.json {
        outln!("{report}")?;
        return Ok(ExitCode::SUCCESS);
    }
    // The report is the command's output: -q leaves it out only when it
    // went to the HTML page.
    if g.quiet && args.html.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{entity}: {} ({} deleted), quality score {}",
        crate::io::counted(report["records"].as_u64().unwrap_or(0), "record", "records"),
        report["deleted"],
        pct(&report["score"])
    )?;
    // Counts as numbers: a JSON value ignores the column widths. (Long
    // field names widen the first column.)
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let fields: Vec<&serde_json::Value> = report["fields"].as_array().into_iter().flatten().collect();
    let width = fields.iter().filter_map(|f| f["field"].as_str()).map(|f| f.chars().count()).max().unwrap_or(0).max(22);
    outln!("{:<width$} {:>9} {:>9} {:>9} {:>9}  expected", "field", "filled", "complete", "invalid", "valid")?;
    for f in &fields {
        outln!(
            "{:<width$} {:>9} {:>9} {:>9} {:>9}  {}",
            printable(f["field"].as_str().unwrap_or_default()),
            count(&f["filled"]),
            pct(&f["completeness"]),
            count(&f["invalid"]),
            pct(&f["validity"]),
            f["expected"].as_str().unwrap_or_default()
        )?;
    }
    // With -v, the invalid values listed, each with its record.
    for f in fields.iter().filter(|f| g.verbose > 0 && count(&f["invalid"]) > 0) {
        let examples = f["invalid_examples"].as_array().map_or(&[][..], Vec::as_slice);
        outln!(
            "invalid {}: {} of {}",
            printable(f["field"].as_str().unwrap_or_default()),
            examples.len(),
            count(&f["invalid"])
        )?;
        for ex in examples {
            let text = |key: &str| printable(ex[key].as_str().unwrap_or_default()).into_owned();
            let label = text("label");
            let label = if label.is_empty() { String::new() } else { format!(" <{label}>") };
            outln!("  \"{}\"{label} {}", text("value"), text("id"))?;
        }
    }
    for d in report["duplicates"].as_array().into_iter().flatten() {
        outln!(
            "duplicates, {}: {}, {}",
            d["rule"].as_str().unwrap_or_default(),
            crate::io::counted(d["groups"].as_u64().unwrap_or(0), "group", "groups"),
            crate::io::counted(d["records"].as_u64().unwrap_or(0), "record", "records")
        )?;
        if let Some(n) = d["exact_only"]["records"].as_u64().filter(|n| *n > 0) {
            outln!(
                "  ({} past the first {} of {} compared by exact name only)",
                crate::io::counted(n, "record", "records"),
                d["exact_only"]["past"],
                crate::io::counted(d["exact_only"]["companies"].as_u64().unwrap_or(0), "company", "companies")
            )?;
        }
        let examples = d["examples"].as_array().map_or(&[][..], Vec::as_slice);
        for ex in examples {
            // Each record by name, by what tells it apart (its e-mail), and
            // by its id, which `history` takes.
            let strings = |key: &str| -> Vec<&str> {
                ex[key].as_array().into_iter().flatten().map(|n| n.as_str().unwrap_or_default()).collect()
            };
            let (ids, labels, names) = (strings("ids"), strings("labels"), strings("names"));
            let shown: Vec<String> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let (name, label) = (names.get(i).copied().unwrap_or(""), labels.get(i).copied().unwrap_or(""));
                    match (name.is_empty(), label.is_empty() || label == name) {
                        (true, true) => id.to_string(),
                        (false, true) => format!("{} {id}", printable(name)),
                        (true, false) => format!("<{}> {id}", printable(label)),
                        (false, false) => format!("{} <{}> {id}", printable(name), printable(label)),
                    }
                })
                .collect();
            let more = ex["records"].as_u64().map_or(0, |n| n.saturating_sub(shown.len() as u64));
            let more = if more > 0 { format!(" | and {more} more") } else { String::new() };
            outln!("  {}: {}{more}", printable(ex["value"].as_str().unwrap_or_default()), shown.join(" | "))?;
        }
        let groups = d["groups"].as_u64().unwrap_or(0);
        if groups > examples.len() as u64 && !examples.is_empty() {
            outln!("  (the first {} of {groups} groups; --examples N lists more)", examples.len())?;
        }
    }
    if let Some(path) = &args.html {
        eprintln!("HTML report written to {path}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Stored text as a terminal shows it safely: control characters (an
/// escape sequence, a line break inside a name) and unseen marks (one that
/// turns the line around) written as escapes, not acted on.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    use crmsync_core::value::is_unseen;
    if !text.chars().any(is_unseen) {
        return text.into();
    }
    text.chars()
        .map(|c| if is_unseen(c) { c.escape_unicode().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}
