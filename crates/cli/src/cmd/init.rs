//! `crmsync init`: creates the store or migrates it to this build's schema,
//! and declares custom fields from a schema file. Running it again is
//! harmless; a store from a newer crmsync is refused.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;

use crate::Global;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Declare custom fields from a TOML schema file (`[contacts.tier]` with
    /// `type`, `required`, `unique`, `values`); each entity it names gets
    /// exactly the fields it lists.
    #[arg(long, value_name = "FILE")]
    pub custom: Option<String>,
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    // The schema file is read first: a bad one changes nothing.
    let fields = match &args.custom {
        Some(file) => {
            let text =
                std::fs::read_to_string(file).with_context(|| format!("cannot read the custom fields file {file}"))?;
            Some(crmsync_store::custom::parse_schema(&text, file)?)
        }
        None => None,
    };
    let mut store = crmsync_store::open(db)?;
    let m = store.migrate()?;
    let declared = match (&fields, &args.custom) {
        (Some(f), Some(file)) => Some(store.declare_custom(f, file)?),
        _ => None,
    };
    if !g.json
        && !g.quiet
        && let (Some(d), Some(file)) = (&declared, &args.custom)
    {
        eprintln!("declared {} custom field(s) from {file}", d.fields);
        if let Some(batch) = &d.batch {
            eprintln!(
                "{} record(s) rewritten to the new declarations (a value spelt otherwise before), in batch {batch}",
                d.rewritten
            );
        }
    }
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "backend": store.backend(),
                "store": store.location(),
                "from_version": m.from,
                "schema_version": m.to,
                "applied": m.applied,
                "custom_fields": declared.as_ref().map(|d| d.fields),
                "rewritten": declared.as_ref().map(|d| d.rewritten),
                "rewrite_batch": declared.as_ref().and_then(|d| d.batch.clone()),
            })
        )?;
    } else if !g.quiet {
        if m.applied.is_empty() {
            eprintln!("{} store {} is up to date (schema version {})", store.backend(), store.location(), m.to);
        } else if m.from == 0 {
            eprintln!("created {} store {} (schema version {})", store.backend(), store.location(), m.to);
        } else {
            eprintln!(
                "migrated {} store {} from schema version {} to {} ({})",
                store.backend(),
                store.location(),
                m.from,
                m.to,
                m.applied.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
