//! Import: mapped records into the store, as one batch.
//!
//! Records arrive in chunks; each chunk is one transaction that also moves
//! the batch's checkpoint and counts, so a run killed at any moment leaves
//! whole chunks behind and `--resume` carries on after the last one. A dry
//! run takes the same path inside one transaction that is rolled back: the
//! plan it reports is what a real run writes.
//!
//! Matching is by external id first, then by the key fields; a match that is
//! equal (same content hash) is left alone, a match that differs gets only
//! its changed fields written, each change audited. Rows of one file are
//! applied in file order: a key that repeats within a chunk splits the
//! chunk, so a later row sees what an earlier one wrote.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crmsync_core::{Entity, Record};

use crate::custom::{self, CustomField};
use crate::error::{Error, Result};
use crate::model::{self, Column, Ids, Kind, company_key, content_hash, stored};
use crate::recognise::{Place, Recognition};
use crate::sql::{Arg, Backend, Cell, Lent, Param, Sql, placeholders};
use crate::{Store, batches};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Insert,
    Update,
    Upsert,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Insert => "insert",
            Mode::Update => "update",
            Mode::Upsert => "upsert",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "insert" => Ok(Mode::Insert),
            "update" => Ok(Mode::Update),
            "upsert" => Ok(Mode::Upsert),
            _ => Err(format!("unknown mode `{s}`: expected insert, update or upsert")),
        }
    }
}

/// What an import does, fixed for its batch (a resumed run must match).
#[derive(Debug, Clone)]
pub struct Settings {
    pub entity: Entity,
    pub mode: Mode,
    /// Fields that identify a record (`email`), compared after canonicalisation.
    pub key: Vec<String>,
    /// Whether `key` was chosen (`--key`, a mapping's `[key] fields`), not
    /// the entity's default.
    pub key_chosen: bool,
    /// The system whose ids the source carries (`[key] external_id`).
    pub external_system: Option<String>,
    /// The file read, as the user named it.
    pub source: String,
    /// That file's full path, links resolved (`None`: standard input): two
    /// files of one name are two sources, one file named two ways is one.
    pub source_path: Option<String>,
    pub mapping: Option<String>,
    /// A hash of the mapping's rules: `--resume` refuses a mapping file
    /// edited since the batch began, which would map the rest otherwise.
    pub mapping_rules: Option<u64>,
    pub dry_run: bool,
    /// Empty values clear fields on update (by default they leave them as they are).
    pub clear_empty: bool,
    /// Companies keyed by name, not by a key the user chose, and the file
    /// gives domains: a row whose name matches a company at another domain,
    /// or whose domain is another company's, is rejected rather than merged.
    pub guard_domains: bool,
    /// Fields the mapping marks `unique` (`email`, `custom.member_no`):
    /// no two live records may share a value, across the store, as a
    /// declared custom field's `unique` says.
    pub unique: Vec<String>,
}

impl Settings {
    fn fingerprint(&self) -> String {
        let mut f = serde_json::json!({
            "mode": self.mode.name(),
            "key": self.key,
            "external_system": self.external_system,
            "mapping": self.mapping,
            "clear_empty": self.clear_empty,
        });
        if let Some(rules) = self.mapping_rules {
            f["mapping_rules"] = format!("{rules:016x}").into();
        }
        f.to_string()
    }

    /// Why a batch begun with `saved` settings is not resumed with these,
    /// if it is not.
    fn unlike(&self, saved: &str, batch: &str) -> Option<String> {
        let now = self.fingerprint();
        if saved == now {
            return None;
        }
        // The settings apart from the mapping's rules, and those rules.
        let split = |f: &str| {
            let mut v = serde_json::from_str::<serde_json::Value>(f).ok()?;
            let rules = v.as_object_mut()?.remove("mapping_rules");
            Some((v, rules))
        };
        match (split(saved), split(&now)) {
            // (Batches begun before the rules were kept are not checked.)
            (Some((was, None)), Some((is, _))) if was == is => None,
            (Some((was, _)), Some((is, _))) if was == is => Some(format!(
                "the mapping {} changed since batch {batch} began: the rows after its checkpoint would be mapped \
                 otherwise than those before; put the mapping back as it was to resume, or import without \
                 --resume (rows already stored count as unchanged)",
                self.mapping.as_deref().unwrap_or_default()
            )),
            _ => Some(format!(
                "batch {batch} was started with other settings ({saved}); resume it with the same --mode, --key and mapping"
            )),
        }
    }
}

/// The natural key of an entity when neither the mapping nor `--key` names one.
pub fn default_key(entity: Entity, mapped: &[&str]) -> Vec<String> {
    let pick = |f: &str| if mapped.contains(&f) { vec![f.to_string()] } else { Vec::new() };
    match entity {
        Entity::Contacts => pick("email"),
        // Company names match whatever their case, punctuation and legal form.
        Entity::Companies | Entity::Deals => pick("name"),
        Entity::Activities => Vec::new(),
    }
}

/// One source row handed to a chunk.
pub struct Row<'a> {
    /// The row as read, kept for the rejects.
    pub source: &'a Record,
    /// The mapped record; `None` when reading or mapping rejected the row.
    pub record: Option<&'a Record>,
    /// Its ids to match by, besides its key.
    pub ids: RowIds,
    /// Why the row was rejected before the store saw it: (field, message).
    pub rejected: Option<(String, String)>,
    /// The record already drafted by `Import::drafter` (on another thread,
    /// say); drafted in the chunk when `None`.
    pub drafted: Option<Drafted>,
    /// After `chunk`: the row's draft, spent (its values moved into the
    /// record written), for the caller to free on the thread that made it.
    pub spent: Option<Draft>,
    /// The digest of the source's rows up to this one (`source_digest`),
    /// kept with the checkpoint; 0 where none is kept.
    pub digest: u64,
}

pub use crate::recognise::source_digest;

mod phone_keys;
mod written;

/// A hash of a mapping's rules as text (`Settings::mapping_rules`).
pub fn rules_hash(rules: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(rules)
}

/// A drafted record, or why it cannot be one: (field, message).
pub type Drafted = std::result::Result<Draft, (String, String)>;

/// A row's ids that are not fields of its record, to match it by before
/// its key: its id in `Settings::external_system`, and the store's own id
/// (the `id` column of an export, edited and imported again).
#[derive(Debug, Clone, Default)]
pub struct RowIds {
    pub external: Option<String>,
    pub own: Option<String>,
}

/// One field's change, as stored text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// For a plan, a link's records by name (`Acme Inc`), where `before`
    /// and `after` hold their ids (see `label_links`).
    pub before_label: Option<String>,
    pub after_label: Option<String>,
}

/// A record other than the row's own that a row writes: a company created
/// for it to link to, or one found by name that takes its domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub entity: Entity,
    pub id: String,
    /// True for a record created; false for one updated.
    pub created: bool,
    pub changes: Vec<Change>,
}

/// What became of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Insert { id: String },
    Update { id: String, changes: Vec<Change> },
    Unchanged { id: String },
    Reject { field: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Companies created to link records to (not part of `rows_read`).
    pub companies_created: u64,
    /// Companies linked to by name that had no domain and took the row's.
    pub companies_updated: u64,
    /// Rows that changed a record an earlier row of the import made or
    /// changed: the file gives that record twice.
    pub rewritten: u64,
    /// The first of them (`REWRITTEN_LISTED`): source row, record id.
    pub rewritten_rows: Vec<(u64, String)>,
}

/// How many rewritten rows `Counts` lists.
pub const REWRITTEN_LISTED: usize = 5;

/// A stored reject of the batch (for a resumed run's rejects file).
pub struct StoredReject {
    pub row: u64,
    pub field: String,
    pub error: String,
    /// The source row as JSON (field → value, nested values kept), in
    /// the source's order.
    pub record: serde_json::Map<String, serde_json::Value>,
}

/// A record as it is in the store. Its values are packed in one buffer: a
/// re-import looks up every row and mostly only compares it, and a String
/// per value was the largest share of the store thread's allocations.
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    pub id: String,
    /// The stored content hash (`None` if it is not one).
    pub hash: Option<[u8; 16]>,
    /// The hash of the source row it was last imported from, if any.
    pub source: Option<u64>,
    /// Only some columns were read (`load_by`'s `only`): enough to match
    /// and recognise it, not to compare or update it.
    pub partial: bool,
    text: String,
    /// Each column's value: its bounds in `text`, or `None`.
    spans: Vec<Option<(usize, usize)>>,
}

impl Existing {
    pub fn value(&self, column: usize) -> Option<&str> {
        self.spans.get(column).copied().flatten().map(|(start, end)| &self.text[start..end])
    }

    pub fn values(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.spans.len()).map(|i| self.value(i))
    }

    /// The values, each as its own String (to merge into and write back).
    pub fn to_values(&self) -> Vec<Option<String>> {
        self.values().map(|v| v.map(str::to_string)).collect()
    }

    /// Appends the next column's value.
    fn push(&mut self, cell: Option<Lent<'_>>) {
        use std::fmt::Write as _;
        let start = self.text.len();
        let present = match cell {
            Some(Lent::Text(t)) => {
                self.text.push_str(&crate::sql::text_of(t));
                true
            }
            Some(Lent::Int(n)) => write!(self.text, "{n}").is_ok(),
            Some(Lent::Real(f)) => write!(self.text, "{f}").is_ok(),
            Some(Lent::Null | Lent::Bytes(_)) | None => false,
        };
        self.spans.push(present.then_some((start, self.text.len())));
    }

    fn set(&mut self, column: usize, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        if let Some(span) = self.spans.get_mut(column) {
            *span = Some((start, self.text.len()));
        }
    }
}

/// The custom fields listed for `entity` whose names an XML export writes
/// as other element names (`Customer Id` as `Customer_Id`), by that name:
/// an element that is no listed field's own name and one field's alone.
fn xml_named(db: &mut dyn Sql, entity: Entity) -> Result<Vec<(String, String)>> {
    let names: Vec<String> = db
        .query("SELECT name FROM custom_keys WHERE entity = ? ORDER BY name", &[entity.name().into()])?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
        .collect();
    let mut out: Vec<(String, String)> = names
        .iter()
        .map(|n| (crmsync_core::value::element_name(n), n.clone()))
        .filter(|(e, n)| e != n && !names.contains(e))
        .collect();
    let elements: Vec<String> = out.iter().map(|(e, _)| e.clone()).collect();
    out.retain(|(e, _)| elements.iter().filter(|x| *x == e).count() == 1);
    Ok(out)
}

/// Why a row whose company's domain is one company's (`at`) and name
/// another's is refused.
fn domain_of_another(r: &LinkRef, at: &str) -> String {
    format!(
        "the row's company.domain {:?} belongs to {}, another company than the one its company.name {:?} names \
         (one company, two names?)",
        r.domain.as_deref().unwrap_or_default(),
        company_mark(at),
        r.name.as_deref().unwrap_or_default()
    )
}

/// Why a row whose company's id in `system` is one company's (`at`) and
/// name another's is refused.
fn id_of_another(r: &LinkRef, system: &str, at: &str) -> String {
    format!(
        "{system} id {:?} belongs to {}, another company than the one the row's company.name {:?} names \
         (one company, two names?)",
        r.external.as_deref().unwrap_or_default(),
        company_mark(at),
        r.name.as_deref().unwrap_or_default()
    )
}

/// Where a message names company `id`, as `Import::name_marked` writes it
/// (`"Globex Inc" (01J…)`) once the part's references are resolved: the
/// lookup waits until then, as the resolving borrows what it would use.
fn company_mark(id: &str) -> String {
    format!("\u{1}{id}\u{1}")
}

/// A link named by the source: by natural key or by external id.
#[derive(Debug, Clone, Default)]
struct LinkRef {
    name: Option<String>,
    domain: Option<String>,
    email: Option<String>,
    external: Option<String>,
    /// A deal's: the company the row names (its name as matched, its
    /// domain), to tell deals of one name apart.
    within: Option<CompanyMarks>,
    /// Set by `sealed`: the name as companies are matched by, its legal
    /// form, and the reference as one string, to look resolved links up by.
    name_key: Option<String>,
    form: Option<&'static str>,
    id: String,
}

impl LinkRef {
    fn sealed(mut self) -> Self {
        (self.name_key, self.form) = keyed(self.name.as_deref());
        self.id =
            [&self.name, &self.domain, &self.email, &self.external].map(|p| p.as_deref().unwrap_or("")).join("\u{1f}");
        if let Some(CompanyMarks { name_key, form, domain, external }) = &self.within {
            for part in [name_key.as_deref(), *form, domain.as_deref(), external.as_deref()] {
                self.id.push('\u{1e}');
                self.id.push_str(part.unwrap_or(""));
            }
        }
        self
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.domain.is_none() && self.email.is_none() && self.external.is_none()
    }

    /// The fields the reference was given by, under the link's name
    /// (`contact.email`, `company.name;company.domain`), to blame when it
    /// finds nothing.
    fn fields(&self, link: &str) -> String {
        self.given().map(|(k, _)| format!("{link}.{k}")).collect::<Vec<_>>().join(";")
    }

    /// What the reference gives, its external id as an id in `system`
    /// (`name "Acme", erp id "C1"`).
    fn describe(&self, system: Option<&str>) -> String {
        let name = |k: &str| match (k, system) {
            ("external_id", Some(system)) => format!("{system} id"),
            _ => k.to_string(),
        };
        self.given().map(|(k, v)| format!("{} {v:?}", name(k))).collect::<Vec<_>>().join(", ")
    }

    /// The attributes given, by name.
    fn given(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [("name", &self.name), ("domain", &self.domain), ("email", &self.email), ("external_id", &self.external)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_ref()?)))
    }
}

/// The stored record a draft matches, or why it cannot be matched: the
/// field to blame and the reason.
type Matched = std::result::Result<Existing, (String, String)>;

/// A mapped row ready to be matched.
pub struct Draft {
    row: usize,
    /// Per column: `None` not in the source, `Some(None)` given empty.
    values: Vec<Option<Option<String>>>,
    custom: Vec<(String, Option<serde_json::Value>)>,
    /// `custom` as a new record stores it, written by the drafting thread:
    /// on a bulk load, writing it on the store's thread was a sixteenth of
    /// that thread, the one the others wait for.
    custom_json: Option<String>,
    links: Vec<(usize, LinkRef)>,
    /// The free e-mail domain the row gave as its company's, counted once
    /// the row is written (not when read ahead of a stop).
    free_mail: Option<String>,
    contacts: Option<Vec<LinkRef>>,
    key: Option<Vec<String>>,
    external: Option<String>,
    /// The store's id the row names (see `RowIds::own`).
    own: Option<String>,
    /// Hashes of the key, the external id and the own id: rows whose marks
    /// repeat go to separate segments.
    marks: [Option<u64>; 3],
    /// The hash of the source row (see `recognise`), stored with the record.
    source: Option<u64>,
    /// Only the key and links are drafted: the store holds a record made
    /// from a row with this `source` hash (see `recognise`).
    lite: bool,
    /// After its chunk: the values of the record the draft was inserted as,
    /// handed back with it to be freed by the thread that made most of them
    /// (see `Row::spent`).
    written: Vec<Option<String>>,
}

/// What `Drafter::recognised` says of a source row: its hash, and whether
/// the store holds a record made from a row with that hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub hash: u64,
    pub known: bool,
}

/// Maps and drafts a source row in full, for a `lite` draft whose record
/// turned out to differ. (The draft keeps the lite one's source hash.)
pub type Redraft = Box<dyn FnMut(&Record) -> Drafted + Send>;

/// Turns mapped records into drafts: work on the row alone, without the
/// store, so it can run on another thread than the import's.
#[derive(Clone)]
pub struct Drafter {
    entity: Entity,
    columns: &'static [Column],
    key: Vec<String>,
    /// The entity's declared custom fields (none: any custom field goes).
    declared: Vec<CustomField>,
    recognition: Option<Arc<Recognition>>,
    /// The source column each field is read from (with a mapping), for
    /// messages.
    sources: Arc<HashMap<String, String>>,
    /// `Settings::clear_empty`.
    clear_empty: bool,
    /// Where `address.country` is among the columns, if the entity has one.
    country_at: Option<usize>,
    /// Custom fields not declared, listed for the entity, whose names no XML
    /// element can have: (element, name), for `declared_name`.
    xml_named: Arc<Vec<(String, String)>>,
    /// Values declared `date` fields read without their time of day:
    /// field → (count, the first). Shared by the drafting threads.
    times_dropped: Arc<crmsync_core::mapping::TimesDropped>,
    /// Rows whose company.domain is a free e-mail service's, by domain.
    free_mail: Arc<FreeMail>,
}

/// How many rows gave each free e-mail domain (`gmail.com`) as their
/// company's domain, which names no company: shared by the drafting threads.
#[derive(Debug, Default)]
pub struct FreeMail(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl FreeMail {
    fn note(&self, domain: String) {
        if let Ok(mut seen) = self.0.lock() {
            *seen.entry(domain).or_default() += 1;
        }
    }

    /// (domain, rows), by domain.
    pub fn list(&self) -> Vec<(String, u64)> {
        self.0.lock().map(|s| s.clone().into_iter().collect()).unwrap_or_default()
    }
}

/// The phone numbers among `values` written without their country code,
/// read in `country` where they are numbers in use there (as a mapping's
/// `region_from` reads them); others are left as written.
fn phones_in_country<'a>(columns: &[Column], values: impl IntoIterator<Item = Option<&'a mut String>>, country: &str) {
    for (column, written) in columns.iter().zip(values) {
        if column.kind == Kind::Phone
            && let Some(written) = written.filter(|w| !w.starts_with('+'))
            && let Some(number) = crmsync_core::mapping::types::phone::in_country(written, country)
        {
            *written = number;
        }
    }
}

/// A draft's given values, for `phones_in_country`.
fn given(values: &mut [Option<Option<String>>]) -> impl Iterator<Item = Option<&mut String>> {
    values.iter_mut().map(|v| v.as_mut().and_then(Option::as_mut))
}

/// An import in progress.
pub struct Import<'s> {
    db: &'s mut dyn Sql,
    settings: Settings,
    pub batch: String,
    pub counts: Counts,
    /// Source rows a resumed run skips (done before the interruption).
    pub resumed_at: u64,
    /// The digest of those rows as the interrupted run read them (none for
    /// a batch from before digests were kept).
    resumed_digest: Option<u64>,
    /// An earlier run of the same file that did not finish, when not resuming.
    pub interrupted: Option<(String, u64)>,
    ids: Ids,
    columns: &'static [Column],
    in_tx: bool,
    /// Whether the last commit was lazy (see `commit`).
    unflushed: bool,
    pending: usize,
    /// Records written when statistics were last refreshed.
    analyzed: u64,
    commit_every: usize,
    bulk: Option<Bulk>,
    /// The store was readied for the bulk load (`Sql::bulk_load`).
    bulk_store: bool,
    drafter: Drafter,
    /// Links resolved: (target, reference) → record id. Rows of a file name
    /// the same few companies again and again. The answers hold while this
    /// import alone writes: they are kept from one transaction to the next
    /// unless another connection committed in between (or the backend
    /// cannot tell, as on PostgreSQL) or a transaction was rolled back.
    linked: HashMap<Entity, HashMap<String, String>>,
    /// Stored companies whose names give no legal form, each with the form
    /// of the first name that linked to it in this import (`Acme` found by
    /// `Acme BV`): a later `Acme AG` is another company, not that one too.
    bound_forms: HashMap<String, &'static str>,
    /// Entries of `bound_forms` not yet written with a checkpoint (to
    /// `batch_forms`, which `--resume` reads them back from).
    forms_to_keep: Vec<(String, &'static str)>,
    /// Companies references found earlier in this import, moved here from
    /// `linked` when that is cleared: a reference finds the company it
    /// found before for the rest of the import (`Acme` after `Acme AG` was
    /// made too), while the company is there, as if the cache had held.
    decided: HashMap<String, String>,
    /// Company references found since the last checkpoint, written with it
    /// (to `batch_links`) for a `--resume` to find them as this run did:
    /// by name, or by a domain beside a name that a company made later in
    /// the file has too, a reference finds what it found first.
    decided_to_keep: Vec<(String, String)>,
    /// `Sql::others_version` when `linked` was last known to hold.
    linked_version: Option<i64>,
    /// Values of unique fields (`Unique::value`) → the record that has
    /// it (its id's 128 bits): 32 bytes an entry, where the texts took 330
    /// (411 MB for a million records).
    taken: HashMap<u128, u128>,
    /// The fields `taken` holds the values of.
    unique: Vec<Unique>,
    /// Custom field names this import has listed in `custom_keys`.
    custom_keys: FastSet<String>,
    redraft: Option<Redraft>,
    /// Linked records the rows of the last chunk wrote (by their index in
    /// it), when a plan asks for them.
    effects: Option<Vec<(usize, Effect)>>,
    /// What the last segment gave companies it found: (id, field, value),
    /// a domain or an external id.
    amended: Vec<(String, String, String)>,
    /// Under `guard_domains`, during a bulk load (which looks nothing up in
    /// its table), the domains it gave companies: a hash of each, to the
    /// company's id. A later row's company may not take one.
    domains_given: std::collections::HashMap<u64, String, BuildHasherDefault<AsIs>>,
    /// While this import is the only one to have written companies (the
    /// table was empty when it began; see `Fresh`).
    fresh: Option<Fresh>,
    /// Whether to keep `fresh`, if the table is empty at the first
    /// transaction.
    fresh_wanted: bool,
    /// The store's ids that rows of this import have named (their `id`
    /// column), folded to 64 bits (`named_bits`: half the memory of the
    /// whole id, for a file of a million): a record one row names is not
    /// another's by key.
    named: FastSet<u64>,
    /// Records rows whose ids named none matched by key: record → the
    /// row's id (both as 128 bits).
    claimed: HashMap<u128, u128>,
    /// Rows whose `id` is none crmsync gives (another system's, mistyped),
    /// and the first such id: matched by key, given new ids if made.
    pub foreign_ids: (u64, Option<String>),
    /// Rows drafted without an `id` (all of them, for a file without one).
    pub without_id: u64,
    /// Of the ids the rows of the current segment name, those no record has
    /// (nor a deleted one): a new record takes its row's.
    own_free: FastSet<String>,
    /// The calling codes of the store's numbers (see `phone_keys`).
    phone_codes: phone_keys::PhoneCodes,
    /// The records rows have made or changed so far (see `written`).
    written: written::Written,
}

/// The companies an import wrote into a table that was empty when it
/// began, while no other writer has written since, by what links find
/// them by: link lookups are answered here instead of by the database. On
/// PostgreSQL each lookup waited for the COPYs sent ahead of it, once a
/// chunk; a million contacts naming 28,000 companies sent 1,000. Past
/// `FRESH_MAX` companies it is given up, to keep memory small.
#[derive(Default)]
struct Fresh {
    names: HashMap<String, Vec<String>>,
    /// The legal form of each company whose name gives one.
    forms: HashMap<String, &'static str>,
    domains: HashMap<String, Vec<String>>,
    ids: HashMap<String, String>,
    /// Companies made (those given a domain or id are counted once).
    count: usize,
}

const FRESH_MAX: usize = 200_000;

impl Fresh {
    /// Notes company `id`, written with these values.
    fn note(&mut self, id: &str, name: Option<&str>, domain: Option<&str>, external: Option<&str>) {
        if let Some((key, form)) = name.map(model::company_key_and_form) {
            self.names.entry(key).or_default().push(id.to_string());
            if let Some(form) = form {
                self.forms.insert(id.to_string(), form);
            }
        }
        if let Some(d) = domain {
            self.domains.entry(d.to_string()).or_default().push(id.to_string());
        }
        if let Some(x) = external {
            self.ids.insert(x.to_string(), id.to_string());
        }
    }

    /// As `lookup_ids` would find them in the table.
    fn lookup(map: &HashMap<String, Vec<String>>, values: &[String]) -> HashMap<String, Vec<String>> {
        values.iter().filter_map(|v| Some((v.clone(), map.get(v)?.clone()))).collect()
    }
}

/// The import's maps hash with foldhash: they are keyed by the file's
/// strings (keys, references, ids), and SipHash over them was 3% of the
/// store thread on a re-import.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// Sets of the same, likewise.
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// A set of key hashes (xxh3, so already well mixed): they index the table
/// as they are, where SipHash over them was 2% of the store's thread.
pub(crate) type KeyHashes = HashSet<u64, BuildHasherDefault<AsIs>>;
/// Hashes, each with where its record is (see `Recognition`).
pub(crate) type HashRows = std::collections::HashMap<u64, u64, BuildHasherDefault<AsIs>>;

#[derive(Default)]
pub(crate) struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A bulk load into a table that was empty when the import started. Its
/// lookup indexes are dropped with the first rows and built once at the end:
/// sorting once is many times faster than a million random B-tree inserts.
/// Meanwhile a set of key hashes tells new keys from keys written earlier
/// in the load: the first key seen again (a repeated row in the file) ends
/// the bulk load, so the indexes are built and lookups go to the database.
/// Another command that opens the store builds the indexes again too
/// (`Store::restore_indexes`); the import notices and goes on normally.
struct Bulk {
    table: &'static str,
    indexes: Vec<&'static (&'static str, &'static str, &'static str)>,
    started: bool,
    /// Hashes of the keys written (8 bytes a record, so memory stays small).
    keys: KeyHashes,
}

/// A field no two live records may share a value of: a custom field
/// declared `unique`, or a field a mapping marks so.
#[derive(Debug, Clone, PartialEq)]
enum Unique {
    /// A custom field, by its name.
    Custom(String),
    /// A column of the record, by its position.
    Column(usize),
}

impl Unique {
    /// The field as users name it.
    fn field(&self, columns: &[Column]) -> String {
        match self {
            Unique::Custom(name) => format!("custom.{name}"),
            Unique::Column(pos) => columns[*pos].field.to_string(),
        }
    }

    /// A value of the field as `Import::taken` keeps it: 128 bits of hash
    /// of the field and the value's text (an e-mail without case, as keys
    /// compare it).
    fn value(&self, columns: &[Column], text: &str) -> u128 {
        // (The field's name hashed in its parts: no text made per value.)
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        match self {
            Unique::Custom(name) => {
                h.update(b"custom.");
                h.update(name.as_bytes());
            }
            Unique::Column(pos) => h.update(columns[*pos].field.as_bytes()),
        }
        h.update(&[0]);
        match self {
            Unique::Column(pos) if columns[*pos].kind == Kind::Email => h.update(text.to_lowercase().as_bytes()),
            _ => h.update(text.as_bytes()),
        }
        h.digest128()
    }

    /// Its text among a record's values, if it has one.
    fn text_in(&self, values: &[Option<String>], custom: &CustomValues) -> Option<String> {
        match self {
            Unique::Custom(name) => custom.get(name).map(json_text),
            Unique::Column(pos) => values.get(*pos).cloned().flatten(),
        }
    }
}

type CustomValues = BTreeMap<String, serde_json::Value>;

