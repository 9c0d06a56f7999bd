//! `crmsync history RECORD`: a record's creation (kept on the record) and
//! every later write to it, from the audit trail.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use crmsync_core::Entity;
use crmsync_store::model::short_time;

use crate::Global;
use crate::cmd::usage;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// A record id, or an email, phone, domain or name that names one record.
    pub record: String,
    /// Look the record up in this entity only.
    #[arg(long, value_name = "ENTITY")]
    pub entity: Option<String>,
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    let entity: Option<Entity> = args.entity.as_deref().map(str::parse).transpose().map_err(usage)?;
    let mut store = crmsync_store::open_current(db)?;
    let (entity, id, entries) = store.history(entity, &args.record)?;
    if g.json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at": e.at, "batch": e.batch, "source": e.source, "op": e.op,
                    "field": e.field, "before": e.before, "after": e.after,
                    "before_label": e.before_label, "after_label": e.after_label,
                })
            })
            .collect();
        outln!("{}", serde_json::json!({"entity": entity.name(), "id": id, "history": list}))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{entity} {id}")?;
    // (When, what, by which batch, and the batch as shown.)
    let mut lines: Vec<(&str, String, Option<&String>, String)> = Vec::new();
    for e in &entries {
        let what = match (e.op.as_str(), &e.field) {
            ("insert", _) => "created".to_string(),
            // The ids it had in other systems, kept for tombstones: on the
            // removal's line, where they went with it.
            ("delete", Some(f)) if f.starts_with("external_id.") => {
                let id = format!("{f} {:?}", e.before.as_deref().unwrap_or_default());
                match lines.last_mut() {
                    Some((at, what, batch, _))
                        if what.starts_with("removed") && *at == e.at && *batch == e.batch.as_ref() =>
                    {
                        what.push_str(if what == "removed" { " with " } else { ", " });
                        what.push_str(&id);
                        continue;
                    }
                    _ => format!("removed with {id}"),
                }
            }
            ("delete", _) => "removed".to_string(),
            // A link shows the linked records' names (their ids are in --json).
            (op, Some(f)) => format!(
                "{}{f}: {} → {}",
                if op == "undo" { "undo " } else { "" },
                e.before_label.as_ref().or(e.before.as_ref()).map_or("(empty)".to_string(), |b| format!("{b:?}")),
                e.after_label.as_ref().or(e.after.as_ref()).map_or("(empty)".to_string(), |a| format!("{a:?}"))
            ),
            (op, None) => op.to_string(),
        };
        let by = match (&e.batch, &e.source) {
            (Some(b), Some(s)) => format!("batch {b} ({s})"),
            (Some(b), None) => format!("batch {b}"),
            _ => String::new(),
        };
        lines.push((&e.at, what, e.batch.as_ref(), by));
    }
    for (at, what, _, by) in &lines {
        outln!("  {}  {what}  {by}", short_time(at))?;
    }
    Ok(ExitCode::SUCCESS)
}
