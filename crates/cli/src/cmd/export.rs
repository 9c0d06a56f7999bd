//! `crmsync export --entity E`: records out of the store in any format,
//! optionally through a mapping run backwards (into another system's
//! columns and types).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args as ClapArgs;
use crmsync_core::value::list_cell;
use crmsync_core::{Entity, Key, Mapper, Mapping, Record, Value};
use crmsync_formats::{Format, Location, WriteOptions};
use crmsync_store::export::Options;

use crate::Global;
use crate::cmd::usage;
use crate::io::Output;
use crate::pipeline::{
    bom_fits, delimiter, load_mapping, out_encoding, output_format, output_like_source, output_options_fit,
};

/// Records handed from the store reader to the file writer at a time.
const PAGE: usize = 2000;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The entity to export: companies, contacts, deals, activities (default: the mapping's).
    #[arg(long, value_name = "ENTITY")]
    pub entity: Option<String>,
    /// Output format (default: from --out's extension; CSV on stdout).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Output file, or `-` for stdout.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub out: String,
    /// Fields to export, comma-separated, in order (default: every standard and custom field).
    /// System fields: id, created_at, updated_at, deleted_at, version.
    #[arg(long, value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Only records matching this expression, e.g. `address.country = 'CN' and custom.vip = true`.
    /// Operators: = != < > <= >= like in, is null, is not null, and or not.
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Only records changed at or after this time (2024-05-01 or 2024-05-01T09:30:00+08:00).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Run this mapping backwards: records come out with the mapping's source columns and formats.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<String>,
    /// Include deleted records (with their `deleted_at`).
    #[arg(long)]
    pub include_deleted: bool,
    /// Output encoding (default UTF-8).
    #[arg(long, value_name = "ENCODING")]
    pub out_encoding: Option<String>,
    /// CSV delimiter.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Start CSV output with a UTF-8 byte order mark (for Excel).
    #[arg(long)]
    pub bom: bool,
    /// Write CSV cells exactly, without neutralizing formula-like cells.
    #[arg(long)]
    pub raw: bool,
    /// Pretty-print JSON output.
    #[arg(long)]
    pub pretty: bool,
    /// XML output's `root/record` element names (default records/record).
    #[arg(long, value_name = "PATH")]
    pub record_path: Option<String>,
    /// XLSX output's sheet name (default Sheet1).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
}