/// The fields of `entity` no two live records may share a value of: its
/// custom fields declared `unique`, and the fields a mapping marks so.
fn unique_fields(entity: Entity, declared: &[CustomField], marked: &[String]) -> Result<Vec<Unique>> {
    let mut out: Vec<Unique> = declared.iter().filter(|f| f.unique).map(|f| Unique::Custom(f.name.clone())).collect();
    for field in marked {
        let u = match field.strip_prefix("custom.") {
            Some(name) => Unique::Custom(name.to_string()),
            None => match model::position(entity, field) {
                Some(pos)
                    if matches!(model::columns(entity)[pos].kind, Kind::Link(_) | Kind::DealContacts | Kind::Tags) =>
                {
                    return Err(Error::Argument(format!(
                        "`{field}` cannot be unique: a link or a list is no value of one record's own"
                    )));
                }
                Some(pos) => Unique::Column(pos),
                // (A link's natural key, `company.name`: many records share one.)
                None => continue,
            },
        };
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

/// A record whose id is not a ULID (none crmsync made), in `Import::taken`.
const NO_ID: u128 = u128::MAX;

fn key_hash<S: AsRef<str>>(key: &[S]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in key.iter().map(AsRef::as_ref) {
        h.update(part.as_bytes());
        h.update(&[0x1f]);
    }
    h.digest()
}

impl Drafter {
    /// The hash of a source row as read, and whether the store holds a
    /// record made from such a row: then only the fields `is_lite` names
    /// need mapping and drafting. `None` without `Import::recognise`.
    pub fn recognised(&self, row: &Record) -> Option<Seen> {
        let r = self.recognition.as_ref()?;
        let hash = r.hash(row);
        Some(Seen { hash, known: r.holds(hash) })
    }

    /// `recognised`, with the resume digest moved on by the row (see
    /// `source_digest`) from the same layout of it.
    pub fn recognised_with_digest(&self, running: &mut u64, row: &Record) -> Option<Seen> {
        let Some(r) = self.recognition.as_ref() else {
            *running = source_digest(*running, row);
            return None;
        };
        let (digest, hash) = crate::recognise::digest_and_hash(*running, r, row);
        *running = digest;
        Some(Seen { hash, known: r.holds(hash) })
    }

    /// Whether a lite draft needs the field `target`: a key field or a link.
    pub fn is_lite(&self, target: &str) -> bool {
        self.key.iter().any(|k| k == target)
            || target == "contacts"
            || target
                .split_once('.')
                .is_some_and(|(link, _)| matches!(link, "company" | "contact" | "deal" | "contacts"))
    }

    /// A message about the link `fields` (`company.name;company.domain`)
    /// that names the columns they were read from, when a mapping named them.
    fn read_from(&self, fields: &str, message: String) -> String {
        let columns: Vec<String> =
            fields.split(';').filter_map(|f| self.sources.get(f)).map(|c| format!("{c:?}")).collect();
        match columns.as_slice() {
            [] => message,
            [one] => format!("{message} (column {one})"),
            several => format!("{message} (columns {})", several.join(", ")),
        }
    }

    /// A message about `field` (`field: …`) naming the column it was read
    /// from, as the mapping's own checks do.
    fn with_column(&self, field: &str, message: String) -> String {
        match (self.sources.get(field), message.strip_prefix(field).and_then(|m| m.strip_prefix(": "))) {
            (Some(column), Some(rest)) => format!("{field} (column {column:?}): {rest}"),
            _ => message,
        }
    }

    /// A mapped record's values, checked against their columns. `seen` is
    /// what `recognised` said of its source row; a known row is drafted
    /// lite, from its key and links only.
    pub fn draft(&self, record: &Record, ids: RowIds, seen: Option<Seen>) -> Drafted {
        self.draft_refusing(record, ids, seen, &[])
    }

    /// `draft` of what a mapping made of a row it refused fields of
    /// (`refused`, missing from `record`): the store's own faults with the
    /// rest, so that one round of fixes mends the row. A key field refused
    /// is named already, not empty.
    pub fn draft_refusing(&self, record: &Record, ids: RowIds, seen: Option<Seen>, refused: &[&str]) -> Drafted {
        let entity = self.entity;
        let lite = seen.is_some_and(|s| s.known);
        let mut d = Draft {
            row: 0,
            values: vec![None; self.columns.len()],
            custom: Vec::new(),
            custom_json: None,
            links: Vec::new(),
            free_mail: None,
            contacts: None,
            key: None,
            external: ids.external.filter(|e| !e.trim().is_empty()).map(|e| e.trim().to_string()),
            // (Ids are ULIDs, which read the same in either case.)
            own: ids.own.filter(|o| !o.trim().is_empty()).map(|o| o.trim().to_ascii_uppercase()),
            marks: [None, None, None],
            source: seen.map(|s| s.hash),
            lite,
            written: Vec::new(),
        };
        let mut errors = Vec::new();
        // Declared date fields given a time of day (noted if the row drafts).
        let mut dropped: Vec<(String, String)> = Vec::new();
        let mut free_mail: Option<String> = None;
        // Whether a phone number was written without its country code.
        let mut national = false;
        // The links a row names, by target, in the order they are written.
        // (An array: a map per row was a fiftieth of the drafting.)
        const TARGETS: [&str; 3] = ["company", "contact", "deal"];
        let mut link_refs: [Option<LinkRef>; 3] = Default::default();
        for (k, v) in record.fields() {
            let name: &str = k;
            if lite && !self.is_lite(name) {
                continue;
            }
            // A NUL (`\u0000` in JSON) fits in no PostgreSQL text, and in
            // a SQLite custom field name it breaks every later export.
            if has_nul(name) || holds_nul(v) {
                let shown = name.replace('\0', "\\u0000");
                let what = if has_nul(name) { "name" } else { "value" };
                errors.push((
                    shown.clone(),
                    format!("{shown}: the field's {what} holds a NUL character (\\u0000), which the store cannot keep"),
                ));
                continue;
            }
            if let Some(custom) = name.strip_prefix("custom.") {
                let custom = self.declared_name(custom);
                if let crmsync_core::Value::Text(t) = v
                    && self.declared.iter().any(|f| f.name == custom && f.kind == custom::CustomType::Date)
                    && crmsync_core::mapping::types::date::time_of_day(t)
                {
                    dropped.push((format!("custom.{custom}"), t.clone()));
                }
                match self.declared_value(custom, model::custom_value(v)) {
                    Ok(value) => d.custom.push((custom.to_string(), value)),
                    Err(message) => errors.push((name.to_string(), message)),
                }
                continue;
            }
            if let Some((target, attr)) = name.split_once('.')
                && matches!(target, "company" | "contact" | "deal" | "contacts")
            {
                let text = v.to_text().trim().to_string();
                let text = (!text.is_empty()).then_some(text);
                if target == "contacts" {
                    // Several contacts: one value per id or email.
                    let list = model::list_items(v);
                    let refs = list
                        .into_iter()
                        .map(|t| match attr {
                            "external_id" => LinkRef { external: Some(t), ..Default::default() }.sealed(),
                            _ => LinkRef { email: Some(t.to_lowercase()), ..Default::default() }.sealed(),
                        })
                        .collect::<Vec<_>>();
                    // Beside a `contacts` column of e-mails (as an export
                    // writes both), each links the contacts it names.
                    d.contacts.get_or_insert_with(Vec::new).extend(refs);
                    continue;
                }
                // The linked entity's limits: a company a row names may be
                // created from it.
                let linked = model::position(entity, target).map(|p| self.columns[p].kind);
                if let (Some(t), Some(Kind::Link(linked))) = (&text, linked)
                    && let Some(max) = model::position(linked, attr).and_then(|p| model::columns(linked)[p].max)
                    && let n = t.chars().count()
                    && n > max
                {
                    let message =
                        format!("{name}: {:?} is not at most {max} characters (this value has {n})", shorten(t));
                    errors.push((name.to_string(), message));
                    continue;
                }
                let text = match (attr, text) {
                    ("domain", Some(t)) if !t.trim().is_empty() => match model::domain(&t) {
                        // People of many companies have one: the row's
                        // company is found by the rest of what it gives.
                        Ok(d) if target == "company" && model::is_free_mail(&d) => {
                            free_mail = Some(d);
                            None
                        }
                        Ok(d) => Some(d),
                        Err(expected) => {
                            errors.push((name.to_string(), format!("{name}: {:?} is not {expected}", shorten(&t))));
                            continue;
                        }
                    },
                    ("domain", _) => None,
                    (_, text) => text,
                };
                let Some(slot) = TARGETS.iter().position(|t| *t == target) else { continue };
                let r = link_refs[slot].get_or_insert_with(LinkRef::default);
                match attr {
                    "name" => r.name = text,
                    "domain" => r.domain = text,
                    "email" => r.email = text.map(|t| t.to_lowercase()),
                    "external_id" => r.external = text,
                    _ => {}
                }
                continue;
            }
            if name == "contacts" {
                d.contacts.get_or_insert_with(Vec::new).extend(
                    model::list_items(v)
                        .into_iter()
                        .map(|t| LinkRef { email: Some(t.to_lowercase()), ..Default::default() }.sealed()),
                );
                continue;
            }
            let Some(pos) = model::position(entity, name) else {
                errors.push((name.to_string(), format!("`{name}` is not a field of {entity}")));
                continue;
            };
            let column = &self.columns[pos];
            match stored(column, v) {
                // A free e-mail service's domain is no company's: not kept
                // (nor a key: which of its companies is not ours to guess).
                Ok(Some(t)) if entity == Entity::Companies && name == "domain" && model::is_free_mail(&t) => {
                    if self.key.iter().any(|k| k == "domain") {
                        errors.push((
                            name.to_string(),
                            format!(
                                "domain: {t:?} is a free e-mail service's domain, which people of many companies \
                                 share, so it is no company's key; key the file by name or id"
                            ),
                        ));
                    }
                    free_mail = Some(t);
                }
                Ok(text) => {
                    national |= column.kind == Kind::Phone && text.as_deref().is_some_and(|t| !t.starts_with('+'));
                    d.values[pos] = Some(text);
                }
                Err(expected) => {
                    errors.push((name.to_string(), format!("{name}: {:?} is not {expected}", shorten(&v.to_text()))))
                }
            }
        }
        // A number written without its country code, in a row that says
        // its country, is read there, as a mapping's `region_from` reads
        // it: `(415) 555-0132` of a US contact is +14155550132, the number
        // the same person has written with its code. One that is no number
        // there is kept as written.
        // (A row without one, read in its record's: see `merge`.)
        if national && let Some(Some(Some(country))) = self.country_at.map(|p| d.values[p].clone()) {
            phones_in_country(self.columns, given(&mut d.values), &country);
        }
        // An activity's deal named by name, beside the company it is with:
        // of deals of one name (a renewal per customer), the one there.
        // (Only then: a contact's company is keyed once, when sealed.)
        if let Some(d) = &free_mail
            && link_refs[0].as_ref().is_some_and(LinkRef::is_empty)
        {
            errors.push((
                "company.domain".to_string(),
                format!(
                    "company.domain: {d:?} is a free e-mail service's domain, which people of many companies share, \
                     so it names no company; give company.name or company.external_id"
                ),
            ));
        }
        let [company, _, deal] = &mut link_refs;
        if let Some(deal) = deal.as_mut().filter(|r| r.name.is_some()) {
            deal.within = company
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| CompanyMarks::of(c.name.as_deref(), c.domain.clone(), c.external.clone()));
        }
        for (target, r) in TARGETS.into_iter().zip(link_refs).filter_map(|(t, r)| Some((t, r?))) {
            if let Some(pos) = model::position(entity, target) {
                // Kept when given empty: with --clear-empty it unlinks.
                d.links.push((pos, if r.is_empty() { r } else { r.sealed() }));
            }
        }
        // An empty key is named with the row's other faults, so that one
        // round of fixes mends the row.
        if !self.key.is_empty() {
            let mut key = Vec::with_capacity(self.key.len());
            for f in &self.key {
                let v = if let Some(c) = f.strip_prefix("custom.") {
                    d.custom.iter().find(|(n, _)| n == c).and_then(|(_, v)| v.as_ref()).map(json_text)
                } else {
                    model::position(entity, f)
                        .and_then(|p| d.values[p].clone().flatten())
                        .map(|v| key_text(entity, f, v))
                };
                match v {
                    Some(v) => key.push(v),
                    None if d.external.is_some() || d.own.is_some() => {
                        key.clear();
                        break;
                    }
                    // (Not empty but refused: named already.)
                    None if errors.iter().any(|(name, _)| name == f) || refused.contains(&f.as_str()) => {
                        key.clear();
                        break;
                    }
                    None => {
                        errors.push((
                            f.clone(),
                            format!(
                                "key field `{f}` is empty: records are matched by {}, so this row cannot be \
                                 told apart from others (choose another key with --key)",
                                self.key.join(" + ")
                            ),
                        ));
                        key.clear();
                        break;
                    }
                }
            }
            if !key.is_empty() {
                d.key = Some(key);
            }
        }
        if !errors.is_empty() {
            let fields: Vec<String> = errors.iter().map(|(f, _)| f.clone()).collect();
            let messages: Vec<String> = errors.into_iter().map(|(f, m)| self.with_column(&f, m)).collect();
            return Err((fields.join(";"), messages.join("; ")));
        }
        for (field, text) in dropped {
            self.times_dropped.note(&field, text);
        }
        d.free_mail = free_mail;
        d.marks = [
            d.key.as_deref().map(key_hash),
            d.external.as_deref().map(|x| key_hash(&[x])),
            d.own.as_deref().map(|x| key_hash(&["", x])),
        ];
        if !d.lite && !d.custom.is_empty() {
            d.custom_json = model::custom_json_of(&mut d.custom, self.clear_empty);
        }
        Ok(d)
    }

    /// The declared field `name` stands for: itself, or the one XML had to
    /// write under another name (`odd name` as the element `odd_name`),
    /// so that an XML export imports again.
    fn declared_name<'n>(&'n self, name: &'n str) -> &'n str {
        if self.declared.iter().any(|f| f.name == name) {
            return name;
        }
        let mut like = self.declared.iter().filter(|f| crmsync_core::value::element_name(&f.name) == name);
        match (like.next(), like.next()) {
            (Some(f), None) => &f.name,
            // (A field not declared that the store has, likewise.)
            _ => self.xml_named.iter().find(|(element, _)| element == name).map_or(name, |(_, n)| n.as_str()),
        }
    }

    /// A custom value checked against its declaration (when the entity has
    /// declared fields), in its type's canonical form.
    fn declared_value(
        &self,
        name: &str,
        value: Option<serde_json::Value>,
    ) -> std::result::Result<Option<serde_json::Value>, String> {
        if self.declared.is_empty() {
            return Ok(value);
        }
        let Some(field) = self.declared.iter().find(|f| f.name == name) else {
            let names: Vec<String> = self.declared.iter().map(|f| format!("custom.{}", f.name)).collect();
            return Err(format!(
                "custom.{name} is not a declared custom field of {} (declared: {}; declare it in the custom fields \
                 file and run `crmsync init --custom FILE`)",
                self.entity,
                names.join(", ")
            ));
        };
        match value {
            Some(v) => match field.check(&v) {
                Ok(mut checked) => {
                    // A decimal given as text ("1e2") is a number now.
                    model::plain_numbers(&mut checked);
                    Ok(Some(checked))
                }
                Err(m) => Err(format!("custom.{name}: {m}")),
            },
            None => Ok(None),
        }
    }
}

/// Batch `b` read the file this import reads (parameters: its full path,
/// then its name): by path, or by name for a batch from before paths were
/// kept, or for standard input.
const SAME_SOURCE: &str = "(b.source_path = ? OR (b.source_path IS NULL AND b.source = ?))";

/// Batch `d` imported the file stopped batch `b` read, after it, and got at
/// least as far: `b` is no longer one to finish (as a refused resume
/// advises, the file was imported whole), though it stays listed, undoable.
const FINISHED_AFTER: &str = "d.status = 'done' AND d.entity = b.entity \
    AND (d.source_path = b.source_path OR (b.source_path IS NULL AND d.source = b.source)) \
    AND d.started_at > b.started_at AND d.rows_read >= b.checkpoint";

impl Store {
    /// Starts a batch, or with `resume` picks up the last unfinished batch
    /// of the same file and entity.
    pub fn import(&mut self, settings: Settings, resume: bool) -> Result<Import<'_>> {
        let db = self.db.as_mut();
        db.hold_writers()?;
        let mut ids = Ids::default();
        let now = model::now_text();
        let columns = model::columns(settings.entity);
        let unfinished = db.query_row(
            &format!(
                "SELECT id, checkpoint, rows_read, inserted, updated, unchanged, rejected, rewritten, settings, source_digest \
                 FROM batches b WHERE status = 'running' AND entity = ? AND {SAME_SOURCE} \
                 AND NOT EXISTS (SELECT 1 FROM batches d WHERE {FINISHED_AFTER}) ORDER BY started_at DESC, id DESC"
            ),
            &[
                settings.entity.name().into(),
                Param::opt(settings.source_path.as_deref()),
                settings.source.as_str().into(),
            ],
        )?;
        // A system written as one records have ids in but for case (`CRM`
        // for `crm`) is a typo: every link by its ids would find nothing.
        // (Looked up by the key's first columns; the systems listed only
        // when no record has an id in this one.)
        if let Some(system) = settings.external_system.as_deref()
            && db
                .query_row(
                    "SELECT 1 FROM external_ids WHERE entity IN ('companies', 'contacts', 'deals', 'activities') \
                     AND system = ? LIMIT 1",
                    &[system.into()],
                )?
                .is_none()
        {
            let known: Vec<String> = db
                .query("SELECT DISTINCT system FROM external_ids", &[])?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
                .collect();
            if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(system)) {
                return Err(Error::Argument(format!(
                    "no record has an id in system `{system}`: did you mean `{k}`? (systems are told apart by case)"
                )));
            }
        }
        let declared = custom::declared(db, settings.entity)?;
        let xml_named = Arc::new(xml_named(db, settings.entity)?);
        let unique = unique_fields(settings.entity, &declared, &settings.unique)?;
        let mut taken = HashMap::default();
        for u in &unique {
            // Loaded once: later rows of this import are checked against
            // the values it writes as well.
            let expr = match u {
                Unique::Custom(name) => db.backend().custom_text("t", name),
                Unique::Column(pos) => format!("t.{}", columns[*pos].column),
            };
            let sql = format!(
                "SELECT t.id, {expr} FROM {} t WHERE t.deleted_at IS NULL AND {expr} IS NOT NULL",
                settings.entity.name()
            );
            db.query_each(&sql, &[], &mut |row| {
                let mut row = row.into_iter();
                if let (Some(id), Some(v)) =
                    (row.next().and_then(Cell::into_text), row.next().and_then(Cell::into_text))
                {
                    taken.insert(u.value(columns, &v), model::ulid_value(&id).unwrap_or(NO_ID));
                }
                Ok(())
            })?;
        }
        let mut import = Import {
            db,
            batch: String::new(),
            counts: Counts::default(),
            resumed_at: 0,
            resumed_digest: None,
            interrupted: None,
            ids: Ids::default(),
            columns,
            in_tx: false,
            unflushed: false,
            pending: 0,
            analyzed: 0,
            commit_every: 10_000,
            bulk: None,
            bulk_store: false,
            linked: HashMap::default(),
            bound_forms: HashMap::default(),
            forms_to_keep: Vec::new(),
            decided: HashMap::default(),
            decided_to_keep: Vec::new(),
            linked_version: None,
            effects: None,
            amended: Vec::new(),
            domains_given: Default::default(),
            fresh: None,
            fresh_wanted: false,
            named: FastSet::default(),
            claimed: HashMap::default(),
            foreign_ids: (0, None),
            without_id: 0,
            own_free: FastSet::default(),
            phone_codes: Default::default(),
            written: Default::default(),
            drafter: Drafter {
                entity: settings.entity,
                columns,
                key: settings.key.clone(),
                declared,
                recognition: None,
                sources: Arc::default(),
                clear_empty: settings.clear_empty,
                country_at: model::position(settings.entity, "address.country"),
                xml_named,
                times_dropped: Arc::default(),
                free_mail: Arc::default(),
            },
            taken,
            unique,
            custom_keys: HashSet::default(),
            redraft: None,
            settings,
        };
        if resume {
            let Some(row) = unfinished else {
                let (source, entity) = (&import.settings.source, import.settings.entity);
                let finished_since = import.db.query_row(
                    &format!(
                        "SELECT b.id, d.id FROM batches b JOIN batches d ON {FINISHED_AFTER} \
                         WHERE b.status = 'running' AND b.entity = ? AND {SAME_SOURCE} \
                         ORDER BY b.started_at DESC, d.started_at DESC"
                    ),
                    &[entity.name().into(), Param::opt(import.settings.source_path.as_deref()), source.as_str().into()],
                )?;
                return Err(Error::Invalid(match finished_since.as_deref() {
                    Some([stopped, done]) => format!(
                        "batch {} stopped, but a later import of {source} into {entity} (batch {}) finished: \
                         there is nothing to resume; run it without --resume",
                        stopped.text().unwrap_or_default(),
                        done.text().unwrap_or_default()
                    ),
                    _ => format!(
                        "there is no interrupted import of {source} into {entity} to resume; run it without --resume"
                    ),
                }));
            };
            let mut row = row.into_iter();
            let mut next = || row.next().unwrap_or(Cell::Null);
            let id = next().into_text().unwrap_or_default();
            let checkpoint = next().int().max(0) as u64;
            let counts: Vec<u64> = (0..6).map(|_| next().int().max(0) as u64).collect();
            let saved = next().into_text().unwrap_or_default();
            let digest = next();
            if let Some(why) = import.settings.unlike(&saved, &id) {
                return Err(Error::Invalid(why));
            }
            import.batch = id;
            import.resumed_at = checkpoint;
            // (Stored as the signed integer both backends keep.)
            import.resumed_digest = (!matches!(digest, Cell::Null)).then(|| digest.int() as u64);
            import.counts = Counts {
                rows_read: counts[0],
                inserted: counts[1],
                updated: counts[2],
                unchanged: counts[3],
                rejected: counts[4],
                rewritten: counts[5],
                ..Counts::default()
            };
            // Companies named without a legal form keep the one the
            // interrupted run bound them to.
            for row in import
                .db
                .query("SELECT company_id, form FROM batch_forms WHERE batch_id = ?", &[import.batch.as_str().into()])?
            {
                let mut row = row.into_iter().map(Cell::into_text);
                if let (Some(id), Some(form)) = (row.next().flatten(), row.next().flatten())
                    && let Some(form) = model::canonical_form(&form)
                {
                    import.bound_forms.insert(id, form);
                }
            }
            // And the companies its references by name found.
            for row in import.db.query(
                "SELECT reference, company_id FROM batch_links WHERE batch_id = ?",
                &[import.batch.as_str().into()],
            )? {
                let mut row = row.into_iter().map(Cell::into_text);
                if let (Some(reference), Some(id)) = (row.next().flatten(), row.next().flatten()) {
                    import.decided.insert(reference, id);
                }
            }
            // Companies the interrupted run created for its rows carry its batch.
            if import.settings.entity != Entity::Companies {
                let batch = [Param::from(import.batch.as_str())];
                import.counts.companies_created =
                    import.db.query_count("SELECT count(*) FROM companies WHERE created_batch = ?", &batch)?;
                import.counts.companies_updated = import.db.query_count(
                    "SELECT count(DISTINCT record_id) FROM audit WHERE batch_id = ? AND entity = 'companies' \
                     AND op = 'update'",
                    &batch,
                )?;
            }
            // The records the interrupted run made or changed.
            import.written_by_batch()?;
        } else {
            import.interrupted =
                unfinished.map(|r| (r[0].text().unwrap_or_default().to_string(), r[1].int().max(0) as u64));
            import.batch = ids.next_id();
            if !import.settings.dry_run {
                let s = &import.settings;
                import.db.execute(
                    "INSERT INTO batches (id, entity, source, source_path, mapping, mode, status, started_at, settings) \
                     VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                    &[
                        import.batch.as_str().into(),
                        s.entity.name().into(),
                        s.source.as_str().into(),
                        Param::opt(s.source_path.as_deref()),
                        Param::opt(s.mapping.as_deref()),
                        s.mode.name().into(),
                        now.as_str().into(),
                        s.fingerprint().into(),
                    ],
                )?;
            }
        }
        import.ids = ids;
        import.db.enforce_checks(false)?;
        let s = &import.settings;
        if !resume && !s.dry_run && s.mode != Mode::Update {
            let table = s.entity.name();
            let empty = import.db.query_row(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?.is_none();
            if empty {
                // An index on `updated_at` stays: a load's keys arrive in
                // order (one time per chunk, rising row ids), so each goes at
                // its right edge, cheaper than sorting them all again after.
                // (A million contacts: 0.2-0.4 s off the first import.)
                let indexes = crate::LOOKUP_INDEXES
                    .iter()
                    .filter(|(t, _, columns)| *t == table && *columns != "updated_at")
                    .collect();
                import.bulk = Some(Bulk { table, indexes, started: false, keys: KeyHashes::default() });
            }
        }
        // (A companies import looks companies up by its key, not by link.
        // Whether the table is empty is asked in the first transaction,
        // where no other writer can add to it unseen.)
        import.fresh_wanted = s.entity != Entity::Companies && s.mode != Mode::Update;
        // A dry run is one transaction, rolled back at the end, so later
        // rows see what earlier rows would have written.
        Ok(import)
    }
}

