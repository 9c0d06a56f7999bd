//! `crmsync batches`: the import batches of the store, newest first.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use crmsync_store::model::short_time;

use crate::Global;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// How many batches to list.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    let mut store = crmsync_store::open_current(db)?;
    let batches = store.batches(args.limit as usize)?;
    if g.json {
        let list: Vec<serde_json::Value> = batches
            .iter()
            .map(|b| {
                serde_json::json!({
                    "batch": b.id, "entity": b.entity, "source": b.source, "mapping": b.mapping,
                    "mode": b.mode, "status": b.status, "started_at": b.started_at, "finished_at": b.finished_at,
                    "rows_read": b.rows_read, "inserted": b.inserted, "updated": b.updated,
                    "unchanged": b.unchanged, "rejected": b.rejected,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::from(list))?;
        return Ok(ExitCode::SUCCESS);
    }
    if batches.is_empty() {
        if !g.quiet {
            eprintln!("no batches yet in {}", store.location());
        }
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<26}  {:<19}  {:<10}  {:<7}  {:<11}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}  source",
        "batch",
        "started",
        "entity",
        "mode",
        "status",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "rejected"
    )?;
    for b in &batches {
        let status = if b.status == "running" { "interrupted" } else { b.status.as_str() };
        outln!(
            "{:<26}  {:<19}  {:<10}  {:<7}  {:<11}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}  {}",
            b.id,
            short_time(&b.started_at),
            b.entity,
            b.mode,
            status,
            b.rows_read,
            b.inserted,
            b.updated,
            b.unchanged,
            b.rejected,
            b.source
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
