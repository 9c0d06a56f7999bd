//! The mapping engine: turns a source's records into records of one entity
//! (renames, transforms, value maps, types, structure) and back again.
//!
//! `Mapping::parse` reads and checks a mapping file; `Mapper` applies it to a
//! stream of records, keeping the state that spans records (column positions,
//! values seen by `unique` fields).

pub mod spec;
pub mod types;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use regex::Regex;

use crate::entity::Entity;
use crate::error::{FieldError, MappingError};
use crate::value::{Key, Record, Value};
pub use spec::{EXTERNAL_ID_PREFIX, ExternalIdSpec, KeySpec, SheetRef, SourceSpec, external_system};
use spec::{FieldRule, FieldSpec, MappingSpec, TransformSpec};
pub use types::{TypeName, TypeOptions};

/// A checked mapping, ready to run.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub entity: Entity,
    pub source: SourceSpec,
    pub key: KeySpec,
    pub fields: Vec<FieldMap>,
    /// The system linked records' ids are in, named by the fields that map
    /// them (`"contact.external_id.crm" = "contact_id"`): a file whose own
    /// records have no ids (notes) still links by the other system's.
    pub link_system: Option<String>,
}

/// The compiled rule for one target field.
#[derive(Debug, Clone)]
pub struct FieldMap {
    pub target: Key,
    pub from: Vec<String>,
    pub ty: Option<TypeName>,
    pub opts: TypeOptions,
    pub transforms: Vec<Transform>,
    pub map: Vec<(String, String)>,
    pub default: Option<String>,
    pub required: bool,
    pub unique: bool,
    pub join: Option<String>,
    pub split: Option<String>,
    pub max_length: Option<usize>,
    /// A column naming each row's country, whose code is the phone region.
    pub region_from: Option<String>,
    /// Line of the field in the mapping file, for messages.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum Transform {
    Trim,
    Lower,
    Upper,
    Title,
    Squish,
    Replace(Regex, String),
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

impl Mapping {
    /// Reads a mapping file's text. Unknown keys, unknown types, bad formats
    /// and fields the entity does not have are errors naming the line.
    pub fn parse(text: &str) -> Result<Mapping, MappingError> {
        let spec: MappingSpec = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            MappingError::new(line, e.message().to_string())
        })?;
        let entity_line = line_of(text, spec.entity.span().start);
        let entity: Entity =
            spec.entity.get_ref().parse().map_err(|e: String| MappingError::new(Some(entity_line), e))?;
        if let Some(fmt) = &spec.source.format
            && !["csv", "tsv", "json", "ndjson", "xml", "xlsx", "xls", "ods"].contains(&fmt.as_str())
        {
            return Err(MappingError::new(
                None,
                format!("[source] format `{fmt}` is not one of csv, tsv, json, ndjson, xml, xlsx, xls, ods"),
            ));
        }
        let mut fields = Vec::with_capacity(spec.fields.0.len());
        let mut link_system: Option<String> = None;
        for (name, fs) in spec.fields.0 {
            let line = line_of(text, name.span().start);
            let mut target = name.into_inner();
            // A linked record's id with its system, as an export's column
            // names it: the link, and the system the import links by.
            if let Some((link, system)) = entity.external_link_of(&target) {
                let said = spec.key.external_id.as_ref().map(|e| e.system.as_str()).or(link_system.as_deref());
                if let Some(other) = said.filter(|s| *s != system) {
                    return Err(MappingError::new(
                        Some(line),
                        format!(
                            "`{target}` links by ids in {system:?}, and the mapping's other ids are in {other:?}; \
                             an import links by one system"
                        ),
                    ));
                }
                link_system = Some(system.to_string());
                target = link.to_string();
            }
            if !entity.has_field(&target) {
                let known = entity.fields();
                let hint = known
                    .iter()
                    .chain(entity.external_links())
                    .map(|k| (strsim::jaro_winkler(k, &target), *k))
                    .filter(|(s, _)| *s > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, k)| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                return Err(MappingError::new(
                    Some(line),
                    format!(
                        "`{target}` is not a field of {entity}; {hint}fields are {}{}, or `custom.<name>` for your own",
                        known.join(", "),
                        match entity.external_links() {
                            [] => String::new(),
                            links => format!(", links by the other system's id {}", links.join(", ")),
                        }
                    ),
                ));
            }
            if fields.iter().any(|f: &FieldMap| *f.target == *target) {
                return Err(MappingError::new(Some(line), format!("field `{target}` is mapped twice")));
            }
            fields.push(compile_field(target, fs, line)?);
        }
        if fields.is_empty() {
            return Err(MappingError::new(None, "[fields] is empty: map at least one field"));
        }
        if let Some(ext) = &spec.key.external_id
            && ext.system.trim().is_empty()
        {
            return Err(MappingError::new(None, "[key] external_id needs a `system` name, such as \"erp\""));
        }
        // A link by ids needs the system they are in, said up front rather
        // than by every row's rejection.
        if spec.key.external_id.is_none()
            && link_system.is_none()
            && let Some(f) = fields.iter().find(|f| entity.external_links().contains(&&*f.target))
        {
            return Err(MappingError::new(
                Some(f.line),
                format!(
                    "`{0}` links by another system's ids, but the mapping names no system: write `{0}.<system>` \
                     (`{0}.crm`), or give the records' own ids in [key] external_id",
                    f.target
                ),
            ));
        }
        for k in &spec.key.fields {
            if !fields.iter().any(|f| &*f.target == k) {
                return Err(MappingError::new(None, format!("[key] fields names `{k}`, which [fields] does not map")));
            }
        }
        // A phone number given no `region` or `region_from` is read in the
        // country the row's `address.country` column gives, as an import
        // without a mapping reads it, or, where the cell is empty, in the
        // country's `default`.
        let country = fields.iter().find(|f| &*f.target == "address.country");
        let column = country.and_then(|f| match f.from.as_slice() {
            [column] => Some(column.clone()),
            _ => None,
        });
        let default = country
            .and_then(|f| f.default.as_deref())
            .and_then(types::country::to_alpha2)
            .and_then(|code| code.parse::<Region>().ok());
        for f in &mut fields {
            if f.ty == Some(TypeName::Phone) && f.opts.region.is_none() && f.region_from.is_none() {
                f.region_from = column.clone();
                f.opts.region = default;
            }
        }
        Ok(Mapping { entity, source: spec.source, key: spec.key, fields, link_system })
    }

    /// The system the import's ids are in: its records' own ([key]
    /// external_id), else their links'.
    pub fn id_system(&self) -> Option<&str> {
        self.key.external_id.as_ref().map(|e| e.system.as_str()).or(self.link_system.as_deref())
    }

    /// The target field names, in mapping order.
    pub fn targets(&self) -> Vec<Key> {
        self.fields.iter().map(|f| f.target.clone()).collect()
    }

    /// The name an export of the store gives `target`, where it is another:
    /// a link by the ids of the mapping's system names the system
    /// (`company.external_id.erp`), which the import takes from the mapping.
    pub fn exported_name(&self, target: &str) -> Option<String> {
        let system = self.id_system()?;
        self.entity.external_links().contains(&target).then(|| format!("{target}.{system}"))
    }

    /// The fields as an export of the store names them, the record's own id
    /// in the mapping's system first (`external_id.erp`): records so named
    /// import without the mapping, ids and links and all.
    pub fn exported_targets(&self) -> Vec<Key> {
        let own = self.key.external_id.as_ref().map(|e| Key::from(e.field().as_str()));
        let fields = self.fields.iter().map(|f| self.exported_name(&f.target).map_or(f.target.clone(), Key::from));
        own.into_iter().chain(fields).collect()
    }

    /// Checks that a file with these columns has every column the mapping
    /// reads; the error lists the missing ones with the nearest names.
    pub fn check_columns(&self, columns: &[Key]) -> Result<(), MappingError> {
        let mut problems = Vec::new();
        for f in &self.fields {
            for c in f.from.iter().chain(&f.region_from) {
                if !columns.iter().any(|k| &**k == c) {
                    // (Not a letter a sheet names a column without a header
                    // by: `E` is no near miss for `Email`.)
                    let near = columns
                        .iter()
                        .filter(|k| 2 * k.chars().count() >= c.chars().count())
                        .map(|k| (strsim::jaro_winkler(&k.to_lowercase(), &c.to_lowercase()), k))
                        .filter(|(s, _)| *s > 0.75)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
                        .unwrap_or_default();
                    problems.push(format!(
                        "field `{}` (line {}) reads column {c:?}, which the file does not have{near}",
                        f.target, f.line
                    ));
                }
            }
        }
        if let Some(ext) = &self.key.external_id
            && !columns.iter().any(|k| **k == *ext.from)
        {
            problems.push(format!("[key] external_id reads column {:?}, which the file does not have", ext.from));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = columns.iter().map(|k| format!("{k:?}")).collect();
        Err(MappingError::new(None, format!("{}; the file's columns are {}", problems.join("; "), shown.join(", "))))
    }

    /// Whether the mapping reads `column`: for a field, a phone's region,
    /// or the external id.
    pub fn reads(&self, column: &str) -> bool {
        self.fields.iter().any(|f| f.from.iter().chain(&f.region_from).any(|c| c == column))
            || self.key.external_id.as_ref().is_some_and(|ext| *ext.from == *column)
    }

    /// Whether the mapping reads a field inside the object at `path`
    /// (`address.city` inside `address`).
    pub fn reads_under(&self, path: &str) -> bool {
        let inside = |c: &str| c.len() > path.len() && c.starts_with(path) && c.as_bytes()[path.len()] == b'.';
        self.fields.iter().any(|f| f.from.iter().chain(&f.region_from).any(|c| inside(c)))
            || self.key.external_id.as_ref().is_some_and(|ext| inside(&ext.from))
    }

    /// Source columns the mapping reads (for checking a file's header).
    pub fn source_columns(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = Vec::new();
        for c in self.fields.iter().flat_map(|f| f.from.iter()) {
            if !cols.contains(&c.as_str()) {
                cols.push(c);
            }
        }
        if let Some(ext) = &self.key.external_id
            && !cols.contains(&ext.from.as_str())
        {
            cols.push(&ext.from);
        }
        cols
    }

    /// Source column names in reverse-mapping order, for exports: the
    /// other system's id first, as its own tables list it.
    pub fn reverse_columns(&self) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        if let Some(ext) = &self.key.external_id {
            out.push(Key::from(ext.from.as_str()));
        }
        for f in &self.fields {
            for c in &f.from {
                if !out.iter().any(|k| &**k == c) {
                    out.push(Key::from(c.as_str()));
                }
            }
        }
        out
    }
}