impl Import<'_> {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What drafts rows for this import, to run elsewhere (`Row::drafted`).
    /// Where declared `date` fields count values read as their day alone,
    /// though they had a time of day.
    pub fn times_dropped(&self) -> Arc<crmsync_core::mapping::TimesDropped> {
        Arc::clone(&self.drafter.times_dropped)
    }

    /// Where rows that gave a free e-mail domain as their company's are
    /// counted.
    pub fn free_mail(&self) -> Arc<FreeMail> {
        Arc::clone(&self.drafter.free_mail)
    }

    pub fn drafter(&self) -> Drafter {
        self.drafter.clone()
    }

    /// Names the source column of each field (`company.name` from
    /// `Company`), for the messages of the rows rejected here.
    pub fn name_sources(&mut self, sources: impl IntoIterator<Item = (String, String)>) {
        self.drafter.sources = Arc::new(sources.into_iter().collect());
    }

    /// Turns on the recognition of rows the store holds as they are (see
    /// `recognise.rs`). `mapping` is what makes rows into records besides
    /// the settings (the mapping file's text, say); it must be the same for
    /// equal rows to make equal records. `redraft` builds, from this
    /// import's drafter, what maps and drafts a row in full on this thread.
    pub fn recognise(&mut self, mapping: &[u8], redraft: impl FnOnce(Drafter) -> Redraft) -> Result<()> {
        let s = &self.settings;
        let declared = format!("{:?} {:?}", self.drafter.declared, self.drafter.xml_named);
        let key = s.key.join("\u{1f}");
        let parts: [&[u8]; 6] = [
            s.entity.name().as_bytes(),
            key.as_bytes(),
            s.external_system.as_deref().unwrap_or("").as_bytes(),
            if s.clear_empty { b"clear empty" } else { b"keep empty" },
            declared.as_bytes(),
            mapping,
        ];
        let recognition = Recognition::load(self.db, s.entity, &parts, |db| shared_keys(db, s.entity, &s.key))?;
        self.drafter.recognition = Some(Arc::new(recognition));
        self.redraft = Some(redraft(self.drafter.clone()));
        Ok(())
    }

    /// Rejects recorded by the batch before a resume, in row order.
    pub fn stored_rejects(&mut self) -> Result<Vec<StoredReject>> {
        let rows = self.db.query(
            "SELECT source_row, field, error, record FROM batch_rejects WHERE batch_id = ? ORDER BY source_row",
            &[self.batch.as_str().into()],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter();
                let row = r.next().map_or(0, |c| c.int().max(0) as u64);
                let field = r.next().and_then(Cell::into_text).unwrap_or_default();
                let error = r.next().and_then(Cell::into_text).unwrap_or_default();
                let record =
                    r.next().and_then(Cell::into_text).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
                StoredReject { row, field, error, record }
            })
            .collect())
    }

    /// Rows per transaction (each commit also moves the checkpoint).
    pub fn commit_every(&mut self, rows: usize) {
        self.commit_every = rows.max(1);
    }

    /// Keeps what each row writes besides its own record, for a plan: see
    /// `take_effects`.
    pub fn track_effects(&mut self) {
        self.effects = Some(Vec::new());
    }

    /// The companies the last chunk's rows created or gave a domain, each
    /// with the index of the row (in the chunk) it is written for.
    pub fn take_effects(&mut self) -> Vec<(usize, Effect)> {
        self.effects.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Imports rows; returns each row's outcome. Rows are committed, with
    /// the checkpoint, every `commit_every` rows: a crash loses at most the
    /// uncommitted ones, which `--resume` reads again.
    pub fn chunk(&mut self, rows: &mut [Row<'_>]) -> Result<Vec<Outcome>> {
        self.chunk_and_commit(rows).inspect_err(|_| self.abandon())
    }

    fn chunk_and_commit(&mut self, rows: &mut [Row<'_>]) -> Result<Vec<Outcome>> {
        if !self.in_tx {
            if !self.bulk_store && self.bulk.as_ref().is_some_and(|b| !b.started) {
                self.db.bulk_load(true)?;
                self.bulk_store = true;
            }
            self.db.begin()?;
            self.in_tx = true;
            // Read as the transaction begins. On SQLite no one else can
            // commit until it ends; on PostgreSQL others can, and a change
            // committed after this is seen from the next transaction on, as
            // it would be by a link looked up earlier in this one.
            let version = self.db.others_version()?;
            // Another writer committed since this import's last transaction
            // (SQLite knows exactly; on PostgreSQL writers take turns).
            let others_wrote =
                self.db.backend() == Backend::Sqlite && self.linked_version.is_some() && version != self.linked_version;
            if version.is_none() || version != self.linked_version {
                self.forget_links();
                // Companies another connection wrote (or deleted) are not
                // in the import's own (`Fresh`): from now on, look them up.
                // (On PostgreSQL any transaction anywhere, an ANALYZE, says
                // "someone wrote": the rows themselves tell whether it was
                // to companies.)
                if self.fresh.is_some() && !(version.is_some() && self.db.only_ours("companies")?) {
                    self.fresh = None;
                }
            }
            if std::mem::take(&mut self.fresh_wanted)
                && self.db.query_row("SELECT 1 FROM companies LIMIT 1", &[])?.is_none()
            {
                self.fresh = Some(Fresh::default());
            }
            self.linked_version = version;
            // Indexes can only be built again between transactions: a
            // writer's transaction holds off the others.
            self.check_bulk(others_wrote)?;
        }
        let outcomes = self.chunk_in_tx(rows)?;
        self.pending += rows.len();
        if !self.settings.dry_run && self.pending >= self.commit_every {
            self.commit(false)?;
        }
        Ok(outcomes)
    }

    /// Commits the open transaction. One that ends the import is `durable`;
    /// the others need not wait for the disk: a crash that loses them loses
    /// their checkpoint with them, and `--resume` reads their rows again.
    fn commit(&mut self, durable: bool) -> Result<()> {
        if self.in_tx {
            self.in_tx = false;
            self.pending = 0;
            if durable {
                self.db.commit()?
            } else {
                self.db.commit_lazily()?
            }
            self.unflushed = !durable;
            self.refresh_statistics()?;
        }
        Ok(())
    }

    /// PostgreSQL plans lookups from table statistics, which autovacuum
    /// refreshes only now and then: tables that grew from empty during this
    /// import would be planned as if they still were. Each time the records
    /// written double, the statistics are brought up to date.
    fn refresh_statistics(&mut self) -> Result<()> {
        let written = self.counts.inserted + self.counts.companies_created;
        if self.db.backend() == Backend::Postgres && written >= 2 * self.analyzed.max(5_000) {
            // The tables lookups read: not the one a bulk load is filling
            // (`end_bulk` analyzes it when its indexes are built).
            let entity = self.settings.entity.name();
            let loading = self.bulk.as_ref().filter(|b| b.started).map(|b| b.table);
            let mut tables = vec![entity];
            if entity != "companies" {
                tables.push("companies");
            }
            tables.extend(side_tables(entity).iter().copied());
            tables.retain(|t| Some(*t) != loading);
            if !tables.is_empty() {
                self.db.batch(&format!("ANALYZE {}", tables.join(", ")))?;
            }
            self.analyzed = written;
        }
        Ok(())
    }

    fn chunk_in_tx(&mut self, rows: &mut [Row<'_>]) -> Result<Vec<Outcome>> {
        let now = model::now_text();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rows.len()];
        let mut drafts = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter_mut().enumerate() {
            if let Some((field, message)) = &row.rejected {
                outcomes[i] = Some(Outcome::Reject { field: field.clone(), message: message.clone() });
                continue;
            }
            let Some(record) = row.record else {
                outcomes[i] = Some(Outcome::Reject { field: String::new(), message: "no record".into() });
                continue;
            };
            let drafted = match row.drafted.take() {
                Some(d) => d,
                None => self.drafter.draft(record, row.ids.clone(), None),
            };
            match drafted {
                Ok(mut d) => {
                    d.row = i;
                    drafts.push(d);
                }
                Err((field, message)) => outcomes[i] = Some(Outcome::Reject { field, message }),
            }
        }
        self.list_custom_keys(&drafts)?;
        self.read_phone_keys(&mut drafts, &mut outcomes)?;
        for d in &drafts {
            match d.own.as_deref().map(|own| (own, model::ulid_value(own))) {
                None => self.without_id += 1,
                Some((_, Some(id))) => {
                    self.named.insert(named_bits(id));
                }
                Some((own, None)) => {
                    self.foreign_ids.0 += 1;
                    self.foreign_ids.1.get_or_insert_with(|| own.to_string());
                }
            }
        }
        // Split where a key repeats, so later rows see earlier rows' writes.
        // (Two keys whose hashes collide split too: harmless.)
        let mut start = 0;
        let mut seen = KeyHashes::default();
        while start < drafts.len() {
            seen.clear();
            let mut end = start;
            while end < drafts.len() {
                // (A row is never split from itself: its key and its
                // external id may be one text, `Renewal 2024`, as marks.)
                let marks = drafts[end].marks.iter().flatten();
                if end > start && marks.clone().any(|m| seen.contains(m)) {
                    break;
                }
                seen.extend(marks.copied());
                end += 1;
            }
            for (row, outcome) in self.segment(&mut drafts[start..end], rows, &now)? {
                outcomes[row] = Some(outcome);
            }
            start = end;
        }
        // Handed back, spent, for the caller to free where they were made.
        for d in drafts {
            let row = d.row;
            rows[row].spent = Some(d);
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Reject { field: String::new(), message: "not processed".into() }))
            .collect();
        self.record_chunk(rows, &outcomes)?;
        Ok(outcomes)
    }

    /// In the first transaction of a bulk load, drops the table's lookup
    /// indexes (if it is still empty); in later ones, ends the bulk load when
    /// another command has built them again.
    fn check_bulk(&mut self, others_wrote: bool) -> Result<()> {
        let Some(bulk) = &self.bulk else { return Ok(()) };
        // Rows another import wrote meanwhile (one that started on the
        // empty table too) are in no key set of this load: look them up.
        if bulk.started && others_wrote {
            return self.end_bulk_midway();
        }
        if !bulk.started {
            let table = bulk.table;
            if self.db.query_row(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?.is_some() {
                self.bulk = None;
                return Ok(());
            }
            crate::drop_indexes(self.db, &bulk.indexes)?;
            if let Some(b) = &mut self.bulk {
                b.started = true;
            }
            return Ok(());
        }
        let have = crate::Store::index_names(self.db)?;
        if bulk.indexes.iter().any(|(_, name, _)| have.iter().any(|h| h == name)) {
            self.end_bulk_midway()?;
        }
        Ok(())
    }

    /// Ends a bulk load before the file does: rows from here on are looked
    /// up, and told apart when they change what the load's rows made.
    fn end_bulk_midway(&mut self) -> Result<()> {
        self.end_bulk()?;
        self.written_by_batch()
    }

    /// Builds the indexes a bulk load dropped, in the current transaction.
    fn end_bulk(&mut self) -> Result<()> {
        if let Some(Bulk { started: true, indexes, keys, table }) = self.bulk.take() {
            drop(keys);
            crate::create_indexes(self.db, &indexes)?;
            if self.db.backend() == Backend::Postgres {
                // Lookups in the table start now: plan them from its real
                // size, and the tables written beside it (an export of deals
                // after a bulk load read their contacts row by row).
                let tables: Vec<&str> = std::iter::once(table).chain(side_tables(table).iter().copied()).collect();
                self.db.batch(&format!("ANALYZE {}", tables.join(", ")))?;
            }
        }
        Ok(())
    }

    /// Counts, checkpoint and rejects of a chunk, in its transaction.
    fn record_chunk(&mut self, rows: &[Row<'_>], outcomes: &[Outcome]) -> Result<()> {
        // A bulk load's table was empty: what a row matches, an earlier made.
        let bulk = self.bulk.as_ref().is_some_and(|b| b.started);
        for (row, outcome) in rows.iter().zip(outcomes) {
            self.counts.rows_read += 1;
            match outcome {
                Outcome::Insert { id } => {
                    self.counts.inserted += 1;
                    if !bulk {
                        self.written.insert(id);
                    }
                }
                Outcome::Update { id, .. } => {
                    self.counts.updated += 1;
                    if self.written.insert(id) || bulk {
                        let c = &mut self.counts;
                        c.rewritten += 1;
                        if c.rewritten_rows.len() < REWRITTEN_LISTED {
                            c.rewritten_rows.push((row.source.row, id.clone()));
                        }
                    }
                }
                Outcome::Unchanged { .. } => self.counts.unchanged += 1,
                Outcome::Reject { field, message } => {
                    self.counts.rejected += 1;
                    if !self.settings.dry_run {
                        let mut record: serde_json::Map<String, serde_json::Value> =
                            row.source.fields().iter().map(|(k, v)| (k.to_string(), v.to_json())).collect();
                        // A row fed back from a rejects file: the row it was first read from.
                        if row.source.origin > 0 {
                            record.insert("_row".into(), row.source.origin.into());
                        }
                        self.db.execute(
                            "INSERT INTO batch_rejects (batch_id, source_row, field, error, record) VALUES (?, ?, ?, ?, ?) \
                             ON CONFLICT (batch_id, source_row) DO NOTHING",
                            &[
                                self.batch.as_str().into(),
                                Param::Int(row.source.row as i64),
                                field.as_str().into(),
                                message.as_str().into(),
                                serde_json::Value::Object(record).to_string().into(),
                            ],
                        )?;
                    }
                }
            }
        }
        if self.settings.dry_run {
            return Ok(());
        }
        let forms = std::mem::take(&mut self.forms_to_keep);
        kept_for_resume(self.db, &self.batch, "batch_forms", ["company_id", "form"], &forms)?;
        // And for the imports after this one: `Acme`, found by `Acme BV`,
        // is `Acme BV` still (`undo` of this batch forgets it).
        for (id, form) in &forms {
            self.db.execute_later(
                "UPDATE companies SET learned_form = ? WHERE id = ? AND name_form IS NULL AND learned_form IS NULL",
                &[(*form).into(), id.as_str().into()],
            )?;
        }
        let decided = std::mem::take(&mut self.decided_to_keep);
        kept_for_resume(self.db, &self.batch, "batch_links", ["reference", "company_id"], &decided)?;
        let c = &self.counts;
        let digest = rows.last().map_or(Param::Null, |r| Param::Int(r.digest as i64));
        self.db.execute_later(
            "UPDATE batches SET checkpoint = ?, rows_read = ?, inserted = ?, updated = ?, unchanged = ?, rejected = ?, \
             rewritten = ?, source_digest = COALESCE(?, source_digest) WHERE id = ?",
            &[
                // Every row counted so far is committed with this chunk.
                Param::Int(c.rows_read as i64),
                Param::Int(c.rows_read as i64),
                Param::Int(c.inserted as i64),
                Param::Int(c.updated as i64),
                Param::Int(c.unchanged as i64),
                Param::Int(c.rejected as i64),
                Param::Int(c.rewritten as i64),
                digest,
                self.batch.as_str().into(),
            ],
        )?;
        Ok(())
    }

    /// On a resumed run, refuses a source whose rows up to the checkpoint
    /// are not those the interrupted run committed: `read` is their digest
    /// as read now and the row the last of them is on (`None`: the source
    /// ends before the checkpoint). Skipping them unread would lose a row
    /// fixed or added there since.
    pub fn check_resumed(&self, read: Option<(u64, u64)>) -> Result<()> {
        let Some(expected) = self.resumed_digest else {
            return Ok(());
        };
        let (what, upto) = match read {
            Some((digest, _)) if digest == expected => return Ok(()),
            Some((_, row)) => (
                "are not the rows it read (a row changed, added or removed since)",
                format!("its first {} records (up to row {row})", self.resumed_at),
            ),
            None => ("are not all there: the file is shorter now", format!("its first {} records", self.resumed_at)),
        };
        Err(Error::SourceChanged(format!(
            "{source} changed since batch {batch} stopped: {upto}, which that import committed, {what}, and \
             --resume would skip them unread. Import the file as it is now without --resume (rows already stored \
             count as unchanged; batch {batch} stays as it stopped), or `crmsync undo {batch}` first",
            source = self.settings.source,
            batch = self.batch,
        )))
    }

    /// Matches, links and writes rows whose keys are all distinct.
    /// (A draft's values are moved into the record written: spent after.)
    fn segment(&mut self, drafts: &mut [Draft], rows: &[Row<'_>], now: &str) -> Result<Vec<(usize, Outcome)>> {
        let entity = self.settings.entity;
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts.iter_mut() {
            if let Some(domain) = d.free_mail.take() {
                self.drafter.free_mail.note(domain);
            }
        }
        let mut found = self.find_existing(drafts)?;
        // Rows rejected whatever their links say: by what matching found,
        // or by the mode. Their links are not looked for: what they name
        // would bind the rows written (a company's id, a domain).
        let mode = self.settings.mode;
        let doomed: Vec<bool> = found
            .iter()
            .map(|f| match f {
                Some(Err(_)) => true,
                Some(Ok(_)) => mode == Mode::Insert,
                None => mode == Mode::Update,
            })
            .collect();
        let mut links = self.resolve_links(drafts, &doomed)?;
        // The external ids matched records have now, to tell a new one
        // from theirs (and to keep the one replaced, for undo).
        if let Some(system) = self.settings.external_system.clone() {
            let matched: Vec<&str> = drafts
                .iter()
                .zip(&found)
                .filter(|(d, _)| d.external.is_some())
                .filter_map(|(_, f)| Some(f.as_ref()?.as_ref().ok()?.id.as_str()))
                .collect();
            links.external_of = external_pairs(self.db, entity, &system, "record_id", &matched)?;
        }
        // New companies some written record links to.
        let pending: FastSet<&str> = links.new_companies.iter().map(|(id, ..)| id.as_str()).collect();
        let mut linked_new: FastSet<String> = FastSet::default();
        // (row, company) for each new company, the row it is created for.
        let mut created_for: Vec<(usize, String)> = Vec::new();
        let mut inserts: Vec<NewRecord> = Vec::new();
        // The draft each insert was made from.
        let mut inserted_from: Vec<usize> = Vec::new();
        let mut audit: Vec<AuditRow> = Vec::new();
        // (record, its id in the system) for records found that take an id,
        // and for the records made.
        let mut new_external: Vec<(String, String)> = Vec::new();
        let mut made_external: Vec<(String, String)> = Vec::new();
        // Unchanged records to give the hash of the row they equal.
        let mut adopted: Vec<(String, u64)> = Vec::new();
        let mut domains = self.guarded_domains(drafts)?;
        let both_lists = self.contacts_in_both_lists(drafts, &links)?;
        for (n, d) in drafts.iter_mut().enumerate() {
            let mut existing = match found[n].take() {
                Some(Ok(e)) => Some(e),
                Some(Err((field, message))) => {
                    out.push((d.row, Outcome::Reject { field, message }));
                    continue;
                }
                None => None,
            };
            // Links first: a row whose link cannot be made is rejected whole.
            let mut link_values: Vec<(usize, Option<String>)> = Vec::new();
            let mut failed = None;
            for (pos, r) in d.links.iter().filter(|_| !doomed[n]) {
                if r.is_empty() {
                    link_values.push((*pos, None));
                    continue;
                }
                let resolved = links.one.get(pos).and_then(|m| m.get(&r.id));
                // A record linked to a company its row's name fits keeps
                // that link, though the name finds another now (`Globex`
                // of `Globex Inc`, where a later row made `Globex`) or
                // several (`Orbit`, after `Orbit BV` was made): the file
                // imported again is unchanged, in parts as in one.
                let linked = existing.as_ref().and_then(|e| e.value(*pos));
                if let (Some(found), Some(linked)) = (resolved, linked)
                    && !matches!(found, Ok(id) if id == linked)
                    && self.name_fits(r, *pos, linked, found.is_err())?
                {
                    link_values.push((*pos, Some(linked.to_string())));
                    continue;
                }
                match resolved {
                    Some(Ok(id)) => link_values.push((*pos, Some(id.clone()))),
                    Some(Err(message)) => failed = Some((r.fields(self.columns[*pos].field), message.clone())),
                    // (Not looked for, as another link of the row failed.)
                    None => {
                        failed =
                            failed.or_else(|| Some((r.fields(self.columns[*pos].field), "link not resolved".into())))
                    }
                }
            }
            if let Some(list) = d.contacts.as_ref().filter(|_| !doomed[n]) {
                let mut ids = Vec::new();
                for r in list {
                    // Blamed on the field it was given by, so the message
                    // names its column.
                    let field = if r.external.is_some() { "contacts.external_id" } else { "contacts" };
                    match links.contacts.get(&r.id) {
                        Some(Ok(id)) => ids.push(id.clone()),
                        Some(Err(message)) => failed = Some((field.to_string(), message.clone())),
                        None => failed = Some((field.to_string(), "link not resolved".to_string())),
                    }
                }
                if failed.is_none()
                    && let Some(message) = both_lists.as_ref().and_then(|b| b.disagree(list, &links.contacts))
                {
                    failed = Some(("contacts;contacts.external_id".to_string(), message));
                }
                ids.sort();
                ids.dedup();
                if let Some(pos) = model::position(entity, "contacts") {
                    link_values.push((pos, (!ids.is_empty()).then(|| ids.join(","))));
                }
            }
            if let Some((field, message)) = failed {
                let message = self.drafter.read_from(&field, message);
                out.push((d.row, Outcome::Reject { field, message }));
                continue;
            }
            if d.lite {
                let mode = self.settings.mode;
                match &existing {
                    // Rejected for its key alone, below.
                    Some(_) if mode == Mode::Insert => {}
                    None if mode == Mode::Update => {}
                    Some(e)
                        if e.source.is_some()
                            && e.source == d.source
                            && links_unchanged(e, &link_values, self.settings.clear_empty)
                            // An external id the record does not have yet is a change.
                            && d.external.as_ref().is_none_or(|x| links.external_of.get(&e.id) == Some(x)) =>
                    {
                        out.push((d.row, Outcome::Unchanged { id: e.id.clone() }));
                        continue;
                    }
                    // Written since, or gone: drafted in full after all.
                    _ => {
                        let Some(redraft) = self.redraft.as_mut() else {
                            return Err(Error::Invalid("a recognised row cannot be drafted in full".into()));
                        };
                        match redraft(rows[d.row].source) {
                            Ok(mut full) => {
                                (full.row, full.source) = (d.row, d.source);
                                *d = full;
                            }
                            Err((field, message)) => {
                                out.push((d.row, Outcome::Reject { field, message }));
                                continue;
                            }
                        }
                        if let Some(e) = existing.take_if(|e| e.partial) {
                            existing = load_by(self.db, entity, "id", &[e.id], None)?.pop();
                        }
                    }
                }
            }
            // (A record named by its id, here or in the other system, is that one.)
            let by_id = |e: &Existing| {
                d.own.as_ref() == Some(&e.id)
                    || d.external.is_some() && links.external_of.get(&e.id) == d.external.as_ref()
            };
            if domains.is_some() && existing.as_ref().is_some_and(|e| !by_id(e) && at_another_domain(d, e)) {
                if self.settings.mode == Mode::Update {
                    let at = model::position(Entity::Companies, "domain")
                        .and_then(|p| existing.as_ref()?.value(p))
                        .unwrap_or_default();
                    let message = format!(
                        "the company of that name is at {at}: the row is another company of that name, which update \
                         mode does not create (use --mode upsert)"
                    );
                    out.push((d.row, Outcome::Reject { field: "domain".to_string(), message }));
                    continue;
                }
                existing = None;
            }
            let conflict = domains
                .as_ref()
                .and_then(|held| domain_conflict(held, d, existing.as_ref(), existing.as_ref().is_some_and(by_id)));
            if let Some(message) = conflict {
                out.push((d.row, Outcome::Reject { field: "domain".to_string(), message }));
                continue;
            }
            match existing {
                Some(e) if self.settings.mode == Mode::Insert => {
                    // Named by what matched: the other system's id, or the key.
                    let what = match (&d.external, &self.settings.external_system) {
                        _ if d.own.as_ref() == Some(&e.id) => format!("id {:?}", e.id),
                        (Some(x), Some(system)) if links.external_of.get(&e.id) == Some(x) => {
                            format!("{system} id {x:?}")
                        }
                        _ => describe_key(&self.settings.key, d),
                    };
                    out.push((
                        d.row,
                        Outcome::Reject {
                            field: self.settings.key.join(";"),
                            message: format!(
                                "{} {} with {what} already exists (insert mode adds new records only; use --mode upsert)",
                                if entity == Entity::Activities { "an" } else { "a" },
                                model::singular(entity)
                            ),
                        },
                    ));
                }
                Some(e) if d.external.is_none() && self.unchanged(&e, d, &link_values) => {
                    if let Some(source) = d.source.filter(|s| e.source != Some(*s)) {
                        adopted.push((e.id.clone(), source));
                    }
                    out.push((d.row, Outcome::Unchanged { id: e.id }));
                }
                Some(e) => {
                    let before = e.to_values();
                    let mut values = before.clone();
                    self.merge(&mut values, d, &link_values);
                    let mut changes = Vec::new();
                    for (i, c) in self.columns.iter().enumerate() {
                        if values[i] == before[i] {
                            continue;
                        }
                        if c.kind == Kind::Custom {
                            let old = model::parse_custom(before[i].as_deref());
                            let new = model::parse_custom(values[i].as_deref());
                            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
                            for k in keys {
                                if old.get(k) != new.get(k) {
                                    changes.push(Change {
                                        field: format!("custom.{k}"),
                                        // JSON, so that undo restores numbers as numbers.
                                        before: old.get(k).map(ToString::to_string),
                                        after: new.get(k).map(ToString::to_string),
                                        ..Default::default()
                                    });
                                }
                            }
                        } else {
                            changes.push(Change {
                                field: c.field.to_string(),
                                before: before[i].clone(),
                                after: values[i].clone(),
                                ..Default::default()
                            });
                        }
                    }
                    let attach = match (&self.settings.external_system, &d.external) {
                        (Some(system), Some(x)) if links.external_of.get(&e.id).is_none_or(|have| have != x) => {
                            Some((system.clone(), x.clone()))
                        }
                        _ => None,
                    };
                    let hash = content_hash(&values);
                    if Some(hash) == e.hash && changes.is_empty() && attach.is_none() {
                        if let Some(source) = d.source.filter(|s| e.source != Some(*s)) {
                            adopted.push((e.id.clone(), source));
                        }
                        out.push((d.row, Outcome::Unchanged { id: e.id }));
                        continue;
                    }
                    if let Some((field, message)) = self.custom_problem(Some(&before), &values, Some(&e.id)) {
                        out.push((d.row, Outcome::Reject { field, message }));
                        continue;
                    }
                    if let Some((system, x)) = attach {
                        let before = links.external_of.get(&e.id).cloned();
                        changes.push(Change {
                            field: format!("external_id.{system}"),
                            before,
                            after: Some(x.clone()),
                            ..Default::default()
                        });
                        new_external.push((e.id.clone(), x));
                    }
                    self.claim_unique(Some(&before), &values, &e.id);
                    update_record(self.db, entity, &e.id, (&before, &values), (&hash, d.source), now)?;
                    for id in linking_new(&pending, &link_values, &mut linked_new) {
                        created_for.push((d.row, id));
                    }
                    self.remember_key(d);
                    for c in &changes {
                        audit.push(AuditRow::change(&e.id, "update", &c.field, c.before.clone(), c.after.clone()));
                    }
                    if let Some(held) = &mut domains {
                        self.give_domain(&e.id, &values);
                        Holder::note(held, &e.id, &values);
                    }
                    out.push((d.row, Outcome::Update { id: e.id, changes }));
                }
                None if self.settings.mode == Mode::Update => {
                    // Matched by its id first, then by its key: both named.
                    let system = self.settings.external_system.as_deref().unwrap_or("external");
                    let what = match (&d.key, &d.external) {
                        (None, Some(x)) => format!("{system} id {x:?}"),
                        (Some(_), Some(x)) => format!("{system} id {x:?} or {}", describe_key(&self.settings.key, d)),
                        _ => describe_key(&self.settings.key, d),
                    };
                    out.push((
                        d.row,
                        Outcome::Reject {
                            field: self.settings.key.join(";"),
                            message: format!(
                                "no {entity} with {what} (update mode changes existing records only; use --mode upsert)"
                            ),
                        },
                    ));
                }
                // Its id named no record and is taken (by a deleted one), and
                // it has no key to be told apart by.
                None if d.key.is_none()
                    && d.external.is_none()
                    && !self.settings.key.is_empty()
                    && !d.own.as_ref().is_some_and(|o| self.own_free.contains(o)) =>
                {
                    let key = self.settings.key.join(" + ");
                    out.push((
                        d.row,
                        Outcome::Reject {
                            field: self.settings.key.join(";"),
                            message: format!(
                                "key field `{key}` is empty and id {:?} names no {}: this row cannot be told apart \
                                 from others",
                                d.own.as_deref().unwrap_or_default(),
                                model::singular(entity)
                            ),
                        },
                    ));
                }
                None => {
                    let mut values = vec![None; self.columns.len()];
                    self.merge(&mut values, d, &link_values);
                    if let Some(missing) = self.required_missing(&values) {
                        out.push((
                            d.row,
                            Outcome::Reject {
                                field: missing.to_string(),
                                message: self.drafter.read_from(
                                    missing,
                                    format!("`{missing}` is required for a new record of {entity}"),
                                ),
                            },
                        ));
                        continue;
                    }
                    if let Some((field, message)) = self.custom_problem(None, &values, None) {
                        out.push((d.row, Outcome::Reject { field, message }));
                        continue;
                    }
                    let id = match d.own.as_ref().filter(|o| self.own_free.remove(o.as_str())) {
                        Some(own) => own.clone(),
                        None => self.ids.next_id(),
                    };
                    self.claim_unique(None, &values, &id);
                    if let Some(x) = &d.external {
                        made_external.push((id.clone(), x.clone()));
                    }
                    self.remember_key(d);
                    if let Some(held) = &mut domains {
                        self.give_domain(&id, &values);
                        Holder::note(held, &id, &values);
                    }
                    inserts.push((id.clone(), values, d.source));
                    inserted_from.push(n);
                    for id in linking_new(&pending, &link_values, &mut linked_new) {
                        created_for.push((d.row, id));
                    }
                    out.push((d.row, Outcome::Insert { id }));
                }
            }
        }
        // A domain or id for a company found: given by a row written, not
        // by one rejected.
        let (fill, give) = std::mem::take(&mut links.amend);
        if !fill.is_empty() || !give.is_empty() {
            let written: FastSet<usize> =
                out.iter().filter(|(_, o)| !matches!(o, Outcome::Reject { .. })).map(|(row, _)| *row).collect();
            let mut given: FastSet<(&str, &str)> = FastSet::default();
            for d in drafts.iter().filter(|d| written.contains(&d.row)) {
                for (pos, r) in &d.links {
                    if let Some(Ok(id)) = links.one.get(pos).and_then(|m| m.get(&r.id)) {
                        given.extend([&r.domain, &r.external].into_iter().flatten().map(|v| (id.as_str(), v.as_str())));
                    }
                }
            }
            let by_written = |(id, v): &(String, String)| given.contains(&(id.as_str(), v.as_str()));
            let fill: Vec<_> = fill.into_iter().filter(by_written).collect();
            let give: Vec<_> = give.into_iter().filter(by_written).collect();
            if !fill.is_empty() || !give.is_empty() {
                self.amend_found(fill, give, now)?;
            }
        }
        if let Some(effects) = &mut self.effects {
            let shown = |values: &[Option<String>], field: &str| {
                let at = model::position(Entity::Companies, field)?;
                let value = values.get(at).cloned().flatten()?;
                Some(Change { field: field.to_string(), before: None, after: Some(value), ..Default::default() })
            };
            for (row, id) in &created_for {
                let Some((_, values, external)) = links.new_companies.iter().find(|(c, ..)| c == id) else { continue };
                let mut changes: Vec<Change> =
                    ["name", "domain"].into_iter().filter_map(|f| shown(values, f)).collect();
                if let (Some(system), Some(x)) = (&self.settings.external_system, external) {
                    changes.push(Change {
                        field: format!("external_id.{system}"),
                        before: None,
                        after: Some(x.clone()),
                        ..Default::default()
                    });
                }
                effects.push((*row, Effect { entity: Entity::Companies, id: id.clone(), created: true, changes }));
            }
            // A domain or id given to a company found by name: for the
            // first row that gives it.
            for (id, field, value) in std::mem::take(&mut self.amended) {
                let gives = |r: &LinkRef| match field.as_str() {
                    "domain" => r.domain.as_ref() == Some(&value),
                    _ => r.external.as_ref() == Some(&value),
                };
                let Some(d) = drafts.iter().find(|d| d.links.iter().any(|(_, r)| gives(r))) else { continue };
                let change = Change { field, before: None, after: Some(value), ..Default::default() };
                match effects.last_mut() {
                    Some((row, e)) if *row == d.row && e.id == id && !e.created => e.changes.push(change),
                    _ => effects
                        .push((d.row, Effect { entity: Entity::Companies, id, created: false, changes: vec![change] })),
                }
            }
        }
        // Created together, before the records that link to them; a row that
        // was rejected leaves no company behind.
        let (companies, ids): (Vec<_>, Vec<_>) = std::mem::take(&mut links.new_companies)
            .into_iter()
            .filter(|(id, ..)| linked_new.contains(id))
            .map(|(id, values, external)| ((id.clone(), values, None), (id, external)))
            .unzip();
        if !companies.is_empty() {
            insert_records(self.db, Entity::Companies, &self.batch, &companies, now)?;
            if let Some(fresh) = &mut self.fresh {
                for ((id, values, _), (_, external)) in companies.iter().zip(&ids) {
                    let name = values.first().and_then(Option::as_deref);
                    fresh.note(id, name, values.get(1).and_then(Option::as_deref), external.as_deref());
                }
                fresh.count += companies.len();
            }
            if self.fresh.as_ref().is_some_and(|f| f.count > FRESH_MAX) {
                self.fresh = None;
            }
            // A company made from a row that gives its id (an export's
            // `company.external_id.erp`) has that id, as the row says.
            if let Some(system) = &self.settings.external_system {
                let mut params: Vec<Arg<'_>> = Vec::new();
                for (id, external) in ids.iter().filter_map(|(id, x)| Some((id, x.as_ref()?))) {
                    params.extend([Arg::Text("companies"), Arg::Text(system), Arg::Text(external), Arg::Text(id)]);
                }
                if !params.is_empty() {
                    self.db.insert_many("external_ids", &["entity", "system", "external_id", "record_id"], &params)?;
                }
            }
            self.counts.companies_created += companies.len() as u64;
            let known = self.linked.entry(Entity::Companies).or_default();
            for (reference, resolved) in links.one.values().flatten() {
                if let Ok(id) = resolved
                    && linked_new.contains(id)
                {
                    known.insert(reference.clone(), id.clone());
                    self.decided_to_keep.push((reference.clone(), id.clone()));
                }
            }
        }
        insert_records(self.db, entity, &self.batch, &inserts, now)?;
        for ((_, values, _), n) in inserts.into_iter().zip(inserted_from) {
            drafts[n].written = values;
        }
        if let Some(system) = self.settings.external_system.clone() {
            for (id, x) in &new_external {
                self.db.execute(
                    "DELETE FROM external_ids WHERE entity = ? AND system = ? AND record_id = ?",
                    &[entity.name().into(), system.as_str().into(), id.as_str().into()],
                )?;
                self.db.execute(
                    "INSERT INTO external_ids (entity, system, external_id, record_id) VALUES (?, ?, ?, ?)",
                    &[entity.name().into(), system.as_str().into(), x.as_str().into(), id.as_str().into()],
                )?;
            }
            // A record just made has no id to replace: its ids go in as one
            // bulk insert (two statements a row took twice the import's time).
            let mut params: Vec<Arg<'_>> = Vec::with_capacity(made_external.len() * 4);
            for (id, x) in &made_external {
                params.extend([Arg::Text(entity.name()), Arg::Text(&system), Arg::Text(x), Arg::Text(id)]);
            }
            if !params.is_empty() {
                self.db.insert_many("external_ids", &["entity", "system", "external_id", "record_id"], &params)?;
            }
        }
        self.write_audit(entity, &audit, now)?;
        if !self.settings.dry_run {
            adopt_sources(self.db, entity, &adopted)?;
        }
        if self.effects.is_some() {
            self.label_links(&mut out)?;
        }
        Ok(out)
    }

    /// For a plan, names the records a changed link goes from and to: a
    /// bare id tells a reviewer nothing. (After the segment's writes, so
    /// that a company made for a row has its name too.)
    fn label_links(&mut self, out: &mut [(usize, Outcome)]) -> Result<()> {
        let entity = self.settings.entity;
        let mut labels = crate::batches::LinkLabels::default();
        for (_, outcome) in out.iter_mut() {
            let Outcome::Update { changes, .. } = outcome else { continue };
            for c in changes.iter_mut() {
                (c.before_label, c.after_label) =
                    labels.pair(self.db, entity, &c.field, c.before.as_deref(), c.after.as_deref())?;
            }
        }
        Ok(())
    }

    /// Records found by their id whose key the row changes to one another
    /// record has: the row is rejected, as two records would share a key.
    fn keys_taken(
        &mut self,
        drafts: &[Draft],
        found: &mut [Option<Matched>],
        named_by: &dyn Fn(usize) -> Option<String>,
    ) -> Result<()> {
        let entity = self.settings.entity;
        let key = self.settings.key.clone();
        let Some(first) = key.first() else { return Ok(()) };
        let positions: Vec<Option<usize>> = key.iter().map(|f| model::position(entity, f)).collect();
        let custom_pos = model::position(entity, "custom");
        let key_of = |e: &Existing| -> Option<Vec<String>> {
            key.iter().zip(&positions).map(|(f, pos)| key_value(entity, e, f, *pos, custom_pos)).collect()
        };
        let moved: Vec<usize> = (0..drafts.len())
            .filter(|&n| match (&found[n], &drafts[n].key) {
                (Some(Ok(e)), Some(k)) => named_by(n).is_some() && key_of(e).as_ref() != Some(k),
                _ => false,
            })
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        let wanted: Vec<String> = moved.iter().filter_map(|&n| Some(drafts[n].key.as_ref()?[0].clone())).collect();
        let holders = load_by(self.db, entity, first, &wanted, None)?;
        let forms = forms_of(self.db, entity, &key, &holders)?;
        // Records whose key an earlier row of these moved away, in file
        // order: a later row may take it, as it would a chunk later.
        let mut freed: FastSet<String> = FastSet::default();
        for n in moved {
            let d = &drafts[n];
            let Some(Ok(e)) = &found[n] else { continue };
            let taken = holders.iter().find(|h| {
                h.id != e.id && key_of(h) == d.key && forms_agree(entity, &key, d, h, &forms) && !freed.contains(&h.id)
            });
            if taken.is_none() {
                freed.insert(e.id.clone());
            }
            if let Some(other) = taken {
                let one = model::singular(entity);
                let message = format!(
                    "{one} {} already has {}, and {} names {one} {}: two records would share the key",
                    other.id,
                    describe_key(&key, d),
                    named_by(n).unwrap_or_default(),
                    e.id
                );
                found[n] = Some(Err((key.join(";"), message)));
            }
        }
        Ok(())
    }

    /// With `guard_domains`, the companies (by domain) holding the domains
    /// the drafts give; `None` without the guard.
    fn guarded_domains(&mut self, drafts: &[Draft]) -> Result<Option<HashMap<String, Holder>>> {
        if !self.settings.guard_domains {
            return Ok(None);
        }
        let (Some(name), Some(domain)) =
            (model::position(Entity::Companies, "name"), model::position(Entity::Companies, "domain"))
        else {
            return Ok(None);
        };
        let wanted: Vec<String> =
            drafts.iter().filter_map(|d| d.values.get(domain).cloned().flatten().flatten()).collect();
        if !self.bulk.as_ref().is_some_and(|b| b.started) {
            let held = load_by(self.db, Entity::Companies, "domain", &wanted, Some(&[name, domain]))?;
            return Ok(Some(
                held.iter()
                    .filter_map(|e| {
                        let holder = Holder { id: e.id.clone(), name: e.value(name).unwrap_or_default().to_string() };
                        Some((e.value(domain)?.to_string(), holder))
                    })
                    .collect(),
            ));
        }
        // A bulk load's table held nothing before it: what it holds, this
        // load gave, and `domains_given` knows (the name is read for the
        // few rows refused).
        let mut holders = HashMap::default();
        for given in wanted {
            if let Some(id) = self.domains_given.get(&key_hash(&[given.as_str()])) {
                let row = self.db.query_row("SELECT name FROM companies WHERE id = ?", &[id.as_str().into()])?;
                let name = row.and_then(|r| r.into_iter().next()?.into_text()).unwrap_or_default();
                holders.insert(given, Holder { id: id.clone(), name });
            }
        }
        Ok(Some(holders))
    }

    /// Notes that a bulk load gave company `id` the domain in `values`.
    fn give_domain(&mut self, id: &str, values: &[Option<String>]) {
        if self.bulk.as_ref().is_some_and(|b| b.started)
            && let Some(domain) = model::position(Entity::Companies, "domain").and_then(|p| values.get(p)?.as_deref())
        {
            self.domains_given.insert(key_hash(&[domain]), id.to_string());
        }
    }

    /// Lists the custom field names the drafts give values to, for exports
    /// to find the store's custom fields without reading every record.
    /// (A name listed for a row that is then rejected does no harm: export
    /// checks that some record has it.)
    fn list_custom_keys(&mut self, drafts: &[Draft]) -> Result<()> {
        let new: BTreeSet<&str> = drafts
            .iter()
            .flat_map(|d| &d.custom)
            .filter(|(name, value)| value.is_some() && !self.custom_keys.contains(name))
            .map(|(name, _)| name.as_str())
            .collect();
        for name in new {
            custom::list_name(self.db, self.settings.entity, name)?;
            self.custom_keys.insert(name.to_string());
        }
        Ok(())
    }

    /// Why a record breaks its custom fields' declarations (required) or a
    /// field's `unique`, if it does: `before` is the stored record on
    /// update, `id` its id.
    fn custom_problem(
        &self,
        before: Option<&[Option<String>]>,
        after: &[Option<String>],
        id: Option<&str>,
    ) -> Option<(String, String)> {
        if self.drafter.declared.is_empty() && self.unique.is_empty() {
            return None;
        }
        let custom = self.columns.iter().position(|c| c.kind == Kind::Custom);
        let now = model::parse_custom(custom.and_then(|pos| after[pos].as_deref()));
        let entity = self.settings.entity;
        if let Some(pos) = custom {
            let was = before.map(|b| model::parse_custom(b[pos].as_deref()));
            for f in self.drafter.declared.iter().filter(|f| f.required && !now.contains_key(&f.name)) {
                let field = format!("custom.{}", f.name);
                match &was {
                    None => return Some((field.clone(), format!("{field} is required for a new record of {entity}"))),
                    Some(w) if w.contains_key(&f.name) => {
                        return Some((field.clone(), format!("{field} is required: it cannot be cleared")));
                    }
                    Some(_) => {}
                }
            }
        }
        for u in &self.unique {
            let Some(text) = u.text_in(after, &now) else { continue };
            if let Some(other) = self.taken.get(&u.value(self.columns, &text))
                && id.and_then(model::ulid_value) != Some(*other)
            {
                let field = u.field(self.columns);
                let other = if *other == NO_ID { "another record".to_string() } else { model::ulid_text(*other) };
                return Some((field.clone(), format!("{field} {text:?} is taken by {other} ({field} is unique)")));
            }
        }
        None
    }

    /// Records that `id` now holds its unique values.
    fn claim_unique(&mut self, before: Option<&[Option<String>]>, after: &[Option<String>], id: &str) {
        if self.unique.is_empty() {
            return;
        }
        let custom = self.columns.iter().position(|c| c.kind == Kind::Custom);
        let now = model::parse_custom(custom.and_then(|pos| after[pos].as_deref()));
        let was = before.map(|b| model::parse_custom(custom.and_then(|pos| b[pos].as_deref())));
        for u in &self.unique {
            if let Some(old) = before.zip(was.as_ref()).and_then(|(b, was)| u.text_in(b, was)) {
                self.taken.remove(&u.value(self.columns, &old));
            }
            if let Some(text) = u.text_in(after, &now) {
                self.taken.insert(u.value(self.columns, &text), model::ulid_value(id).unwrap_or(NO_ID));
            }
        }
    }

    /// During a bulk load, a record now has the draft's key.
    fn remember_key(&mut self, d: &Draft) {
        if let (Some(bulk), Some(key)) = (&mut self.bulk, d.marks[0]) {
            bulk.keys.insert(key);
        }
    }

    fn required_missing(&self, values: &[Option<String>]) -> Option<&'static str> {
        let required: &[&str] = match self.settings.entity {
            Entity::Companies | Entity::Deals => &["name"],
            Entity::Activities => &["kind"],
            Entity::Contacts => &[],
        };
        required.iter().copied().find(|f| model::position(self.settings.entity, f).is_none_or(|p| values[p].is_none()))
    }

    /// Lays a draft over stored values: given fields replace, empty ones
    /// clear only with `clear_empty`, custom fields merge by name. The
    /// given texts are moved, not copied: the draft is spent after.
    fn merge(&self, values: &mut [Option<String>], d: &mut Draft, links: &[(usize, Option<String>)]) {
        // A number written without its country code, in a row that gives
        // no country, is read in the record's: an update file of e-mails
        // and phones leaves `+14155550132` as it is, not `(415) 555-0132`.
        // (Not one the row clears: `--clear-empty` and an empty country.)
        if let Some(at) = self.drafter.country_at
            && match d.values[at] {
                None => true,
                Some(None) => !self.settings.clear_empty,
                Some(Some(_)) => false,
            }
            && let Some(country) = values[at].as_deref()
        {
            phones_in_country(self.columns, given(&mut d.values), country);
        }
        // A record given a country it had not: its numbers stored as
        // written, for want of one, are read there now, as they would have
        // been had it had it then.
        let placed = self.drafter.country_at.and_then(|at| match &d.values[at] {
            Some(Some(country)) if values[at].as_deref() != Some(country.as_str()) => Some(country.clone()),
            _ => None,
        });
        for (i, v) in d.values.iter_mut().enumerate() {
            match v {
                // (A value the same as stored keeps the stored spelling.)
                Some(Some(text)) if values[i].as_deref().is_some_and(|old| self.same_text(i, old, text)) => {}
                Some(Some(text)) => values[i] = Some(std::mem::take(text)),
                Some(None) if self.settings.clear_empty => values[i] = None,
                _ => {}
            }
        }
        if let Some(country) = placed {
            phones_in_country(self.columns, values.iter_mut().map(Option::as_mut), &country);
        }
        for (pos, id) in links {
            if id.is_some() || self.settings.clear_empty {
                values[*pos] = id.clone();
            }
        }
        if !d.custom.is_empty()
            && let Some(pos) = self.columns.iter().position(|c| c.kind == Kind::Custom)
        {
            if values[pos].is_none() {
                // Nothing stored to merge with (a new record): the JSON is
                // written straight from the row's fields, without the map
                // (a twentieth of the store thread's work on a bulk load).
                values[pos] = match d.custom_json.take() {
                    Some(json) => Some(json),
                    None => model::custom_json_of(&mut d.custom, self.settings.clear_empty),
                };
                return;
            }
            let mut custom = model::parse_custom(values[pos].as_deref());
            for (k, v) in &mut d.custom {
                match v.take() {
                    Some(v) if custom.get(k.as_str()).is_some_and(|old| model::same_custom(old, &v)) => {}
                    Some(v) => {
                        custom.insert(std::mem::take(k), v);
                    }
                    None if self.settings.clear_empty => {
                        custom.remove(k.as_str());
                    }
                    None => {}
                }
            }
            values[pos] = model::custom_json(&custom);
        }
    }

    /// Whether a column's given text is its stored text: the same, or the
    /// same decimal (`12.50` and `12.5`).
    fn same_text(&self, column: usize, stored: &str, given: &str) -> bool {
        stored == given
            || self.columns[column].kind == Kind::Decimal && model::same_decimal(stored, given)
            || self.settings.entity == Entity::Companies
                && self.columns[column].field == "name"
                && leaves_out_form(stored, given)
    }

    /// Whether `merge` would leave the stored record as it is, found
    /// without copying it: the common case of importing a file again.
    /// (False when unsure: the full merge then decides.)
    fn unchanged(&self, e: &Existing, d: &Draft, links: &[(usize, Option<String>)]) -> bool {
        let clear = self.settings.clear_empty;
        for (i, v) in d.values.iter().enumerate() {
            let same = match v {
                Some(Some(text)) => e.value(i).is_some_and(|old| self.same_text(i, old, text)),
                Some(None) if clear => e.value(i).is_none(),
                _ => true,
            };
            if !same {
                return false;
            }
        }
        if !links_unchanged(e, links, clear) {
            return false;
        }
        let given_custom = match self.columns.iter().position(|c| c.kind == Kind::Custom) {
            Some(pos) if !d.custom.is_empty() => {
                let stored = model::parse_custom(e.value(pos));
                let same = d.custom.iter().all(|(k, v)| match v {
                    Some(v) => stored.get(k).is_some_and(|old| model::same_custom(old, v)),
                    None if clear => !stored.contains_key(k),
                    None => true,
                });
                if !same {
                    return false;
                }
                Some((pos, stored))
            }
            _ => None,
        };
        if Some(model::content_hash_of(e.values())) == e.hash {
            return true;
        }
        // PostgreSQL hands jsonb back in its own spelling, which `merge`
        // writes anew in crmsync's: hash it as it would be written.
        let Some((pos, stored)) = given_custom else { return false };
        let text = model::custom_json(&stored);
        let values = e.values().enumerate().map(|(i, v)| if i == pos { text.as_deref() } else { v });
        Some(model::content_hash_of(values)) == e.hash
    }

    /// Of ids the rows name that no live record has, those no deleted
    /// record has either: a record made for such a row takes its id, so that
    /// an export with its ids imports into another store as the same records.
    fn note_free_ids<'a>(&mut self, absent: impl Iterator<Item = &'a str>) -> Result<()> {
        let absent: Vec<Param> = absent.map(Param::from).collect();
        let table = self.settings.entity.name();
        for part in absent.chunks(500) {
            let sql = format!("SELECT id FROM {table} WHERE id IN ({})", placeholders(part.len()));
            let held: FastSet<String> =
                self.db.query(&sql, part)?.into_iter().filter_map(|r| r.into_iter().next()?.into_text()).collect();
            for p in part {
                if let Param::Text(id) = p
                    && !held.contains(id.as_str())
                {
                    self.own_free.insert(id.to_string());
                }
            }
        }
        Ok(())
    }

    /// Existing records for each draft: by external id, else by key.
    /// `Err` when a key matches several records.
    /// The stored record each draft matches, if any, or why the draft
    /// cannot be matched.
    fn find_existing(&mut self, drafts: &[Draft]) -> Result<Vec<Option<Matched>>> {
        self.own_free.clear();
        let entity = self.settings.entity;
        let mut found: Vec<Option<Matched>> = (0..drafts.len()).map(|_| None).collect();
        // The store's own ids first: a record named by its id is that one,
        // whatever its key has become. An id the store has not (an export
        // of another store) leaves the row to be matched as any other.
        let own: Vec<String> = drafts.iter().filter_map(|d| d.own.clone()).collect();
        if !own.is_empty() {
            let mut named: HashMap<&str, Vec<usize>> = HashMap::default();
            for (n, d) in drafts.iter().enumerate() {
                if let Some(id) = &d.own {
                    named.entry(id.as_str()).or_default().push(n);
                }
            }
            for e in load_by(self.db, entity, "id", &own, None)? {
                for n in named.remove(e.id.as_str()).into_iter().flatten() {
                    found[n] = Some(Ok(e.clone()));
                }
            }
            self.note_free_ids(named.into_keys().filter(|id| model::ulid_value(id).is_some()))?;
            self.keys_taken(drafts, &mut found, &|n| drafts[n].own.as_ref().map(|_| "the row's id".to_string()))?;
        }
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::default();
        if let Some(system) = self.settings.external_system.clone() {
            let wanted: Vec<&str> = drafts.iter().filter_map(|d| d.external.as_deref()).collect();
            let map = external_lookup(self.db, entity, &system, &wanted)?;
            // A record named by its id cannot take another record's id in
            // the other system.
            for (n, d) in drafts.iter().enumerate() {
                if let (Some(Ok(e)), Some(x)) = (&found[n], &d.external)
                    && let Some(other) = map.get(x).filter(|other| **other != e.id)
                {
                    let one = model::singular(entity);
                    let message = format!(
                        "{system} id {x:?} is {one} {other}'s, and the row's id names {one} {}: two records would \
                         share it",
                        e.id
                    );
                    found[n] = Some(Err((format!("external_id.{system}"), message)));
                }
            }
            for (n, d) in drafts.iter().enumerate().filter(|(n, _)| found[*n].is_none()) {
                if let Some(id) = d.external.as_ref().and_then(|x| map.get(x)) {
                    by_id.entry(id.clone()).or_default().push(n);
                }
            }
        }
        let ids: Vec<String> = by_id.keys().cloned().collect();
        let mut by_external = vec![false; drafts.len()];
        for e in load_by(self.db, entity, "id", &ids, None)? {
            for n in by_id.remove(&e.id).into_iter().flatten() {
                found[n] = Some(Ok(e.clone()));
                by_external[n] = true;
            }
        }
        // A record found by its id in the other system cannot take a key
        // another record has, as one named by the store's id cannot.
        if by_external.contains(&true) {
            let system = self.settings.external_system.clone().unwrap_or_default();
            let named_by = |n: usize| {
                let x = drafts[n].external.as_deref().unwrap_or_default();
                by_external[n].then(|| format!("the row's {system} id {x:?}"))
            };
            self.keys_taken(drafts, &mut found, &named_by)?;
        }
        // An external id still held by a deleted record: a new record
        // cannot take it, and the deleted one is not brought back unasked.
        for (id, rows) in by_id {
            for n in rows {
                let x = drafts[n].external.as_deref().unwrap_or_default();
                let system = self.settings.external_system.as_deref().unwrap_or_default();
                let message = format!(
                    "external id {x:?} ({system}) belongs to {} {id}, which is deleted: \
                     a deleted record keeps its ids, and an import does not bring it back",
                    model::singular(entity)
                );
                found[n] = Some(Err((format!("external_id.{system}"), message)));
            }
        }
        let key = self.settings.key.clone();
        if key.is_empty() {
            return Ok(found);
        }
        let before_key: Vec<bool> = found.iter().map(Option::is_some).collect();
        let first = key[0].as_str();
        if let Some(bulk) = &self.bulk
            && bulk.started
        {
            // (Rows found by their external id already are not looked up.)
            let unfound = drafts.iter().enumerate().filter(|(n, _)| found[*n].is_none());
            let again = unfound.filter_map(|(_, d)| d.marks[0]).any(|k| bulk.keys.contains(&k));
            // (A bulk load's rows are never lite: the table was empty.)
            if !again {
                // Only this load has written to the table, none of these keys.
                return Ok(found);
            }
            self.end_bulk_midway()?;
        }
        let key_positions: Vec<Option<usize>> = key.iter().map(|f| model::position(entity, f)).collect();
        let custom_pos = model::position(entity, "custom");
        // Lite drafts' records are read only as far as recognising them needs.
        let links =
            self.columns.iter().enumerate().filter(|(_, c)| matches!(c.kind, Kind::Link(_) | Kind::DealContacts));
        let custom_key = key.iter().any(|f| f.starts_with("custom.")).then_some(custom_pos).flatten();
        let only: Vec<usize> =
            links.map(|(i, _)| i).chain(key_positions.iter().flatten().copied()).chain(custom_key).collect();
        // A recognised row's record is read where it lies (see
        // `recognise`); a row whose record no longer carries its hash or
        // key is looked for by key below.
        if let Some(recognition) = self.drafter.recognition.clone() {
            let at: Vec<(usize, Place)> = drafts
                .iter()
                .enumerate()
                // (A key that several records have makes the row ambiguous,
                // as matching by key finds.)
                .filter(|(n, d)| d.lite && found[*n].is_none())
                .filter(|(_, d)| d.marks[0].is_some_and(|k| !recognition.key_is_shared(k)))
                .filter_map(|(n, d)| Some((n, recognition.place_of(d.source?)?)))
                .collect();
            let places: Vec<Place> = at.iter().map(|(_, p)| *p).collect();
            let mut by_source: HashMap<u64, Existing> = load_at(self.db, entity, &places, Some(&only))?
                .into_iter()
                .filter_map(|e| Some((e.source?, e)))
                .collect();
            for (n, _) in at {
                let d = &drafts[n];
                let Some(e) = d.source.and_then(|s| by_source.remove(&s)) else { continue };
                let k: Option<Vec<String>> =
                    key.iter().zip(&key_positions).map(|(f, pos)| key_value(entity, &e, f, *pos, custom_pos)).collect();
                if k.is_some() && k == d.key {
                    found[n] = Some(Ok(e));
                }
            }
        }
        let wanted_by = |lite: bool| -> Vec<String> {
            let keys = drafts.iter().enumerate().filter(|(n, d)| found[*n].is_none() && d.lite == lite);
            keys.filter_map(|(_, d)| d.key.as_ref().map(|k| k[0].clone())).collect()
        };
        let (wanted, wanted_lite) = (wanted_by(false), wanted_by(true));
        if wanted.is_empty() && wanted_lite.is_empty() {
            return Ok(found);
        }
        let mut candidates = load_by(self.db, entity, first, &wanted, None)?;
        if !wanted_lite.is_empty() {
            let partial = load_by(self.db, entity, first, &wanted_lite, Some(&only))?;
            if candidates.is_empty() {
                candidates = partial;
            } else {
                // A record read whole for one row and in part for another
                // (they share the first field of a key of several) is one
                // record, read whole.
                candidates.extend(partial);
                candidates.sort_by(|a, b| a.id.cmp(&b.id).then(a.partial.cmp(&b.partial)));
                candidates.dedup_by(|a, b| a.id == b.id);
            }
        }
        let mut by_key: HashMap<Vec<String>, Vec<usize>> =
            HashMap::with_capacity_and_hasher(candidates.len(), Default::default());
        for (i, e) in candidates.iter().enumerate() {
            let k: Option<Vec<String>> =
                key.iter().zip(&key_positions).map(|(f, pos)| key_value(entity, e, f, *pos, custom_pos)).collect();
            if let Some(k) = k {
                by_key.entry(k).or_default().push(i);
            }
        }
        let matched: Vec<Option<&[usize]>> = drafts
            .iter()
            .enumerate()
            .map(|(n, d)| match &d.key {
                Some(k) if found[n].is_none() => by_key.get(k).map(Vec::as_slice),
                _ => None,
            })
            .collect();
        // Names alike that give other legal forms (`Acme AG` beside a
        // stored `Acme BV`) are other companies.
        let forms = forms_of(self.db, entity, &key, &candidates)?;
        let agreeing: Vec<Option<Vec<usize>>> = drafts
            .iter()
            .zip(&matched)
            .map(|(d, m)| {
                let m = (*m)?;
                let keep: Vec<usize> =
                    m.iter().copied().filter(|&i| forms_agree(entity, &key, d, &candidates[i], &forms)).collect();
                (keep.len() != m.len()).then_some(keep)
            })
            .collect();
        let matched: Vec<Option<&[usize]>> =
            matched.iter().enumerate().map(|(n, m)| agreeing[n].as_deref().or(*m)).collect();
        // Records other rows of the import name by id, or matched for
        // another id, are not a row's whose id names no record: the file
        // tells them apart (three `Zeta`s of another store, each with its
        // id). A contact, and a company at the row's domain, stay found, for
        // `named_by_another_row` to refuse the row.
        let unclaimed: Vec<Option<Vec<usize>>> =
            match self.settings.key_chosen || entity == Entity::Contacts || !self.others_named() {
                true => Vec::new(),
                false => drafts
                    .iter()
                    .enumerate()
                    .map(|(n, d)| {
                        let (own, m) = (d.own.as_deref()?, matched[n]?);
                        let ours = |e: &Existing| {
                            !self.others(&e.id, own) || entity == Entity::Companies && at_row_domain(d, e)
                        };
                        let keep: Vec<usize> = m.iter().copied().filter(|&i| ours(&candidates[i])).collect();
                        (keep.len() != m.len()).then_some(keep)
                    })
                    .collect(),
            };
        let matched: Vec<Option<&[usize]>> =
            matched.iter().enumerate().map(|(n, m)| unclaimed.get(n).and_then(|u| u.as_deref()).or(*m)).collect();
        // A record matched by one draft only (the usual case) is moved there.
        let mut uses = vec![0usize; candidates.len()];
        for &i in matched.iter().flatten().filter(|m| m.len() == 1).flat_map(|m| m.iter()) {
            uses[i] += 1;
        }
        let mut candidates: Vec<Option<Existing>> = candidates.into_iter().map(Some).collect();
        // Records a row's key found several of, by row.
        let mut several: Vec<(usize, Vec<String>)> = Vec::new();
        // Of companies whose names are alike (`Acme Inc`, `ACME GmbH`), the
        // one written as the row writes it, as a link to one finds it.
        let name_pos = model::position(entity, "name").filter(|_| entity == Entity::Companies && key.len() == 1);
        let written_as = |d: &Draft, many: &[usize], candidates: &[Option<Existing>]| -> Option<Existing> {
            let pos = name_pos.filter(|_| first == "name")?;
            let written = d.values.get(pos)?.as_ref()?.as_deref()?.trim();
            let mut exact = many
                .iter()
                .filter_map(|&i| candidates[i].as_ref())
                .filter(|e| e.value(pos).map(str::trim) == Some(written));
            let e = exact.next()?;
            exact.next().is_none().then(|| e.clone())
        };
        // Deals of one name (a renewal per customer) are told apart by their
        // company, as companies of one name are by their domain: matched by
        // the default key, a deal at another company than the row names is
        // not the row's.
        let companies = match entity == Entity::Deals && !self.settings.key_chosen {
            true => self.deal_companies(drafts, &matched, &candidates)?,
            false => None,
        };
        let elsewhere = |d: &Draft, e: &Existing| companies.as_ref().is_some_and(|c| c.elsewhere(d, e));
        let update = self.settings.mode == Mode::Update;
        let another_deal = |d: &Draft| {
            let message = format!(
                "the deal with {} is at another company than the row's: the row is another deal of that name, which \
                 update mode does not create (use --mode upsert, or --key name to move the deal)",
                describe_key(&key, d)
            );
            if update { Some(Err((key.join(";"), message))) } else { None }
        };
        for (n, d) in drafts.iter().enumerate() {
            found[n] = match matched[n] {
                None if found[n].is_some() => continue,
                None | Some([]) => None,
                Some([one]) if candidates[*one].as_ref().is_some_and(|e| elsewhere(d, e)) => {
                    uses[*one] -= 1;
                    another_deal(d)
                }
                Some([one]) => {
                    uses[*one] -= 1;
                    let e = if uses[*one] == 0 { candidates[*one].take() } else { candidates[*one].clone() };
                    e.map(Ok)
                }
                Some(many) if companies.as_ref().is_some_and(|c| c.names_one(d)) => {
                    // Those at the row's company by some mark it gives; else
                    // those whose company cannot be told (no domain stored).
                    let at = |i: &&usize, want: Option<bool>| {
                        candidates[**i].as_ref().is_some_and(|e| companies.as_ref().is_some_and(|c| c.at(d, e) == want))
                    };
                    let agree: Vec<&usize> = many.iter().filter(|i| at(i, Some(true))).collect();
                    let fit = if agree.is_empty() { many.iter().filter(|i| at(i, None)).collect() } else { agree };
                    match fit.as_slice() {
                        [] => another_deal(d),
                        [one] => candidates[**one].clone().map(Ok),
                        _ => {
                            let ids: Vec<String> =
                                fit.iter().filter_map(|&&i| Some(candidates[i].as_ref()?.id.clone())).collect();
                            // At several companies the row's name finds
                            // (`Acme` for `Acme BV` and `Acme AG`): the
                            // company is what the row leaves unsaid.
                            let mut at: Vec<&str> = fit
                                .iter()
                                .filter_map(|&&i| companies.as_ref().and_then(|c| candidates[i].as_ref()?.value(c.pos)))
                                .collect();
                            at.sort_unstable();
                            at.dedup();
                            let message = if at.len() > 1 {
                                format!(
                                    "{} deals with {} are at {} companies the row's company could be: {} (give \
                                     company.domain, company.external_id or the company's name with its legal \
                                     form to say which)",
                                    ids.len(),
                                    describe_key(&key, d),
                                    at.len(),
                                    ids.join(", ")
                                )
                            } else {
                                format!(
                                    "{} deals at the row's company have {}: {} (merge them first, or choose a key \
                                     that tells them apart)",
                                    ids.len(),
                                    describe_key(&key, d),
                                    ids.join(", ")
                                )
                            };
                            several.push((n, ids));
                            Some(Err((key.join(";"), message)))
                        }
                    }
                }
                Some(many) => {
                    // Names alike of companies at several domains: the one
                    // at the row's, or, all at others, another company.
                    if let Some(domain) = model::position(entity, "domain").filter(|_| self.settings.guard_domains)
                        && let Some(given) = d.values.get(domain).cloned().flatten().flatten()
                    {
                        let of = |i: &usize| candidates[*i].as_ref().and_then(|e| e.value(domain));
                        let at: Vec<&usize> = many.iter().filter(|i| of(i) == Some(given.as_str())).collect();
                        if let [one] = at.as_slice() {
                            found[n] = candidates[**one].clone().map(Ok);
                            continue;
                        }
                        if many.iter().all(|i| of(i).is_some_and(|s| !s.is_empty() && s != given)) {
                            found[n] = None;
                            continue;
                        }
                    }
                    if let Some(e) = written_as(d, many, &candidates) {
                        found[n] = Some(Ok(e));
                        continue;
                    }
                    let ids: Vec<String> =
                        many.iter().filter_map(|&i| Some(candidates[i].as_ref()?.id.clone())).collect();
                    // Companies by name as written, and domain: which is
                    // which is clearer so than by id.
                    let shown: Vec<String> = match (name_pos, model::position(entity, "domain")) {
                        (Some(name), Some(domain)) => many
                            .iter()
                            .filter_map(|&i| candidates[i].as_ref())
                            .map(|e| match (e.value(name), e.value(domain)) {
                                (Some(n), Some(d)) => format!("{n:?} ({d}, {})", e.id),
                                (Some(n), None) => format!("{n:?} ({})", e.id),
                                _ => e.id.clone(),
                            })
                            .collect(),
                        _ => ids.clone(),
                    };
                    // Two of them written alike: only an id or a domain can
                    // say which, however the row writes the name. (Written
                    // exactly as one alone is, the row would have found it.)
                    let written = |p: usize| {
                        let mut names: Vec<&str> =
                            many.iter().filter_map(|&i| candidates[i].as_ref()?.value(p)).map(str::trim).collect();
                        names.sort_unstable();
                        names
                    };
                    let (what, hint) = match name_pos.and_then(|p| Some((p, d.values.get(p)?.as_ref()?.as_deref()?))) {
                        Some((p, name)) if written(p).windows(2).any(|w| w[0] == w[1]) => {
                            let hint = match d.own {
                                Some(_) => "give the row its record's `domain`: its `id` names none here",
                                None => "give the row its record's `id` or `domain`",
                            };
                            let what = if written(p).contains(&name.trim()) { "the name" } else { "names alike to" };
                            (format!("{what} {name:?}"), hint)
                        }
                        Some((_, name)) => (format!("names alike to {name:?}"), "write the name as one of them has it"),
                        None => (describe_key(&key, d), "merge them first"),
                    };
                    let message = format!(
                        "{} records of {entity} have {what}: {} ({hint}, or choose a key that tells them apart)",
                        many.len(),
                        shown.join(", ")
                    );
                    several.push((n, ids));
                    Some(Err((key.join(";"), message)))
                }
            };
        }
        // In update mode, a row whose key finds only records other rows
        // stand for is not told "no such record": there are, but not its.
        if self.settings.mode == Mode::Update {
            for (n, _) in unclaimed.iter().enumerate().filter(|(_, u)| u.as_ref().is_some_and(Vec::is_empty)) {
                let d = &drafts[n];
                let one = model::singular(entity);
                let message = format!(
                    "each {one} with {} is another row's of the file (by its id, or by that key with another id), \
                     and this row's id {:?} names no {one} here: update mode does not create one",
                    describe_key(&key, d),
                    d.own.as_deref().unwrap_or_default()
                );
                found[n] = Some(Err((key.join(";"), message)));
            }
        }
        self.held_by_another_id(drafts, &mut found, &before_key, &several)?;
        self.named_by_another_row(drafts, &mut found, &before_key);
        // A record a row whose id names none took by key is that row's, for
        // the rows after it with other ids.
        for (n, d) in drafts.iter().enumerate().filter(|(n, _)| !before_key[*n]) {
            if let (Some(own), Some(Ok(e))) = (d.own.as_deref().and_then(model::ulid_value), &found[n])
                && let Some(record) = model::ulid_value(&e.id)
                && record != own
            {
                self.claimed.entry(record).or_insert(own);
            }
        }
        Ok(found)
    }

    /// Ids the whole file names in its `id` column, read before its rows
    /// are: a record a later row names is that row's for rows before it
    /// too, however far apart.
    pub fn name_ids<'a>(&mut self, ids: impl Iterator<Item = &'a str>) {
        self.named.extend(ids.filter_map(|id| model::ulid_value(&id.trim().to_ascii_uppercase())).map(named_bits));
    }

    /// Whether rows of this import name records by id, or took some by key.
    fn others_named(&self) -> bool {
        !self.named.is_empty() || !self.claimed.is_empty()
    }

    /// Whether `record` is another row's than the one whose id is `own`:
    /// named by its id, or taken by key for another id.
    fn others(&self, record: &str, own: &str) -> bool {
        let (Some(r), o) = (model::ulid_value(record), model::ulid_value(own)) else { return false };
        Some(r) != o && (self.named.contains(&named_bits(r)) || self.claimed.get(&r).is_some_and(|x| Some(*x) != o))
    }

    /// Where the key is the entity's default, a record found by it that
    /// another row of the import names by its id is that row's, not one
    /// whose id names no record: both rows come from a store that told them
    /// apart (two companies `Zeta` with no domain, exported with their ids).
    /// As with ids in another system (`held_by_another_id`), a deal, an
    /// activity, or a company not at the record's domain is made new; a
    /// contact, or a company at that domain, rejects the row.
    fn named_by_another_row(&self, drafts: &[Draft], found: &mut [Option<Matched>], before_key: &[bool]) {
        if self.settings.key_chosen || !self.others_named() {
            return;
        }
        let entity = self.settings.entity;
        for (n, d) in drafts.iter().enumerate() {
            let Some(own) = &d.own else { continue };
            let Some(Ok(e)) = &found[n] else { continue };
            if before_key[n] || !self.others(&e.id, own) {
                continue;
            }
            let one = model::singular(entity);
            let taken = format!(
                "{one} {} has {}, and another row of the file stands for it (by its id, or by that key with \
                 another id), while this row's id {own:?} names no {one} here",
                e.id,
                describe_key(&self.settings.key, d)
            );
            found[n] = match entity {
                Entity::Contacts => Some(Err((
                    self.settings.key.join(";"),
                    format!("{taken}: two records would share the key (give the rows keys of their own)"),
                ))),
                Entity::Companies if at_row_domain(d, e) => Some(Err((
                    "domain".to_string(),
                    format!("{taken}: two companies would share the domain (give the rows domains of their own)"),
                ))),
                _ if self.settings.mode == Mode::Update => Some(Err((
                    self.settings.key.join(";"),
                    format!("{taken}: the row is another {one} of that name, which update mode does not create"),
                ))),
                _ => None,
            };
        }
    }

    /// For deals whose rows list their contacts both by e-mail and by id
    /// (as an export writes them): which contacts have an e-mail, and which
    /// an id in the import's system, to tell when the two lists disagree.
    fn contacts_in_both_lists(&mut self, drafts: &[Draft], links: &Links) -> Result<Option<BothLists>> {
        let Some(system) = self.settings.external_system.clone() else { return Ok(None) };
        let mut ids: Vec<&str> = Vec::new();
        for list in drafts.iter().filter_map(|d| d.contacts.as_ref()) {
            if BothLists::given(list) {
                ids.extend(list.iter().filter_map(|r| links.contacts.get(&r.id)?.as_ref().ok()).map(String::as_str));
            }
        }
        if ids.is_empty() {
            return Ok(None);
        }
        ids.sort_unstable();
        ids.dedup();
        let external = external_pairs(self.db, Entity::Contacts, &system, "record_id", &ids)?;
        let mut email = HashMap::default();
        for part in ids.chunks(500) {
            let params: Vec<Param> = part.iter().map(|s| Param::from(*s)).collect();
            let sql = format!("SELECT id, email FROM contacts WHERE id IN ({})", placeholders(part.len()));
            for row in self.db.query(&sql, &params)? {
                let mut row = row.into_iter().map(Cell::into_text);
                if let (Some(id), Some(e)) = (row.next().flatten(), row.next().flatten()) {
                    email.insert(id, e);
                }
            }
        }
        Ok(Some(BothLists { system, email, external }))
    }

    /// The companies of the deals the rows' keys found, to tell whether one
    /// is at the company a row names (`None` when no row names one).
    fn deal_companies(
        &mut self,
        drafts: &[Draft],
        matched: &[Option<&[usize]>],
        candidates: &[Option<Existing>],
    ) -> Result<Option<DealCompanies>> {
        let Some(pos) = model::position(Entity::Deals, "company") else { return Ok(None) };
        let naming = |d: &Draft| d.links.iter().any(|(p, r)| *p == pos && !r.is_empty());
        let mut ids: Vec<String> = drafts
            .iter()
            .zip(matched)
            .filter(|(d, _)| naming(d))
            .flat_map(|(_, m)| m.iter().flat_map(|m| m.iter()))
            .filter_map(|&i| candidates[i].as_ref()?.value(pos).map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        ids.sort_unstable();
        ids.dedup();
        let mut known: HashMap<String, CompanyMarks> = HashMap::default();
        for part in ids.chunks(500) {
            let params: Vec<Param> = part.iter().map(Param::from).collect();
            let sql = format!("SELECT id, name, domain FROM companies WHERE id IN ({})", placeholders(part.len()));
            for row in self.db.query(&sql, &params)? {
                let mut row = row.into_iter().map(Cell::into_text);
                if let Some(id) = row.next().flatten() {
                    let name = row.next().flatten();
                    known.insert(id, CompanyMarks::of(name.as_deref(), row.next().flatten(), None));
                }
            }
        }
        if let Some(system) = self.settings.external_system.clone() {
            let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
            for (id, x) in external_pairs(self.db, Entity::Companies, &system, "record_id", &wanted)? {
                if let Some(k) = known.get_mut(&id) {
                    k.external = Some(x);
                }
            }
        }
        Ok(Some(DealCompanies { pos, known }))
    }

    /// Where the key is the entity's default, behind the row's id in
    /// another system, a record it finds that already has another id in that
    /// system is not the row's: that system holds two records where the key
    /// sees one. A deal or an activity is named, not identified, by its key
    /// (two deals may both be `Renewal 2024`): the row is another record,
    /// made new. A contact or a company is one by its key: the row is
    /// rejected, naming both ids, as taking the row's id would take the
    /// record away from its own. (A key the user chose says the record is
    /// the row's, and the row gives it its new id.)
    fn held_by_another_id(
        &mut self,
        drafts: &[Draft],
        found: &mut [Option<Matched>],
        before_key: &[bool],
        several: &[(usize, Vec<String>)],
    ) -> Result<()> {
        let Some(system) = self.settings.external_system.clone().filter(|_| !self.settings.key_chosen) else {
            return Ok(());
        };
        let entity = self.settings.entity;
        // (row, the records its key found) for rows with an id in the system:
        // one, or several (two ERP deals of a name already stored).
        let mut by_key: Vec<(usize, Vec<String>)> = (0..drafts.len())
            .filter(|n| !before_key[*n] && drafts[*n].external.is_some())
            .filter_map(|n| Some((n, vec![found[n].as_ref()?.as_ref().ok()?.id.clone()])))
            .collect();
        // (Companies of one name, each with an id of its own: a row with a
        // new id is one more, as for one of them.)
        if matches!(entity, Entity::Deals | Entity::Activities | Entity::Companies) {
            by_key.extend(several.iter().filter(|(n, _)| drafts[*n].external.is_some()).cloned());
        }
        if by_key.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&str> = by_key.iter().flat_map(|(_, ids)| ids.iter().map(String::as_str)).collect();
        let held = external_pairs(self.db, entity, &system, "record_id", &wanted)?;
        // The domain of each company found, to tell whether the row is at it.
        let domain_at = model::position(Entity::Companies, "domain").filter(|_| entity == Entity::Companies);
        let domains: HashMap<String, String> = match domain_at {
            Some(p) => {
                let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
                load_by(self.db, entity, "id", &wanted, Some(&[p]))?
                    .into_iter()
                    .filter_map(|e| Some((e.id.clone(), e.value(p)?.to_string())))
                    .collect()
            }
            None => HashMap::default(),
        };
        for (n, ids) in &by_key {
            let d = &drafts[*n];
            let Some(x) = &d.external else { continue };
            // Every record found has another id: none is the row's.
            let theirs: Vec<&String> = ids.iter().filter_map(|id| held.get(id)).filter(|t| *t != x).collect();
            if theirs.len() != ids.len() {
                continue;
            }
            let one = model::singular(entity);
            let found_by = describe_key(&self.settings.key, d);
            found[*n] = match entity {
                Entity::Deals | Entity::Activities if self.settings.mode == Mode::Update => {
                    let message = format!(
                        "the {one} found by {found_by} has {system} id {}, not the row's {x:?}: the row is another \
                         {one}, which update mode does not create (use --mode upsert)",
                        theirs.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")
                    );
                    Some(Err((format!("external_id.{system}"), message)))
                }
                Entity::Deals | Entity::Activities => None,
                // A company of that name with another id, unless at the
                // domain the row gives, is another company of that name (two
                // `Zeta`s, Z1 and Z2, a third, Z3; `ACME GmbH` at acme.de
                // beside `Acme Inc` at acme.com), as links to companies make
                // it. At its domain, it is one.
                Entity::Companies
                    if domain_at.is_some_and(|p| {
                        let given = d.values.get(p).cloned().flatten().flatten();
                        !ids.iter().any(|id| given.is_some() && domains.get(id) == given.as_ref())
                    }) =>
                {
                    if self.settings.mode == Mode::Update {
                        let message = format!(
                            "the company found by {found_by} has {system} id {:?}, not the row's {x:?}: the row is \
                             another company of that name, which update mode does not create (use --mode upsert)",
                            theirs[0]
                        );
                        Some(Err((format!("external_id.{system}"), message)))
                    } else {
                        None
                    }
                }
                Entity::Contacts | Entity::Companies => {
                    let message = format!(
                        "{one} {}, found by {found_by}, has {system} id {:?}, not the row's {x:?}: {system} holds two \
                         records for one {one} (merge them there first)",
                        ids[0], theirs[0]
                    );
                    Some(Err((format!("external_id.{system}"), message)))
                }
            };
        }
        Ok(())
    }

    fn write_audit(&mut self, entity: Entity, rows: &[AuditRow], now: &str) -> Result<()> {
        write_audit(self.db, entity, &self.batch, rows, now)
    }

    /// Links of the segment's drafts, resolved to ids (companies created
    /// where the mode allows).
    fn resolve_links(&mut self, drafts: &[Draft], doomed: &[bool]) -> Result<Links> {
        let mut links = Links::default();
        let company: Vec<bool> = self.columns.iter().map(|c| matches!(c.kind, Kind::Link(Entity::Companies))).collect();
        let mut live: Vec<&Draft> = drafts.iter().zip(doomed).filter(|(_, doomed)| !**doomed).map(|(d, _)| d).collect();
        // Links to other records first: a row one of them fails for is
        // rejected, and the company it names binds no other row (see
        // `resolve`: ids and domains given, companies made).
        self.resolve_columns(&live, |pos| !company[pos], &mut links)?;
        let contacts: Vec<&LinkRef> = live.iter().filter_map(|d| d.contacts.as_ref()).flatten().collect();
        if !contacts.is_empty() {
            links.contacts = self.resolve(Entity::Contacts, &contacts, &mut links)?;
        }
        let found = |pos: &usize, r: &LinkRef| matches!(links.one.get(pos).and_then(|m| m.get(&r.id)), Some(Ok(_)));
        live.retain(|d| {
            d.links.iter().filter(|(pos, r)| !r.is_empty() && !company[*pos]).all(|(pos, r)| found(pos, r))
                && d.contacts.iter().flatten().all(|r| matches!(links.contacts.get(&r.id), Some(Ok(_))))
        });
        self.resolve_columns(&live, |pos| company[pos], &mut links)?;
        Ok(links)
    }

    /// Resolves the link columns `wanted` says of the `drafts`' references.
    fn resolve_columns(&mut self, drafts: &[&Draft], wanted: impl Fn(usize) -> bool, links: &mut Links) -> Result<()> {
        let mut by_target: BTreeMap<usize, Vec<&LinkRef>> = BTreeMap::new();
        for d in drafts {
            for (pos, r) in d.links.iter().filter(|(pos, r)| !r.is_empty() && wanted(*pos)) {
                by_target.entry(*pos).or_default().push(r);
            }
        }
        for (pos, refs) in by_target {
            let Kind::Link(target) = self.columns[pos].kind else { continue };
            let resolved = self.resolve(target, &refs, links)?;
            links.one.insert(pos, resolved);
        }
        Ok(())
    }

    /// Finds the records `refs` name. Companies that do not exist are given
    /// ids and added to `new_companies` (except in update mode), for the
    /// rows that link to them to create; one found by name without a domain
    /// takes the domain its reference gives (`amend_found`).
    fn resolve(
        &mut self,
        target: Entity,
        refs: &[&LinkRef],
        links: &mut Links,
    ) -> Result<HashMap<String, Result<String, String>>> {
        let Links { new_companies, amend, .. } = links;
        let mut out: HashMap<String, Result<String, String>> = HashMap::default();
        let mut unknown = Vec::with_capacity(refs.len());
        let known = self.linked.entry(target).or_default();
        let mut earlier: Vec<(&LinkRef, String)> = Vec::new();
        for r in refs {
            match known.get(&r.id) {
                Some(id) => {
                    out.insert(r.id.clone(), Ok(id.clone()));
                }
                None => match self.decided.get(&r.id).filter(|_| target == Entity::Companies) {
                    Some(id) => earlier.push((*r, id.clone())),
                    None => unknown.push(*r),
                },
            }
        }
        // Found before, by a reference the cache has let go of: that
        // company still, where it still is.
        // (In a table this import alone wrote, every one is: no lookup,
        // which would wait for the rows sent ahead.)
        if !earlier.is_empty() {
            let ids: Vec<&str> = earlier.iter().map(|(_, id)| id.as_str()).collect();
            let live = match &self.fresh {
                Some(_) => ids.iter().map(|id| id.to_string()).collect(),
                None => live_among(self.db, target, &ids)?,
            };
            let known = self.linked.entry(target).or_default();
            for (r, id) in earlier {
                if live.contains(&id) {
                    known.insert(r.id.clone(), id.clone());
                    out.insert(r.id.clone(), Ok(id));
                } else {
                    unknown.push(r);
                }
            }
        }
        let refs = unknown.as_slice();
        let system = self.settings.external_system.clone();
        let ext: Vec<&str> = refs.iter().filter_map(|r| r.external.as_deref()).collect();
        // A table this import alone wrote holds what it wrote.
        let fresh = self.fresh.as_ref().filter(|_| target == Entity::Companies);
        let by_ext = match (&system, fresh) {
            (Some(_), Some(f)) => ext.iter().filter_map(|x| Some((x.to_string(), f.ids.get(*x)?.clone()))).collect(),
            (Some(s), None) if !ext.is_empty() => external_lookup(self.db, target, s, &ext)?,
            _ => HashMap::default(),
        };
        // (An id a deleted record holds links to nothing.)
        let deleted = deleted_among(self.db, target, by_ext.values())?;
        let field_a = match target {
            Entity::Companies => "domain",
            Entity::Contacts => "email",
            Entity::Deals => "name",
            Entity::Activities => "id",
        };
        let a_values: Vec<String> = refs
            .iter()
            .filter_map(|r| match target {
                Entity::Companies => r.domain.clone(),
                Entity::Contacts => r.email.clone(),
                _ => r.name.clone(),
            })
            .collect();
        // Names alike that give other legal forms (`Acme BV`, `Acme AG`) are
        // other companies: each reference's name finds those whose form
        // agrees with its own, by the reference's id.
        let bound = &self.bound_forms;
        let (by_a, (by_b, formless)) = match fresh {
            Some(f) => (
                Fresh::lookup(&f.domains, &a_values),
                agreeing_forms(refs, &f.names, |id| f.forms.get(id).or(bound.get(id)).copied()),
            ),
            None if target == Entity::Companies => {
                let by_a = lookup_ids(self.db, target, field_a, &a_values)?;
                let keys: Vec<String> = refs.iter().filter_map(|r| r.name_key.clone()).collect();
                let by_key = lookup_ids(self.db, target, "name_key", &keys)?;
                let ids: Vec<&str> = refs
                    .iter()
                    .filter(|r| r.form.is_some())
                    .filter_map(|r| by_key.get(r.name_key.as_ref()?))
                    .flatten()
                    .map(String::as_str)
                    .collect();
                let forms = keys_and_forms(self.db, &ids)?;
                let form_of = |id: &str| forms.get(id).and_then(|(_, form)| *form).or_else(|| bound.get(id).copied());
                (by_a, agreeing_forms(refs, &by_key, form_of))
            }
            None => (lookup_ids(self.db, target, field_a, &a_values)?, (HashMap::default(), FastSet::default())),
        };
        let mut stored_domain = self.named_domains(target, refs, &by_a, &by_b, &by_ext)?;
        // The name key and legal form of each company found by a domain: a
        // row naming it with another form (`Acme AG` at Acme BV's domain)
        // names another company.
        let mut domain_named = match target {
            Entity::Companies => {
                let ids: Vec<&str> = by_a.values().flatten().map(String::as_str).collect();
                keys_and_forms(self.db, &ids)?
            }
            _ => HashMap::default(),
        };
        let deal_at = self.deals_at(target, refs, &by_a)?;
        // Of names alike (`Acme Inc`, `ACME GmbH`) that a row found by its
        // id gives, the company written so, if one is.
        // (With how many are written so, beside those made for earlier
        // rows.)
        let mut exactly: HashMap<String, String> = HashMap::default();
        let mut written_so: HashMap<String, u64> = HashMap::default();
        if target == Entity::Companies {
            for r in refs.iter().filter(|r| r.external.as_ref().is_some_and(|x| by_ext.contains_key(x))) {
                let Some(ids) = by_b.get(&r.id) else { continue };
                written_so.insert(r.id.clone(), self.written_exactly(r, ids)?);
                if ids.len() > 1
                    && let Some((id, _)) = self.written_as(r, ids)?
                {
                    exactly.insert(r.id.clone(), id);
                }
            }
        }
        // A company found by its id whose row's name or domain finds
        // another: which is meant is not ours to guess. (A name that finds
        // none is the company's new name.)
        let disagrees = |r: &LinkRef,
                         id: &String,
                         (exact, written_so): (Option<&String>, u64),
                         named_stored: Option<&[String]>,
                         stored_domain: &HashMap<String, Option<String>>,
                         making: &Making| {
            let x = r.external.as_deref().filter(|_| target == Entity::Companies)?;
            let system = system.as_deref().unwrap_or_default();
            // (A company made for an earlier row of the file is another.)
            let made = |key: String| making.by.get(&key).is_some_and(|made| made != id);
            let domain = r.domain.as_ref().filter(|d| match by_a.get(*d) {
                Some(ids) => !ids.contains(id),
                None => {
                    stored_domain.get(id).and_then(Option::as_ref).or(making.filling.get(id)).is_some_and(|s| s != *d)
                        || made(format!("d:{d}"))
                }
            });
            if let Some(d) = domain {
                return Some(format!(
                    "{system} id {x:?} is a company at another domain than the row's company.domain {d:?} \
                     (one company, two domains?)"
                ));
            }
            let made: Vec<String> = making.named_like(r).filter(|made| *made != id).cloned().collect();
            let name = r.name_key.as_ref().filter(|_| match named_stored {
                Some(ids) if !ids.contains(id) => true,
                // (Of those stored and made alike, the one alone written
                // as the row writes the name.)
                Some(_) => match (written_so, making.written_exactly(r, &made).len()) {
                    (0, 1) => true,
                    (_, 0) => exact.is_some_and(|exact| exact != id),
                    _ => false,
                },
                None => !made.is_empty(),
            });
            name.map(|_| id_of_another(r, system, id))
        };
        // (And of each a row could give a domain to, which a later row's
        // name finds or not.)
        let bare = self.could_take_domains(target, refs, &by_a, &by_b, &by_ext, &stored_domain);
        if !bare.is_empty() {
            domain_named.extend(keys_and_forms(self.db, &bare)?);
        }
        let mut making =
            Making { system: system.clone(), gives: self.settings.mode != Mode::Insert, ..Making::default() };
        // Whether found companies are given the domains and ids they lack
        // (insert mode changes no stored record): only then do the rows
        // that give them bind later ones.
        let gives = self.settings.mode != Mode::Insert;
        // Companies found by name whose reference gives a domain no company has.
        let mut named: Vec<(String, String)> = Vec::new();
        // The id in the import's system of each stored company a row that
        // gives an id no record has could find; in file order, the id each
        // company takes and the company each id goes to (the first row's:
        // the rest must agree).
        let theirs = match &system {
            Some(system)
                if target == Entity::Companies
                    && refs.iter().any(|r| r.external.as_ref().is_some_and(|x| !by_ext.contains_key(x))) =>
            {
                let mut ids: Vec<&str> =
                    by_a.values().chain(by_b.values()).flatten().chain(by_ext.values()).map(String::as_str).collect();
                ids.sort_unstable();
                ids.dedup();
                external_pairs(self.db, target, system, "record_id", &ids)?
            }
            _ => HashMap::default(),
        };
        let (mut taking, mut taken) = (HashMap::<String, String>::default(), HashMap::<String, String>::default());
        for (i, r) in refs.iter().enumerate() {
            let key = r.id.clone();
            if out.contains_key(&key) {
                continue;
            }
            let a = match target {
                Entity::Companies => r.domain.as_ref(),
                Entity::Contacts => r.email.as_ref(),
                _ => r.name.as_ref(),
            };
            // The stored companies the row's name finds, without those a
            // row before bound to another form (as a part of the file
            // later, when the lookup sees it).
            let bound = &self.bound_forms;
            let named_stored: Option<Vec<String>> = match (by_b.get(&r.id), r.form) {
                (Some(ids), Some(form)) if ids.iter().any(|id| bound.get(id).is_some_and(|f| *f != form)) => {
                    let agree: Vec<String> =
                        ids.iter().filter(|id| bound.get(*id).is_none_or(|f| *f == form)).cloned().collect();
                    (!agree.is_empty()).then_some(agree)
                }
                (ids, _) => ids.cloned(),
            };
            // Of the stored companies the name finds, the one alone written
            // as the row writes it, and how many are (for an id given by an
            // earlier row, as they are once it is stored).
            let (exact, stored_exact) = match (&r.external, named_stored.as_deref()) {
                (Some(x), Some(ids)) if !by_ext.contains_key(x) && taken.contains_key(x) => {
                    let alone = match ids.len() {
                        2.. => self.written_as(r, ids)?.map(|(id, _)| id),
                        _ => None,
                    };
                    (alone, self.written_exactly(r, ids)?)
                }
                _ => (exactly.get(&r.id).cloned(), written_so.get(&r.id).copied().unwrap_or(0)),
            };
            let hit: Option<Result<String, String>> = if let Some(x) = &r.external {
                // (Or given by an earlier row, as it is once stored.)
                match by_ext.get(x).or_else(|| taken.get(x)) {
                    Some(id) if deleted.contains(id) => Some(Err(format!(
                        "{} id {x:?} belongs to {} {id}, which is deleted: rows do not link to deleted \
                         records",
                        system.as_deref().unwrap_or_default(),
                        model::singular(target)
                    ))),
                    // A contact or deal found by its id whose row's e-mail
                    // or name finds others: which is meant is not ours to
                    // guess. (One that finds none is the record's own,
                    // changed since: the id holds.)
                    Some(id)
                        if target != Entity::Companies
                            && a.and_then(|v| by_a.get(v)).is_some_and(|ids| !ids.contains(id)) =>
                    {
                        Some(Err(format!(
                            "{} id {x:?} is another {} than the one the row's {} {:?} names",
                            system.as_deref().unwrap_or_default(),
                            model::singular(target),
                            field_a,
                            a.map(String::as_str).unwrap_or_default()
                        )))
                    }
                    Some(id) => Some(
                        match disagrees(
                            r,
                            id,
                            (exact.as_ref(), stored_exact),
                            named_stored.as_deref(),
                            &stored_domain,
                            &making,
                        ) {
                            Some(message) => Err(message),
                            None => {
                                // Without a domain, it takes the one the row
                                // gives, as one found by name does.
                                if let Some(domain) = &r.domain
                                    && stored_domain.get(id).is_some_and(Option::is_none)
                                    && !by_a.contains_key(domain)
                                {
                                    named.push((id.clone(), domain.clone()));
                                    if gives {
                                        making.fill(id, domain, i);
                                    }
                                }
                                Ok(id.clone())
                            }
                        },
                    ),
                    None if system.is_none() => Some(Err(format!(
                        "{0}.external_id needs a system to say which one the ids are from: map them as \
                         `{0}.external_id.<system>` (or name it in the mapping's [key] external_id)",
                        model::singular(target)
                    ))),
                    // A contact or deal is not given an id by a link: an id
                    // no record has names none, whatever else the row says.
                    None if target != Entity::Companies => Some(Err(format!(
                        "no {} with {} id {x:?}",
                        model::singular(target),
                        system.as_deref().unwrap_or_default()
                    ))),
                    None => None,
                }
            } else {
                None
            };
            // Companies made for earlier rows under the row's name, and at
            // its domain.
            let made_alike: Vec<String> = making.named_like(r).cloned().collect();
            let made_at_domain = r.domain.as_ref().and_then(|d| making.by.get(&format!("d:{d}"))).cloned();
            let made_at_domain = made_at_domain.as_ref();
            // (Of those alike, the ones a row that gives a domain could be:
            // made without one, as a stored one without one is.)
            let made_fit: Vec<String> = made_alike
                .iter()
                .filter(|m| r.domain.is_none() || making.from.get(*m).is_some_and(|f| f.domain.is_none()))
                .cloned()
                .collect();
            // (Deals of one name: the one at the row's company, if one is.)
            let hit = hit.or_else(|| {
                let ids = a.and_then(|v| by_a.get(v))?;
                // (By the company's id, else domain, else name, as given.)
                let at: Vec<String> = match (&r.within, ids.len()) {
                    (Some(given), 2..) => ids
                        .iter()
                        .filter(|id| {
                            deal_at.get(*id).is_some_and(|stored| match (&given.external, &given.domain) {
                                (Some(x), _) => stored.external.as_ref() == Some(x),
                                (None, Some(d)) => stored.domain.as_ref() == Some(d),
                                (None, None) => given.named_as(stored),
                            })
                        })
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                let found = one_of(target, if at.len() == 1 { &at } else { ids }, r, system.as_deref());
                // A company found by its domain whose row's name is another
                // stored company's, or one made for an earlier row: which is
                // meant is not ours to guess, as a companies import (or this
                // one run again) refuses it too. (A name that finds none is
                // the company's under another spelling.)
                let named = named_stored.iter().flatten().chain(&made_alike);
                let other_form = |id: &String| {
                    domain_named.get(id).is_some_and(|(key, form)| {
                        key.is_some()
                            && *key == r.name_key
                            && !model::forms_agree(form.or(self.bound_forms.get(id).copied()), r.form)
                    })
                };
                Some(match &found {
                    Ok(id)
                        if target == Entity::Companies
                            && (named.clone().next().is_some() && !named.clone().any(|n| n == id)
                                || other_form(id)) =>
                    {
                        Err(domain_of_another(r, id))
                    }
                    _ => found,
                })
            });
            // A domain an earlier reference gives the company it names
            // (unless the row's name is another company's, or gives another
            // form than the name that reference gave, as once stored).
            let hit = hit.or_else(|| {
                let (id, at) = r.domain.as_ref().and_then(|d| making.filled.get(d))?;
                let named = named_stored.iter().flatten().chain(&made_alike);
                let named_other = named.clone().next().is_some() && !named.clone().any(|n| n == id);
                let (key, stored) = domain_named.get(id).map_or((&refs[*at].name_key, None), |(k, f)| (k, *f));
                let form = stored.or_else(|| self.bound_forms.get(id).copied()).or(refs[*at].form);
                let other_form = *key == r.name_key && !model::forms_agree(form, r.form);
                Some(if target == Entity::Companies && r.name.is_some() && (named_other || other_form) {
                    Err(domain_of_another(r, id))
                } else {
                    Ok(id.clone())
                })
            });
            // Its domain a company's made for an earlier row, its name a
            // stored company's, and not the made one's too: another's, as
            // once both are stored.
            let hit = hit.or_else(|| {
                let at = made_at_domain.filter(|m| !made_alike.contains(m) && named_stored.is_some())?;
                Some(Err(domain_of_another(r, at)))
            });
            // Of names alike (`Acme Inc`, `ACME GmbH`), the one written
            // exactly as the row writes it.
            // (And, for a company made with the row's id, how many of them
            // are written exactly as the row writes the name.)
            let names_stored = match &named_stored {
                Some(ids) => StoredNames {
                    named: true,
                    written_exactly: match &r.external {
                        Some(x) if making.by.contains_key(&format!("x:{x}")) => self.written_exactly(r, ids)?,
                        _ => 0,
                    },
                },
                None => StoredNames::default(),
            };
            let found_by_name = named_stored;
            let by_name = match found_by_name {
                Some(ids) if hit.is_none() && ids.len() > 1 => Some(match self.written_as(r, &ids)? {
                    Some((id, domain)) => {
                        stored_domain.insert(id.clone(), domain);
                        vec![id]
                    }
                    None => ids,
                }),
                other => other,
            };
            // Of several, those at another domain than the row's are not the
            // row's (`Acme` at acme.nl beside `Acme GmbH` at acme.de and
            // `Acme BV` without one is `Acme BV`; beside `Acme GmbH` and
            // `Acme BV` at acme.be, another `Acme`).
            let by_name = match (by_name, &r.domain) {
                (Some(ids), Some(d)) if hit.is_none() && ids.len() > 1 => {
                    let at = |id: &String| stored_domain.get(id).and_then(Option::as_ref).or(making.filling.get(id));
                    let fit: Vec<String> = ids.iter().filter(|id| at(id).is_none_or(|s| s == d)).cloned().collect();
                    // (All at other domains: another company of that name,
                    // made for the row, as beside one alone.)
                    (!fit.is_empty()).then_some(fit)
                }
                (other, _) => other,
            };
            // Of several, those with another id than the one the row gives
            // (which no record has) are not the row's, as of companies made
            // for earlier rows. (All of them: one more, below.)
            let by_name = match (by_name, &r.external) {
                (Some(ids), Some(x)) if hit.is_none() && ids.len() > 1 && !by_ext.contains_key(x) => {
                    let fit: Vec<String> = ids
                        .iter()
                        .filter(|id| theirs.get(*id).or(taking.get(*id)).is_none_or(|t| t == x))
                        .cloned()
                        .collect();
                    Some(if fit.is_empty() { ids } else { fit })
                }
                (other, _) => other,
            };
            // Whether the row's company is one more of its name, not one
            // made for an earlier row.
            let mut another_of_name = false;
            let hit = match hit {
                Some(h) => Some(h),
                None => match by_name.as_deref() {
                    // Its domain that of a company made for an earlier row
                    // and named alike (whether or not the stored ones named
                    // have a domain): that one, found as made below.
                    Some(_) if made_at_domain.is_some() => None,
                    // A company of that name at another domain is another
                    // company (`ACME GmbH` at acme.de beside `Acme Inc` at
                    // acme.com): made, or refused in update mode, below.
                    // (Or the one an earlier row of the file gives it.)
                    Some([id])
                        if r.domain.is_some()
                            && stored_domain
                                .get(id)
                                .and_then(Option::as_ref)
                                .or(making.filling.get(id))
                                .is_some_and(|d| Some(d) != r.domain.as_ref()) =>
                    {
                        // (Written exactly as the row writes it, where no
                        // company made for an earlier row is, it is the
                        // one the row names: one made alike is not the
                        // row's either.)
                        another_of_name = made_alike.iter().any(|m| m != id)
                            && making.written_exactly(r, &made_alike).is_empty()
                            && self.written_as(r, std::slice::from_ref(id))?.is_some();
                        None
                    }
                    // A name which a company made for an earlier row has
                    // too (without a domain, or at another if the row gives
                    // none): two companies of that name, as they are a
                    // chunk later. Of them, the one written exactly as the
                    // row writes it, as of stored ones or made ones alone
                    // (a made one is found as made, below; a stored one is
                    // the row's, below): the row finds the same company
                    // whatever part of the file it was read with.
                    Some([id])
                        if made_fit.iter().any(|m| m != id)
                            && !(making.written_exactly(r, &made_fit).is_empty()
                                && self.written_as(r, std::slice::from_ref(id))?.is_some()) =>
                    {
                        if making.written_as(r, &made_fit).is_some()
                            && self.written_as(r, std::slice::from_ref(id))?.is_none()
                        {
                            None
                        } else {
                            let made: Vec<(String, Option<String>)> = made_fit
                                .iter()
                                .filter_map(|m| making.from.get(m))
                                .map(|from| (from.name.clone().unwrap_or_default(), from.domain.clone()))
                                .collect();
                            Some(Err(self.names_several(r, std::slice::from_ref(id), &made)?))
                        }
                    }
                    Some([id]) => {
                        if let Some(domain) = &r.domain {
                            named.push((id.clone(), domain.clone()));
                            if gives {
                                making.fill(id, domain, i);
                            }
                        }
                        Some(Ok(id.clone()))
                    }
                    // Several stored, none written as the row writes the
                    // name, and one made for an earlier row written so: that
                    // one, found as made below.
                    Some(ids)
                        if r.domain.is_none()
                            && making.written_as(r, &made_alike).is_some()
                            && self.written_exactly(r, ids)? == 0 =>
                    {
                        None
                    }
                    // Several of that name, each with another id than the
                    // row's new one: the row's is one more (a third `Zeta`,
                    // Z3), as beside one of them.
                    Some(ids) if self.each_has_another_id(target, ids, r)? => None,
                    // Names alike (`Acme Inc`, `ACME GmbH`) of companies
                    // told apart by domain: which one is not ours to guess.
                    Some(ids) => Some(Err(self.names_several(r, ids, &[])?)),
                    None => None,
                },
            };
            let result = match hit {
                Some(h) => h,
                None if target == Entity::Companies && self.settings.mode != Mode::Update => {
                    let made = making.find_or_make(
                        r,
                        !another_of_name,
                        names_stored,
                        &mut || self.ids.next_id(),
                        new_companies,
                    );
                    for (id, domain) in std::mem::take(&mut making.fills) {
                        if gives {
                            making.fill(&id, &domain, i);
                        }
                        named.push((id, domain));
                    }
                    made
                }
                None if target == Entity::Companies && self.settings.mode == Mode::Update => Err(format!(
                    "no company with {} (update mode creates no companies; use --mode upsert to create it)",
                    r.describe(system.as_deref())
                )),
                None => Err(format!("no {} with {}", model::singular(target), r.describe(system.as_deref()))),
            };
            // A row that gives a company's id no record has, and names by
            // name or domain a stored company that has another id in that
            // system (or was given another by an earlier row): which is
            // meant is not ours to guess, as a companies import refuses it
            // too. By name alone, it is another company of that name (two
            // `Zeta`s, Z1 and Z2), made as one is for the rows after. One
            // with no id there takes the row's (`amend_found`). In file
            // order, as each row is read: a row refused here binds no
            // later one.
            let result = match (&result, &r.external, &system) {
                (Ok(id), Some(given), Some(system))
                    if target == Entity::Companies && !by_ext.contains_key(given) && !making.from.contains_key(id) =>
                {
                    let by_name_alone = r.domain.is_none() && self.settings.mode != Mode::Update;
                    match (theirs.get(id), taking.get(id), taken.get(given)) {
                        // (Given to another company by an earlier row: that
                        // one's, which the row's name or domain is not.)
                        (.., Some(holder)) if holder != id => Err(given_to_another(given)),
                        (Some(stored), ..) if stored != given && by_name_alone => {
                            making.found_with.remove(given);
                            making.find_or_make(r, true, names_stored, &mut || self.ids.next_id(), new_companies)
                        }
                        (Some(stored), ..) if stored != given => Err(format!(
                            "the company the row names by name or domain has {system} id {stored:?}, not the row's \
                             company.external_id {given:?} (one company, two ids?)"
                        )),
                        (Some(_), ..) => result,
                        // (Insert mode gives no ids: none binds a later row.)
                        (None, ..) if self.settings.mode == Mode::Insert => result,
                        // Given another id by an earlier row: as once it is
                        // stored, by name alone another company of that name.
                        (None, Some(first), _) if first != given && by_name_alone => {
                            making.found_with.remove(given);
                            making.find_or_make(r, true, names_stored, &mut || self.ids.next_id(), new_companies)
                        }
                        (None, Some(first), _) if first != given => Err(format!(
                            "the company the row names by name or domain is given {system} id {first:?} in an \
                             earlier row, not {given:?} (one company, two ids?)"
                        )),
                        // (Made with it for an earlier row.)
                        (None, ..) if making.by.contains_key(&format!("x:{given}")) => Err(given_to_another(given)),
                        _ => {
                            taking.insert(id.clone(), given.clone());
                            taken.insert(given.clone(), id.clone());
                            result
                        }
                    }
                }
                _ => result,
            };
            // (Bound by a row that names it: one that finds it by domain
            // under another name gives it no form.)
            if let (Ok(id), Some(form)) = (&result, r.form)
                && formless.contains(id)
                && by_b.get(&r.id).is_some_and(|ids| ids.contains(id))
                && !self.bound_forms.contains_key(id)
            {
                self.bound_forms.insert(id.clone(), form);
                self.forms_to_keep.push((id.clone(), form));
            }
            if let (Ok(id), Some(x)) = (&result, &r.external)
                && target == Entity::Companies
                && gives
                && !making.from.contains_key(id)
                && !by_ext.contains_key(x)
            {
                let domain = stored_domain.get(id).cloned().flatten();
                making.found_with.entry(x.clone()).or_insert_with(|| (id.clone(), domain));
            }
            out.insert(key, result);
        }
        let mut ids_to_give: Vec<(String, String)> = match self.settings.mode {
            Mode::Insert => Vec::new(),
            _ => taking.into_iter().collect(),
        };
        ids_to_give.sort_unstable();
        named.retain(|(_, domain)| !making.by.contains_key(&format!("d:{domain}")));
        if !gives {
            named.clear();
        }
        // Not remembered until given: a later segment's row gives them again
        // if this one's rows are rejected.
        let pending: FastSet<&str> = named.iter().chain(&ids_to_give).map(|(_, v)| v.as_str()).collect();
        // Companies still to be created are remembered once they are.
        let known = self.linked.entry(target).or_default();
        for r in refs {
            if let Some(Ok(id)) = out.get(&r.id)
                && !making.from.contains_key(id)
                && ![&r.domain, &r.external].into_iter().flatten().any(|v| pending.contains(v.as_str()))
            {
                known.insert(r.id.clone(), id.clone());
                if target == Entity::Companies {
                    self.decided_to_keep.push((r.id.clone(), id.clone()));
                }
            }
        }
        // A company made from a name without a legal form keeps the form a
        // later row's name gave it (`Acme`, then `Acme BV`) in the segments
        // after this one, as a stored one does (see `bound_forms`).
        for (id, m) in &making.from {
            if let Some(form) = m.form
                && m.name.as_deref().is_some_and(|n| model::legal_form(n).is_none())
                && !self.bound_forms.contains_key(id)
            {
                self.bound_forms.insert(id.clone(), form);
                self.forms_to_keep.push((id.clone(), form));
            }
        }
        amend.0.extend(named);
        amend.1.extend(ids_to_give);
        self.name_marked(&mut out, &making)?;
        Ok(out)
    }

    /// Whether stored company `linked`, which a record's link column `pos`
    /// holds, is one its row's reference `r` by name names: of that name,
    /// and of the legal form the name gives, if it gives one (as stored,
    /// learned, or bound earlier in this import; `Zeta AG` does not fit the
    /// formless `Zeta`). A reference that gives a domain fits only where
    /// it found none (`refused`: several of that name) and the company has
    /// no other domain; one that gives an id, never.
    fn name_fits(&mut self, r: &LinkRef, pos: usize, linked: &str, refused: bool) -> Result<bool> {
        if self.columns[pos].kind != Kind::Link(Entity::Companies)
            || (r.domain.is_some() && !refused)
            || r.external.is_some()
            || r.name_key.is_none()
        {
            return Ok(false);
        }
        let row = self.db.query_row(
            "SELECT name_key, COALESCE(name_form, learned_form), domain FROM companies \
             WHERE id = ? AND deleted_at IS NULL",
            &[linked.into()],
        )?;
        let Some(row) = row else { return Ok(false) };
        let mut row = row.into_iter().map(Cell::into_text);
        let (key, form, domain) = (row.next().flatten(), row.next().flatten(), row.next().flatten());
        let form = form.as_deref().and_then(model::canonical_form).or_else(|| self.bound_forms.get(linked).copied());
        Ok(key == r.name_key
            && (r.form.is_none() || form == r.form)
            && (domain.is_none() || r.domain.is_none() || domain == r.domain))
    }

    /// Writes each company a message marks (`company_mark`) as its name
    /// and id, `"Globex Inc" (01J…)`, for `history` to take: stored, or made
    /// for an earlier row of the part.
    fn name_marked(&mut self, out: &mut HashMap<String, Result<String, String>>, making: &Making) -> Result<()> {
        let mut ids: Vec<&str> =
            out.values().filter_map(|v| v.as_ref().err()).flat_map(|m| m.split('\u{1}').skip(1).step_by(2)).collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        ids.dedup();
        let mut names: HashMap<String, Option<String>> = HashMap::default();
        for part in ids.chunks(500) {
            let sql = format!("SELECT id, name FROM companies WHERE id IN ({})", placeholders(part.len()));
            let params: Vec<Param> = part.iter().map(|id| (*id).into()).collect();
            for row in self.db.query(&sql, &params)? {
                let mut row = row.into_iter().map(Cell::into_text);
                if let Some(id) = row.next().flatten() {
                    names.insert(id, row.next().flatten());
                }
            }
        }
        for v in out.values_mut() {
            let Err(message) = v else { continue };
            if !message.contains('\u{1}') {
                continue;
            }
            let mut named = String::with_capacity(message.len() + 32);
            for (n, piece) in message.split('\u{1}').enumerate() {
                if n % 2 == 0 {
                    named.push_str(piece);
                    continue;
                }
                let name = names.get(piece).cloned().flatten().or_else(|| making.from.get(piece)?.name.clone());
                match name {
                    Some(name) => named.push_str(&format!("{name:?} ({piece})")),
                    None => named.push_str(&format!("the company {piece}")),
                }
            }
            *message = named;
        }
        Ok(())
    }

    /// The stored domain (`None`: none) of each company a reference finds
    /// by name alone, its domain finding none, by id: one with no domain
    /// takes the reference's (`domains_to_fill`); one with another is
    /// another company.
    fn named_domains(
        &mut self,
        target: Entity,
        refs: &[&LinkRef],
        by_a: &HashMap<String, Vec<String>>,
        by_b: &HashMap<String, Vec<String>>,
        by_ext: &HashMap<String, String>,
    ) -> Result<HashMap<String, Option<String>>> {
        let mut out = HashMap::default();
        if target != Entity::Companies {
            return Ok(out);
        }
        // (And of each found by its id, see `disagrees`; and of each found
        // for a row giving an id no record has, see `Making::found_with`.)
        let mut ids: Vec<&str> = refs
            .iter()
            .filter(|r| {
                r.domain.as_ref().is_some_and(|d| !by_a.contains_key(d))
                    || r.external.as_ref().is_some_and(|x| !by_ext.contains_key(x))
            })
            .flat_map(|r| {
                // (Of several found by name, each: those at another domain
                // than the row's are other companies.)
                let by_name = by_b.get(&r.id).into_iter().flatten().map(String::as_str);
                let by_domain = r.domain.as_ref().and_then(|d| by_a.get(d)?.first()).map(String::as_str);
                by_name.chain(
                    [by_domain, r.external.as_ref().and_then(|x| by_ext.get(x)).map(String::as_str)]
                        .into_iter()
                        .flatten(),
                )
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for part in ids.chunks(500) {
            let params: Vec<Param> = part.iter().map(|id| (*id).into()).collect();
            let sql = format!("SELECT id, domain FROM companies WHERE id IN ({})", placeholders(params.len()));
            for row in self.db.query(&sql, &params)? {
                let mut row = row.into_iter();
                if let Some(id) = row.next().and_then(Cell::into_text) {
                    out.insert(id, row.next().and_then(Cell::into_text));
                }
            }
        }
        Ok(out)
    }

    /// Of deals several of which have a name a reference gives with its
    /// row's company, each one's company: name as matched and domain.
    fn deals_at(
        &mut self,
        target: Entity,
        refs: &[&LinkRef],
        by_a: &HashMap<String, Vec<String>>,
    ) -> Result<HashMap<String, CompanyMarks>> {
        let mut out = HashMap::default();
        if target != Entity::Deals {
            return Ok(out);
        }
        let mut ids: Vec<&str> = refs
            .iter()
            .filter(|r| r.within.is_some())
            .filter_map(|r| by_a.get(r.name.as_ref()?).filter(|ids| ids.len() > 1))
            .flatten()
            .map(String::as_str)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // (deal, its company)
        let mut companies: Vec<(String, String)> = Vec::new();
        for part in ids.chunks(500) {
            let params: Vec<Param> = part.iter().map(|id| (*id).into()).collect();
            let sql = format!(
                "SELECT d.id, c.name, c.domain, c.id FROM deals d JOIN companies c ON c.id = d.company_id \
                 WHERE d.id IN ({})",
                placeholders(params.len())
            );
            for row in self.db.query(&sql, &params)? {
                let mut row = row.into_iter().map(Cell::into_text);
                if let Some(id) = row.next().flatten() {
                    let (name, domain) = (row.next().flatten(), row.next().flatten());
                    if let Some(company) = row.next().flatten() {
                        companies.push((id.clone(), company));
                    }
                    out.insert(id, CompanyMarks::of(name.as_deref(), domain, None));
                }
            }
        }
        // The companies' ids in the import's system, for a row naming its
        // company by one.
        if let Some(system) = self.settings.external_system.clone() {
            let wanted: Vec<&str> = companies.iter().map(|(_, c)| c.as_str()).collect();
            let held = external_pairs(self.db, Entity::Companies, &system, "record_id", &wanted)?;
            for (deal, company) in &companies {
                if let Some(marks) = out.get_mut(deal) {
                    marks.external = held.get(company).cloned();
                }
            }
        }
        Ok(out)
    }

    /// The one of `ids` whose name is the reference's as written (its
    /// spaces trimmed), if one is, with its domain.
    /// How many of the companies `ids` have the name `r` gives, written
    /// exactly so.
    fn written_exactly(&mut self, r: &LinkRef, ids: &[String]) -> Result<u64> {
        let Some(name) = r.name.as_deref().map(str::trim) else { return Ok(0) };
        let mut params: Vec<Param> = ids.iter().map(|id| id.as_str().into()).collect();
        let sql = format!("SELECT count(*) FROM companies WHERE id IN ({}) AND name = ?", placeholders(params.len()));
        params.push(name.into());
        self.db.query_count(&sql, &params)
    }

    fn written_as(&mut self, r: &LinkRef, ids: &[String]) -> Result<Option<(String, Option<String>)>> {
        let Some(name) = r.name.as_deref().map(str::trim) else { return Ok(None) };
        let mut params: Vec<Param> = ids.iter().map(|id| id.as_str().into()).collect();
        let sql = format!("SELECT id, domain FROM companies WHERE id IN ({}) AND name = ?", placeholders(params.len()));
        params.push(name.into());
        let mut rows = self.db.query(&sql, &params)?;
        if rows.len() != 1 {
            return Ok(None);
        }
        let mut row = rows.remove(0).into_iter();
        Ok(row.next().and_then(Cell::into_text).map(|id| (id, row.next().and_then(Cell::into_text))))
    }

    /// Whether each of the companies `ids` has an id in the import's system,
    /// and none the one `r` gives (which no company has yet).
    fn each_has_another_id(&mut self, target: Entity, ids: &[String], r: &LinkRef) -> Result<bool> {
        let (Entity::Companies, Some(x), Some(system)) = (target, &r.external, &self.settings.external_system) else {
            return Ok(false);
        };
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        let theirs = external_pairs(self.db, target, system, "record_id", &wanted)?;
        Ok(ids.iter().all(|id| theirs.get(id).is_some_and(|t| t != x)))
    }

    /// Why a reference to a company by name is refused when the name is
    /// that of several: the stored `ids` and those `made` for earlier rows
    /// (name, domain), each named, with its domain.
    fn names_several(&mut self, r: &LinkRef, ids: &[String], made: &[(String, Option<String>)]) -> Result<String> {
        let params: Vec<Param> = ids.iter().map(|id| id.as_str().into()).collect();
        let sql = format!(
            "SELECT name, domain, id FROM companies WHERE id IN ({}) ORDER BY created_at, id",
            placeholders(params.len())
        );
        // (One with no domain by its id: names alike tell nothing apart.)
        let mut with_domain = made.iter().any(|(_, domain)| domain.is_some());
        let stored: Vec<(String, Option<String>)> = self
            .db
            .query(&sql, &params)?
            .into_iter()
            .map(|row| {
                let mut row = row.into_iter().map(Cell::into_text);
                let (name, domain, id) = (row.next().flatten(), row.next().flatten(), row.next().flatten());
                with_domain |= domain.is_some();
                (name.unwrap_or_default(), domain.or(id))
            })
            .collect();
        let each: Vec<String> = stored
            .into_iter()
            .chain(made.iter().cloned())
            .map(|(name, domain)| match domain {
                Some(domain) => format!("{name:?} ({domain})"),
                None => format!("{name:?}"),
            })
            .collect();
        // (A domain none of them has says nothing of which.)
        let by = match (&r.domain, with_domain) {
            (None, _) => "company.domain or company.external_id",
            (Some(_), true) => "a domain one of them has or company.external_id",
            (Some(_), false) => "company.external_id",
        };
        Ok(format!(
            "the name {:?} is that of {} companies: {}; give {by} to say which",
            r.name.as_deref().unwrap_or_default(),
            each.len(),
            each.join(", ")
        ))
    }

    /// The stored companies without a domain that a reference giving a
    /// domain no company has finds by its id or by name: each takes the
    /// first such domain (`amend_found`), which later rows then find it by.
    fn could_take_domains<'a>(
        &self,
        target: Entity,
        refs: &[&LinkRef],
        by_a: &HashMap<String, Vec<String>>,
        by_b: &'a HashMap<String, Vec<String>>,
        by_ext: &'a HashMap<String, String>,
        stored_domain: &HashMap<String, Option<String>>,
    ) -> Vec<&'a str> {
        if target != Entity::Companies || self.settings.mode == Mode::Insert {
            return Vec::new();
        }
        let mut ids: Vec<&str> = refs
            .iter()
            .filter(|r| r.domain.as_ref().is_some_and(|d| !by_a.contains_key(d)))
            .flat_map(|r| {
                let by_id = r.external.as_ref().and_then(|x| by_ext.get(x)).into_iter();
                by_id.chain(by_b.get(&r.id).into_iter().flatten())
            })
            .filter(|id| stored_domain.get(*id).is_some_and(Option::is_none))
            .map(String::as_str)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Completes companies found by name or domain with what their rows
    /// give and they lack:
    /// - `named` (company id and domain, in file order; no company has the
    ///   domain): a company without a domain takes the one its row names,
    ///   "Acme" linked from a row with `company.domain` acme.com. A domain
    ///   already stored is never replaced, and one domain goes to one
    ///   company.
    /// - `ids` (company id and external id, one each, no record holding
    ///   it): a company with no id in the import's system takes the row's
    ///   `company.external_id`, so that a later row naming the company by
    ///   that id alone finds it.
    ///
    /// Audited in this batch, so undo takes it back. Insert mode changes no
    /// stored record and does not call this.
    fn amend_found(&mut self, named: Vec<(String, String)>, ids: Vec<(String, String)>, now: &str) -> Result<()> {
        let mut wanted: Vec<String> = named.iter().chain(&ids).map(|(id, _)| id.clone()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let stored: HashMap<String, Existing> =
            load_by(self.db, Entity::Companies, "id", &wanted, None)?.into_iter().map(|e| (e.id.clone(), e)).collect();
        let Some(pos) = model::position(Entity::Companies, "domain") else { return Ok(()) };
        let mut domains: HashMap<&str, &str> = HashMap::default();
        let mut given = FastSet::<&str>::default();
        for (id, domain) in &named {
            let Some(e) = stored.get(id) else { continue };
            if e.value(pos).is_none() && !domains.contains_key(id.as_str()) && given.insert(domain) {
                domains.insert(id, domain);
            }
        }
        let system = self.settings.external_system.clone().unwrap_or_default();
        let external: HashMap<&str, &str> = ids.iter().map(|(id, x)| (id.as_str(), x.as_str())).collect();
        let mut audit = Vec::new();
        let mut params: Vec<Arg<'_>> = Vec::new();
        for id in &wanted {
            let (domain, x) = (domains.get(id.as_str()), external.get(id.as_str()));
            let Some(e) = stored.get(id).filter(|_| domain.is_some() || x.is_some()) else { continue };
            let before = e.to_values();
            let mut after = before.clone();
            if let Some(fresh) = &mut self.fresh {
                fresh.note(id, None, domain.copied(), x.copied());
            }
            if let Some(domain) = domain {
                after[pos] = Some((*domain).to_string());
                audit.push(AuditRow::change(id, "update", "domain", None, Some((*domain).to_string())));
            }
            if let Some(x) = x {
                params.extend([Arg::Text("companies"), Arg::Text(&system), Arg::Text(x), Arg::Text(id)]);
                audit.push(AuditRow::change(
                    id,
                    "update",
                    &format!("external_id.{system}"),
                    None,
                    Some((*x).to_string()),
                ));
            }
            let hash = model::content_hash(&after);
            update_record(self.db, Entity::Companies, id, (&before, &after), (&hash, None), now)?;
            self.counts.companies_updated += 1;
        }
        if !params.is_empty() {
            self.db.insert_many("external_ids", &["entity", "system", "external_id", "record_id"], &params)?;
        }
        self.write_audit(Entity::Companies, &audit, now)?;
        if self.effects.is_some() {
            self.amended.extend(audit.into_iter().filter_map(|a| Some((a.record, a.field?, a.after?))));
        }
        Ok(())
    }

    /// Ends the batch: counts saved, status `done` (a dry run is rolled back).
    pub fn finish(mut self) -> Result<Counts> {
        let ended = if self.settings.dry_run { self.end_dry_run() } else { self.end_batch() };
        ended.map(|()| std::mem::take(&mut self.counts)).inspect_err(|_| self.abandon())
    }

    fn end_batch(&mut self) -> Result<()> {
        if !self.in_tx {
            self.db.begin()?;
            self.in_tx = true;
        }
        self.end_bulk()?;
        self.db.execute(
            "UPDATE batches SET status = 'done', finished_at = ? WHERE id = ?",
            &[model::now_text().into(), self.batch.as_str().into()],
        )?;
        // (Kept only for a resume; the forms learned are kept for `undo`.)
        self.db.execute("DELETE FROM batch_links WHERE batch_id = ?", &[self.batch.as_str().into()])?;
        self.commit(true)
    }

    /// A dry run writes as a real one does, so that later rows see earlier
    /// ones, then rolls back; a write the server refused must still fail it.
    fn end_dry_run(&mut self) -> Result<()> {
        self.db.wait()?;
        self.in_tx = false;
        self.db.rollback()
    }

    /// Clears the cache of links; the companies references found are
    /// kept as `decided`.
    fn forget_links(&mut self) {
        if let Some(companies) = self.linked.remove(&Entity::Companies) {
            self.decided.extend(companies);
        }
        self.linked.clear();
    }

    /// After a failure: the open transaction, if any, is rolled back, and
    /// with it may go links the cache holds.
    fn abandon(&mut self) {
        self.forget_links();
        (self.fresh, self.fresh_wanted) = (None, false);
        if std::mem::take(&mut self.in_tx) {
            let _ = self.db.rollback();
        }
    }

    /// Stops early: rows done so far are committed (the batch stays
    /// resumable); a dry run is rolled back.
    pub fn stop(mut self) -> Result<()> {
        if self.settings.dry_run {
            return self.end_dry_run().inspect_err(|_| self.abandon());
        }
        self.stop_batch().inspect_err(|_| self.abandon())
    }

    fn stop_batch(&mut self) -> Result<()> {
        let bulk = self.bulk.as_ref().is_some_and(|b| b.started);
        if !self.in_tx && (bulk || self.unflushed) {
            self.db.begin()?;
            self.in_tx = true;
        }
        if bulk {
            self.end_bulk()?;
        }
        if self.unflushed {
            // The last commit did not wait for the disk. One that does needs
            // a write of its own to carry; it then makes every row done so
            // far as durable as a finished import's.
            self.db
                .execute("UPDATE batches SET checkpoint = checkpoint WHERE id = ?", &[self.batch.as_str().into()])?;
        }
        self.commit(true)
    }
}

/// A company created from a link: its name (or domain) and domain.
impl Drop for Import<'_> {
    fn drop(&mut self) {
        // The connection may serve other commands after this import.
        let _ = self.db.enforce_checks(true);
        if self.bulk_store {
            let _ = self.db.bulk_load(false);
        }
    }
}

/// Why a company row, under `guard_domains`, may not have its domain: it
/// is another company's. `held` is `guarded_domains`'.
fn domain_conflict(
    held: &HashMap<String, Holder>,
    d: &Draft,
    existing: Option<&Existing>,
    by_id: bool,
) -> Option<String> {
    let domain = model::position(Entity::Companies, "domain")?;
    let given = d.values.get(domain)?.as_ref()?.as_deref()?;
    let advice = "import with --key domain to match companies by domain, or --key name to match by name alone";
    // Another company has the domain (stored, or given earlier by this import).
    let taken = |own: Option<&str>| {
        held.get(given).filter(|h| Some(h.id.as_str()) != own).map(|other| {
            format!("domain {given} is company {:?}'s: the same company under another name? ({advice})", other.name)
        })
    };
    match existing {
        // Named by its id: it may change its domain, but not to another's.
        Some(e) if by_id => taken(Some(&e.id)),
        // Found by name at another domain, it is another company
        // (`at_another_domain`), never this one.
        Some(_) => None,
        None => taken(None),
    }
}

/// Whether a company row found by its name alone (`existing`) is another
/// company of that name: the row gives a domain, and the one found is at
/// another (`Zeta` at zeta.de beside `Zeta` at zeta.fr), as links to
/// companies make it. So a companies export of subsidiaries of one name
/// imports again into an empty store.
fn at_another_domain(d: &Draft, existing: &Existing) -> bool {
    let Some(domain) = model::position(Entity::Companies, "domain") else { return false };
    let given = d.values.get(domain).cloned().flatten().flatten();
    given.is_some_and(|g| existing.value(domain).is_some_and(|s| !s.is_empty() && s != g))
}

/// Whether a company row gives a domain and `existing` is at it.
fn at_row_domain(d: &Draft, existing: &Existing) -> bool {
    let Some(domain) = model::position(Entity::Companies, "domain") else { return false };
    let given = d.values.get(domain).and_then(|v| v.as_ref()?.as_deref());
    given.is_some() && existing.value(domain) == given
}

/// The company holding a domain, for `domain_conflict`.
struct Holder {
    id: String,
    name: String,
}

impl Holder {
    /// Notes that company `id` (with `values`) now holds its domain, for
    /// the later rows of the same segment.
    fn note(held: &mut HashMap<String, Holder>, id: &str, values: &[Option<String>]) {
        let at = |f: &str| model::position(Entity::Companies, f).and_then(|p| values.get(p)?.clone());
        if let Some(domain) = at("domain") {
            held.entry(domain).or_insert_with(|| Holder { id: id.to_string(), name: at("name").unwrap_or_default() });
        }
    }
}

/// Whether the record links where the row's links resolved to (given links,
/// and with `clear` links the row leaves empty).
fn links_unchanged(e: &Existing, links: &[(usize, Option<String>)], clear: bool) -> bool {
    links.iter().all(|(pos, id)| !(id.is_some() || clear) || e.value(*pos) == id.as_deref())
}

/// Gives unchanged records the hash of the row they were found equal to, so
/// that the next import of that row recognises it (see `recognise.rs`).
/// Nothing else of them changes: not their version, not their audit.
fn adopt_sources(db: &mut dyn Sql, entity: Entity, adopted: &[(String, u64)]) -> Result<()> {
    for part in adopted.chunks(400) {
        let values = vec!["(CAST(? AS TEXT), CAST(? AS BIGINT))"; part.len()].join(", ");
        let sql = format!(
            "UPDATE {table} SET source_hash = v.column2 FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
            table = entity.name()
        );
        let mut params = Vec::with_capacity(part.len() * 2);
        for (id, hash) in part {
            params.push(Param::from(id.as_str()));
            params.push(Param::Int(*hash as i64));
        }
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// The companies a segment makes for the rows that name them.
#[derive(Default)]
struct Making {
    /// Each made company by what rows find it by: `x:` its id, `d:` its
    /// domain (by name: `named`).
    by: HashMap<String, String>,
    /// What each was made from (with the id a later row gave it).
    from: HashMap<String, LinkRef>,
    /// Ids no record has, given for companies found by name or domain, to
    /// the company each is given for (with its stored domain): no company
    /// made here may take one.
    found_with: HashMap<String, (String, Option<String>)>,
    /// The system of the rows' ids, to name in messages.
    system: Option<String>,
    /// Domains rows give companies found by an id given in the file, which
    /// have none: (company id, domain), for `amend_found`.
    fills: Vec<(String, String)>,
    /// The domain each company found without one takes: the first row's.
    filling: HashMap<String, String>,
    /// The company each such domain goes to, and the reference (its index)
    /// that gave it: a later row with that domain finds it.
    filled: HashMap<String, (String, usize)>,
    /// Every company made, by its name's key, in the order made: names
    /// alike (`Acme Inc`, `ACME GmbH`) are several companies' when rows
    /// tell them apart by domain or id.
    named: HashMap<String, Vec<String>>,
    /// Whether a made company takes the domain a later row gives it, as a
    /// stored one does (not in insert mode, which gives stored ones none).
    gives: bool,
}

impl Making {
    /// Company `id`, found without a domain, takes `domain` from the
    /// reference at `at` (unless an earlier one gave it one).
    fn fill(&mut self, id: &str, domain: &str, at: usize) {
        if !self.filling.contains_key(id) {
            self.filling.insert(id.to_string(), domain.to_string());
            self.filled.entry(domain.to_string()).or_insert_with(|| (id.to_string(), at));
        }
    }

    /// The company made earlier in the segment that `r` names (by id, then
    /// domain, then name unless `by_name` is false), or a new one made from
    /// it (`names_stored`: the stored companies the row's name finds): a
    /// row that gives the company's name (and its id, if any), so that an
    /// export of contacts alone imports into an empty store. `Err` when the row disagrees with
    /// an earlier one, or names nothing it could be made from.
    fn find_or_make(
        &mut self,
        r: &LinkRef,
        by_name: bool,
        names_stored: StoredNames,
        next_id: &mut dyn FnMut() -> String,
        new_companies: &mut Vec<NewCompany>,
    ) -> Result<String, String> {
        let external = r.external.as_ref().map(|x| format!("x:{x}"));
        let domain = r.domain.as_ref().map(|d| format!("d:{d}"));
        let by_id = external.as_ref().and_then(|k| self.by.get(k)).cloned();
        let by_domain = domain.as_ref().and_then(|k| self.by.get(k)).cloned();
        // Two values given, and not the same.
        let differ = |a: &Option<String>, b: &Option<String>| a.is_some() && b.is_some() && a != b;
        // An id given again with a domain another company has or another
        // than the company's own, or with a name that finds another
        // company (a name that finds none is the company's under another
        // spelling), or a domain given to a company made with another id:
        // which is right is not ours to guess, as it is not once stored.
        let system = self.system.as_deref().unwrap_or_default();
        let clash = match (by_id.as_ref().zip(by_id.as_ref().and_then(|id| self.from.get(id))), by_domain.as_ref()) {
            (Some((at, m)), by_domain) if by_domain.is_some_and(|d| d != at) || differ(&m.domain, &r.domain) => {
                Some(format!(
                    "{system} id {:?} is a company at another domain than the row's company.domain {:?} \
                     (one company, two domains?)",
                    r.external.as_deref().unwrap_or_default(),
                    r.domain.as_deref().unwrap_or_default()
                ))
            }
            (Some((at, _)), _) if self.names_another(r, at, names_stored) => Some(id_of_another(r, system, at)),
            (None, Some(d)) if self.from.get(d).is_some_and(|m| differ(&m.external, &r.external)) => Some(format!(
                "company.domain {:?} is given with company.external_id {:?} in an earlier row, not {:?}",
                r.domain.as_deref().unwrap_or_default(),
                self.from.get(d).and_then(|m| m.external.as_deref()).unwrap_or_default(),
                r.external.as_deref().unwrap_or_default()
            )),
            _ => None,
        };
        if let Some(message) = clash {
            return Err(message);
        }
        // An id an earlier row gave a company found by name or domain: a
        // row whose name and domain find nothing else is that company's,
        // as it will be by the id once stored.
        if let Some(x) = r.external.as_ref().filter(|_| by_id.is_none())
            && let Some(found) = self.found_with.get(x)
        {
            let made = by_domain.or_else(|| self.named_like(r).next().cloned());
            let (id, stored_domain) = found;
            let domain = stored_domain.clone().or_else(|| self.filling.get(id).cloned());
            return match made {
                None if !differ(&domain, &r.domain) => {
                    if let (None, Some(domain)) = (domain, &r.domain) {
                        self.fills.push((id.clone(), domain.clone()));
                    }
                    Ok(id.clone())
                }
                _ => Err(given_to_another(x)),
            };
        }
        // A domain made for an earlier row beside a name another company
        // made for one has: which is meant is not ours to guess, as it is
        // not once both are stored.
        if let (None, Some(at)) = (&by_id, &by_domain)
            && r.name.is_some()
            && (self.named_like(r).next().is_some() && !self.named_like(r).any(|id| id == at)
                || self.from.get(at).is_some_and(|m| m.name_key == r.name_key && !model::forms_agree(m.form, r.form)))
        {
            return Err(domain_of_another(r, at));
        }
        let known = match by_id.or(by_domain) {
            Some(id) => Some(id),
            None if by_name => self.by_name(r)?,
            None => None,
        };
        // One made with another id is another company.
        let known = known.filter(|id| !self.from.get(id).is_some_and(|m| differ(&m.external, &r.external)));
        let id = match known {
            Some(id) => {
                // Made without an id or a domain, it takes the first a
                // later row gives, as a stored company does.
                if let Some(m) = self.from.get_mut(&id) {
                    // (Made from a name without a form, it is of the first
                    // form a later row's name gives it: see `bound_forms`;
                    // a row that finds it by domain under another name
                    // gives it none.)
                    if m.name_key == r.name_key {
                        m.form = m.form.or(r.form);
                    }
                    let mut made = new_companies.iter_mut().find(|c| c.0 == id);
                    if let Some(x) = r.external.as_ref().filter(|_| m.external.is_none()) {
                        m.external = Some(x.clone());
                        if let Some(made) = made.as_mut() {
                            made.2 = Some(x.clone());
                        }
                    }
                    if let Some(d) = r.domain.as_ref().filter(|_| m.domain.is_none() && self.gives) {
                        m.domain = Some(d.clone());
                        if let Some(made) = made {
                            made.1[1] = Some(d.clone());
                        }
                    }
                }
                id
            }
            // Made from a name or a domain; a company's id alone says
            // nothing to make it from.
            None if r.name.is_some() || (r.external.is_none() && r.domain.is_some()) => {
                let id = next_id();
                new_companies.push((id.clone(), company_values(r), r.external.clone()));
                self.from.insert(id.clone(), r.clone());
                if let Some(key) = &r.name_key {
                    self.named.entry(key.clone()).or_default().push(id.clone());
                }
                id
            }
            None => return Err(format!("no company with {}", r.describe(self.system.as_deref()))),
        };
        for k in [external, domain].into_iter().flatten() {
            self.by.entry(k).or_insert_with(|| id.clone());
        }
        Ok(id)
    }

    /// Whether `r`'s name finds another company than `id`, made earlier:
    /// of those named alike, stored (`stored`) or made, `id` is not one, or
    /// another is the one alone written exactly as `r` writes it.
    fn names_another(&self, r: &LinkRef, id: &String, stored: StoredNames) -> bool {
        let alike: Vec<String> = self.named_like(r).cloned().collect();
        if !alike.contains(id) {
            return stored.named || !alike.is_empty();
        }
        match (stored.written_exactly, self.written_exactly(r, &alike).as_slice()) {
            (0, [exact]) => *exact != id,
            (1, []) => true,
            _ => false,
        }
    }

    /// The companies made earlier under names alike to `r`'s (by key)
    /// whose legal form agrees with its own, in the order made.
    fn named_like<'a>(&'a self, r: &'a LinkRef) -> impl Iterator<Item = &'a String> {
        let made = r.name_key.as_ref().and_then(|k| self.named.get(k));
        made.into_iter().flatten().filter(|id| self.from.get(*id).is_none_or(|m| model::forms_agree(m.form, r.form)))
    }

    /// Of `ids`, companies made earlier, the one alone whose name is
    /// written exactly as `r` writes it.
    fn written_as<'a>(&self, r: &LinkRef, ids: &'a [String]) -> Option<&'a String> {
        match self.written_exactly(r, ids).as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Of `ids`, companies made earlier, those whose name is written
    /// exactly as `r` writes it.
    fn written_exactly<'a>(&self, r: &LinkRef, ids: &'a [String]) -> Vec<&'a String> {
        let Some(name) = r.name.as_deref().map(str::trim) else { return Vec::new() };
        ids.iter()
            .filter(|id| self.from.get(*id).and_then(|m| m.name.as_deref()).map(str::trim) == Some(name))
            .collect()
    }

    /// The company made earlier whose name `r` gives, as stored ones are
    /// found by name: of names alike, the one written so; one made at
    /// another domain or with another id is another company; of several
    /// left, which is meant is not ours to guess.
    fn by_name(&self, r: &LinkRef) -> Result<Option<String>, String> {
        let ids: Vec<&String> = self.named_like(r).collect();
        let name = r.name.as_deref().map(str::trim);
        let exact: Vec<&String> = ids
            .iter()
            .copied()
            .filter(|id| self.from.get(*id).and_then(|m| m.name.as_deref()).map(str::trim) == name)
            .collect();
        let alike: Vec<&String> = if exact.len() == 1 { exact } else { ids };
        let differ = |a: &Option<String>, b: &Option<String>| a.is_some() && b.is_some() && a != b;
        // One alone, without a domain, with another id than the row that
        // gives one: it would take the row's domain, not its id, so which
        // is meant is not ours to guess, as once it is stored.
        // (Of those not at another domain.)
        let here: Vec<&String> = alike
            .iter()
            .copied()
            .filter(|id| self.from.get(*id).is_some_and(|m| !differ(&m.domain, &r.domain)))
            .collect();
        if let ([one], Some(_)) = (here.as_slice(), &r.domain)
            && let Some(m) = self.from.get(*one).filter(|m| m.domain.is_none() && differ(&m.external, &r.external))
        {
            return Err(format!(
                "the company the row names by name or domain has {} id {:?}, not the row's company.external_id {:?} \
                 (one company, two ids?)",
                self.system.as_deref().unwrap_or_default(),
                m.external.as_deref().unwrap_or_default(),
                r.external.as_deref().unwrap_or_default()
            ));
        }
        let fit: Vec<&String> = alike
            .into_iter()
            .filter(|id| {
                self.from.get(*id).is_some_and(|m| !differ(&m.domain, &r.domain) && !differ(&m.external, &r.external))
            })
            .collect();
        match fit.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            several => {
                let each: Vec<String> = several
                    .iter()
                    .filter_map(|id| self.from.get(*id))
                    .map(|m| {
                        let name = m.name.as_deref().unwrap_or_default().trim();
                        match &m.domain {
                            Some(domain) => format!("{name:?} ({domain})"),
                            None => format!("{name:?}"),
                        }
                    })
                    .collect();
                let with_domain = several.iter().any(|id| self.from.get(*id).is_some_and(|m| m.domain.is_some()));
                let by = match (&r.domain, with_domain) {
                    (None, _) => "company.domain or company.external_id",
                    (Some(_), true) => "a domain one of them has or company.external_id",
                    (Some(_), false) => "company.external_id",
                };
                Err(format!(
                    "the name {:?} is that of {} companies made for earlier rows: {}; give {by} to say which",
                    r.name.as_deref().unwrap_or_default(),
                    each.len(),
                    each.join(", ")
                ))
            }
        }
    }
}

/// Of the stored companies a row's name finds (`named`: whether any), how
/// many are written exactly as the row writes it.
#[derive(Clone, Copy, Default)]
struct StoredNames {
    named: bool,
    written_exactly: u64,
}

/// Why a row is refused whose company id an earlier row gave another company.
fn given_to_another(x: &str) -> String {
    format!("company.external_id {x:?} is given to another company in an earlier row (one id, two companies?)")
}

fn company_values(r: &LinkRef) -> Vec<Option<String>> {
    let mut values = vec![None; model::columns(Entity::Companies).len()];
    let name = r.name.clone().or_else(|| r.domain.clone()).unwrap_or_default();
    values[0] = Some(name.chars().take(255).collect());
    values[1] = r.domain.clone();
    values
}

/// Resolved links of a segment: (column, link id) → record id or why not.
#[derive(Default)]
struct Links {
    one: HashMap<usize, HashMap<String, Result<String, String>>>,
    contacts: HashMap<String, Result<String, String>>,
    external_of: HashMap<String, String>,
    /// Companies the rows name that do not exist yet, with the ids links to
    /// them were given: each is created only with a record that links to it.
    new_companies: Vec<NewCompany>,
    /// What companies found by name or domain lack and rows give them,
    /// given once a written row gives it (`amend_found`).
    amend: Amendments,
}

/// A company a row names that does not exist yet: the id it will have, its
/// values, and its id in the import's system when the row gives one.
type NewCompany = (String, Vec<Option<String>>, Option<String>);

/// Company id and domain, and company id and external id: see `amend_found`.
type Amendments = (Vec<(String, String)>, Vec<(String, String)>);

/// Whether a value, or any inside it, holds a NUL character.
fn holds_nul(v: &crmsync_core::Value) -> bool {
    use crmsync_core::Value;
    match v {
        Value::Text(t) | Value::Number(t) => t.as_bytes().contains(&0),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| has_nul(k) || holds_nul(v)),
        _ => false,
    }
}

/// Whether a field name holds a NUL. Asked of every field of every row,
/// of names a few bytes long, where a plain loop beats `str::contains`'s
/// setup (which was a fortieth of the drafting thread).
fn has_nul(name: &str) -> bool {
    name.bytes().any(|b| b == 0)
}

/// A company's name key and legal form, as stored (its name's, else the
/// one an import learned it has).
type KeyAndForm = (Option<String>, Option<&'static str>);

/// The name key and legal form of each of the companies `ids`.
fn keys_and_forms(db: &mut dyn Sql, ids: &[&str]) -> Result<HashMap<String, KeyAndForm>> {
    let mut out = HashMap::default();
    for part in ids.chunks(500) {
        let sql = format!(
            "SELECT id, name_key, COALESCE(name_form, learned_form) FROM companies WHERE id IN ({})",
            placeholders(part.len())
        );
        let params: Vec<Param> = part.iter().map(|id| (*id).into()).collect();
        for row in db.query(&sql, &params)? {
            let mut row = row.into_iter().map(Cell::into_text);
            if let (Some(id), key, form) = (row.next().flatten(), row.next().flatten(), row.next().flatten()) {
                out.insert(id, (key, form.as_deref().and_then(model::canonical_form)));
            }
        }
    }
    Ok(out)
}

/// Writes `rows` of `table` for `batch`: what a `--resume` of it reads back.
fn kept_for_resume<A: AsRef<str>, B: AsRef<str>>(
    db: &mut dyn Sql,
    batch: &str,
    table: &str,
    [a, b]: [&str; 2],
    rows: &[(A, B)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let params: Vec<Arg<'_>> =
        rows.iter().flat_map(|(x, y)| [Arg::Text(batch), Arg::Text(x.as_ref()), Arg::Text(y.as_ref())]).collect();
    db.insert_many(table, &["batch_id", a, b], &params)
}

/// Of `ids`, those of records of `target` that are there and not deleted.
fn live_among(db: &mut dyn Sql, target: Entity, ids: &[&str]) -> Result<FastSet<String>> {
    ids_where(db, target, ids.iter().copied(), "deleted_at IS NULL")
}

/// Marks the new companies `links` name as linked to; gives back those no
/// earlier row linked to (the row they are created for).
fn linking_new(
    pending: &FastSet<&str>,
    links: &[(usize, Option<String>)],
    linked: &mut FastSet<String>,
) -> Vec<String> {
    let mut first = Vec::new();
    if pending.is_empty() {
        return first;
    }
    for id in links.iter().filter_map(|(_, id)| id.as_deref()) {
        if pending.contains(id) && linked.insert(id.to_string()) {
            first.push(id.to_string());
        }
    }
    first
}

fn one_of(target: Entity, ids: &[String], r: &LinkRef, system: Option<&str>) -> Result<String, String> {
    match ids {
        [one] => Ok(one.clone()),
        // Companies sharing a domain: the oldest is the one records link to.
        [first, ..] if target == Entity::Companies => Ok(first.clone()),
        many => {
            // (A deal of a name several have is found by the row's company.)
            let how = match (target, &r.within) {
                (Entity::Deals, None) => {
                    "give the company beside it, company.name or company.domain, where one of them is, or link by \
                     external id"
                }
                (Entity::Deals, Some(_)) => "not one alone at the row's company: link by external id instead",
                _ => "link by external id instead",
            };
            Err(format!(
                "{} {}s have {}: {} ({how})",
                many.len(),
                model::singular(target),
                r.describe(system),
                many.join(", ")
            ))
        }
    }
}

pub(crate) fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn key_value(
    entity: Entity,
    e: &Existing,
    field: &str,
    pos: Option<usize>,
    custom_pos: Option<usize>,
) -> Option<String> {
    if let Some(c) = field.strip_prefix("custom.") {
        let custom_pos = custom_pos?;
        return model::parse_custom(e.value(custom_pos)).get(c).map(json_text);
    }
    pos.and_then(|p| e.value(p)).map(|v| key_text(entity, field, v.to_string()))
}

/// Whether a company name `given` is the `stored` one without the legal
/// form it gives (`Beta` for `Beta GmbH`): the stored name is kept, as a
/// name without its form would match another form next (`Beta AG`).
fn leaves_out_form(stored: &str, given: &str) -> bool {
    let ((stored_key, stored_form), (given_key, given_form)) =
        (model::company_key_and_form(stored), model::company_key_and_form(given));
    stored_form.is_some() && given_form.is_none() && stored_key == given_key
}

/// Whether a stored record a draft's `key` finds may be the draft's: by
/// name, a company of another legal form than the row's name gives is not
/// (its name's, or the one an import found it to have: `forms`, from
/// `forms_of`; see [`model::forms_agree`]).
fn forms_agree(entity: Entity, key: &[String], d: &Draft, e: &Existing, forms: &HashMap<String, KeyAndForm>) -> bool {
    let by_name = entity == Entity::Companies && key.iter().any(|f| f == "name");
    let Some(pos) = model::position(entity, "name").filter(|_| by_name) else { return true };
    let Some(given) = d.values.get(pos).and_then(|v| v.as_ref()?.as_deref()) else { return true };
    let stored = match forms.get(&e.id) {
        Some((_, form)) => *form,
        None => e.value(pos).and_then(model::legal_form),
    };
    model::forms_agree(model::legal_form(given), stored)
}

/// The legal forms of companies `records`, for `forms_agree`, where a key
/// by name needs them.
fn forms_of(
    db: &mut dyn Sql,
    entity: Entity,
    key: &[String],
    records: &[Existing],
) -> Result<HashMap<String, KeyAndForm>> {
    if entity != Entity::Companies || !key.iter().any(|f| f == "name") {
        return Ok(HashMap::default());
    }
    let ids: Vec<&str> = records.iter().map(|e| e.id.as_str()).collect();
    keys_and_forms(db, &ids)
}

/// A key value as compared: company names by their normalised form.
fn key_text(entity: Entity, field: &str, value: String) -> String {
    if entity == Entity::Companies && field == "name" { company_key(&value) } else { value }
}

fn describe_key(key: &[String], d: &Draft) -> String {
    match &d.key {
        Some(values) => key.iter().zip(values).map(|(k, v)| format!("{k} {v:?}")).collect::<Vec<_>>().join(" and "),
        None => d.external.as_ref().map(|x| format!("external id {x:?}")).unwrap_or_default(),
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s.to_string() }
}

/// Live records of `entity` whose `field` is one of `values`; with `only`,
/// just those columns (by position) of them.
pub(crate) fn load_by(
    db: &mut dyn Sql,
    entity: Entity,
    field: &str,
    values: &[String],
    only: Option<&[usize]>,
) -> Result<Vec<Existing>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let expr = key_expr(db.backend(), entity, field)?;
    let params: Vec<Param> = values.iter().map(Param::from).collect();
    load_where(db, entity, &expr, &params, only)
}

/// The SQL (over table alias `t`) of a key field's value as keys compare.
fn key_expr(backend: Backend, entity: Entity, field: &str) -> Result<String> {
    Ok(if field == "id" {
        "t.id".to_string()
    } else if entity == Entity::Companies && field == "name" {
        "t.name_key".to_string()
    } else if let Some(c) = field.strip_prefix("custom.") {
        backend.custom_key_text("t", c)
    } else {
        match model::position(entity, field).map(|p| model::columns(entity)[p].column) {
            Some(c) if !c.is_empty() => format!("t.{c}"),
            _ => return Err(Error::Invalid(format!("`{field}` cannot be a key of {entity}"))),
        }
    })
}

/// Hashes (as `Draft::marks` has them) of the key values that two or more
/// records of `entity` share. Deleted records count too: the query then
/// reads only the key's index where there is one, and a key shared with a
/// deleted record is merely looked up the usual way.
fn shared_keys(db: &mut dyn Sql, entity: Entity, key: &[String]) -> Result<KeyHashes> {
    let mut shared = KeyHashes::default();
    if key.is_empty() {
        return Ok(shared);
    }
    let exprs: Vec<String> = key.iter().map(|f| key_expr(db.backend(), entity, f)).collect::<Result<_>>()?;
    let list = exprs.join(", ");
    let sql = format!(
        "SELECT {list} FROM {} t WHERE {} GROUP BY {list} HAVING count(*) > 1",
        entity.name(),
        exprs.iter().map(|e| format!("{e} IS NOT NULL")).collect::<Vec<_>>().join(" AND ")
    );
    db.query_each_lent(&sql, &[], &mut |row| {
        let values: Option<Vec<String>> = row.iter().map(|c| c.to_text()).collect();
        if let Some(values) = values {
            shared.insert(key_hash(&values));
        }
        Ok(())
    })?;
    Ok(shared)
}

/// Live records of `entity` at the places `Recognition` knows them by.
pub(crate) fn load_at(
    db: &mut dyn Sql,
    entity: Entity,
    places: &[Place],
    only: Option<&[usize]>,
) -> Result<Vec<Existing>> {
    let backend = db.backend();
    let params: Vec<Param> = places
        .iter()
        .map(|&p| match backend {
            Backend::Sqlite => Param::Int(i64::try_from(p).unwrap_or(-1)),
            Backend::Postgres => Param::Text(model::ulid_text(p)),
        })
        .collect();
    load_where(db, entity, backend.record_locator(), &params, only)
}

/// Live records of `entity` whose `expr` is one of `values`.
fn load_where(
    db: &mut dyn Sql,
    entity: Entity,
    expr: &str,
    values: &[Param],
    only: Option<&[usize]>,
) -> Result<Vec<Existing>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let table = entity.name();
    let read = |i: usize| only.is_none_or(|o| o.contains(&i));
    let cols: Vec<String> =
        model::table_columns(entity).filter(|(i, _)| read(*i)).map(|(_, c)| format!("t.{}", c.column)).collect();
    // About one record per value: sized once rather than grown.
    let mut out = Vec::with_capacity(values.len());
    // PostgreSQL hands jsonb lists back spelt its way (`["a", "b"]`): read
    // as crmsync writes them, so an unchanged list compares unchanged.
    let respell_lists = db.backend() == Backend::Postgres;
    for part in values.chunks(500) {
        let sql = format!(
            "SELECT t.id, t.hash, t.source_hash{}{} FROM {table} t WHERE {expr} IN ({}) AND t.deleted_at IS NULL",
            if cols.is_empty() { "" } else { ", " },
            cols.join(", "),
            placeholders(part.len())
        );
        let columns = model::columns(entity);
        db.query_each_lent(&sql, part, &mut |row| {
            let mut cells = row.iter().copied();
            let id = cells.next().and_then(Lent::to_text).unwrap_or_default();
            let hash = match cells.next() {
                Some(Lent::Bytes(b)) => b.try_into().ok(),
                _ => None,
            };
            let source = match cells.next() {
                Some(Lent::Int(n)) => Some(n as u64),
                _ => None,
            };
            let size = row.iter().skip(3).map(|c| if let Lent::Text(t) = c { t.len() } else { 24 }).sum();
            let mut e = Existing {
                id,
                hash,
                source,
                partial: only.is_some(),
                text: String::with_capacity(size),
                spans: Vec::with_capacity(columns.len()),
            };
            for (i, c) in columns.iter().enumerate() {
                let cell = if c.column.is_empty() || !read(i) { None } else { cells.next() };
                e.push(cell.filter(|t| match c.kind {
                    Kind::Custom => *t != Lent::Text(b"{}"),
                    Kind::Tags => *t != Lent::Text(b"[]"),
                    _ => true,
                }));
                if respell_lists && c.kind == Kind::Tags {
                    let ours = e
                        .value(i)
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                        .map(|v| v.to_string());
                    if let Some(ours) = ours.filter(|o| Some(o.as_str()) != e.value(i)) {
                        e.set(i, &ours);
                    }
                }
            }
            out.push(e);
            Ok(())
        })?;
    }
    // Oldest first. (Sorted here: an ORDER BY would make SQLite sort
    // each lookup's rows in a temporary B-tree.) A record found by a value
    // given twice, in two of the parts, is one record.
    out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    if entity == Entity::Deals
        && let Some(pos) = model::position(entity, "contacts")
        && read(pos)
    {
        let ids: Vec<String> = out.iter().map(|e| e.id.clone()).collect();
        let mut links: HashMap<String, Vec<String>> = HashMap::default();
        for part in ids.chunks(500) {
            let sql = format!(
                "SELECT deal_id, contact_id FROM deal_contacts WHERE deal_id IN ({})",
                placeholders(part.len())
            );
            let params: Vec<Param> = part.iter().map(Param::from).collect();
            for r in db.query(&sql, &params)? {
                let mut r = r.into_iter();
                if let (Some(d), Some(c)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                    links.entry(d).or_default().push(c);
                }
            }
        }
        for e in &mut out {
            if let Some(mut l) = links.remove(&e.id) {
                l.sort();
                e.set(pos, &l.join(","));
            }
        }
    }
    Ok(out)
}

/// external id → record id, for ids of `system`.
fn external_lookup(db: &mut dyn Sql, entity: Entity, system: &str, wanted: &[&str]) -> Result<HashMap<String, String>> {
    external_pairs(db, entity, system, "external_id", wanted)
}

/// The external ids of `system` by `by` (`external_id` → record id, or
/// `record_id` → external id), for the `wanted` values of `by`.
fn external_pairs(
    db: &mut dyn Sql,
    entity: Entity,
    system: &str,
    by: &str,
    wanted: &[&str],
) -> Result<HashMap<String, String>> {
    let other = if by == "record_id" { "external_id" } else { "record_id" };
    let mut out = HashMap::default();
    for part in wanted.chunks(500) {
        if part.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT {by}, {other} FROM external_ids WHERE entity = ? AND system = ? AND {by} IN ({})",
            placeholders(part.len())
        );
        let mut params: Vec<Param> = vec![entity.name().into(), system.into()];
        params.extend(part.iter().map(|s| Param::from(*s)));
        for r in db.query(&sql, &params)? {
            let mut r = r.into_iter();
            if let (Some(key), Some(value)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// Which of the records `ids` of `entity` are deleted (tombstoned).
fn deleted_among<'a>(
    db: &mut dyn Sql,
    entity: Entity,
    ids: impl IntoIterator<Item = &'a String>,
) -> Result<FastSet<String>> {
    ids_where(db, entity, ids.into_iter().map(String::as_str), "deleted_at IS NOT NULL")
}

/// Of `ids`, those of records of `entity` that meet `condition`.
fn ids_where<'a>(
    db: &mut dyn Sql,
    entity: Entity,
    ids: impl IntoIterator<Item = &'a str>,
    condition: &str,
) -> Result<FastSet<String>> {
    let mut out = FastSet::default();
    let ids: Vec<&str> = ids.into_iter().collect();
    for part in ids.chunks(500) {
        let sql =
            format!("SELECT id FROM {} WHERE {condition} AND id IN ({})", entity.name(), placeholders(part.len()));
        let params: Vec<Param> = part.iter().map(|s| Param::from(*s)).collect();
        for r in db.query(&sql, &params)? {
            if let Some(id) = r.into_iter().next().and_then(Cell::into_text) {
                out.insert(id);
            }
        }
    }
    Ok(out)
}

/// value of `column` → ids of live records having it, oldest first.
fn lookup_ids(
    db: &mut dyn Sql,
    entity: Entity,
    column: &str,
    values: &[String],
) -> Result<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::default();
    let mut distinct: Vec<&String> = values.iter().collect();
    distinct.sort();
    distinct.dedup();
    for part in distinct.chunks(500) {
        let sql = format!(
            "SELECT {column}, id FROM {} WHERE {column} IN ({}) AND deleted_at IS NULL",
            entity.name(),
            placeholders(part.len())
        );
        let params: Vec<Param> = part.iter().map(|s| Param::from(*s)).collect();
        for r in db.query(&sql, &params)? {
            let mut r = r.into_iter();
            if let (Some(v), Some(id)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                out.entry(v).or_default().push(id);
            }
        }
    }
    // Oldest first (sorted here rather than by SQL, as in `load_by`).
    for ids in out.values_mut().filter(|ids| ids.len() > 1) {
        ids.sort_unstable();
    }
    Ok(out)
}

/// The companies `by_name` (name key → ids) finds for each reference, by
/// the reference's id: those whose legal form (`form_of` an id) agrees
/// with the one the reference's name gives; and of those a name with a
/// form finds, the ones without.
fn agreeing_forms(
    refs: &[&LinkRef],
    by_name: &HashMap<String, Vec<String>>,
    form_of: impl Fn(&str) -> Option<&'static str>,
) -> (HashMap<String, Vec<String>>, FastSet<String>) {
    let mut out: HashMap<String, Vec<String>> = HashMap::default();
    let mut formless = FastSet::default();
    for r in refs {
        let Some(ids) = r.name_key.as_ref().and_then(|k| by_name.get(k)) else { continue };
        let mut agree: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            let form = form_of(id);
            if model::forms_agree(r.form, form) {
                agree.push(id.clone());
                if r.form.is_some() && form.is_none() {
                    formless.insert(id.clone());
                }
            }
        }
        if !agree.is_empty() {
            out.insert(r.id.clone(), agree);
        }
    }
    (out, formless)
}