/// The names `--fields` lists, comma-separated. A name may be in
/// backquotes, as in `--where`, to hold a comma or spaces
/// (`` `custom.a,b` ``; a backquote inside is doubled).
fn field_list(text: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut name = String::new();
        if chars.next_if_eq(&'`').is_some() {
            loop {
                match chars.next() {
                    Some('`') if chars.next_if_eq(&'`').is_some() => name.push('`'),
                    Some('`') => break,
                    Some(c) => name.push(c),
                    None => return Err(usage(format!("--fields: the backquote before {name:?} is never closed"))),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if let Some(c) = chars.peek().filter(|c| **c != ',') {
                return Err(usage(format!("--fields: {c:?} follows the backquoted name `{name}`; expected a comma")));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                name.push(c);
            }
            name = name.trim().to_string();
        }
        if !name.is_empty() {
            names.push(name);
        }
        if chars.next().is_none() {
            return Ok(names);
        }
    }
}

/// Lists in a flat file are one cell, `a; b` (see `list_cell`), which
/// import splits again.
pub(crate) fn flatten_lists(rec: &mut Record) {
    for v in rec.values_mut() {
        if let Value::Array(items) = v {
            *v = if items.is_empty() { Value::Null } else { Value::Text(list_cell(items)) };
        }
    }
}

/// Lists of values anywhere in a record read as is (`tags`, `custom.codes`
/// of a JSON file) as one flat-file cell each, `a; b`, as an export writes
/// them and import reads them; a list holding objects or lists keeps a
/// column per item (`phones.0.number`).
pub(crate) fn value_lists_as_cells(rec: &mut Record) {
    fn in_value(v: &mut Value) {
        match v {
            Value::Array(items) if items.iter().all(|i| !matches!(i, Value::Array(_) | Value::Object(_))) => {
                *v = if items.is_empty() { Value::Null } else { Value::Text(list_cell(items)) };
            }
            Value::Array(items) => items.iter_mut().for_each(in_value),
            Value::Object(fields) => fields.iter_mut().for_each(|(_, v)| in_value(v)),
            _ => {}
        }
    }
    rec.values_mut().for_each(in_value);
}

pub fn run(args: Args, db: &str, g: Global) -> Result<ExitCode> {
    let started = Instant::now();
    let mut mapping = args.mapping.as_deref().map(load_mapping).transpose()?;
    let entity: Entity = match (&args.entity, &mapping) {
        (Some(e), Some(m)) => {
            let e: Entity = e.parse().map_err(usage)?;
            if e != m.entity {
                return Err(usage(format!("the mapping is for {}, not {e}", m.entity)));
            }
            e
        }
        (Some(e), None) => e.parse().map_err(usage)?,
        (None, Some(m)) => m.entity,
        (None, None) => return Err(usage("name the entity with --entity (companies, contacts, deals, activities)")),
    };
    let format = match output_format(args.format.as_deref(), &args.out, mapping.as_deref())? {
        Some(f) => f,
        None if args.out == "-" => Format::Csv,
        None => {
            return Err(usage(format!("cannot tell the output format from {:?}; name it with --format", args.out)));
        }
    };
    output_options_fit(format, ("--record-path", args.record_path.as_deref()), args.sheet.as_deref())?;
    crate::pipeline::flags_fit(&crate::pipeline::OutputFlags {
        format,
        delimiter: args.delimiter.as_ref().map(|_| "--delimiter"),
        bom: args.bom,
        raw: args.raw,
        pretty: args.pretty,
        encoding: args.out_encoding.is_some(),
    })?;
    // A mapping writes the other system's columns, none of which says a
    // record is deleted: its deleted records would read as live ones there
    // (and import again as such).
    if let (true, Some(path)) = (args.include_deleted, &args.mapping) {
        return Err(usage(format!(
            "--include-deleted with --mapping: {path} has no column that marks a record deleted (a mapping \
             names fields, and `deleted_at` is none), so deleted records would be written as live ones; export \
             them without --mapping (`--include-deleted --fields id,deleted_at,...`), or the live ones with it"
        )));
    }
    let mut store = crmsync_store::open_current(db)?;
    let mut fields: Vec<String> = match &args.fields {
        Some(f) => field_list(f)?,
        None => Vec::new(),
    };
    if args.fields.is_some() && fields.is_empty() {
        return Err(usage("--fields names no field: list them, comma-separated, or leave --fields out for all"));
    }
    if let Some(m) = &mut mapping {
        if fields.is_empty() {
            fields = m.targets().iter().map(|k| k.to_string()).collect();
        } else {
            // Only the columns of the fields asked for: a file with the
            // others empty would, imported again, clear or default them.
            if let Some(f) = fields.iter().find(|f| !m.fields.iter().any(|t| *t.target == ***f)) {
                return Err(usage(format!(
                    "--fields: `{f}` is not mapped by {}; its fields are {}",
                    args.mapping.as_deref().unwrap_or("the mapping"),
                    m.targets().iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            let mut chosen = Mapping::clone(m);
            chosen.fields.retain(|t| fields.iter().any(|f| *t.target == **f));
            *m = std::sync::Arc::new(chosen);
        }
        // The other system's id goes back into its column, and so do the
        // ids of linked records in it (`company.external_id`).
        let system = m.id_system().map(str::to_string);
        for f in fields.iter_mut().filter(|f| entity.external_links().contains(&f.as_str())) {
            let Some(system) = &system else {
                return Err(usage(format!(
                    "the mapping links by `{f}`, an id in another system, but names no system: in [key] external_id, or as `{f}.<system>`"
                )));
            };
            *f = format!("{f}.{system}");
        }
        if let Some(ext) = &m.key.external_id
            && !fields.contains(&ext.field())
        {
            fields.push(ext.field());
        }
    }
    let opts = Options {
        fields,
        filter: args.filter.clone(),
        since: args.since.clone(),
        include_deleted: args.include_deleted,
        fields_from_mapping: mapping.is_some(),
    };
    let mut export = store.export(entity, &opts)?;
    if !export.left_out().is_empty() && !g.quiet {
        let named = export.left_out().join(", ");
        eprintln!(
            "note: {entity} and their linked records also have ids in other systems, left out ({named}): an \
             import reads one system's ids, and this file carries those most records have; list them in --fields \
             to export them too"
        );
    }

    if !g.quiet {
        for note in export.notes() {
            eprintln!("note: {note}");
        }
    }

    let mut write_opts = WriteOptions::new(format);
    write_opts.raw = args.raw;
    write_opts.bom = args.bom;
    write_opts.pretty = args.pretty;
    write_opts.record_path = args.record_path.clone();
    write_opts.sheet = args.sheet.clone();
    if let Some(d) = &args.delimiter {
        write_opts.delimiter = Some(delimiter("--delimiter", d)?);
    }
    write_opts.encoding = out_encoding(args.out_encoding.as_deref())?;
    if let Some(m) = &mapping {
        output_like_source(m, &mut write_opts)?;
    }
    bom_fits(&write_opts)?;
    write_opts.columns = Some(match &mapping {
        Some(m) => m.reverse_columns(),
        None => export.fields().to_vec(),
    });
    if write_opts.format == Format::Xml
        && let Some((a, b, element)) = write_opts.columns.as_deref().and_then(crmsync_formats::xml::element_clash)
    {
        return Err(usage(format!(
            "fields {a:?} and {b:?} would both be written as <{element}>, and read back as one field: export one \
             of them (--fields), rename one (a mapping), or write another format"
        )));
    }
    // Fields whose names no XML element can have come back under the
    // element's name: said, not found out on the next import.
    if write_opts.format == Format::Xml && !g.quiet {
        let renamed: Vec<String> = write_opts
            .columns
            .iter()
            .flatten()
            .filter_map(|f| {
                let element: Vec<String> = f.split('.').map(crmsync_core::value::element_name).collect();
                let element = element.join(".");
                (element != **f).then(|| format!("`{f}` as `{element}`"))
            })
            .collect();
        if !renamed.is_empty() {
            eprintln!(
                "note: XML element names hold no spaces or punctuation and start with no digit, so {} under \
                 another name, which an import of the file reads back: {}",
                if renamed.len() == 1 { "one field is written" } else { "fields are written" },
                renamed.join(", ")
            );
        }
    }
    let typed = matches!(write_opts.format, Format::Xlsx | Format::Json | Format::Ndjson);
    let mut mapper = mapping.map(|m| Mapper::new(m).typed_numbers(typed));
    let (output, out) = Output::create(&args.out)?;
    let mut writer = crmsync_formats::open_writer(&output.name, out, &write_opts)?;
    let fields_out: Vec<Key> = export.fields().to_vec();
    let encoding = write_opts.encoding;
    // Reading the store and writing the file overlap, one thread each.
    let exported = std::thread::scope(|s| -> Result<u64> {
        let (pages, received) = std::sync::mpsc::sync_channel::<Vec<Record>>(2);
        // Written pages go back to the reader, which frees them: memory is
        // freed by the thread that allocated it, without the allocator's
        // cross-thread locking, and page buffers are reused.
        let (spent, returned) = std::sync::mpsc::channel::<Vec<Record>>();
        let reader = s.spawn(move || -> crmsync_store::Result<()> {
            let mut page = Vec::with_capacity(PAGE);
            let mut writer_gone = false;
            export
                .read(&mut |rec| {
                    page.push(rec);
                    if page.len() == PAGE {
                        let mut next = returned.try_recv().unwrap_or_else(|_| Vec::with_capacity(PAGE));
                        next.clear();
                        // A closed channel means the writer failed: stop reading.
                        if pages.send(std::mem::replace(&mut page, next)).is_err() {
                            writer_gone = true;
                            return Err(crmsync_store::Error::Invalid("the export writer stopped".into()));
                        }
                    }
                    Ok(())
                })
                .or_else(|e| if writer_gone { Ok(()) } else { Err(e) })?;
            if !page.is_empty() {
                let _ = pages.send(page);
            }
            Ok(())
        });
        let mut exported: u64 = 0;
        let (mut unfit, mut unfit_named) = (0u64, Vec::new());
        let mut reversed = Record::new();
        for mut page in received {
            for rec in page.iter_mut() {
                exported += 1;
                rec.row = exported;
                // (For messages only: not read on a plain export's path.)
                let label = (mapper.is_some() || encoding.is_some())
                    .then(|| rec.get(crmsync_store::model::label_field(entity)).map(Value::to_text))
                    .flatten()
                    .filter(|l| !l.is_empty())
                    .map(|l| format!(" ({l})"));
                if let Some(m) = &mut mapper {
                    // No row of the other system's file can hold it: the
                    // export stops rather than write a record that reads
                    // back as another.
                    let label = label.as_deref().unwrap_or_default();
                    m.reverse(rec, &mut reversed)
                        .map_err(|e| anyhow::anyhow!("record {exported} of the export{label}: {e}"))?;
                    std::mem::swap(rec, &mut reversed);
                }
                // Named here, by record and column: the encoder meets the
                // character only as bytes, later.
                if let Some((field, message)) = encoding.and_then(|enc| super::convert::unencodable(rec, enc)) {
                    // GB18030 holds every character GBK lacks, in GBK's bytes for the rest.
                    let wider = match encoding.map(|e| e.name()) {
                        Some("GBK") => " (gb18030 has every character, and GBK's as GBK writes them)",
                        _ => "",
                    };
                    anyhow::bail!(
                        "record {exported} of the export{}: `{field}`: {message}; export in UTF-8 (the default), \
                         or in an encoding that has it{wider}",
                        label.unwrap_or_default()
                    );
                }
                if format.is_flat() {
                    flatten_lists(rec);
                }
                match writer.write(rec) {
                    Ok(()) => {}
                    // A value the format cannot hold (a cell over 32,767
                    // characters, a control character in XML): the others
                    // are looked at too, so that one run names them all.
                    Err(e @ crmsync_formats::Error::Record { at: Location { field: Some(_), .. }, .. }) => {
                        unfit += 1;
                        if unfit_named.len() < 5 {
                            let label = rec.get(crmsync_store::model::label_field(entity)).map(Value::to_text);
                            let label = label.filter(|l| !l.is_empty()).map(|l| format!(" ({l})")).unwrap_or_default();
                            unfit_named.push(format!("record {exported}{label}: {e}"));
                        }
                    }
                    // (The cause kept, not only its text: a reader gone,
                    // `| head`, ends the export quietly, as elsewhere.)
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("record {exported} of the export"))),
                }
            }
            // The reader may have finished: then the page is freed here.
            let _ = spent.send(page);
        }
        match reader.join() {
            Ok(read) => read?,
            Err(_) => anyhow::bail!("the store reader stopped unexpectedly"),
        }
        if unfit > 0 {
            let more = unfit - unfit_named.len() as u64;
            // (A file is not made; stdout has had the start of the document.)
            let nothing = if args.out == "-" {
                "and the export stopped: what went to stdout is incomplete"
            } else {
                "and nothing was written"
            };
            anyhow::bail!(
                "{unfit} of the {exported} records cannot be written as {}, {nothing}:\n  {}{}\n\
                 mend the values, leave those records out (--where), or write CSV or NDJSON, which hold any text",
                format.name(),
                unfit_named.join("\n  "),
                if more > 0 { format!("\n  and {more} more") } else { String::new() }
            );
        }
        Ok(exported)
    })?;
    writer.finish()?;
    output.commit()?;
    let elapsed = started.elapsed();
    if g.json {
        let summary = serde_json::json!({
            "entity": entity.name(),
            "format": format.name(),
            "out": args.out,
            "fields": fields_out.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "exported": exported,
            "elapsed_ms": elapsed.as_millis() as u64,
        });
        if args.out == "-" { eprintln!("{summary}") } else { outln!("{summary}")? }
    } else if !g.quiet {
        eprintln!(
            "{} exported to {} ({}) in {:.2}s",
            crate::io::counted(exported, crmsync_store::model::singular(entity), &entity.to_string()),
            if args.out == "-" { "<stdout>" } else { &args.out },
            format.name(),
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::field_list;

    #[test]
    fn field_lists_take_backquoted_names() {
        let names = |t: &str| field_list(t).expect("parses");
        assert_eq!(names("email, address.city"), ["email", "address.city"]);
        assert_eq!(names("email,`custom.a,b`, `external_id.old erp`"), ["email", "custom.a,b", "external_id.old erp"]);
        assert_eq!(names("`custom.x``y`"), ["custom.x`y"]);
        assert_eq!(names(" , email ,"), ["email"]);
        assert!(field_list("email,`custom.a").is_err(), "never closed");
        assert!(field_list("`a` b").is_err(), "text after the name");
    }
}