fn compile_field(target: String, spec: FieldSpec, line: usize) -> Result<FieldMap, MappingError> {
    let err = |m: String| MappingError::new(Some(line), format!("field `{target}`: {m}"));
    let rule: FieldRule = match spec {
        FieldSpec::Rename(col) => FieldRule { from: Some(spec::Columns(vec![col])), ..Default::default() },
        FieldSpec::Rule(r) => *r,
    };
    let from = rule.from.map(|c| c.0).unwrap_or_else(|| vec![target.clone()]);
    if from.len() > 1 && rule.join.is_none() {
        return Err(err(format!("`from` lists {} columns; say how to combine them with `join = \" \"`", from.len())));
    }
    let ty = rule.ty.as_deref().map(str::parse::<TypeName>).transpose().map_err(err)?;
    let mut opts = TypeOptions { format: rule.format.clone(), ..Default::default() };
    if let Some(fmt) = &rule.format {
        if !matches!(ty, Some(TypeName::Date | TypeName::DateTime)) {
            return Err(err("`format` applies to type = \"date\" or \"datetime\"".into()));
        }
        let probe = jiff::civil::date(2024, 1, 31).at(13, 45, 30, 0);
        let zoned = probe.to_zoned(TimeZone::UTC).map_err(|e| err(e.to_string()))?;
        let written = jiff::fmt::strtime::format(fmt.as_str(), &zoned)
            .map_err(|e| err(format!("`format = {fmt:?}` is not a valid strftime format ({e})")))?;
        // It must read back what it writes: `%Y` alone names no day.
        let reads = match ty {
            Some(TypeName::Date) => types::date::parse_date(&written, Some(fmt)).is_ok(),
            _ => types::date::parse_datetime(&written, Some(fmt), &TimeZone::UTC).is_ok(),
        };
        if !reads {
            return Err(err(format!(
                "`format = {fmt:?}` cannot read a whole date back (it writes {written:?}; a date needs year, month and day)"
            )));
        }
    }
    match rule.decimal_separator.as_deref() {
        None | Some(".") => {}
        Some(",") if matches!(ty, Some(TypeName::Decimal | TypeName::Integer)) => opts.decimal_comma = true,
        Some(",") => return Err(err("`decimal_separator` applies to type = \"decimal\" or \"integer\"".into())),
        Some(other) => return Err(err(format!("`decimal_separator = {other:?}` is not \",\" or \".\""))),
    }
    if let Some(region) = &rule.region {
        if ty != Some(TypeName::Phone) {
            return Err(err("`region` applies to type = \"phone\"".into()));
        }
        let id = region
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map_err(|_| err(format!("`region = {region:?}` is not an ISO 3166 alpha-2 country code")))?;
        opts.region = Some(id);
    }
    if rule.region_from.is_some() && ty != Some(TypeName::Phone) {
        return Err(err("`region_from` applies to type = \"phone\"".into()));
    }
    if let Some(tz) = &rule.timezone {
        if ty != Some(TypeName::DateTime) {
            return Err(err("`timezone` applies to type = \"datetime\"".into()));
        }
        opts.zone = TimeZone::get(tz)
            .map_err(|_| err(format!("`timezone = {tz:?}` is not an IANA time zone such as \"Asia/Shanghai\"")))?;
    }
    match (&rule.values, ty) {
        (Some(v), Some(TypeName::Enum)) if !v.is_empty() => opts.values = v.clone(),
        (_, Some(TypeName::Enum)) => return Err(err("type = \"enum\" needs `values = [...]`".into())),
        (Some(_), _) => return Err(err("`values` applies to type = \"enum\"".into())),
        _ => {}
    }
    let transforms = rule
        .transform
        .into_iter()
        .map(|t| match t {
            TransformSpec::Named(n) => Ok(match n.as_str() {
                "trim" => Transform::Trim,
                "lower" => Transform::Lower,
                "upper" => Transform::Upper,
                "title" => Transform::Title,
                _ => Transform::Squish,
            }),
            TransformSpec::Replace { regex, replace } => {
                let r = Regex::new(&regex).map_err(|e| err(format!("regex {regex:?} does not compile: {e}")))?;
                if let Some(name) = unknown_group(&r, &replace) {
                    return Err(err(format!(
                        "the replacement {replace:?} names `${name}`, which is no group of regex {regex:?} (a group's \
                         number followed by text is written `${{1}}x`, a `$` itself `$$`)"
                    )));
                }
                Ok(Transform::Replace(r, replace))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let map = match rule.map {
        Some(table) => table
            .into_iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k, s)),
                other => Ok((k, other.to_string())),
            })
            .collect::<Result<Vec<_>, MappingError>>()?,
        None => Vec::new(),
    };
    let default = rule.default.map(|v| match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    });
    if rule.join.is_some() && from.len() < 2 {
        return Err(err("`join` combines several columns: give `from` a list".into()));
    }
    let field = FieldMap {
        target: Key::from(target.as_str()),
        from,
        ty,
        opts,
        transforms,
        map,
        default,
        required: rule.required,
        unique: rule.unique,
        join: rule.join,
        split: rule.split,
        max_length: rule.max_length,
        region_from: rule.region_from,
        line,
    };
    // A default the field's type refuses would reject every empty cell,
    // each as if the file had held it.
    if let Some(d) = &field.default
        && field.ty.is_some()
        && let Err(e) = convert(&field, d, field.opts.region)
    {
        return Err(err(format!("`default = {d:?}` does not fit the field's type: expected {e}")));
    }
    Ok(field)
}