/// Writes the columns whose value differs between `before` and `after`,
/// with the new content hash; the version goes up by one.
pub(crate) fn update_record(
    db: &mut dyn Sql,
    entity: Entity,
    id: &str,
    (before, after): (&[Option<String>], &[Option<String>]),
    (hash, source): (&[u8; 16], Option<u64>),
    now: &str,
) -> Result<()> {
    let mut sets = Vec::new();
    let mut params = Vec::new();
    for (i, c) in model::columns(entity).iter().enumerate() {
        if before[i] == after[i] {
            continue;
        }
        match c.kind {
            Kind::DealContacts => batches::set_deal_contacts(db, id, after[i].as_deref())?,
            Kind::Custom => {
                sets.push("custom = ?".to_string());
                params.push(Param::Text(after[i].clone().unwrap_or_else(|| "{}".into())));
            }
            Kind::Tags => {
                sets.push("tags = ?".to_string());
                params.push(Param::Text(after[i].clone().unwrap_or_else(|| "[]".into())));
            }
            _ => {
                sets.push(format!("{} = ?", c.column));
                params.push(Param::opt(after[i].as_deref()));
                if entity == Entity::Companies && c.field == "name" {
                    let (key, form) = after[i].as_deref().map(model::company_key_and_form).unzip();
                    // (A form learned of the old name is not another name's.)
                    if key != before[i].as_deref().map(model::company_key) {
                        sets.push("learned_form = NULL".to_string());
                    }
                    sets.push("name_key = ?".to_string());
                    params.push(Param::opt(key.as_deref()));
                    sets.push("name_form = ?".to_string());
                    params.push(Param::opt(form.flatten()));
                }
            }
        }
    }
    sets.push("hash = ?".into());
    params.push(Param::Bytes(hash.to_vec()));
    sets.push("source_hash = ?".into());
    params.push(source.map_or(Param::Null, |s| Param::Int(s as i64)));
    sets.push("version = version + 1".into());
    sets.push("updated_at = ?".into());
    params.push(now.into());
    params.push(id.into());
    db.execute(&format!("UPDATE {} SET {} WHERE id = ?", entity.name(), sets.join(", ")), &params)?;
    Ok(())
}

