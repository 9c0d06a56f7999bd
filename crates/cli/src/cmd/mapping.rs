//! `crmsync mapping suggest FILE --entity E`: a mapping file guessed from a
//! file's headers and values, with a comment on each line saying how sure it is.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use crmsync_core::suggest::{SourceInfo, suggestion};
use crmsync_core::{Entity, Record, Value};
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
    let mut opts = args.source.read_options(None, &args.file, g.quiet)?;
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
    let mut lists: Vec<String> = Vec::new();
    while seen < args.sample && reader.read(&mut rec)? {
        seen += 1;
        if rec.defect.is_some() {
            continue;
        }
        // Nested formats name their fields by dotted path.
        let mut flat = Vec::new();
        for (k, v) in rec.fields() {
            columns_of(k.to_string(), v, &mut flat);
        }
        for (k, v) in flat {
            if matches!(v, Value::Array(_)) && !lists.contains(&k) {
                lists.push(k.clone());
            }
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
    // An object that is null in some records (`"address": null`) is a
    // column of its own there, empty everywhere: its fields, columns of
    // their own, are what to map, not the whole of it.
    for i in (0..headers.len()).rev() {
        let parent = format!("{}.", headers[i]);
        if columns[i].iter().all(|v| v.trim().is_empty()) && headers.iter().any(|h| h.starts_with(&parent)) {
            headers.remove(i);
            columns.remove(i);
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
        lists,
    };
    let suggestion = suggestion(entity, &info, &headers, &columns);
    let key_check = suggestion.key_check;
    let (text, fields) = (suggestion.text, suggestion.fields);
    let checks = fields.iter().filter(|f| f.check).count() + usize::from(key_check);
    if let Some(path) = &args.out {
        std::fs::write(path, &text).with_context(|| format!("cannot write {path}"))?;
    }
    if g.json {
        // The summary, with the mapping itself when it went nowhere else.
        let summary = serde_json::json!({
            "file": args.file,
            "entity": entity.name(),
            "out": args.out,
            "records_sampled": seen,
            "columns": headers.len(),
            "fields_mapped": fields.len(),
            "checks": checks,
            // (The `[key]` line's CHECK, counted in `checks` beside the fields'.)
            "key_check": key_check,
            "fields": fields,
            "mapping": args.out.is_none().then_some(&text),
        });
        outln!("{summary}")?;
        return Ok(ExitCode::SUCCESS);
    }
    match &args.out {
        Some(path) => {
            if !g.quiet {
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
/// report's title, the date it was made), among its first 30 rows (see
/// `header_among`). `None` when the first row may be the header, or with a
/// header row given.
fn found_header_row(file: &str, opts: &ReadOptions) -> Option<u64> {
    if !crate::pipeline::regular_file(file) || !opts.header || opts.header_row.is_some() {
        return None;
    }
    let bytes = std::fs::File::open(file).ok()?;
    let input = crmsync_formats::Input { name: file.to_string(), bytes: Box::new(bytes), path: Some(file.into()) };
    let mut reader = crmsync_formats::open_reader(input, &ReadOptions { header: false, ..opts.clone() }).ok()?;
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut rec = Record::new();
    while rows.len() < 30 && reader.read(&mut rec).ok()? {
        let cells = rec.fields().iter().map(|(_, v)| v.to_text().trim().to_string()).filter(|c| !c.is_empty());
        rows.push((rec.row, cells.collect()));
    }
    header_among(&rows)
}

/// Of rows given as their filled cells, the header's when it is not the
/// first, found only where that is clear, since a record taken for the
/// header loses it and files the rest under wrong names. The table's width
/// is the one most rows of two cells or more share. The first row must
/// fill at most half of it (a title). The header is the first row after it
/// that fills it, passing over lines of a report's settings
/// (`Exported on, 2024-05-01`, `Filters: Region = EMEA`, `Company:, Acme`).
/// Rows of data (an e-mail address, a number, a date) must follow it, and
/// no row of words as wide as they are (the real header under a `Stage,
/// Owner, Region` line, a detail table under a summary, or a record all in
/// words): that leaves it unclear.
fn header_among(rows: &[(u64, Vec<String>)]) -> Option<u64> {
    let mut widths: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for (_, cells) in rows.iter().filter(|(_, c)| c.len() >= 2) {
        *widths.entry(cells.len()).or_default() += 1;
    }
    // (Of widths as common, the widest.)
    let width = widths.iter().max_by_key(|(w, n)| (**n, **w)).map(|(w, _)| *w)?;
    // A report's settings: a value, or labels (`Company:`, `Filters:
    // Region = EMEA`) beside other cells; a row of labels alone is a form's
    // header (`Name:, Email:`, or Salesforce's `Contact: Full Name,
    // Contact: Email`).
    let setting = |cells: &[String]| {
        let label = |c: &String| c.ends_with([':', '：']) || c.contains(": ") || c.contains('：');
        cells.iter().any(|c| is_data(c)) || (cells.iter().any(label) && !cells.iter().all(label))
    };
    // A date after words (`Generated 2024-03-31`, `As of 3/31/2024`): in
    // the first row, when it was made; in a header, a column's name
    // (`Status on 2024-05-01`).
    let dated = |c: &String| {
        c.split_whitespace()
            .any(|w| is_data(w) && w.contains(['-', '/', '.']) && w.bytes().filter(u8::is_ascii_digit).count() >= 4)
    };
    // The first row is a title: one cell, or a report's settings; two
    // names or more may be a header with some columns left unnamed.
    let (_, first) = rows.first()?;
    if first.len() * 2 > width || (first.len() >= 2 && !setting(first) && !first.iter().any(dated)) {
        return None;
    }
    let h = (1..rows.len()).find(|&i| rows[i].1.len() >= width && !setting(&rows[i].1))?;
    let header = &rows[h].1;
    let distinct: std::collections::HashSet<&String> = header.iter().collect();
    if distinct.len() != header.len() {
        return None;
    }
    // Rows of data under it, and no other row of words as wide as they are
    // (the real header under a line of settings wider than it, or a detail
    // table's under a summary's; records with cells left empty are
    // narrower).
    let below = &rows[h + 1..];
    let is_row_of_data = |cells: &[String]| cells.iter().any(|c| is_data(c));
    let data_width = below.iter().filter(|(_, c)| is_row_of_data(c)).map(|(_, c)| c.len()).max()?;
    let words_as_wide = below.iter().any(|(_, c)| !is_row_of_data(c) && c.len() >= data_width);
    (!words_as_wide).then_some(rows[h].0)
}

/// Whether a cell holds a value no column is named by: an e-mail address,
/// or digits without letters (a number, phone or date) other than a year
/// (`2024` names a column of that year's figures).
fn is_data(cell: &str) -> bool {
    // (A year, a month `2024-01` or a fiscal year `2023-24` names a column.)
    let year = |y: &str| y.len() == 4 && y.parse::<u16>().is_ok_and(|y| (1800..=2100).contains(&y));
    let two = |m: &str| m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit());
    let year = year(cell) || cell.split_once('-').is_some_and(|(y, m)| year(y) && two(m));
    let email = cell
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !cell.contains(char::is_whitespace));
    email || (cell.bytes().any(|b| b.is_ascii_digit()) && !cell.chars().any(char::is_alphabetic) && !year)
}

/// A record's fields as columns to map, by dotted path (`address.city`). A
/// list of values (`"tags": ["vip", "b2b"]`, an XML element repeated) is
/// one column, as a mapping reads it whole: by item (`tags.0`, `tags.1`)
/// a mapping would read as many items as the sampled records had and drop
/// the rest of a longer list. A list of objects is read item by item.
fn columns_of(path: String, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (k, v) in fields {
                columns_of(format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| matches!(i, Value::Object(_) | Value::Array(_))) => {
            for (i, v) in items.iter().enumerate() {
                columns_of(format!("{path}.{i}"), v, out);
            }
        }
        other => out.push((path, other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(u64, Vec<String>)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                let cells = l.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from);
                (i as u64 + 1, cells.collect())
            })
            .collect()
    }

    #[test]
    fn the_header_below_a_preamble_is_found_and_data_is_never_taken_for_it() {
        let found = |text: &str| header_among(&rows(text));
        let data = "Ada,ada@x.com,+44 20 7946 0000\nBob,bob@x.com,+1 212 555 0123";
        // Found below titles and report settings.
        for (text, row) in [
            (format!("Leads from Expo 2024\n\nName,Email,Phone\n{data}"), 3),
            (format!("Leads\nExported:,2024-05-01,by admin\nName,Email,Phone\n{data}"), 3),
            (format!("Leads from Expo 2024\nExported: 2024-05-01,by admin\n\nName,Email,Phone\n{data}"), 4),
            (format!("Leads\nFilters: Region = EMEA,Owner = Bob\nName,Email,Phone\n{data}"), 3),
            (format!("Contact List\nAcme Corp,Sales\nExported on,2024-05-01\n\nName,Email,Phone\n{data}"), 5),
            (format!("Leads Export\nCompany:,Acme GmbH,Department:,Sales,User:,jdoe\n\nName,Email,Phone\n{data}"), 4),
            (format!("Report\nName,Email,Spend 2024\n{data}"), 2),
            (format!("Report\nName,Email,Status on 2024-05-01\n{data}"), 2),
            ("Leads by year\nName,Email,2023,2024\nAnn,a@x.com,5,6\nBo,b@x.com,7,8".to_string(), 2),
            // Records with no e-mail yet, narrower, under the header.
            (
                "Contacts\n\nFiltered By:\n   Show: All\n\nFirst,Last,Title,Account,Email,Phone,City\n\
                 Ann,Lee,Manager,Acme,,,Boston\nBob,Ray,Manager,Acme,bob@acme.com,+1 212 555 0101,Boston"
                    .to_string(),
                6,
            ),
            (format!("联系人\n导出人：,张三,部门：,销售部\n\n姓名,邮箱,电话\n{data}"), 4),
            (format!("Contacts\nContact: Name,Contact: Email,Contact: Phone\n{data}"), 2),
            ("Contacts Report\n\nFirst Name,Last Name,Email,Account\nAnn,Lee,,Acme\nBob,Ray,b@x.com,Globex".to_string(), 3),
            ("客户联系人导出\n导出时间：2024年5月1日\n\n姓名,公司,邮箱,电话,城市\n张三,阿里,,,杭州\n李四,腾讯,l@qq.com,13800138000,深圳".to_string(), 4),
            // A data row with a stray delimiter is wider than the header.
            (format!("Report\nName,Email,Phone\nGlobex, Inc,gx@x.com,+1 212 555 0100\n{data}"), 2),
        ] {
            assert_eq!(found(&text), Some(row), "{text}");
        }
        // The first row is the header, or which row is is unclear: nothing.
        for text in [
            format!("Name,Email,Phone\nGlobex, Inc,gx@x.com,+1 212 555 0100\n{data}"),
            format!("Name,Email,,Phone\n{data},VIP"),
            format!("Name,Email,Spend 2024\n{data}"),
            "Name,City,Tier\nAnn,Paris,Gold\nBob,Rome,Silver".to_string(),
            "First Name,Last Name,Company,Newsletter (Y=yes),,\nAnn,Lee,Acme,Y,VIP,EMEA\nBob,Ray,Globex,N,bob@x.com"
                .to_string(),
            "Name,Address\nAnn Lee,12 Main St, Springfield, IL, USA\nBob Ray,3 Elm Rd, Dover, DE".to_string(),
            "Name,Company,Email\nAnn Lee,Acme\nBob Ray,Globex,bob@x.com".to_string(),
            "Name,Email (@work),Company\nAnn Lee,,Acme\nBob Ray,bob@x.com,Globex".to_string(),
            "Deal Name,Stage,Owner,2024-01,2024-02\nBig Deal,Prospecting,Jane\nSmall,Won,John,100,200".to_string(),
            "Company,Industry,City,Employees\nAcme,Manufacturing,Berlin\nGlobex,Retail,Paris,250".to_string(),
            "#,Name,Company,Email\nA-1,Ann Lee,Acme,n/a\n2,Bob,Globex,bob@x.com".to_string(),
            "Company,Owner,Status,2024\nAcme,Jane Doe,Prospect,n/a\nGlobex,John Roe,Customer,1200".to_string(),
            "First Name,Last Name,Email,Stage,Owner\nAnn,Lee,,Lead,Jane\nBo,Ray,,Lead\nCy,Moe,c@x.com,Lead,Jane"
                .to_string(),
            "Name,Industry,City\nAcme,Manufacturing,Berlin\nGlobex, Inc,Retail,Paris\nInitech,Software,Austin,555-0100"
                .to_string(),
            format!("Report: All Contacts\nOwner,Jane Doe,Region\nName,Email,Phone\n{data}"),
            format!("Pipeline Report\nStage,Owner,Region\nRun date,,2024-05-01\nName,Email,Phone\n{data}"),
            "Name,Email,,,,\nAnn Lee,Acme,Sales,Boston,VIP,Gold\nBob Ray,bob@globex.com,Globex,Dover,555-0101"
                .to_string(),
            "Contact sheet\nName:,Company:,Email:,Phone:\nAnn Lee,Acme,Sales,Boston\nBob,Globex,b@g.com,555-0101"
                .to_string(),
            format!("Contact List\nCompany,Acme Corp,Department,Sales\n\nName,Email,Phone\n{data}"),
            "Pipeline\nStage,Count,Amount\nWon,1,99000\nLost,2,500\n\nDeal,Stage,Amount\nBig,Won,99000".to_string(),
            "Pipeline by month\nOwner,Jane Doe,Region,EMEA\nDeal,Stage,2024-01,2024-02\nBig,Won,100,200".to_string(),
            format!("Report\nName,Email,Phone\nAnn,Paris,Gold\n{data}"),
            "Name\nAnn\nBob".to_string(),
            "Email\na@x.com\nb@x.com".to_string(),
            String::new(),
        ] {
            assert_eq!(found(&text), None, "{text}");
        }
        assert!(is_data("a@x.com") && is_data("+1 212 555 0100") && is_data("2024-05-01") && is_data("250"));
        assert!(!is_data("2024") && !is_data("Spend 2024") && !is_data("n/a") && !is_data("#") && !is_data("A-1"));
        assert!(!is_data("Email (@work)") && !is_data("@handle") && !is_data("2024-01") && !is_data("2023-24"));
    }
}
