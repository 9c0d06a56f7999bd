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
}

fn pct(x: &serde_json::Value) -> String {
    x.as_f64().map_or_else(|| "-".to_string(), crate::report_html::format_pct)
}

pub fn run(command: Command, db: &str, g: Global) -> Result<ExitCode> {
    let Command::Quality(args) = command;
    let entity: Entity = args.entity.parse().map_err(usage)?;
    let mut store = crmsync_store::open_current(db)?;
    let report = store.quality(entity)?;
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
        "{entity}: {} records ({} deleted), quality score {}",
        report["records"],
        report["deleted"],
        pct(&report["score"])
    )?;
    // Counts as numbers: a JSON value ignores the column widths.
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    outln!("{:<22} {:>9} {:>9} {:>9} {:>9}  expected", "field", "filled", "complete", "invalid", "valid")?;
    for f in report["fields"].as_array().into_iter().flatten() {
        outln!(
            "{:<22} {:>9} {:>9} {:>9} {:>9}  {}",
            f["field"].as_str().unwrap_or_default(),
            count(&f["filled"]),
            pct(&f["completeness"]),
            count(&f["invalid"]),
            pct(&f["validity"]),
            f["expected"].as_str().unwrap_or_default()
        )?;
    }
    for d in report["duplicates"].as_array().into_iter().flatten() {
        outln!(
            "duplicates, {}: {} groups, {} records",
            d["rule"].as_str().unwrap_or_default(),
            d["groups"],
            d["records"]
        )?;
        for ex in d["examples"].as_array().into_iter().flatten().take(5) {
            // Each record by name and by what tells it apart (its e-mail).
            let ids = ex["ids"].as_array().into_iter().flatten().filter_map(|n| n.as_str());
            let names = ex["names"].as_array().into_iter().flatten().filter_map(|n| n.as_str());
            let shown: Vec<String> = names
                .zip(ids)
                .map(|(name, id)| if name.is_empty() || name == id { id.to_string() } else { format!("{name} <{id}>") })
                .collect();
            let more = ex["records"].as_u64().map_or(0, |n| n.saturating_sub(shown.len() as u64));
            let more = if more > 0 { format!(" | and {more} more") } else { String::new() };
            outln!("  {}: {}{more}", ex["value"].as_str().unwrap_or_default(), shown.join(" | "))?;
        }
    }
    if let Some(path) = &args.html {
        eprintln!("HTML report written to {path}");
    }
    Ok(ExitCode::SUCCESS)
}