/// A record to insert: its id, values and the hash of its source row.
pub(crate) type NewRecord = (String, Vec<Option<String>>, Option<u64>);

/// Inserts whole records (many per statement), created by `batch`. Their
/// creation is not written to the audit trail: `created_batch` and
/// `created_at` say it.
pub(crate) fn insert_records(
    db: &mut dyn Sql,
    entity: Entity,
    batch: &str,
    rows: &[NewRecord],
    now: &str,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = model::columns(entity);
    let mut names: Vec<&str> = vec!["id"];
    names.extend(model::table_columns(entity).map(|(_, c)| c.column));
    if entity == Entity::Companies {
        names.extend(["name_key", "name_form"]);
    }
    names.extend(["hash", "source_hash", "version", "created_at", "updated_at", "created_batch"]);
    let hashes: Vec<[u8; 16]> = rows.iter().map(|(_, values, _)| content_hash(values)).collect();
    let name_keys: Vec<Option<(String, Option<&str>)>> = match entity {
        Entity::Companies => {
            rows.iter().map(|(_, values, _)| values[0].as_deref().map(model::company_key_and_form)).collect()
        }
        _ => Vec::new(),
    };
    let mut params: Vec<Arg<'_>> = Vec::with_capacity(rows.len() * names.len());
    for (n, (id, values, source)) in rows.iter().enumerate() {
        params.push(Arg::Text(id));
        for (i, c) in columns.iter().enumerate() {
            match c.kind {
                Kind::DealContacts => {}
                Kind::Custom => params.push(Arg::Text(values[i].as_deref().unwrap_or("{}"))),
                Kind::Tags => params.push(Arg::Text(values[i].as_deref().unwrap_or("[]"))),
                _ => params.push(values[i].as_deref().into()),
            }
        }
        if entity == Entity::Companies {
            let (key, form) = name_keys[n].as_ref().map(|(k, f)| (k.as_str(), *f)).unzip();
            params.push(key.into());
            params.push(form.flatten().into());
        }
        params.push(Arg::Bytes(&hashes[n]));
        params.push(source.map_or(Arg::Null, |s| Arg::Int(s as i64)));
        params.push(Arg::Int(1));
        params.push(Arg::Text(now));
        params.push(Arg::Text(now));
        params.push(Arg::Text(batch));
    }
    db.insert_many(entity.name(), &names, &params)?;
    if let Some(pos) = model::position(entity, "contacts") {
        for (id, values, _) in rows {
            if values[pos].is_some() {
                batches::set_deal_contacts(db, id, values[pos].as_deref())?;
            }
        }
    }
    Ok(())
}

