//! `crmsync batches`: the import batches of the store, newest first.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use crmsync_store::batches::Batch;
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
                let mut row = serde_json::json!({
                    "batch": b.id, "entity": b.entity, "source": b.source, "mapping": b.mapping,
                    "mode": b.mode, "status": status(b), "started_at": b.started_at, "finished_at": b.finished_at,
                    "rows_read": b.rows_read, "inserted": b.inserted, "updated": b.updated,
                    "unchanged": b.unchanged, "rejected": b.rejected,
                });
                if let (Some((removed, restored)), Some(map)) = (undone(b), row.as_object_mut()) {
                    map.insert("rows_read".into(), 0.into());
                    map.insert("updated".into(), 0.into());
                    map.insert("removed".into(), removed.into());
                    map.insert("restored".into(), restored.into());
                }
                row
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
        let status = status(b);
        let (counts, source) = match undone(b) {
            Some((removed, restored)) => {
                (["-"; 5].map(String::from), format!("{}: {removed} records removed, {restored} restored", b.source))
            }
            None => {
                ([b.rows_read, b.inserted, b.updated, b.unchanged, b.rejected].map(|n| n.to_string()), b.source.clone())
            }
        };
        let [read, inserted, updated, unchanged, rejected] = counts;
        outln!(
            "{:<26}  {:<19}  {:<10}  {:<7}  {:<11}  {read:>8}  {inserted:>8}  {updated:>8}  {unchanged:>9}  {rejected:>8}  {source}",
            b.id,
            short_time(&b.started_at),
            b.entity,
            b.mode,
            status,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A batch's status as shown: one not finished is `interrupted` (an
/// import still under way shows so too until it ends); `--resume` finishes it.
fn status(b: &Batch) -> &str {
    if b.status == "running" { "interrupted" } else { b.status.as_str() }
}

/// An undo's records removed and restored. An undo reads no rows: the store
/// keeps the records it touched as `rows_read` and those it restored as
/// `updated`, which alone would show as a batch that read rows and did
/// nothing with them.
fn undone(b: &Batch) -> Option<(u64, u64)> {
    (b.mode == "undo").then(|| (b.rows_read.saturating_sub(b.updated), b.updated))
}
