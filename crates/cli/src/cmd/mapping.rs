//! `crmsync mapping suggest FILE --entity E`: a mapping file guessed from a
//! file's headers and values, with a comment on each line saying how sure it is.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use crmsync_core::suggest::{SourceInfo, suggest};
use crmsync_core::{Entity, Record};
use crmsync_formats::ReadOptions;

use crate::Global;
use crate::cmd::usage;
use crate::io::open_input;
use crate::pipeline::SourceArgs;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a mapping by matching a file's headers to an entity's fields.
    Suggest(SuggestArgs),
}

#[derive(Args, Debug)]
pub struct SuggestArgs {
    /// The file to map (`-` for stdin).
    pub file: String,
    /// The entity its records become: companies, contacts, deals, activities.
    #[arg(long, short)]
    pub entity: String,
    /// Write the mapping here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<String>,
    /// How many records to look at when guessing types.
    #[arg(long, default_value_t = 1000)]
    pub sample: usize,
    #[command(flatten)]
    pub source: SourceArgs,
}

pub fn run(cmd: Command, g: Global) -> Result<ExitCode> {
    match cmd {
        Command::Suggest(args) => run_suggest(args, g),
    }
}

fn run_suggest(args: SuggestArgs, g: Global) -> Result<ExitCode> {
    let entity: Entity = args.entity.parse().map_err(usage)?;
    let mut opts = args.source.read_options(None, &args.file)?;
    let found_header = found_header_row(&args.file, &opts);
    if let Some(n) = found_header {
        opts.header_row = Some(n);
        if !g.quiet {
            eprintln!(
                "{}: the header looks to be on row {n}, below lines that are not (a title, a date): read from there, and the mapping says so (header_row = {n}); pass --header-row to name another row",
                args.file
            );
        }
    }
    let opened = open_input(&args.file, true)?;
    let mut reader = crmsync_formats::open_reader(opened.input, &opts)?;
    let details = reader.details();
    let mut headers: Vec<String> =
        reader.columns().map(|c| c.iter().map(|k| k.to_string()).collect()).unwrap_or_default();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    // Each column by name at once: a wide file was quadratic in its columns.
    let mut column_of: std::collections::HashMap<String, usize> =
        headers.iter().enumerate().rev().map(|(i, h)| (h.clone(), i)).collect();
    let mut rec = Record::new();
    let mut seen = 0;
    while seen < args.sample && reader.read(&mut rec)? {
        seen += 1;
        if rec.defect.is_some() {
            continue;
        }
        // Nested formats name their fields by dotted path.
        let flat = rec.flatten();
        for (k, v) in flat {
            let i = match column_of.get(&k) {
                Some(&i) => i,
                None => {
                    column_of.insert(k.clone(), headers.len());
                    headers.push(k);
                    columns.push(Vec::new());
                    headers.len() - 1
                }
            };
            columns[i].push(v.to_text());
        }
    }
    if headers.is_empty() {
        anyhow::bail!("{}: no columns found to map", args.file);
    }
    let info = SourceInfo {
        file_name: args.file.clone(),
        format: details.format.map(|f| f.name().to_string()).unwrap_or_else(|| "csv".into()),
        encoding: details.encoding.map(|e| e.to_ascii_lowercase()),
        delimiter: details.delimiter.map(char::from),
        record_path: details.record_path.clone(),
        // The sheet asked for, by name: an import through the mapping reads
        // it without being told again.
        sheet: args.source.sheet.as_ref().and(details.sheet.clone()),
        header_row: args.source.header_row.or(found_header),
    };
    let text = suggest(entity, &info, &headers, &columns);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write {path}"))?;
            if !g.quiet {
                let checks = text.lines().filter(|l| l.contains("# CHECK:")).count();
                eprintln!(
                    "wrote {path}: {} columns mapped from {seen} sampled records; {checks} line(s) marked CHECK",
                    headers.len()
                );
            }
        }
        None => out!("{text}")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The header's row in a file whose first lines are something else (a
/// report's title, the date it was made): the first of the first 30 rows
/// with as many filled cells as any, each a distinct name and none a number
/// or a date, with a row of data under it, where the first row fills at
/// most half as many cells. `None` when the first row may be the header,
/// or with a header row given.
fn found_header_row(file: &str, opts: &ReadOptions) -> Option<u64> {
    if file == "-" || !opts.header || opts.header_row.is_some() {
        return None;
    }
    let bytes = std::fs::File::open(file).ok()?;
    let input = crmsync_formats::Input { name: file.to_string(), bytes: Box::new(bytes) };
    let mut reader = crmsync_formats::open_reader(input, &ReadOptions { header: false, ..opts.clone() }).ok()?;
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut rec = Record::new();
    while rows.len() < 30 && reader.read(&mut rec).ok()? {
        let cells = rec.fields().iter().map(|(_, v)| v.to_text().trim().to_string()).filter(|c| !c.is_empty());
        rows.push((rec.row, cells.collect()));
    }
    let width = rows.iter().map(|(_, c)| c.len()).max()?;
    let (first_row, first) = rows.first()?;
    if width < 2 || first.len() * 2 > width {
        return None;
    }
    let names = |cells: &[String]| {
        let distinct: std::collections::HashSet<&String> = cells.iter().collect();
        distinct.len() == cells.len()
            && cells.iter().all(|c| c.parse::<f64>().is_err() && c.bytes().filter(u8::is_ascii_digit).count() < 4)
    };
    let at = rows.iter().position(|(_, c)| c.len() == width && names(c))?;
    let data_under = rows[at + 1..].iter().any(|(_, c)| c.len() >= 2);
    let (row, _) = &rows[at];
    (data_under && row > first_row).then_some(*row)
}