/// One write, as the audit trail keeps it.
#[derive(Clone)]
pub(crate) struct AuditRow {
    pub record: String,
    pub op: &'static str,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl AuditRow {
    pub fn change(record: &str, op: &'static str, field: &str, before: Option<String>, after: Option<String>) -> Self {
        AuditRow { record: record.to_string(), op, field: Some(field.to_string()), before, after }
    }
}

/// Writes the audit rows of one batch's writes to records of `entity`.
pub(crate) fn write_audit(db: &mut dyn Sql, entity: Entity, batch: &str, rows: &[AuditRow], now: &str) -> Result<()> {
    let mut params: Vec<Arg<'_>> = Vec::with_capacity(rows.len() * 8);
    for r in rows {
        params.extend([
            Arg::Text(batch),
            Arg::Text(entity.name()),
            Arg::Text(&r.record),
            Arg::Text(r.op),
            r.field.as_deref().into(),
            r.before.as_deref().into(),
            r.after.as_deref().into(),
            Arg::Text(now),
        ]);
    }
    db.insert_many("audit", &["batch_id", "entity", "record_id", "op", "field", "before", "after", "at"], &params)
}

/// The e-mails and ids (in `system`) of contacts a deal's row lists both
/// ways, by contact id.
struct BothLists {
    system: String,
    email: HashMap<String, String>,
    external: HashMap<String, String>,
}

