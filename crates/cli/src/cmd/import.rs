//! `crmsync import FILE --entity E`: a file into the store, as one batch
//! that can be previewed (`--dry-run`, `--plan`), resumed (`--resume`) and
//! undone (`crmsync undo`).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use crmsync_core::mapping::{ExternalIdSpec, external_system};
use crmsync_core::{Entity, Key, Mapper, Mapping, Record, Value};
use crmsync_store::import::{Effect, Mode, Outcome, Row, RowIds, Seen, Settings, default_key};

use crate::Global;
use crate::cmd::usage;
use crate::io::{Output, open_input, same_file};
use crate::pipeline::{
    self, Identity, Meta, Outcome as Worked, Pipeline, Recognise, Rejects, SourceArgs, Work, load_mapping, load_schema,
    unread_columns,
};

/// Where a row's ids are: its id in the other system in its column, or in
/// the element an XML file written through the mapping run backwards names
/// it by; the store's own id in an export's `id` column.
struct IdColumns {
    external: Option<(String, String)>,
    own: bool,
}

impl IdColumns {
    fn new(external: Option<ExternalIdSpec>, own: bool) -> Self {
        let external = external.map(|spec| (spec.from.clone(), crmsync_core::value::element_name(&spec.from)));
        Self { external, own }
    }

