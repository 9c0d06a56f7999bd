//! `crmsync convert IN OUT`: any format to any format, optionally through a
//! mapping and a JSON Schema, without the store.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use crmsync_core::{Key, Mapper, Value};
use crmsync_formats::{Format, WriteOptions};

use crate::Global;
use crate::cmd::usage;
use crate::io::{Output, open_input, same_file};
use crate::pipeline::{
    Meta, Outcome, Pipeline, Rejects, SourceArgs, Work, bom_fits, delimiter, load_mapping, load_schema, out_encoding,
    output_format, output_like_source, output_options_fit, unread_columns,
};

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// Output file, or `-` for stdout.
    pub output: String,
    /// Mapping file (TOML) applied to every record.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<String>,
    /// Run the mapping backwards: records with the mapping's field names
    /// become records with the source system's columns.
    #[arg(long, requires = "mapping")]
    pub reverse: bool,
    /// Write rejected rows here, as read, with `_row`, `_field`, `_error` columns.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<String>,
    /// Validate each mapped record against this JSON Schema.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<String>,
    /// Stop with exit code 1 once this many records were rejected.
    #[arg(long, value_name = "N")]
    pub max_errors: Option<u64>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format (default: from OUT's extension).
    #[arg(long, value_name = "FORMAT")]
    pub to: Option<String>,
    /// Output encoding (default UTF-8).
    #[arg(long, value_name = "ENCODING")]
    pub out_encoding: Option<String>,
    /// Output CSV delimiter.
    #[arg(long, value_name = "CHAR")]
    pub out_delimiter: Option<String>,
    /// Output XML `root/record` element names.
    #[arg(long, value_name = "PATH")]
    pub out_record_path: Option<String>,
    /// Start CSV output with a UTF-8 byte order mark (for Excel).
    #[arg(long)]
    pub bom: bool,
    /// Write CSV cells exactly, without neutralizing formula-like cells (`=`, `+`, `-`, `@`).
    #[arg(long)]
    pub raw: bool,
    /// Pretty-print JSON output.
    #[arg(long)]
    pub pretty: bool,
}

