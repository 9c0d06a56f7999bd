//! `crmsync init`: creates the store or migrates it to this build's schema.
//! Running it again is harmless; a store from a newer crmsync is refused.

use std::process::ExitCode;

use anyhow::Result;

use crate::Global;

pub fn run(db: &str, g: Global) -> Result<ExitCode> {
    let mut store = crmsync_store::open(db)?;
    let m = store.migrate()?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({
                "backend": store.backend(),
                "store": store.location(),
                "from_version": m.from,
                "schema_version": m.to,
                "applied": m.applied,
            })
        );
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