impl BothLists {
    /// Why a row's two lists of contacts name different contacts, if they
    /// do: one edited and not the other (the row would link them all).
    /// Whether a row lists its deal's contacts both ways.
    fn given(list: &[LinkRef]) -> bool {
        list.iter().any(|r| r.external.is_some()) && list.iter().any(|r| r.email.is_some())
    }

    fn disagree(&self, list: &[LinkRef], found: &HashMap<String, Result<String, String>>) -> Option<String> {
        if !Self::given(list) {
            return None;
        }
        let id_of = |r: &LinkRef| found.get(&r.id)?.as_ref().ok().cloned();
        let by_email: FastSet<String> = list.iter().filter(|r| r.email.is_some()).filter_map(id_of).collect();
        let by_id: FastSet<String> = list.iter().filter(|r| r.external.is_some()).filter_map(id_of).collect();
        let mut odd: Vec<String> = Vec::new();
        for id in by_id.iter().filter(|id| !by_email.contains(*id)) {
            if let Some(e) = self.email.get(id) {
                let x = self.external.get(id).map(String::as_str).unwrap_or_default();
                odd.push(format!("{e} ({} {x}) is in contacts.external_id only", self.system));
            }
        }
        for id in by_email.iter().filter(|id| !by_id.contains(*id)) {
            if let Some(x) = self.external.get(id) {
                let e = self.email.get(id).map(String::as_str).unwrap_or_default();
                odd.push(format!("{e} ({} {x}) is in contacts only", self.system));
            }
        }
        odd.sort();
        (!odd.is_empty()).then(|| {
            format!(
                "the deal's contacts by e-mail and by {} id disagree: {} (edit both lists, or leave one out)",
                self.system,
                odd.join("; ")
            )
        })
    }
}