/// The first group a regex replacement names (`$1`, `${name}`, `$name`)
/// that the regex has not, if any.
fn unknown_group(regex: &Regex, replace: &str) -> Option<String> {
    let mut chars = replace.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            continue;
        }
        let name: String = match chars.peek() {
            Some('$') => {
                chars.next();
                continue;
            }
            Some('{') => {
                chars.next();
                chars.by_ref().take_while(|c| *c != '}').collect()
            }
            _ => std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')).collect(),
        };
        let known = match name.parse::<usize>() {
            Ok(n) => n < regex.captures_len(),
            Err(_) => regex.capture_names().flatten().any(|n| n == name),
        };
        if !name.is_empty() && !known {
            return Some(name);
        }
    }
    None
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

impl Transform {
    fn apply<'a>(&self, s: Cow<'a, str>) -> Cow<'a, str> {
        match self {
            Transform::Trim => match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            },
            Transform::Lower => Cow::Owned(s.to_lowercase()),
            Transform::Upper => Cow::Owned(s.to_uppercase()),
            Transform::Title => Cow::Owned(title_case(&s)),
            Transform::Squish => Cow::Owned(s.split_whitespace().collect::<Vec<_>>().join(" ")),
            Transform::Replace(re, with) => Cow::Owned(re.replace_all(&s, with.as_str()).into_owned()),
        }
    }
}