    fn read(&self, src: &Record) -> RowIds {
        RowIds {
            external: self
                .external
                .as_ref()
                .and_then(|(column, element)| src.get_path(column).or_else(|| src.get_path(element)))
                .map(Value::to_text),
            own: self.own.then(|| src.get("id").map(Value::to_text)).flatten(),
        }
    }
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// The entity the records are: companies, contacts, deals, activities (default: the mapping's).
    #[arg(long, value_name = "ENTITY")]
    pub entity: Option<String>,
    /// Mapping file (TOML); without one the file's columns must be field names (as `crmsync export` writes them).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<String>,
    /// insert (new records only), update (existing only) or upsert (both). Default: upsert when there is a key, else insert.
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Fields that identify a record, comma-separated (default: the mapping's [key], else email for contacts, name for companies and deals).
    #[arg(long, value_name = "FIELDS")]
    pub key: Option<String>,
    /// Do all the work (read, map, validate, match) and report what would change, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the per-row plan here: insert, update with each field's before → after, unchanged, or reject with the reason (CSV by extension, NDJSON otherwise).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<String>,
    /// Write rejected rows here, as read, with `_row`, `_field`, `_error` columns.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<String>,
    /// Stop with exit code 1 once this many rows were rejected (rows up to it stay done; `--resume` goes on after it).
    #[arg(long, value_name = "N")]
    pub max_errors: Option<u64>,
    /// Finish the last interrupted import of this file: rows it committed are skipped.
    #[arg(long)]
    pub resume: bool,
    /// Empty values clear fields on update (by default an empty cell leaves the stored value alone).
    #[arg(long)]
    pub clear_empty: bool,
    /// Validate each mapped record against this JSON Schema.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<String>,
    /// Rows per transaction (and per checkpoint of `--resume`).
    #[arg(long, value_name = "N", default_value_t = 10_000, hide = true)]
    pub chunk_size: usize,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// The per-row plan file.
struct Plan {
    out: Box<dyn std::io::Write + Send>,
    output: Output,
    csv: bool,
    /// On `--resume`, the lines the interrupted run planned, with their
    /// rows: those before the first row planned now are kept.
    earlier: Vec<(u64, String)>,
    /// On `--resume`, the rows the interrupted run committed, to tell
    /// whether its plan holds them all.
    committed: u64,
    /// On `--resume`, whether the interrupted run's plan was found here.
    found: bool,
}

impl Plan {
    /// `resumed`: when the batch resumed began, and the rows it committed.
    fn open(path: &str, resumed: Option<(std::time::SystemTime, u64)>) -> Result<Self> {
        let earlier = resumed.and_then(|(since, _)| Self::planned(path, since));
        let found = earlier.is_some();
        let earlier = earlier.unwrap_or_default();
        let (output, mut out) = Output::create(path)?;
        let csv = path.to_ascii_lowercase().ends_with(".csv");
        if csv {
            writeln!(out, "row,action,id,field,before,after")?;
        }
        Ok(Self { out, output, csv, earlier, committed: resumed.map_or(0, |(_, rows)| rows), found })
    }

    /// The records the interrupted run planned, each with its row: from
    /// the plan it finished, or the one it was writing when it was killed,
    /// whichever it wrote last (an older file is another run's). A CSV
    /// record ends where its quotes are balanced (values are quoted, their
    /// quotes doubled), an NDJSON one at its line's end.
    fn planned(path: &str, since: std::time::SystemTime) -> Option<Vec<(u64, String)>> {
        let target = std::path::Path::new(path);
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = target.with_file_name(format!(".{name}.partial"));
        let newest = [target.to_path_buf(), partial]
            .into_iter()
            .filter(|p| crate::pipeline::regular_file(&p.to_string_lossy()))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
            .filter(|(t, _)| *t >= since)
            .max_by_key(|(t, _)| *t);
        let Some(Ok(text)) = newest.map(|(_, p)| std::fs::read_to_string(p)) else {
            return None;
        };
        let csv = path.to_ascii_lowercase().ends_with(".csv");
        let mut records = Vec::new();
        let mut record = String::new();
        for line in text.split_inclusive('\n') {
            record.push_str(line);
            if csv && record.matches('"').count() % 2 == 1 {
                continue;
            }
            let taken = std::mem::take(&mut record);
            // (A last line cut short by a kill is no record.)
            if !taken.ends_with('\n') {
                continue;
            }
            let row = if taken.starts_with('{') {
                serde_json::from_str::<serde_json::Value>(&taken).ok().and_then(|v| v["row"].as_u64())
            } else {
                taken.split(',').next().and_then(|r| r.parse().ok())
            };
            if let Some(row) = row {
                records.push((row, taken));
            }
        }
        Some(records)
    }

    /// Writes the interrupted run's lines for rows before `row`, once.
    fn keep_earlier(&mut self, row: u64) -> Result<()> {
        if self.committed == 0 {
            return Ok(());
        }
        let mut rows = std::collections::BTreeSet::new();
        for (r, line) in std::mem::take(&mut self.earlier).into_iter().filter(|(r, _)| *r < row) {
            rows.insert(r);
            self.out.write_all(line.as_bytes())?;
        }
        if !self.found {
            eprintln!(
                "note: no plan of the stopped run is at {} (it planned elsewhere, or not at all): this plan holds \
                 the rows from here on, not the {} rows the stopped run committed",
                self.output.name, self.committed
            );
        } else if (rows.len() as u64) < self.committed {
            eprintln!(
                "note: the plan of the stopped run holds {} of the {} rows it committed (killed before it was \
                 written); {} has those and the rows from here on",
                rows.len(),
                self.committed,
                self.output.name
            );
        }
        self.committed = 0;
        Ok(())
    }

    /// A linked record the row writes (a company created for it, or given
    /// its domain): a line of its own after the row's, naming the entity.
    fn effect(&mut self, row: u64, effect: &Effect) -> Result<()> {
        self.keep_earlier(row)?;
        let action = if effect.created { "insert" } else { "update" };
        let entity = effect.entity.name();
        if self.csv {
            for c in &effect.changes {
                let q = Self::cell;
                writeln!(
                    self.out,
                    "{row},{action} {},{},{},{},{}",
                    crmsync_store::model::singular(effect.entity),
                    effect.id,
                    q(&c.field),
                    q(&Self::text(&c.field, c.before.as_deref())),
                    q(&Self::text(&c.field, c.after.as_deref()))
                )?;
            }
            return Ok(());
        }
        let changes: Vec<serde_json::Value> = effect
            .changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "field": c.field,
                    "before": Self::json(&c.field, c.before.as_deref()),
                    "after": Self::json(&c.field, c.after.as_deref()),
                })
            })
            .collect();
        let line =
            serde_json::json!({"row": row, "action": action, "entity": entity, "id": effect.id, "changes": changes});
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    /// A value as a cell shows it: a custom field's JSON text string as its
    /// text (`gold`, not `"gold"`), as standard fields are, and a list as a
    /// flat export writes it (`vip; b2b`).
    fn text(field: &str, v: Option<&str>) -> String {
        if let Some(cell) = v.filter(|_| field == "tags").and_then(crmsync_core::value::json_list_cell) {
            return cell;
        }
        match Self::json(field, v) {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// A value in an NDJSON plan: a custom field's and a list's as the JSON
    /// they are.
    fn json(field: &str, v: Option<&str>) -> serde_json::Value {
        match v {
            None => serde_json::Value::Null,
            Some(v) if field.starts_with("custom.") || field == "tags" => {
                serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
            }
            Some(v) => serde_json::Value::String(v.to_string()),
        }
    }

    /// A CSV plan's cell: plans are read in spreadsheets, so quoted, and
    /// formulas neutralised as CSV exports do (a phone number stays as it is).
    fn cell(s: &str) -> String {
        let s = crmsync_formats::csv::neutralize(s).unwrap_or_else(|| s.to_string());
        format!("\"{}\"", s.replace('"', "\"\""))
    }

    fn write(&mut self, row: u64, outcome: &Outcome) -> Result<()> {
        self.keep_earlier(row)?;
        let (action, id) = match outcome {
            Outcome::Insert { id } => ("insert", id.as_str()),
            Outcome::Update { id, .. } => ("update", id.as_str()),
            Outcome::Unchanged { id } => ("unchanged", id.as_str()),
            Outcome::Reject { .. } => ("reject", ""),
        };
        if self.csv {
            let q = Self::cell;
            match outcome {
                Outcome::Update { changes, .. } => {
                    for c in changes {
                        // A link by the name of what it goes to, and its id
                        // (once: a label of names alike carries it already).
                        let shown = |value: Option<&str>, label: Option<&str>| match (value, label) {
                            (Some(v), Some(l)) if l.ends_with(&format!(" ({v})")) => l.to_string(),
                            (Some(v), Some(l)) if l != v => format!("{l} ({v})"),
                            _ => Self::text(&c.field, value),
                        };
                        writeln!(
                            self.out,
                            "{row},{action},{id},{},{},{}",
                            q(&c.field),
                            q(&shown(c.before.as_deref(), c.before_label.as_deref())),
                            q(&shown(c.after.as_deref(), c.after_label.as_deref()))
                        )?;
                    }
                }
                Outcome::Reject { field, message } => writeln!(self.out, "{row},reject,,{},,{}", q(field), q(message))?,
                _ => writeln!(self.out, "{row},{action},{id},,,")?,
            }
            return Ok(());
        }
        let mut line = serde_json::json!({"row": row, "action": action});
        if !id.is_empty() {
            line["id"] = id.into();
        }
        match outcome {
            Outcome::Update { changes, .. } => {
                line["changes"] = changes
                    .iter()
                    .map(|c| {
                        let mut change = serde_json::json!({
                            "field": c.field,
                            "before": Self::json(&c.field, c.before.as_deref()),
                            "after": Self::json(&c.field, c.after.as_deref()),
                        });
                        // A link's records by name, beside their ids.
                        for (key, label) in [("before_label", &c.before_label), ("after_label", &c.after_label)] {
                            if let Some(l) = label {
                                change[key] = l.as_str().into();
                            }
                        }
                        change
                    })
                    .collect();
            }
            Outcome::Reject { field, message } => {
                line["field"] = field.as_str().into();
                line["error"] = message.as_str().into();
            }
            _ => {}
        }
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.keep_earlier(u64::MAX)?;
        self.out.flush()?;
        drop(self.out);
        self.output.commit()
    }
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    let started = Instant::now();
    for (what, path) in [("--rejects", &args.rejects), ("--plan", &args.plan)] {
        if let Some(p) = path
            && same_file(p, &args.input)
        {
            return Err(usage(format!("the {what} file would overwrite the input; choose another name")));
        }
    }
    let mapping = args.mapping.as_deref().map(load_mapping).transpose()?;
    let entity: Entity = match (&args.entity, &mapping) {
        (Some(e), Some(m)) => {
            let e: Entity = e.parse().map_err(usage)?;
            if e != m.entity {
                return Err(usage(format!(
                    "{} maps records to {}, not {e}: use a mapping written for {e} (`crmsync mapping suggest {} --entity {e}`)",
                    args.mapping.as_deref().unwrap_or("the mapping"),
                    m.entity,
                    args.input
                )));
            }
            e
        }
        (Some(e), None) => e.parse().map_err(usage)?,
        (None, Some(m)) => m.entity,
        (None, None) => return Err(usage("name the entity with --entity (companies, contacts, deals, activities)")),
    };
    let schema = args.schema.as_deref().map(load_schema).transpose()?;
    let mut store = crmsync_store::open_current(db)?;

    let read_opts = args.source.read_options(mapping.as_deref(), &args.input, g.quiet)?;
    let opened = open_input(&args.input, g.quiet)?;
    let progress = opened.progress;
    let mut reader = crmsync_formats::open_reader(opened.input, &read_opts)
        .map_err(|e| pipeline::open_failed(&args.input, &read_opts, mapping.as_deref(), e))?;
    let source_name = if args.input == "-" { "<stdin>".to_string() } else { args.input.clone() };
    let source_columns: Option<Vec<Key>> = reader.columns().map(<[Key]>::to_vec);
    let details = reader.details();
    pipeline::note_encoding(&args.input, &read_opts, &details, g.quiet);
    let meta = Meta::of(source_columns.as_deref());
    args.source.stdin_rejects_fit(&args.input, &read_opts, meta)?;

    // The fields the source gives, to pick the key and check the header.
    let mapped: Vec<String> = match (&mapping, &source_columns) {
        (Some(m), cols) => {
            if let Some(cols) = cols {
                m.check_columns(cols).map_err(|mut e| {
                    e.file = args.mapping.clone();
                    crate::pipeline::does_not_fit(
                        &source_name,
                        e,
                        crate::pipeline::header_row_of(&args.input, &read_opts, m),
                        &details,
                    )
                })?;
            }
            m.targets().iter().map(|k| k.to_string()).collect()
        }
        (None, Some(cols)) => {
            // (A rejects file's `_raw`: an NDJSON line that was no record.)
            let rejects = meta == Meta::Strip;
            let unknown = pipeline::unknown_fields(
                entity,
                cols.iter()
                    .filter(|c| external_system(c).is_none() && entity.external_link_of(c).is_none())
                    .filter(|c| !(rejects && &***c == pipeline::RAW)),
            );
            // A header written by a flat export carries nested fields as dotted names already.
            if !unknown.is_empty() {
                anyhow::bail!(
                    "{source_name}: column(s) {} are not fields of {entity}; write a mapping for this file \
                     (`crmsync mapping suggest {} --entity {entity}`) and pass it with --mapping",
                    unknown.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", "),
                    args.input
                );
            }
            cols.iter().map(|k| k.to_string()).collect()
        }
        (None, None) => entity.fields().iter().map(|s| s.to_string()).collect(),
    };
    // The file's columns the mapping does not read: not imported, said
    // so (a column left out of the mapping by mistake is data lost).
    let mut unmapped: Vec<String> = match (&mapping, &source_columns) {
        (Some(m), Some(cols)) => cols
            .iter()
            .filter(|c| !c.trim().is_empty() && !m.reads(c))
            .filter(|c| !pipeline::META.contains(&&***c) && &***c != pipeline::RAW)
            .map(|c| c.to_string())
            .collect(),
        _ => Vec::new(),
    };
    if !unmapped.is_empty() && !g.quiet && !g.json {
        note_unmapped(&unmapped, &source_name, args.mapping.as_deref(), Unread::Columns);
    }
    let mapped_refs: Vec<&str> = mapped.iter().map(String::as_str).collect();
    let key: Vec<String> = match (&args.key, &mapping) {
        (Some(k), _) => k.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
        (None, Some(m)) if !m.key.fields.is_empty() => m.key.fields.clone(),
        _ => default_key(entity, &mapped_refs),
    };
    for f in &key {
        if !entity.has_field(f) || f.contains('.') && !f.starts_with("custom.") {
            return Err(usage(format!(
                "--key: `{f}` is not a field of {entity} that can identify a record; fields are {}",
                entity.fields().iter().filter(|f| !f.contains('.')).copied().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    // An export's `id` column: records it names are matched by it first.
    let mut own_ids = false;
    // An export's linked records' ids (`contact.external_id.erp`).
    let mut link_ids: Vec<(String, &'static str)> = Vec::new();
    let link_system: Option<String>;
    let external = match &mapping {
        Some(m) => {
            link_system = m.link_system.clone();
            m.key.external_id.clone()
        }
        // An export's `external_id.erp` column (or, in JSON, `external_id`
        // object): matched and kept as the records' ids in that system, as
        // a mapping's [key] would. A file without a header shows it in its
        // records (the first thousand are looked at).
        None => {
            let names: Vec<String> = match &source_columns {
                Some(cols) => cols.iter().map(|c| c.to_string()).collect(),
                None => {
                    let ahead = pipeline::ReadAhead::new(reader);
                    let names = ahead.names();
                    reader = Box::new(ahead);
                    names
                }
            };
            own_ids = names.iter().any(|n| n == "id");
            // An export's system columns: the store keeps its own.
            let kept: Vec<&str> =
                ["created_at", "updated_at", "version"].into_iter().filter(|s| names.iter().any(|n| n == s)).collect();
            if !kept.is_empty() && !g.quiet {
                eprintln!(
                    "note: {} {} kept by the store itself: the file's values are not imported",
                    kept.join(", "),
                    if kept.len() == 1 { "is" } else { "are" }
                );
            }
            let ids: Vec<(&String, &str)> = names.iter().filter_map(|c| Some((c, external_system(c)?))).collect();
            // Links by id go in the system the records' own ids are in.
            let links: Vec<(&String, &'static str, &str)> = names
                .iter()
                .filter_map(|c| entity.external_link_of(c).map(|(link, system)| (c, link, system)))
                .collect();
            // (The records' own system, else the first link's.)
            let system = ids.first().map(|(_, s)| *s).or(links.first().map(|(_, _, s)| *s));
            if let Some((col, _, other)) = links.iter().find(|(_, _, s)| Some(*s) != system) {
                return Err(usage(format!(
                    "{source_name}: column {col:?} holds ids in {other:?}, and the file's other ids are in {:?}; \
                     an import links by one system: keep that one, or use a mapping",
                    system.unwrap_or_default()
                )));
            }
            link_ids = links.iter().map(|(c, l, _)| (c.to_string(), *l)).collect();
            link_system = system.filter(|_| !links.is_empty()).map(str::to_string);
            match ids.as_slice() {
                [] => None,
                [(col, system)] => Some(ExternalIdSpec { system: system.to_string(), from: col.to_string() }),
                _ => {
                    return Err(usage(format!(
                        "{source_name}: {} are ids in several systems; an import matches by one: \
                         keep one of them, or name it in a mapping's [key] external_id",
                        ids.iter().map(|(c, _)| format!("{c:?}")).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
    };
    // A key the file does not give would reject every row as keyless. (A
    // file of nested records may give `custom.x` within its `custom`.)
    if args.key.is_some() && !own_ids && external.is_none() && (mapping.is_some() || source_columns.is_some()) {
        let nested = |f: &str| f.strip_prefix("custom.").is_some() && mapped.iter().any(|m| m == "custom");
        if let Some(f) = key.iter().find(|f| !mapped.contains(f) && !nested(f)) {
            let given = if mapping.is_some() { "the mapping gives no" } else { "the file has no" };
            return Err(usage(format!(
                "--key: {given} `{f}` column, so no row could be matched (every one would be rejected as \
                 keyless); name a key among: {}",
                mapped
                    .iter()
                    .filter(|m| entity.has_field(m) && !m.contains('.') || m.starts_with("custom."))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mode: Mode = match &args.mode {
        Some(m) => m.parse().map_err(usage)?,
        // (An export's `id` column matches the records it names.)
        None if key.is_empty() && external.is_none() && !own_ids => Mode::Insert,
        None => Mode::Upsert,
    };
    // Activities have no natural key: without ids, a file imported twice
    // is inserted twice. Said before, not found out after.
    if args.mode.is_none() && key.is_empty() && external.is_none() && !own_ids && !g.quiet {
        eprintln!(
            "note: {entity} have no key here: every row is inserted as a new record, and importing this file again \
             inserts them again; a mapping's [key] external_id (their ids in the other system) matches them"
        );
    }
    if mode != Mode::Insert && key.is_empty() && external.is_none() && !own_ids {
        return Err(usage(format!(
            "--mode {} matches records, but no key is set: name one with --key (or [key] in the mapping)",
            mode.name()
        )));
    }

    let id_system = external.as_ref().map(|e| e.system.clone()).or(link_system);
    // What makes a row into a record besides the settings: the mapping's
    // rules, not where in the file they are written.
    let how = match &mapping {
        Some(m) => {
            let mut rules = Mapping::clone(m);
            rules.fields.iter_mut().for_each(|f| f.line = 0);
            format!("mapping {rules:?}")
        }
        None => "fields as they are".to_string(),
    };
    let settings = Settings {
        entity,
        mode,
        key: key.clone(),
        key_chosen: args.key.is_some() || mapping.as_ref().is_some_and(|m| !m.key.fields.is_empty()),
        external_system: id_system.clone(),
        source: source_name.clone(),
        source_path: (args.input != "-")
            .then(|| std::fs::canonicalize(&args.input).ok())
            .flatten()
            .map(|p| p.to_string_lossy().into_owned()),
        mapping: args.mapping.clone(),
        mapping_rules: mapping.is_some().then(|| crmsync_store::import::rules_hash(how.as_bytes())),
        dry_run: args.dry_run,
        clear_empty: args.clear_empty,
        guard_domains: entity == Entity::Companies
            && key == ["name"]
            && args.key.is_none()
            && mapping.as_ref().is_none_or(|m| m.key.fields.is_empty())
            && mapped.iter().any(|f| f == "domain"),
        unique: mapping
            .as_ref()
            .map(|m| m.fields.iter().filter(|f| f.unique).map(|f| f.target.to_string()).collect())
            .unwrap_or_default(),
    };
    // A plan or rejects file that cannot be written fails the command
    // before its batch begins, not after, as an empty batch to resume.
    for path in [&args.rejects, &args.plan].into_iter().flatten() {
        crate::io::Output::probe(path)?;
    }
    let mut import = store.import(settings, args.resume)?;
    // The ids an export's rows give, all read first: which record each
    // names holds from the first row on, not only once the row is reached.
    // (A file read once, from stdin, learns them as it goes.)
    if own_ids && args.input != "-" {
        let opened = open_input(&args.input, true)?;
        let mut ids_reader = crmsync_formats::open_reader(opened.input, &read_opts)
            .map_err(|e| pipeline::open_failed(&args.input, &read_opts, mapping.as_deref(), e))?;
        let mut rec = Record::new();
        while ids_reader.read(&mut rec).unwrap_or(false) {
            if let Some(id) = rec.get("id").map(Value::to_text) {
                import.name_ids(std::iter::once(id.as_str()));
            }
        }
    }
    if let Some(m) = &mapping {
        import.name_sources(m.fields.iter().filter_map(|f| Some((f.target.to_string(), f.from.first()?.clone()))));
    }
    if let Some((id, at)) = &import.interrupted
        && !g.quiet
    {
        eprintln!(
            "note: an earlier import of {source_name} (batch {id}) stopped after {}; \
             to finish that one instead, run this command with --resume",
            crate::io::counted(*at, "row", "rows")
        );
    }
    import.commit_every(args.chunk_size);
    let batch = import.batch.clone();
    let skip = import.resumed_at;

    let mut rejects =
        Rejects::open(args.rejects.as_deref(), &source_name, &details, source_columns.as_deref(), g.quiet, g.verbose)?
            .read_by(mapping.as_deref());
    if skip > 0 {
        // The rejects of the interrupted run, so the file is complete.
        for r in import.stored_rejects()? {
            let mut rec = Record::new();
            rec.row = r.row;
            for (k, v) in r.record {
                match k.as_str() {
                    "_row" => rec.origin = v.as_u64().unwrap_or(0),
                    _ => rec.push(Key::from(k.as_str()), Value::from_json(&v)),
                }
            }
            rejects.replay(&rec, &r.field, &r.error)?;
        }
        rejects.count = 0;
    }
    // (A batch's id begins with the time it was started.)
    let resumed = (skip > 0).then(|| {
        let millis = crmsync_store::model::ulid_value(&batch).map_or(0, |v| (v >> 80) as u64);
        (std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis), skip)
    });
    let mut plan = args.plan.as_deref().map(|p| Plan::open(p, resumed)).transpose()?;
    if plan.is_some() {
        import.track_effects();
    }

    // Rows the store holds as they are need not be mapped whole (see
    // crmsync_store's recognise.rs). Not where a schema file checks what
    // they make, nor where a `unique` field (checked across the file) is
    // one such a row would not map.
    let identity = mapping.is_none().then(|| Identity {
        entity,
        external: external.as_ref().map(|e| e.from.clone()),
        links: link_ids.clone(),
    });
    let lite_unique = {
        let drafter = import.drafter();
        mapping.as_ref().is_none_or(|m| m.fields.iter().filter(|f| f.unique).all(|f| drafter.is_lite(&f.target)))
    };
    let recognisable = schema.is_none() && lite_unique;
    if recognisable {
        let (mapping, external, identity) = (mapping.clone(), external.clone(), identity.clone());
        import.recognise(how.as_bytes(), move |drafter| {
            let mut work = Work {
                mapper: mapping.map(Mapper::new),
                reverse: false,
                schema: None,
                meta: Meta::Keep,
                identity,
                draft: None,
                recognise: None,
                digest: None,
            };
            let from = IdColumns::new(external, own_ids);
            Box::new(move |src: &Record| {
                let (mut rec, mut out) = (src.clone(), Record::new());
                let ids = from.read(src);
                match work.run(&mut rec, &mut out).0 {
                    Worked::Mapped => drafter.draft(&out, ids, None),
                    Worked::AsRead => drafter.draft(&rec, ids, None),
                    Worked::Rejected(errors) => Err(field_errors(&errors)),
                    Worked::Defect(d) => Err((d.field.unwrap_or_default(), d.message)),
                }
            })
        })?;
    }
    let drafter = import.drafter();
    let recognise = recognisable.then(|| {
        let lite = match &mapping {
            Some(m) => m.fields.iter().map(|f| drafter.is_lite(&f.target)).collect(),
            None => Vec::new(),
        };
        Recognise { drafter: drafter.clone(), lite }
    });
    let mapper = mapping.clone().map(Mapper::new);
    let found = mapper.as_ref().map(Mapper::columns_found);
    let times = mapper.as_ref().map(Mapper::times_dropped);
    let work = Work {
        mapper,
        reverse: false,
        schema,
        meta,
        identity,
        draft: Some({
            let from = IdColumns::new(external.clone(), own_ids);
            Box::new(move |src: &Record, out: &Record, seen: Option<Seen>, refused: &[&str]| {
                drafter.draft_refusing(out, from.read(src), seen, refused)
            })
        }),
        recognise,
        digest: Some(0),
    };
    let mut pipeline = Pipeline::start(reader, work);
    let mut seen: u64 = 0;
    let mut stopped: Option<String> = None;
    let outcome: Result<()> = (|| {
        while let Some(worked) = pipeline.next() {
            let mut worked = worked?;
            let mut drafts = std::mem::take(&mut worked.drafts);
            let mut rows = Vec::with_capacity(worked.sources.len());
            // Each row's index in the batch, to hand its draft back.
            let mut index = Vec::with_capacity(worked.sources.len());
            for (i, src) in worked.sources.iter().enumerate() {
                seen += 1;
                if let Some(m) = mapping.as_deref().filter(|_| source_columns.is_none() && seen <= UNREAD_SAMPLE) {
                    unread_fields(m, "", src.fields().iter(), &mut unmapped);
                }
                let digest = worked.digests.get(i).copied().unwrap_or_default();
                if seen <= skip {
                    if seen == skip {
                        import.check_resumed(Some((digest, src.row)))?;
                    }
                    continue;
                }
                let (record, rejected) = match &worked.outcomes[i] {
                    Worked::Defect(d) => (None, Some((d.field.clone().unwrap_or_default(), d.message.clone()))),
                    Worked::Rejected(errors) => {
                        let (mut fields, mut messages) = field_errors(errors);
                        // The store's faults with the rest of the row.
                        if let Some(Some(Err((more, said)))) = drafts.get_mut(i).map(Option::take) {
                            fields = format!("{fields};{more}");
                            messages = format!("{messages}; {said}");
                        }
                        (None, Some((fields, messages)))
                    }
                    Worked::Mapped | Worked::AsRead => (worked.output(i), None),
                };
                // Every row with a record was drafted, external id and all,
                // on the work thread.
                let drafted = drafts.get_mut(i).and_then(Option::take);
                rows.push(Row { source: src, record, ids: RowIds::default(), rejected, drafted, spent: None, digest });
                index.push(i);
            }
            let mut start = 0;
            while start < rows.len() {
                // Under --max-errors a chunk holds no more rows than may
                // still be rejected, so the import stops on the row that
                // reaches the limit and writes none after it.
                let mut size = args.chunk_size.clamp(1, 1024);
                if let Some(max) = args.max_errors {
                    let left = max.max(1).saturating_sub(rejects.count).max(1);
                    size = size.min(usize::try_from(left).unwrap_or(usize::MAX));
                }
                let end = (start + size).min(rows.len());
                let part = &mut rows[start..end];
                let outcomes = import.chunk(part)?;
                let effects = import.take_effects();
                // Spent drafts go back with the batch, to be freed by the
                // thread that made them: freeing them here was a twentieth
                // of the store thread's time.
                for (row, i) in part.iter_mut().zip(&index[start..]) {
                    drafts[*i] = row.spent.take().map(Ok);
                }
                start = end;
                for (i, (row, outcome)) in part.iter().zip(&outcomes).enumerate() {
                    if let Outcome::Reject { field, message } = outcome {
                        rejects.reject(row.source, field, message)?;
                    }
                    if let Some(p) = &mut plan {
                        p.write(row.source.row, outcome)?;
                        for (_, effect) in effects.iter().filter(|(at, _)| *at == i) {
                            p.effect(row.source.row, effect)?;
                        }
                    }
                }
                // On disk as the rows are committed: a run killed then
                // leaves --resume the plan of nearly every row it committed.
                if let Some(p) = &mut plan {
                    p.out.flush()?;
                }
                if let Some(max) = args.max_errors
                    && rejects.count >= max.max(1)
                {
                    let last = part.last().map_or(0, |r| r.source.row);
                    stopped = Some(format!(
                        "stopped after {} rejected row(s) (--max-errors {max}) at row {last}",
                        rejects.count
                    ));
                    return Ok(());
                }
            }
            progress.tick(seen);
            drop(rows);
            worked.drafts = drafts;
            pipeline.recycle(worked);
        }
        if seen < skip {
            // Fewer rows than the interrupted run committed.
            import.check_resumed(None)?;
        }
        Ok(())
    })();
    drop(pipeline);
    progress.finish();
    let rejects_path = rejects.path().map(str::to_string);
    let counts = import.counts.clone();
    if let (n @ 1.., Some(first)) = &import.foreign_ids
        && !g.quiet
    {
        eprintln!(
            "note: {n} {} no id crmsync gives ({first:?}; its ids are ULIDs, as `export --fields id` writes \
             them): matched by key as if absent, and a record made for such a row gets an id of its own",
            if *n == 1 { "row's `id` is" } else { "rows' `id`s are" }
        );
    }
    // A mapping's date fields, and declared ones, which the store reads.
    let mut times_dropped = times.map(|t| t.list()).unwrap_or_default();
    times_dropped.extend(import.times_dropped().list());
    if !g.quiet && !g.json {
        note_times_dropped(&times_dropped);
    }
    // Free e-mail domains given as a company's (a file that took each
    // contact's company domain from the e-mail address).
    let free_mail = import.free_mail().list();
    if !free_mail.is_empty() && !g.quiet && !g.json {
        let rows: u64 = free_mail.iter().map(|(_, n)| n).sum();
        let each: Vec<String> = free_mail.iter().map(|(d, n)| format!("{d} {n}")).collect();
        let (field, so) = match entity {
            Entity::Companies => ("domain", "such companies are kept without it"),
            _ => ("company.domain", "such rows find their company by company.name (or id) alone"),
        };
        eprintln!(
            "note: {} a free e-mail domain as {field} ({}), which people of many companies share: it is no \
             company's domain, and {so}",
            crate::io::counted(rows, "row gave", "rows gave"),
            each.join(", ")
        );
    }
    if source_columns.is_none() && !unmapped.is_empty() && !g.quiet && !g.json {
        let first = (seen > UNREAD_SAMPLE).then_some(UNREAD_SAMPLE);
        note_unmapped(&unmapped, &source_name, args.mapping.as_deref(), Unread::Fields { first });
    }
    if counts.rewritten > 0 && !g.quiet && !g.json {
        let one = crmsync_store::model::singular(entity);
        let listed: Vec<String> =
            counts.rewritten_rows.iter().map(|(row, id)| format!("row {row}: {one} {id}")).collect();
        let more = counts.rewritten - listed.len() as u64;
        // (Rows an interrupted run read are counted with the batch, not
        // listed.)
        let which = match (listed.is_empty(), more) {
            (true, _) => "before the import was resumed".to_string(),
            (false, 0) => listed.join("; "),
            (false, more) => format!("{}; {more} more", listed.join("; ")),
        };
        eprintln!(
            "note: {} {} a {one} an earlier row of {source_name} made or changed ({which}): it keeps the last \
             row's values, and the file imported again writes {} again, never unchanged",
            crate::io::counted(counts.rewritten, "row", "rows"),
            if counts.rewritten == 1 { "changes" } else { "change" },
            if counts.rewritten == 1 { "it" } else { "them" },
        );
    }
    // Records with no key matched only by their ids: a row without one is
    // new each time the file is imported.
    if own_ids && key.is_empty() && external.is_none() && import.without_id > 0 && !g.quiet {
        eprintln!(
            "note: {} {} no `id`, and {entity} have no key here: such rows are inserted as new records each time \
             the file is imported",
            import.without_id,
            if import.without_id == 1 { "row has" } else { "rows have" }
        );
    }
    let resumed = skip;
    let result = match (outcome, &stopped) {
        (Ok(()), None) => import.finish().map_err(anyhow::Error::from),
        (Ok(()), Some(_)) => import.stop().map(|()| counts.clone()).map_err(anyhow::Error::from),
        (Err(e), _) => {
            let _ = import.stop();
            Err(e)
        }
    };
    let summary = |counts: &crmsync_store::import::Counts, unread: Vec<String>, error: Option<&str>| {
        serde_json::json!({
            "batch": batch,
            "entity": entity.name(),
            "mode": mode.name(),
            "format": details.format.map(|f| f.name()),
            "encoding": details.encoding,
            "key": key,
            // Matched by these ids first; `key` is for rows without one.
            "external_id": id_system,
            "rows_read": counts.rows_read,
            "unread_columns": unread,
            "unmapped_columns": unmapped,
            "times_dropped": times_dropped
                .iter()
                .map(|(field, n, first)| serde_json::json!({"field": field, "values": n, "example": first}))
                .collect::<Vec<_>>(),
            "free_mail_domains": free_mail
                .iter()
                .map(|(domain, n)| serde_json::json!({"domain": domain, "rows": n}))
                .collect::<Vec<_>>(),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "rejected": counts.rejected,
            "companies_created": counts.companies_created,
            "companies_updated": counts.companies_updated,
            "rewritten": counts.rewritten,
            "resumed_after": resumed,
            "dry_run": args.dry_run,
            "rejects": rejects_path,
            "plan": args.plan,
            "stopped": stopped,
            "error": error,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        })
    };
    let saved = rejects.finish().context("while saving the rejects file");
    let plan_saved = plan.map(Plan::finish).transpose().context("while saving the plan");
    let counts = match result.and_then(|c| saved.and(plan_saved).map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            let e = if args.dry_run {
                e.context(format!("dry run of {source_name} stopped, nothing written"))
            } else {
                stopped_import(e, &source_name, &batch)
            };
            // A script sees what was done before the stop (committed, or
            // in a dry run what would have been), as after a --max-errors
            // stop.
            if g.json {
                outln!("{}", summary(&counts, Vec::new(), Some(&format!("{e:#}"))))?;
                return Err(super::reported(e));
            }
            return Err(e);
        }
    };
    let failure = stopped.as_ref().map(|msg| {
        let rejected = match &rejects_path {
            Some(path) => format!("the rejected ones in {path}"),
            None => "the rejected ones said above, kept nowhere (--rejects FILE keeps them)".to_string(),
        };
        format!(
            "{msg}; rows up to it are done in batch {batch}, {rejected} \
             (`--resume` goes on after it, `crmsync undo {batch}` reverts)"
        )
    });
    let unread = unread_columns(found.as_deref(), details.format, &source_name, counts.rows_read, g.quiet || g.json);
    let elapsed = started.elapsed();
    if g.json {
        outln!("{}", summary(&counts, unread, failure.as_deref()))?;
    } else if !g.quiet {
        let mut companies = String::new();
        if counts.companies_created > 0 {
            companies.push_str(&format!(
                ", {} created",
                crate::io::counted(counts.companies_created, "company", "companies")
            ));
        }
        if counts.companies_updated > 0 {
            companies.push_str(&format!(
                ", {} the domain or id {} lacked",
                crate::io::counted(counts.companies_updated, "company given", "companies given"),
                if counts.companies_updated == 1 { "it" } else { "they" }
            ));
        }
        let wrote = counts.inserted + counts.updated + counts.companies_created + counts.companies_updated > 0;
        let batch_said = match (args.dry_run, wrote) {
            (true, _) => format!("would be batch {batch}"),
            (false, true) => format!("undo with `crmsync undo`, batch {batch}"),
            (false, false) => format!("batch {batch}, which changed nothing"),
        };
        eprintln!(
            "{}{} read from {source_name} ({}): {} inserted, {} updated, {} unchanged, {} rejected{companies}{} in {:.2}s ({batch_said})",
            if args.dry_run { "dry run, nothing written: " } else { "" },
            crate::io::counted(counts.rows_read, "row", "rows"),
            details.describe(),
            counts.inserted,
            counts.updated,
            counts.unchanged,
            counts.rejected,
            rejects_path.filter(|_| counts.rejected > 0).map(|p| format!(" (see {p})")).unwrap_or_default(),
            elapsed.as_secs_f64(),
        );
    }
    if let Some(failure) = failure {
        let e = anyhow::anyhow!(failure);
        return Err(if g.json { super::reported(e) } else { e });
    }
    Ok(ExitCode::SUCCESS)
}

/// Says, per date field, how many values had a time of day it keeps no
/// part of: not an error (the day is right), but data not imported.
pub(crate) fn note_times_dropped(dropped: &[(String, u64, String)]) {
    for (field, n, first) in dropped {
        eprintln!(
            "note: {} of {field} had a time of day, which a date keeps no part of (e.g. {first:?}, read as its day); \
             to keep it, make the field a date-time (type = \"datetime\")",
            crate::io::counted(*n, "value", "values")
        );
    }
}

/// Records of a file without a header whose fields are looked at for
/// those the mapping does not read.
const UNREAD_SAMPLE: u64 = 1000;

/// The fields of a record the mapping does not read, as dotted paths
/// (`attributes`, `addr.country`), added to `out` once each: an object the
/// mapping reads nothing inside is one field, whole.
fn unread_fields<'a>(
    m: &crmsync_core::mapping::Mapping,
    prefix: &str,
    fields: impl Iterator<Item = &'a (Key, Value)>,
    out: &mut Vec<String>,
) {
    for (k, v) in fields {
        let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        if m.reads(&path) || pipeline::META.contains(&path.as_str()) || path == pipeline::RAW {
            continue;
        }
        match v {
            Value::Object(children) if m.reads_under(&path) => unread_fields(m, &path, children.iter(), out),
            // A list the mapping reads items of (`tags.0`): the others.
            Value::Array(items) if m.reads_under(&path) => {
                let items: Vec<(Key, Value)> =
                    items.iter().enumerate().map(|(i, v)| (Key::from(i.to_string().as_str()), v.clone())).collect();
                unread_fields(m, &path, items.iter(), out);
            }
            Value::Null => {}
            _ if !out.contains(&path) => out.push(path),
            _ => {}
        }
    }
}

/// What of a file a mapping leaves unread: columns of its header, or fields
/// of its records (those of the `first` so many, where not all were read).
enum Unread {
    Columns,
    Fields { first: Option<u64> },
}

/// Says what of the file the mapping leaves out: data not imported.
fn note_unmapped(unmapped: &[String], source_name: &str, mapping: Option<&str>, what: Unread) {
    let shown: Vec<String> = unmapped.iter().take(10).map(|c| format!("{c:?}")).collect();
    let more = if unmapped.len() > 10 { format!(" and {} more", unmapped.len() - 10) } else { String::new() };
    let (one, many, first) = match what {
        Unread::Columns => ("column", "columns", None),
        Unread::Fields { first } => ("field", "fields", first),
    };
    eprintln!(
        "note: {} of {source_name}{} {} not read by {}, and not imported: {}{more}",
        crate::io::counted(unmapped.len() as u64, one, many),
        first.map(|n| format!(" (in its first {n} records)")).unwrap_or_default(),
        if unmapped.len() == 1 { "is" } else { "are" },
        mapping.unwrap_or("the mapping"),
        shown.join(", ")
    );
}

/// A row's field errors as one reject: (fields, messages).
fn field_errors(errors: &[crmsync_core::FieldError]) -> (String, String) {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    (fields.join(";"), messages.join("; "))
}

/// An import's failure, with what to do about the batch it leaves: rows
/// committed so far are kept, to be finished with `--resume` (once the file
/// is mended, where it could not be read on) or undone.
fn stopped_import(e: anyhow::Error, source_name: &str, batch: &str) -> anyhow::Error {
    // A file that cannot be read on needs mending before a resume
    // can get past the place where it stopped.
    let unreadable = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crmsync_formats::Error>(),
            Some(crmsync_formats::Error::Parse { .. } | crmsync_formats::Error::Encoding { .. })
        )
    });
    let resume = if unreadable {
        "mend the file from where it stopped on (leaving the rows before it as they are) and run \
         the same command with --resume to finish it"
    } else {
        "run the same command with --resume to finish it"
    };
    // A resume refused for a changed file says itself what to do.
    let refused = e
        .chain()
        .any(|c| matches!(c.downcast_ref::<crmsync_store::Error>(), Some(crmsync_store::Error::SourceChanged(_))));
    if refused {
        return e;
    }
    e.context(format!(
        "import of {source_name} stopped; rows committed so far are kept in batch {batch}: \
         {resume}, or `crmsync undo {batch}` to revert it"
    ))
}