/// The companies of deals found by name, by id.
struct DealCompanies {
    pos: usize,
    known: HashMap<String, CompanyMarks>,
}

/// What tells a company apart: its name as matched, its domain, its id in
/// the import's system.
#[derive(Clone, Debug, Default)]
struct CompanyMarks {
    name_key: Option<String>,
    form: Option<&'static str>,
    domain: Option<String>,
    external: Option<String>,
}

/// A company name's key and legal form, if it has a name.
fn keyed(name: Option<&str>) -> (Option<String>, Option<&'static str>) {
    match name.map(model::company_key_and_form) {
        Some((key, form)) => (Some(key), form),
        None => (None, None),
    }
}

impl CompanyMarks {
    /// A company's marks by its name as written (keyed here).
    fn of(name: Option<&str>, domain: Option<String>, external: Option<String>) -> Self {
        let (name_key, form) = keyed(name);
        CompanyMarks { name_key, form, domain, external }
    }

    /// Whether the company is the one `other` names by name alone: names
    /// alike, of legal forms that agree.
    fn named_as(&self, other: &CompanyMarks) -> bool {
        self.name_key.is_some() && self.name_key == other.name_key && model::forms_agree(self.form, other.form)
    }
}

impl DealCompanies {
    /// The row's company reference, if it gives one.
    fn reference<'a>(&self, d: &'a Draft) -> Option<&'a LinkRef> {
        d.links.iter().find(|(p, r)| *p == self.pos && !r.is_empty()).map(|(_, r)| r)
    }

    fn names_one(&self, d: &Draft) -> bool {
        self.reference(d).is_some()
    }

    /// Whether the deal `e` is at a company, and the row names another: by
    /// each of domain, id and name the row gives, the deal's is not it.
    fn elsewhere(&self, d: &Draft, e: &Existing) -> bool {
        self.at(d, e) == Some(false)
    }

    /// Whether the deal `e` is at the company the row names: `Some(true)`
    /// when a mark the row gives (domain, id, name) is its company's,
    /// `Some(false)` when each given differs, `None` when none can be told.
    fn at(&self, d: &Draft, e: &Existing) -> Option<bool> {
        let r = self.reference(d)?;
        let stored = e.value(self.pos).and_then(|id| self.known.get(id))?;
        let differs = |given: &Option<String>, stored: &Option<String>| match (given, stored) {
            (Some(g), Some(s)) => Some(g != s),
            (Some(_), None) => None,
            (None, _) => None,
        };
        let ids = [differs(&r.domain, &stored.domain), differs(&r.external, &stored.external)];
        // A domain or id that agrees makes it the row's company (the name
        // may have changed); one that differs makes it another, whatever
        // the name (two companies `Zeta`, at zeta.de and zeta.fr). The
        // name says only where neither can be told.
        if ids.contains(&Some(false)) {
            Some(true)
        } else if ids.contains(&Some(true)) {
            Some(false)
        } else {
            match (&r.name_key, &stored.name_key) {
                (Some(given), Some(key)) => Some(given == key && model::forms_agree(r.form, stored.form)),
                _ => None,
            }
        }
    }
}

/// The 64 bits of an id `Import::named` keeps: its halves folded into one,
/// so that ids differing anywhere differ here (but for one pair in 2^64).
fn named_bits(id: u128) -> u64 {
    (id >> 64) as u64 ^ id as u64
}

/// The tables an import of `entity` writes besides its own and companies:
/// its records' ids in other systems, a deal's contacts.
fn side_tables(entity: &str) -> &'static [&'static str] {
    match entity {
        "deals" => &["external_ids", "deal_contacts"],
        _ => &["external_ids"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_read_back_from_their_packed_form() {
        let mut e = Existing {
            id: "r1".into(),
            hash: None,
            source: None,
            partial: false,
            text: String::new(),
            spans: Vec::new(),
        };
        for cell in [
            Some(Lent::Text("Ada".as_bytes())),
            None,
            Some(Lent::Int(-42)),
            Some(Lent::Real(1.5)),
            Some(Lent::Text(b"")),
            Some(Lent::Null),
            Some(Lent::Bytes(&[1, 2])),
            Some(Lent::Text(b"caf\xc3\xa9 \xff")),
        ] {
            e.push(cell);
        }
        let want = [Some("Ada"), None, Some("-42"), Some("1.5"), Some(""), None, None, Some("café \u{FFFD}")];
        assert_eq!(e.values().collect::<Vec<_>>(), want);
        assert_eq!(e.to_values(), want.map(|v| v.map(str::to_string)));
        // A value set later (deal contacts) replaces the column's.
        e.set(1, "c1,c2");
        e.set(2, "7");
        assert_eq!(
            (e.value(0), e.value(1), e.value(2), e.value(3)),
            (Some("Ada"), Some("c1,c2"), Some("7"), Some("1.5"))
        );
        assert_eq!(e.value(99), None);
        // Hashed as the unpacked values are.
        assert_eq!(model::content_hash_of(e.values()), content_hash(&e.to_values()));
    }
}
