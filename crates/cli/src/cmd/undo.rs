//! `crmsync undo BATCH`: reverts an import batch.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;

use crate::Global;
use crate::io::counted;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The batch id (or a unique start of it, or `last`), as `crmsync batches` lists it.
    pub batch: String,
    /// Undo even where records were changed again after the batch (those later changes to the same fields are overwritten).
    #[arg(long)]
    pub force: bool,
    /// Report what would be reverted, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    let mut store = crmsync_store::open_current(db)?;
    let done = store.undo(&args.batch, args.force, args.dry_run)?;
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "batch": done.batch,
                "undo_batch": if args.dry_run { None } else { Some(&done.undo_batch) },
                "removed": done.removed,
                "restored": done.restored,
                "fields_restored": done.fields_restored,
                "unlinked": done.unlinked,
                "dry_run": args.dry_run,
            })
        )?;
    } else if !g.quiet {
        let verb = |done: &str, would: &str| if args.dry_run { would.to_string() } else { done.to_string() };
        eprintln!(
            "{}batch {}: {} {}, {} {} ({}){}",
            if args.dry_run { "dry run, nothing changed: " } else { "undid " },
            done.batch,
            counted(done.removed, "record", "records"),
            verb("removed", "would be removed"),
            counted(done.restored, "record", "records"),
            verb("restored", "would be restored"),
            counted(done.fields_restored, "field", "fields"),
            if done.unlinked > 0 {
                format!(", {} links from later records {}", done.unlinked, verb("cleared", "would be cleared"))
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