/// Runs a mapping over a stream of records.
pub struct Mapper {
    mapping: Arc<Mapping>,
    /// Where each field's source columns were last found, so flat files
    /// cost one comparison per value instead of a search.
    positions: Vec<Vec<Option<usize>>>,
    /// Each source column's name as an XML element, where it differs
    /// (`Customer Id` → `Customer_Id`): an XML file written through the
    /// mapping run backwards carries those names.
    element_names: Vec<Vec<Option<String>>>,
    /// Run backwards: the field the store gives the record's id in the
    /// mapping's system (`external_id.erp`), and, per field, the one it gives
    /// a link by that system's ids (`company.external_id.erp`).
    external_field: Option<String>,
    linked_fields: Vec<Option<String>>,
    seen: Vec<HashMap<u128, u64>>,
    /// Whether some record had each source column (fields in order, their
    /// columns flattened). Shared: see [`Mapper::columns_found`].
    found: Arc<ColumnsFound>,
    /// Run backwards into a format that types its numbers (XLSX, JSON):
    /// a number stays one, whatever separator a text would be written with.
    typed_numbers: bool,
    /// Values whose time of day a date field dropped. Shared, as `found`.
    times: Arc<TimesDropped>,
}

/// Per field, how many values a date field read without their time of day
/// (`2024-03-05 14:30` as 2024-03-05), and the first: the import says so,
/// where a date-time field keeps them. Shared by the threads that map and
/// draft rows (the store notes declared custom dates here too).
#[derive(Debug, Default)]
pub struct TimesDropped(std::sync::Mutex<std::collections::BTreeMap<String, (u64, String)>>);

impl TimesDropped {
    pub fn note(&self, field: &str, text: String) {
        if let Ok(mut seen) = self.0.lock() {
            seen.entry(field.to_string()).or_insert((0, text)).0 += 1;
        }
    }

    /// (field, count, first value), by field.
    pub fn list(&self) -> Vec<(String, u64, String)> {
        let seen = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        seen.into_iter().map(|(field, (n, first))| (field, n, first)).collect()
    }
}

/// A value with a time of day (text, or a spreadsheet's date-time cell).
fn time_dropped(source: &Value) -> bool {
    match source {
        Value::DateTime(dt) => dt.civil.time() != jiff::civil::Time::midnight(),
        Value::Text(t) => types::date::time_of_day(t),
        _ => false,
    }
}

/// Which source columns some record had, for a mapper working elsewhere
/// (a thread of its own): a file without a header cannot be checked
/// against the mapping before it is read, so a misspelt column is known
/// only once no record had it.
#[derive(Debug)]
pub struct ColumnsFound {
    columns: Vec<String>,
    found: Vec<std::sync::atomic::AtomicBool>,
    /// Where each field's first column is in `columns`.
    first: Vec<usize>,
    /// Where the columns read besides the fields' own begin.
    extra: usize,
}