/// The first field holding a character `enc` cannot represent, and why.
pub(crate) fn unencodable(
    rec: &crmsync_core::Record,
    enc: &'static crmsync_formats::encoding::Encoding,
) -> Option<(String, String)> {
    for (k, v) in rec.flatten() {
        let text = v.to_text();
        if enc.encode(&text).2 {
            let c = text.chars().find(|c| enc.encode(c.encode_utf8(&mut [0; 4])).2)?;
            return Some((k, format!("character {c:?} (U+{:04X}) cannot be written in {}", u32::from(c), enc.name())));
        }
    }
    None
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let started = Instant::now();
    if same_file(&args.input, &args.output) {
        return Err(usage("the input and the output are the same file"));
    }
    if let Some(r) = &args.rejects {
        if same_file(r, &args.input) {
            return Err(usage("the rejects file would overwrite the input; choose another name"));
        }
        if same_file(r, &args.output) {
            return Err(usage("the rejects file and the output are the same file"));
        }
    }
    let mapping = args.mapping.as_deref().map(load_mapping).transpose()?;
    let schema = args.schema.as_deref().map(load_schema).transpose()?;
    // Reversed, the mapping's [source] describes the output, not this input.
    let read_opts = args.source.read_options(mapping.as_deref().filter(|_| !args.reverse), &args.input, g.quiet)?;

    let reversed = mapping.as_deref().filter(|_| args.reverse);
    let out_format = match (output_format(args.to.as_deref(), &args.output, reversed)?, args.output.as_str()) {
        (Some(f), _) => f,
        (None, "-") => return Err(usage("name the output format with --to when writing to stdout")),
        (None, path) => {
            return Err(usage(format!("cannot tell the output format from {path:?}; name it with --to")));
        }
    };

    let opened = open_input(&args.input, g.quiet)?;
    let progress = opened.progress;
    let reader = crmsync_formats::open_reader(opened.input, &read_opts).map_err(|e| {
        crate::pipeline::open_failed(&args.input, &read_opts, mapping.as_deref().filter(|_| !args.reverse), e)
    })?;
    let details = reader.details();
    crate::pipeline::note_encoding(&args.input, &read_opts, &details, g.quiet);
    let source_name = if args.input == "-" { "<stdin>".to_string() } else { args.input.clone() };
    let source_columns: Option<Vec<Key>> = reader.columns().map(<[Key]>::to_vec);
    let meta = Meta::of(source_columns.as_deref());
    // Run backwards over an export whose ids are in other systems than the
    // mapping's: its id columns are left empty, said here.
    if let (Some(m), Some(cols), false) = (reversed, &source_columns, g.quiet) {
        let others: Vec<&str> =
            cols.iter().filter_map(|c| c.strip_prefix("external_id.")).filter(|s| m.id_system() != Some(*s)).collect();
        if let Some(system) =
            m.id_system().filter(|s| !others.is_empty() && !cols.iter().any(|c| **c == *format!("external_id.{s}")))
        {
            eprintln!(
                "note: {} has ids in {} but none in {system:?}, the mapping's system: the columns of those ids are \
                 left empty",
                args.input,
                others.iter().map(|o| format!("{o:?}")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    args.source.stdin_rejects_fit(&args.input, &read_opts, meta)?;

    if let (Some(m), Some(cols), false) = (&mapping, &source_columns, args.reverse) {
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

    output_options_fit(out_format, ("--out-record-path", args.out_record_path.as_deref()), None)?;
    crate::pipeline::flags_fit(&crate::pipeline::OutputFlags {
        format: out_format,
        delimiter: args.out_delimiter.as_ref().map(|_| "--out-delimiter"),
        bom: args.bom,
        raw: args.raw,
        pretty: args.pretty,
        encoding: args.out_encoding.is_some(),
    })?;
    let mut write_opts = WriteOptions::new(out_format);
    write_opts.raw = args.raw;
    write_opts.bom = args.bom;
    write_opts.pretty = args.pretty;
    write_opts.record_path = args.out_record_path.clone();
    if let Some(d) = &args.out_delimiter {
        write_opts.delimiter = Some(delimiter("--out-delimiter", d)?);
    }
    write_opts.encoding = out_encoding(args.out_encoding.as_deref())?;
    if let Some(m) = reversed {
        output_like_source(m, &mut write_opts)?;
    }
    bom_fits(&write_opts)?;
    write_opts.columns = match (&mapping, &source_columns) {
        (Some(m), _) if args.reverse => Some(m.reverse_columns()),
        (Some(m), _) => Some(m.exported_targets()),
        (None, Some(cols)) => Some(
            cols.iter().filter(|c| meta != Meta::Strip || !crate::pipeline::META.contains(&&***c)).cloned().collect(),
        ),
        (None, None) => None,
    };

    if out_format == Format::Xml
        && let Some((a, b, element)) = write_opts.columns.as_deref().and_then(crmsync_formats::xml::element_clash)
    {
        return Err(usage(format!(
            "fields {a:?} and {b:?} would both be written as <{element}>, and read back as one field: rename one \
             (a mapping), or write another format"
        )));
    }
    if out_format == Format::Xml
        && !g.quiet
        && let Some(cols) = &write_opts.columns
    {
        let renamed: Vec<String> = cols
            .iter()
            .filter(|c| c.split('.').any(|seg| crmsync_formats::xml::element_name(seg) != seg))
            .map(|c| format!("{c:?}"))
            .collect();
        if !renamed.is_empty() {
            eprintln!(
                "note: XML element names cannot hold every character; these fields are written with `_` in their place: {}",
                renamed.join(", ")
            );
        }
    }
    let mut rejects =
        Rejects::open(args.rejects.as_deref(), &source_name, &details, source_columns.as_deref(), g.quiet, g.verbose)?
            .read_by(mapping.as_deref().filter(|_| !args.reverse));
    let (output, out) = Output::create(&args.output)?;
    let mut writer = crmsync_formats::open_writer(&output.name, out, &write_opts)?;

    let mut rows_read: u64 = 0;
    let mut written: u64 = 0;
    let typed = matches!(write_opts.format, Format::Xlsx | Format::Json | Format::Ndjson);
    let mapper = mapping.clone().map(|m| Mapper::new(m).typed_numbers(typed));
    let found = mapper.as_ref().filter(|_| !args.reverse).map(Mapper::columns_found);
    let times = mapper.as_ref().filter(|_| !args.reverse).map(Mapper::times_dropped);
    let work = Work {
        mapper,
        reverse: args.reverse,
        schema,
        meta,
        identity: None,
        draft: None,
        recognise: None,
        digest: None,
    };
    let mut pipeline = Pipeline::start(reader, work);
    let lists_flat = out_format.is_flat() && !args.reverse;
    let ids_named = mapping.clone().filter(|m| !args.reverse && m.id_system().is_some());
    let outcome: Result<()> = (|| {
        while let Some(worked) = pipeline.next() {
            let worked = worked?;
            for (i, rec) in worked.sources.iter().enumerate() {
                rows_read += 1;
                match &worked.outcomes[i] {
                    Outcome::Defect(d) => rejects.reject(rec, d.field.as_deref().unwrap_or(""), &d.message)?,
                    Outcome::Rejected(errors) => rejects.field_errors(rec, errors)?,
                    Outcome::Mapped | Outcome::AsRead => {
                        let out_rec = worked.output(i).unwrap_or(rec);
                        // Named as an export names them, with the ids of the
                        // mapping's system: the file imports as the store's.
                        let named;
                        let out_rec = match ids_named.as_deref() {
                            Some(m) if matches!(worked.outcomes[i], Outcome::Mapped) => {
                                named = as_exported(m, rec, out_rec);
                                &named
                            }
                            _ => out_rec,
                        };
                        // A list a mapping made (`tags`), or a list of values
                        // of a file read as is, is one cell of a flat file,
                        // `a; b`, as an export writes it and import reads it.
                        let listed;
                        let out_rec = if lists_flat
                            && out_rec.fields().iter().any(|(_, v)| matches!(v, Value::Array(_) | Value::Object(_)))
                        {
                            listed = {
                                let mut r = out_rec.clone();
                                if matches!(worked.outcomes[i], Outcome::Mapped) {
                                    super::export::flatten_lists(&mut r);
                                } else {
                                    super::export::value_lists_as_cells(&mut r);
                                }
                                r
                            };
                            &listed
                        } else {
                            out_rec
                        };
                        // A value the output encoding cannot hold rejects its record
                        // (with row and field) instead of failing the whole job.
                        let unwritable = write_opts.encoding.and_then(|enc| unencodable(out_rec, enc));
                        if let Some((field, message)) = unwritable {
                            rejects.reject(rec, &field, &message)?;
                        } else {
                            match writer.write(out_rec) {
                                Ok(()) => written += 1,
                                Err(e) if e.is_record_level() => rejects.reject(rec, "", &e.to_string())?,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
                if let Some(max) = args.max_errors
                    && rejects.count >= max.max(1)
                {
                    anyhow::bail!(
                        "stopped after {} rejected record(s) (--max-errors {max}) at row {}; {} was not written",
                        rejects.count,
                        rec.row,
                        output.name
                    );
                }
            }
            progress.tick(rows_read);
            pipeline.recycle(worked);
        }
        Ok(())
    })();
    drop(pipeline);
    progress.finish();
    if let (Some(t), false) = (&times, g.quiet || g.json) {
        super::import::note_times_dropped(&t.list());
    }
    let rejected = rejects.count;
    let rejects_path = rejects.path().map(str::to_string);
    let finished = outcome.and_then(|()| {
        writer.finish()?;
        output.commit()
    });
    let saved = rejects.finish().context("while saving the rejects file");
    let unread = unread_columns(found.as_deref(), details.format, &source_name, rows_read, g.quiet || g.json);
    let summary = |error: Option<String>, written: u64| {
        serde_json::json!({
            "input": source_name,
            "output": args.output,
            "format": details.format.map(|f| f.name()),
            "encoding": details.encoding,
            "delimiter": details.delimiter.map(|d| (d as char).to_string()),
            "record_path": details.record_path,
            "sheet": details.sheet,
            "to": out_format.name(),
            "rows_read": rows_read,
            "unread_columns": unread,
            "written": written,
            "rejected": rejected,
            "rejects": rejects_path,
            "bytes_read": progress.bytes(),
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "error": error,
        })
    };
    let print_json = |value: serde_json::Value| -> std::io::Result<()> {
        // With the records on stdout, the summary goes to stderr.
        if args.output == "-" {
            eprintln!("{value}");
            Ok(())
        } else {
            outln!("{value}")
        }
    };
    if let Err(e) = finished.and(saved) {
        if g.json {
            // Nothing was written: the output file never appears.
            // The job's error is the one to report, not a closed stdout's.
            let _ = print_json(summary(Some(format!("{e:#}")), 0));
            return Err(super::reported(e));
        }
        return Err(e);
    }
    let elapsed = started.elapsed();
    if g.json {
        print_json(summary(None, written))?;
    } else if !g.quiet {
        eprintln!(
            "{} read from {source_name} ({}), {written} written to {}, {rejected} rejected{} in {:.2}s",
            crate::io::counted(rows_read, "row", "rows"),
            details.describe(),
            if args.output == "-" { "<stdout>" } else { &args.output },
            rejects_path.filter(|_| rejected > 0).map(|p| format!(" (see {p})")).unwrap_or_default(),
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A mapped record `out` of source record `src`, named as an export of the
/// store names it (`Mapping::exported_targets`).
fn as_exported(
    m: &crmsync_core::mapping::Mapping,
    src: &crmsync_core::Record,
    out: &crmsync_core::Record,
) -> crmsync_core::Record {
    let mut named = crmsync_core::Record::new();
    named.row = out.row;
    named.line = out.line;
    if let Some(ext) = &m.key.external_id {
        let id = src.get_path(&ext.from).cloned().unwrap_or(crmsync_core::Value::Null);
        named.push(ext.field().as_str().into(), id);
    }
    for (k, v) in out.fields() {
        named.push(m.exported_name(k).map_or(k.clone(), |n| n.as_str().into()), v.clone());
    }
    named
}