impl ColumnsFound {
    /// The columns the mapping reads that no record had.
    pub fn missing(&self) -> Vec<&str> {
        use std::sync::atomic::Ordering;
        self.columns
            .iter()
            .zip(&self.found)
            .filter(|(_, f)| !f.load(Ordering::Relaxed))
            .map(|(c, _)| c.as_str())
            .collect()
    }
}

impl Mapper {
    /// The values date fields read without their time of day, shared with
    /// the mapper as it works elsewhere.
    pub fn times_dropped(&self) -> Arc<TimesDropped> {
        Arc::clone(&self.times)
    }

    /// Numbers run backwards stay numbers (for XLSX and JSON output), not
    /// text with the mapping's `decimal_separator`.
    pub fn typed_numbers(mut self, typed: bool) -> Self {
        self.typed_numbers = typed;
        self
    }

    pub fn new(mapping: Arc<Mapping>) -> Self {
        let positions = mapping.fields.iter().map(|f| vec![None; f.from.len()]).collect();
        let seen = mapping.fields.iter().map(|_| HashMap::new()).collect();
        let element_names = mapping
            .fields
            .iter()
            .map(|f| f.from.iter().map(|c| Some(crate::value::element_name(c)).filter(|e| e != c)).collect())
            .collect();
        let linked_fields = mapping.fields.iter().map(|f| mapping.exported_name(&f.target)).collect();
        let external_field = mapping.key.external_id.as_ref().map(ExternalIdSpec::field);
        let mut columns: Vec<String> = mapping.fields.iter().flat_map(|f| f.from.iter().cloned()).collect();
        // Columns read besides the fields' own: regions, the record's id.
        let extra = columns.len();
        for c in mapping
            .fields
            .iter()
            .filter_map(|f| f.region_from.clone())
            .chain(mapping.key.external_id.as_ref().map(|e| e.from.clone()))
        {
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
        let found = columns.iter().map(|_| std::sync::atomic::AtomicBool::new(false)).collect();
        let first = mapping
            .fields
            .iter()
            .scan(0, |at, f| {
                let first = *at;
                *at += f.from.len();
                Some(first)
            })
            .collect();
        let found = Arc::new(ColumnsFound { columns, found, first, extra });
        let times = Arc::new(TimesDropped::default());
        Self {
            mapping,
            positions,
            element_names,
            external_field,
            linked_fields,
            seen,
            found,
            times,
            typed_numbers: false,
        }
    }

    /// Which of the mapping's source columns the records mapped so far had.
    pub fn columns_found(&self) -> Arc<ColumnsFound> {
        Arc::clone(&self.found)
    }

    fn found_flag(&self, field: usize, col: usize) -> Option<&std::sync::atomic::AtomicBool> {
        self.found.found.get(self.found.first[field] + col)
    }

    fn was_found(&self, field: usize, col: usize) -> bool {
        self.found_flag(field, col).is_none_or(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Notes which of the columns read besides the fields' own (a phone's
    /// `region_from`, the external id) `input` has, until each is found.
    fn find_extra_columns(&self, input: &Record) {
        use std::sync::atomic::Ordering;
        let found = &self.found;
        for (c, flag) in found.columns.iter().zip(&found.found).skip(found.extra) {
            if !flag.load(Ordering::Relaxed) && input.get_path(c).is_some() {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Notes that a record had column `col` of field `field`.
    fn found(&self, field: usize, col: usize) {
        use std::sync::atomic::Ordering;
        if let Some(f) = self.found_flag(field, col)
            && !f.load(Ordering::Relaxed)
        {
            f.store(true, Ordering::Relaxed);
        }
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn lookup<'r>(&mut self, field: usize, col: usize, rec: &'r Record) -> Option<&'r Value> {
        let name = &self.mapping.fields[field].from[col];
        let fields = rec.fields();
        if let Some(i) = self.positions[field][col]
            && let Some((k, v)) = fields.get(i)
            && **k == **name
        {
            return Some(v);
        }
        if let Some(i) = fields.iter().position(|(k, _)| **k == **name) {
            self.positions[field][col] = Some(i);
            self.found(field, col);
            return Some(&fields[i].1);
        }
        let v = rec.get_path(name).or_else(|| self.element_names[field][col].as_deref().and_then(|e| rec.get_path(e)));
        if v.is_some() {
            self.found(field, col);
        }
        v
    }

    /// Maps one source record into `out`. All field errors of the record are
    /// returned together, so a user can fix a row in one go.
    pub fn apply(&mut self, input: &Record, out: &mut Record) -> Result<(), Vec<FieldError>> {
        self.apply_fields(input, out, None)
    }

    /// Maps only the fields `wanted` marks (one flag per field of the
    /// mapping, in its order), for a row whose other fields are known to
    /// map as they did before. Only `unique` fields it maps are checked and
    /// claimed: a caller wants all of them.
    pub fn apply_only(&mut self, input: &Record, out: &mut Record, wanted: &[bool]) -> Result<(), Vec<FieldError>> {
        self.apply_fields(input, out, Some(wanted))
    }

    fn apply_fields(
        &mut self,
        input: &Record,
        out: &mut Record,
        wanted: Option<&[bool]>,
    ) -> Result<(), Vec<FieldError>> {
        out.clear();
        out.row = input.row;
        out.line = input.line;
        let mut errors = Vec::new();
        // Values a date field reads without their time of day (allocated
        // only when there is one).
        let mut dropped: Vec<(&str, String)> = Vec::new();
        let mapping = Arc::clone(&self.mapping);
        for (i, f) in mapping.fields.iter().enumerate() {
            if wanted.is_some_and(|w| !w.get(i).copied().unwrap_or(true)) {
                // Not mapped, but looked for until found once: the file's
                // columns are told apart from misspelt ones all the same.
                for c in 0..f.from.len() {
                    if !self.was_found(i, c) {
                        self.lookup(i, c, input);
                    }
                }
                continue;
            }
            let joined;
            let source = if f.from.len() == 1 {
                self.lookup(i, 0, input).unwrap_or(&Value::Null)
            } else {
                let sep = f.join.as_deref().unwrap_or(" ");
                let mut parts = Vec::with_capacity(f.from.len());
                for c in 0..f.from.len() {
                    if let Some(v) = self.lookup(i, c, input) {
                        let t = v.to_text();
                        let t = t.trim();
                        if !t.is_empty() {
                            parts.push(t.to_owned());
                        }
                    }
                }
                joined = Value::Text(parts.join(sep));
                &joined
            };
            // A per-row region (`region_from = "Country"`) for phone numbers.
            // A country it cannot read is said, not passed over for `region`,
            // unless the number carries its own country code.
            let mut region = None;
            if let Some(col) = f.region_from.as_deref()
                && let Some(country) = input.get_path(col).filter(|c| !c.is_empty())
                && let country = country.text()
                && !country.trim().is_empty()
            {
                region = types::country::to_alpha2(&country).and_then(region_of);
                let number = source.text();
                let international = number.trim_start().starts_with('+') || number.trim_start().starts_with("00");
                if region.is_none() && !international && !number.trim().is_empty() {
                    let number = number.into_owned();
                    errors.push(FieldError {
                        field: f.target.to_string(),
                        column: f.from.join(", "),
                        value: number,
                        expected: format!(
                            "a number with its country code: column {col:?} gives {country:?}, which is no country to read it in"
                        ),
                    });
                    continue;
                }
            }
            match map_value(f, source, region) {
                Ok(v) => {
                    if f.ty == Some(TypeName::Date) && f.opts.format.is_none() && time_dropped(source) {
                        dropped.push((&f.target, source.to_text()));
                    }
                    out.push(f.target.clone(), v)
                }
                Err((value, expected)) => {
                    errors.push(FieldError { field: f.target.to_string(), column: f.from.join(", "), value, expected })
                }
            }
        }
        self.find_extra_columns(input);
        if errors.is_empty() {
            self.check_unique(out, &mut errors);
        }
        // (Of records the mapping takes: a rejected one's values are read
        // as nothing.)
        if errors.is_empty() {
            for (field, text) in dropped {
                self.times.note(field, text);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Values of `unique` fields must not repeat within the input; only
    /// records that are otherwise valid claim a value.
    fn check_unique(&mut self, out: &Record, errors: &mut Vec<FieldError>) {
        let mut claims = Vec::new();
        for (i, f) in self.mapping.fields.iter().enumerate() {
            if !f.unique {
                continue;
            }
            let Some(v) = out.get(&f.target) else { continue };
            if v.is_empty() {
                continue;
            }
            let text = v.to_text();
            // Compared as keys are: without case or surrounding spaces.
            let h = xxhash_rust::xxh3::xxh3_128(text.trim().to_lowercase().as_bytes());
            if let Some(first) = self.seen[i].get(&h) {
                errors.push(FieldError {
                    field: f.target.to_string(),
                    column: f.from.join(", "),
                    value: text,
                    expected: format!("a unique value (row {first} has it already)"),
                });
            } else {
                claims.push((i, h));
            }
        }
        if errors.is_empty() {
            for (i, h) in claims {
                self.seen[i].insert(h, out.row);
            }
        }
    }

    /// Runs the mapping backwards: a record of target fields becomes a
    /// record of the source system's columns, with dates in their format,
    /// value maps inverted, joined columns split and split lists joined.
    ///
    /// A list item holding the separator its column splits on is an error:
    /// the other system would read it as two items.
    pub fn reverse(&self, input: &Record, out: &mut Record) -> Result<(), FieldError> {
        out.clear();
        out.row = input.row;
        out.line = input.line;
        // Flat files carry lists as `tags.0, tags.1`: fold them back first.
        let mut folded = Record::new();
        for (k, v) in input.nested() {
            folded.push(k, v);
        }
        // The record's id in that system first: it owns its column, should
        // a field read the same one.
        if let (Some(ext), Some(field)) = (&self.mapping.key.external_id, &self.external_field) {
            let id = input.get(field).or_else(|| folded.get_path(field)).cloned().unwrap_or(Value::Null);
            out.push(Key::from(ext.from.as_str()), id);
        }
        for (f, linked) in self.mapping.fields.iter().zip(&self.linked_fields) {
            // (A link by the system's ids as a flat file names it, or
            // nested, as JSON and XML carry it: `company.external_id.erp`.)
            // (Without the mapping system's id, the ids of other systems,
            // `{"crm": "C1"}`, are none of its own: no value.)
            let value = linked
                .as_deref()
                .and_then(|l| input.get(l).or_else(|| folded.get_path(l)))
                .or_else(|| folded.get_path(&f.target))
                .or_else(|| input.get(&f.target))
                .filter(|v| linked.is_none() || !matches!(v, Value::Object(_)))
                .cloned()
                .unwrap_or(Value::Null);
            let already = |out: &Record, col: &str| out.get(col).is_some();
            if f.from.len() > 1 {
                let text = value.to_text();
                let sep = f.join.as_deref().unwrap_or(" ");
                // Without a separator the parts cannot be told apart: the
                // whole value goes to the first column rather than a guess.
                let mut parts: Box<dyn Iterator<Item = &str>> = if sep.is_empty() {
                    Box::new(std::iter::once(text.as_str()))
                } else {
                    Box::new(text.splitn(f.from.len(), sep))
                };
                for c in &f.from {
                    let part = parts.next().unwrap_or("");
                    if !already(out, c) {
                        out.push(Key::from(c.as_str()), Value::Text(part.to_owned()));
                    }
                }
                continue;
            }
            let col = &f.from[0];
            if already(out, col) {
                continue;
            }
            // Text read back from a file (`2024-01-31`) is parsed first, so a
            // date lands in the source's format whatever the file type.
            let value = match (value, f.ty) {
                (Value::Text(t), Some(TypeName::Date)) => {
                    types::date::parse_date(&t, None).map(Value::Date).unwrap_or(Value::Text(t))
                }
                (Value::Text(t), Some(TypeName::DateTime)) => {
                    types::date::parse_datetime(&t, None, &f.opts.zone).map(Value::DateTime).unwrap_or(Value::Text(t))
                }
                // A date the store keeps as a date-time (at midnight UTC)
                // goes back as the date it was.
                (Value::DateTime(dt), Some(TypeName::Date)) => Value::Date(dt.civil.date()),
                // A list a flat export wrote in one cell (`vip; "Sales,
                // EMEA"`): its items, as an import reads them.
                (Value::Text(t), _) if f.split.is_some() => {
                    Value::Array(crate::value::split_list(&t).into_iter().map(Value::Text).collect())
                }
                (v, _) => v,
            };
            // The store keeps instants in UTC; the source had them on its
            // own clock (`timezone`), so they go back on it.
            let value = match value {
                Value::DateTime(dt) if f.ty == Some(TypeName::DateTime) => {
                    Value::DateTime(types::date::in_zone(&dt, &f.opts.zone))
                }
                v => v,
            };
            let v = match (&value, f.opts.format.as_deref()) {
                // Back as the other system writes its numbers: `1234,56`,
                // a number stored or in a file alike (`1,234.5` from a CSV).
                (Value::Number(n) | Value::Text(n), _) if f.opts.decimal_comma => {
                    match types::point_number(f.ty.unwrap_or(TypeName::Decimal), n) {
                        Ok(n) if self.typed_numbers => Value::Number(n),
                        Ok(n) => Value::Text(n.replacen('.', ",", 1)),
                        Err(_) => value.clone(),
                    }
                }
                (Value::Date(d), Some(fmt)) => Value::Text(types::date::format_date(*d, fmt)),
                (Value::DateTime(dt), Some(fmt)) => Value::Text(types::date::format_datetime(dt, fmt)),
                (Value::Array(items), _) if f.split.is_some() => {
                    let sep = f.split.as_deref().unwrap_or(",");
                    let items: Vec<String> = items.iter().map(Value::to_text).collect();
                    // Import splits on the separator as written, then trims.
                    if let Some(item) = items.iter().find(|i| !sep.is_empty() && i.contains(sep)) {
                        return Err(FieldError {
                            field: f.target.to_string(),
                            column: col.clone(),
                            value: item.clone(),
                            expected: format!(
                                "an item without {sep:?}, which column {col:?} splits its items on (the other system would read two)"
                            ),
                        });
                    }
                    Value::Text(items.join(sep))
                }
                _ => value,
            };
            // Typed values too: `{ "Y" = "true" }` on a boolean gives `Y` back.
            let v = match &v {
                Value::Text(_) | Value::Bool(_) | Value::Number(_) if !f.map.is_empty() => {
                    let t = v.to_text();
                    f.map.iter().find(|(_, to)| *to == t).map(|(from, _)| Value::Text(from.clone())).unwrap_or(v)
                }
                _ => v,
            };
            out.push(Key::from(col.as_str()), v);
        }
        Ok(())
    }
}

/// Applies one field's rule to its source value. The error carries the value
/// as seen and what was expected.
fn map_value(f: &FieldMap, source: &Value, region: Option<Region>) -> Result<Value, (String, String)> {
    // Borrowed until a step has to change it: most values pass through a
    // field untouched or only trimmed.
    let mut text: Cow<'_, str> = match source {
        Value::Text(t) => Cow::Borrowed(t),
        Value::Null => Cow::Borrowed(""),
        // A value map's keys are text: a JSON or spreadsheet number or
        // boolean (`1`, `true`) is looked up by its text, as the same value
        // in a CSV file would be.
        Value::Number(_) | Value::Bool(_) if !f.map.is_empty() && mapped(f, &source.text()).is_some() => source.text(),
        other => return typed_value(f, other.clone(), region),
    };
    for t in &f.transforms {
        text = t.apply(text);
    }
    if let Some(to) = mapped(f, &text) {
        text = Cow::Borrowed(to);
    }
    if text.trim().is_empty() {
        match &f.default {
            Some(d) => text = Cow::Borrowed(d),
            None if f.required => return Err((text.into_owned(), "a value (the field is required)".to_string())),
            None => return Ok(Value::Null),
        }
    }
    if let Some(max) = f.max_length
        && text.chars().count() > max
    {
        return Err((text.into_owned(), format!("at most {max} characters")));
    }
    if let Some(sep) = &f.split {
        let mut items = Vec::new();
        for part in text.split(sep.as_str()).map(str::trim).filter(|p| !p.is_empty()) {
            items.push(convert(f, part, region).map_err(|e| (text.to_string(), e))?);
        }
        return Ok(Value::Array(items));
    }
    convert(f, &text, region).map_err(|e| (text.into_owned(), e))
}

/// What a field's value map makes of `text`: the value of the key written
/// exactly so, else of one alike but for case.
fn mapped<'a>(f: &'a FieldMap, text: &str) -> Option<&'a str> {
    if f.map.is_empty() {
        return None;
    }
    let key = text.trim();
    let found =
        f.map.iter().find(|(k, _)| k == key).or_else(|| f.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)));
    found.map(|(_, to)| to.as_str())
}

type Region = phonenumber::country::Id;

/// The phone region of an ISO 3166 alpha-2 code. The crate parses a code by
/// comparing it with each of its regions in turn, a twentieth of a
/// `region_from` mapping's work per row; each code is parsed once, and
/// remembered in a slot of its two letters (a hash map per number was a
/// sixtieth of the mapping thread).
fn region_of(alpha2: &'static str) -> Option<Region> {
    thread_local! {
        static REGIONS: std::cell::RefCell<Vec<Option<Option<Region>>>> = std::cell::RefCell::new(vec![None; 26 * 26]);
    }
    let slot = match alpha2.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => usize::from(a - b'A') * 26 + usize::from(b - b'A'),
        _ => return alpha2.parse::<Region>().ok(),
    };
    REGIONS.with_borrow_mut(|regions| *regions[slot].get_or_insert_with(|| alpha2.parse::<Region>().ok()))
}

fn convert(f: &FieldMap, text: &str, region: Option<Region>) -> Result<Value, String> {
    match f.ty {
        None => Ok(Value::Text(text.to_owned())),
        Some(TypeName::Phone) if region.is_some() => {
            types::phone::to_e164(text, region).map(Value::Text).map_err(|e| format!("a phone number: {e}"))
        }
        Some(ty) => types::convert(ty, text, &f.opts),
    }
}

/// A source value that already has a type (JSON numbers, spreadsheet dates).
fn typed_value(f: &FieldMap, v: Value, region: Option<Region>) -> Result<Value, (String, String)> {
    use jiff::civil::Time;
    match (f.ty, &v) {
        (None, _) => Ok(v),
        (Some(TypeName::Date), Value::Date(_)) => Ok(v),
        // A spreadsheet's date-time has no offset: it is on the mapping's
        // `timezone` clock, as the same text in a CSV would be.
        (Some(TypeName::DateTime), Value::DateTime(dt)) if dt.offset.is_none() => {
            types::date::on_clock(dt.civil, &f.opts.zone).map(Value::DateTime).map_err(|e| (v.to_text(), e))
        }
        (Some(TypeName::DateTime), Value::DateTime(_)) => Ok(v),
        (Some(TypeName::Boolean), Value::Bool(_)) => Ok(v),
        // A spreadsheet's or JSON's number is one already, whatever the
        // separator its text would be written with.
        (Some(TypeName::Decimal | TypeName::Integer), Value::Number(n)) if f.opts.decimal_comma => {
            types::point_number(f.ty.unwrap_or(TypeName::Decimal), n).map(Value::Number).map_err(|e| (n.clone(), e))
        }
        (Some(TypeName::Date), Value::DateTime(dt)) => Ok(Value::Date(dt.civil.date())),
        (Some(TypeName::DateTime), Value::Date(d)) => {
            let civil = d.to_datetime(Time::midnight());
            types::date::on_clock(civil, &f.opts.zone).map(Value::DateTime).map_err(|e| (v.to_text(), e))
        }
        (Some(_), Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(typed_value(f, item.clone(), region)?);
            }
            Ok(Value::Array(out))
        }
        _ => {
            let text = v.to_text();
            convert(f, &text, region).map_err(|e| (text, e))
        }
    }
}

#[cfg(test)]
mod tests;
