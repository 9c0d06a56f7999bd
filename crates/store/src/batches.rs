//! Batches after the fact: listing them, undoing one, and the history of a
//! record, all read from the audit trail that import writes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crmsync_core::Entity;

use crate::Store;
use crate::custom;
use crate::error::{Error, Result};
use crate::import::{AuditRow, Existing, json_text, load_by, update_record, write_audit};
use crate::model::{self, Ids, Kind, company_key, content_hash};
use crate::sql::{Backend, Cell, Param, Sql};

/// One import batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub id: String,
    pub entity: String,
    pub source: String,
    pub mapping: Option<String>,
    pub mode: String,
    /// `running` (or interrupted), `done`, `undone`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

const BATCH_COLUMNS: &str = "id, entity, source, mapping, mode, status, started_at, finished_at, rows_read, inserted, updated, unchanged, rejected";

fn batch_of(row: Vec<Cell>) -> Batch {
    let mut r = row.into_iter();
    let mut text = || r.next().and_then(Cell::into_text);
    let id = text().unwrap_or_default();
    let entity = text().unwrap_or_default();
    let source = text().unwrap_or_default();
    let mapping = text();
    let mode = text().unwrap_or_default();
    let status = text().unwrap_or_default();
    let started_at = text().unwrap_or_default();
    let finished_at = text();
    let mut n = || text().and_then(|t| t.parse().ok()).unwrap_or(0);
    Batch {
        id,
        entity,
        source,
        mapping,
        mode,
        status,
        started_at,
        finished_at,
        rows_read: n(),
        inserted: n(),
        updated: n(),
        unchanged: n(),
        rejected: n(),
    }
}

/// One entry of a record's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: String,
    pub batch: Option<String>,
    pub source: Option<String>,
    pub op: String,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// For a link, the linked records as people name them now (`label_field`:
    /// an e-mail or a name; several joined by ", "), where `before` and
    /// `after` hold their ids. A record since removed shows as its id.
    pub before_label: Option<String>,
    pub after_label: Option<String>,
}

/// What an undo did (or would do).
#[derive(Debug, Clone, Default)]
pub struct Undone {
    pub batch: String,
    /// The batch that records the undo itself.
    pub undo_batch: String,
    pub removed: u64,
    pub restored: u64,
    pub fields_restored: u64,
    /// Links from other batches' records that `--force` cleared.
    pub unlinked: u64,
}

/// Sets a deal's contacts to `ids` (comma-separated), replacing the old set.
pub(crate) fn set_deal_contacts(db: &mut dyn Sql, deal: &str, ids: Option<&str>) -> Result<()> {
    db.execute("DELETE FROM deal_contacts WHERE deal_id = ?", &[deal.into()])?;
    for c in ids.unwrap_or("").split(',').filter(|c| !c.is_empty()) {
        db.execute("INSERT INTO deal_contacts (deal_id, contact_id) VALUES (?, ?)", &[deal.into(), c.into()])?;
    }
    Ok(())
}

/// The record a user names a record by, for messages: `email` or `name`.
pub(crate) fn label(db: &mut dyn Sql, entity: Entity, id: &str) -> String {
    match name_of(db, entity, id) {
        Ok(Some(l)) => format!("{} {id} ({} {l:?})", model::singular(entity), model::label_field(entity)),
        _ => format!("{} {id}", model::singular(entity)),
    }
}

/// A record's `label_field` (e-mail or name), if it has one and still exists.
fn name_of(db: &mut dyn Sql, entity: Entity, id: &str) -> Result<Option<String>> {
    let sql = format!("SELECT {} FROM {} WHERE id = ?", model::label_field(entity), entity.name());
    Ok(db.query_row(&sql, &[id.into()])?.and_then(|r| r.into_iter().next()?.into_text()))
}

/// Linked records by name (`Acme Inc`), for people reading a link's ids
/// (history, a plan), each name read once.
#[derive(Default)]
pub(crate) struct LinkLabels {
    names: HashMap<String, Option<String>>,
}

impl LinkLabels {
    /// The names of the records `ids` (a link's value: one id, or a deal's
    /// contacts joined by commas) if `field` is a link of `entity`; a record
    /// without a name, or gone, by its id.
    pub(crate) fn of(
        &mut self,
        db: &mut dyn Sql,
        entity: Entity,
        field: &str,
        ids: Option<&str>,
    ) -> Result<Option<String>> {
        let target = match model::columns(entity).iter().find(|c| c.field == field).map(|c| c.kind) {
            Some(Kind::Link(target)) => target,
            Some(Kind::DealContacts) => Entity::Contacts,
            _ => return Ok(None),
        };
        let Some(ids) = ids else { return Ok(None) };
        let mut shown = Vec::new();
        for id in ids.split(',').filter(|i| !i.is_empty()) {
            if !self.names.contains_key(id) {
                let name = shown_name(db, target, id)?;
                self.names.insert(id.to_string(), name);
            }
            shown.push(self.names.get(id).cloned().flatten().unwrap_or_else(|| id.to_string()));
        }
        Ok(Some(shown.join(", ")))
    }

    /// A change's `before` and `after` labels; where two records of one name
    /// would read alike (`Renewal` → `Renewal`), each with its id too.
    pub(crate) fn pair(
        &mut self,
        db: &mut dyn Sql,
        entity: Entity,
        field: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<(Option<String>, Option<String>)> {
        let b = self.of(db, entity, field, before)?;
        let a = self.of(db, entity, field, after)?;
        Ok(match (b, a, before, after) {
            (Some(b), Some(a), Some(bi), Some(ai)) if b == a && bi != ai => {
                (Some(format!("{b} ({bi})")), Some(format!("{a} ({ai})")))
            }
            (b, a, ..) => (b, a),
        })
    }
}

/// How a linked record is shown: its e-mail or name, a contact without an
/// e-mail by its name; `None` for one without either, or gone.
fn shown_name(db: &mut dyn Sql, entity: Entity, id: &str) -> Result<Option<String>> {
    if entity != Entity::Contacts {
        return match name_of(db, entity, id)? {
            Some(name) => Ok(Some(name)),
            None => removed_name(db, entity, id),
        };
    }
    let sql = "SELECT email, full_name, first_name, last_name FROM contacts WHERE id = ?";
    let Some(row) = db.query_row(sql, &[id.into()])? else { return removed_name(db, entity, id) };
    let [email, full, first, last]: [Option<String>; 4] = {
        let mut cells = row.into_iter().map(Cell::into_text);
        std::array::from_fn(|_| cells.next().flatten())
    };
    let named = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
    Ok(email.or(full).or((!named.is_empty()).then_some(named)))
}

/// A record an undo removed, by the e-mail or name its removal kept.
fn removed_name(db: &mut dyn Sql, entity: Entity, id: &str) -> Result<Option<String>> {
    let sql = "SELECT before FROM audit WHERE entity = ? AND record_id = ? AND op = 'delete' AND field = ? LIMIT 1";
    let params = [entity.name().into(), id.into(), model::label_field(entity).into()];
    let name = db.query_row(sql, &params)?.and_then(|r| r.into_iter().next()?.into_text());
    Ok(name.map(|n| format!("{n} (removed)")))
}

/// The tables that link to `entity`, with the linking column.
fn referrers(entity: Entity) -> &'static [(&'static str, &'static str)] {
    match entity {
        Entity::Companies => &[("contacts", "company_id"), ("deals", "company_id"), ("activities", "company_id")],
        Entity::Contacts => &[("activities", "contact_id"), ("deal_contacts", "contact_id")],
        Entity::Deals => &[("activities", "deal_id"), ("deal_contacts", "deal_id")],
        Entity::Activities => &[],
    }
}

impl Store {
    /// Batches, newest first.
    pub fn batches(&mut self, limit: usize) -> Result<Vec<Batch>> {
        let sql = format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY started_at DESC, id DESC LIMIT {limit}");
        Ok(self.db.query(&sql, &[])?.into_iter().map(batch_of).collect())
    }

    /// A batch by id, unique id prefix, or `last`.
    pub fn batch(&mut self, id: &str) -> Result<Batch> {
        let id = id.trim();
        if prefix_of(id) == "%" {
            return Err(Error::Invalid(format!(
                "{id:?} is no batch id: give one (`crmsync batches` lists them), a unique start of one, or `last`"
            )));
        }
        let rows = if id == "last" {
            let sql = format!(
                "SELECT {BATCH_COLUMNS} FROM batches WHERE mode NOT IN ('undo', 'declare') AND status <> 'undone' ORDER BY started_at DESC, id DESC LIMIT 1"
            );
            self.db.query(&sql, &[])?
        } else {
            // (Four at most: three to show, and whether there are more.)
            let sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id LIKE ? ORDER BY id LIMIT 4");
            self.db.query(&sql, &[prefix_of(id).into()])?
        };
        let mut batches: Vec<Batch> = rows.into_iter().map(batch_of).collect();
        match batches.len() {
            0 if id == "last" => Err(Error::Invalid(format!(
                "no batch left to undo in {}; `crmsync batches` lists them",
                self.location()
            ))),
            0 => Err(Error::Invalid(format!("no batch {id:?} in {}; `crmsync batches` lists them", self.location()))),
            1 => Ok(batches.remove(0)),
            n => {
                let shown: Vec<&str> = batches.iter().take(3).map(|b| b.id.as_str()).collect();
                let more = match n {
                    4 => {
                        let sql = "SELECT count(*) FROM batches WHERE id LIKE ?";
                        let all = self.db.query_row(sql, &[prefix_of(id).into()])?;
                        let all = all.and_then(|r| r.first().map(Cell::int)).unwrap_or(4);
                        format!(" and {} more", all - 3)
                    }
                    _ => String::new(),
                };
                Err(Error::Invalid(format!(
                    "{id:?} matches several batches ({}{more}); give more of the id",
                    shown.join(", ")
                )))
            }
        }
    }

    /// Reverts a batch: records it inserted are removed, fields it changed
    /// get their earlier values back, links it made are undone. Refuses,
    /// naming them, when records were changed again after the batch (or are
    /// linked to by later records), unless `force`.
    pub fn undo(&mut self, id: &str, force: bool, dry_run: bool) -> Result<Undone> {
        let batch = self.batch(id)?;
        if batch.status == "undone" {
            return Err(Error::Invalid(format!("batch {} was undone already", batch.id)));
        }
        if batch.mode == "undo" {
            return Err(Error::Invalid(format!(
                "batch {} is itself an undo; import the records again instead",
                batch.id
            )));
        }
        if batch.mode == "declare" {
            return Err(Error::Invalid(format!(
                "batch {} rewrote stored values to new custom field declarations; to go back, declare the \
                 fields as they were (`crmsync init --custom FILE`)",
                batch.id
            )));
        }
        let db = self.db.as_mut();
        db.hold_writers()?;
        db.begin()?;
        let result = undo_in_tx(db, &batch, force);
        match result {
            Ok(done) if !dry_run => {
                db.commit()?;
                Ok(done)
            }
            Ok(done) => {
                db.rollback()?;
                Ok(done)
            }
            Err(e) => {
                let _ = db.rollback();
                Err(e)
            }
        }
    }

    /// A record's history, oldest first. `record` is an id, or a key value
    /// (email, domain, name) of `entity` (contacts and companies when not given).
    pub fn history(&mut self, entity: Option<Entity>, record: &str) -> Result<(Entity, String, Vec<Entry>)> {
        let (entity, id) = self.find_record(entity, record)?;
        // A record that exists carries its creation; one that undo removed
        // has it in the audit trail (written as it went, so after the
        // batch's own updates to it: entries go by time, creation first
        // among those of one time).
        let creation = self.db.query(
            &format!(
                "SELECT r.created_at, r.created_batch, b.source, 'insert' FROM {} r \
                 LEFT JOIN batches b ON b.id = r.created_batch WHERE r.id = ?",
                entity.name()
            ),
            &[id.as_str().into()],
        )?;
        let rows = self.db.query(
            "SELECT a.at, a.batch_id, b.source, a.op, a.field, a.before, a.after FROM audit a \
             LEFT JOIN batches b ON b.id = a.batch_id WHERE a.record_id = ? \
             ORDER BY a.at, CASE WHEN a.op = 'insert' THEN 0 ELSE 1 END, a.seq",
            &[id.as_str().into()],
        )?;
        let creation_is_empty = creation.is_empty();
        let mut entries: Vec<Entry> = creation
            .into_iter()
            .chain(rows)
            .map(|r| {
                let mut r = r.into_iter().map(Cell::into_text);
                let mut next = || r.next().flatten();
                Entry {
                    at: next().unwrap_or_default(),
                    batch: next(),
                    source: next(),
                    op: next().unwrap_or_default(),
                    field: next(),
                    before: next(),
                    after: next(),
                    before_label: None,
                    after_label: None,
                }
            })
            .collect();
        // A record made again under the id of one an undo removed: its
        // creation comes after that removal.
        if !creation_is_empty && let Some(gone) = entries.iter().rposition(|e| e.op == "delete") {
            let made = entries.remove(0);
            entries.insert(gone, made);
        }
        // Tags are kept as a JSON list: shown as a flat export writes them.
        for e in entries.iter_mut().filter(|e| e.field.as_deref() == Some("tags")) {
            for v in [&mut e.before, &mut e.after] {
                if let Some(cell) = v.as_deref().and_then(crmsync_core::value::json_list_cell) {
                    *v = Some(cell);
                }
            }
        }
        // Custom values are kept as JSON (`"Gold"`, `7`, `true`): a text is
        // shown as the text, as standard fields are.
        for e in entries.iter_mut().filter(|e| e.field.as_deref().is_some_and(|f| f.starts_with("custom."))) {
            for v in [&mut e.before, &mut e.after] {
                if let Some(serde_json::Value::String(text)) = v.as_deref().and_then(|j| serde_json::from_str(j).ok()) {
                    *v = Some(text);
                }
            }
        }
        // Links are shown by the linked records' names, not their ids.
        let mut labels = LinkLabels::default();
        for e in &mut entries {
            let Some(field) = e.field.as_deref() else { continue };
            (e.before_label, e.after_label) =
                labels.pair(self.db.as_mut(), entity, field, e.before.as_deref(), e.after.as_deref())?;
        }
        Ok((entity, id, entries))
    }

    fn find_record(&mut self, entity: Option<Entity>, record: &str) -> Result<(Entity, String)> {
        let entities: Vec<Entity> = match entity {
            Some(e) => vec![e],
            None => Entity::ALL.to_vec(),
        };
        let db = self.db.as_mut();
        let record = record.trim();
        // (An id typed or pasted in lower case: ids are upper case.)
        let upper;
        let record = if record.len() == 26 && record.bytes().all(|b| b.is_ascii_alphanumeric()) {
            upper = record.to_ascii_uppercase();
            upper.as_str()
        } else {
            record
        };
        // By id, in the store or in the audit trail (a deleted record has history too).
        for e in &entities {
            let sql = format!("SELECT id FROM {} WHERE id = ?", e.name());
            if db.query_row(&sql, &[record.into()])?.is_some() {
                return Ok((*e, record.to_string()));
            }
        }
        if let Some(r) = db.query_row("SELECT entity FROM audit WHERE record_id = ? LIMIT 1", &[record.into()])?
            && let Some(e) = r.into_iter().next().and_then(Cell::into_text).and_then(|t| t.parse::<Entity>().ok())
        {
            return Ok((e, record.to_string()));
        }
        let mut hits = Vec::new();
        for e in &entities {
            // (A condition on one parameter, and its value.)
            let backend = db.backend();
            let lookups: Vec<(String, Vec<String>)> = match e {
                Entity::Contacts => {
                    let t = record.trim();
                    let mut l = vec![("email = ?".into(), vec![t.to_lowercase()])];
                    l.push(by_phone(t, &["phone", "mobile"]));
                    // The family name first too, as Chinese, Japanese and
                    // Korean write a name (`张伟` of 伟 and 张, without a
                    // space) and lists sort them (`Zhang Wei`).
                    let family_first = if t.contains(char::is_whitespace) {
                        "last_name || ' ' || first_name"
                    } else {
                        "last_name || first_name"
                    };
                    for name in ["full_name", "first_name || ' ' || last_name", family_first] {
                        l.push((format!("{} = ?", backend.fold(name)), vec![crate::sql::fold(t)]));
                    }
                    l
                }
                // An e-mail names a contact, not the company at its domain.
                Entity::Companies if record.contains('@') => vec![by_name(record)],
                Entity::Companies => {
                    vec![
                        ("domain = ?".into(), vec![model::domain_key(record)]),
                        by_name(record),
                        by_phone(record, &["phone"]),
                    ]
                }
                Entity::Deals => vec![("name = ?".into(), vec![record.trim().to_string()])],
                Entity::Activities => vec![],
            };
            for (condition, values) in lookups {
                let sql = format!("SELECT id FROM {} WHERE {condition} ORDER BY id", e.name());
                let params: Vec<Param> = values.into_iter().map(Param::from).collect();
                for r in db.query(&sql, &params)? {
                    if let Some(id) = r.into_iter().next().and_then(Cell::into_text)
                        && !hits.iter().any(|(_, h)| h == &id)
                    {
                        hits.push((*e, id));
                    }
                }
                if !hits.is_empty() {
                    break;
                }
            }
        }
        // An e-mail names the contact that has it, whatever else is named so.
        if record.contains('@') && hits.iter().any(|(e, _)| *e == Entity::Contacts) {
            hits.retain(|(e, _)| *e == Entity::Contacts);
        }
        if hits.is_empty() {
            // Its id in another system (an ERP's `C-5`).
            let sql = "SELECT entity, record_id FROM external_ids WHERE external_id = ? ORDER BY entity, record_id";
            records_of(db, sql, record, &entities, &mut hits)?;
        }
        if hits.is_empty() {
            // A record removed (by an undo) is found by the e-mail or name
            // its removal kept.
            for e in entities.iter().filter(|e| **e != Entity::Activities) {
                // As live records are found: e-mails without case, company
                // names as they match.
                let normal = |t: &str| match e {
                    Entity::Contacts => t.trim().to_lowercase(),
                    Entity::Companies => company_key(t),
                    _ => t.trim().to_string(),
                };
                let forms_agree = |t: &str| {
                    *e != Entity::Companies || model::forms_agree(model::legal_form(t), model::legal_form(record))
                };
                let wanted = normal(record);
                // (Company names compare normalised, so those rows are all read.)
                let mut sql = "SELECT DISTINCT record_id, before FROM audit WHERE entity = ? AND op = 'delete' \
                               AND field = ?"
                    .to_string();
                let mut params: Vec<Param> = vec![e.name().into(), model::label_field(*e).into()];
                if *e != Entity::Companies {
                    sql.push_str(if *e == Entity::Contacts { " AND lower(before) = ?" } else { " AND before = ?" });
                    params.push(wanted.as_str().into());
                }
                sql.push_str(" ORDER BY record_id");
                for r in db.query(&sql, &params)? {
                    let mut r = r.into_iter();
                    let (Some(id), Some(label)) =
                        (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text))
                    else {
                        continue;
                    };
                    if normal(&label) == wanted && forms_agree(&label) && !hits.iter().any(|(_, h)| h == &id) {
                        hits.push((*e, id));
                    }
                }
            }
        }
        if hits.is_empty() {
            // Or by an id in another system its removal kept.
            let sql = "SELECT DISTINCT entity, record_id FROM audit WHERE op = 'delete' \
                       AND field LIKE 'external\\_id.%' ESCAPE '\\' AND before = ? ORDER BY entity, record_id";
            records_of(db, sql, record, &entities, &mut hits)?;
        }
        // Of names alike (`Acme` and `ACME Inc`), the one named exactly so,
        // as an import's link finds it.
        if hits.len() > 1 {
            let mut exact = Vec::new();
            for (e, id) in &hits {
                if name_of(db, *e, id)?.is_some_and(|n| n.trim() == record.trim()) {
                    exact.push((*e, id.clone()));
                }
            }
            if exact.len() == 1 {
                hits = exact;
            }
        }
        match hits.len() {
            0 => Err(Error::Invalid(format!(
                "no record {record:?}: give a record id, its id in another system, or an email, phone, domain or name"
            ))),
            1 => Ok(hits.remove(0)),
            _ => {
                let each: Vec<String> = hits.iter().map(|(e, id)| label(db, *e, id)).collect();
                Err(Error::Invalid(format!(
                    "{record:?} names {} records: {}; give one of the ids",
                    hits.len(),
                    each.join(", ")
                )))
            }
        }
    }
}

/// Fields of one record to set back: (field, value before).
type FieldValues = Vec<(String, Option<String>)>;
/// What a restore changed: (field, value it had, value it has now).
type Restored = Vec<(String, Option<String>, Option<String>)>;

/// A write of the batch, read back from the audit trail.
struct Written {
    seq: i64,
    entity: Entity,
    record: String,
    op: String,
    field: Option<String>,
    before: Option<String>,
    after: Option<String>,
    /// The batch inserted the record (it goes with the undo).
    inserted: bool,
}

/// Fills a temporary table with the records `batch` wrote, `(id, entity,
/// inserted)`, `inserted` 1 for those it created; returns the table's name
/// and how many records of each entity the batch created.
fn undo_records(db: &mut dyn Sql, batch: &Batch) -> Result<(String, HashMap<Entity, u64>)> {
    let name = match db.backend() {
        Backend::Sqlite => "temp.undo_records",
        Backend::Postgres => "pg_temp.undo_records",
    };
    db.batch(&format!(
        "DROP TABLE IF EXISTS {name}; \
         CREATE TEMP TABLE undo_records (id TEXT PRIMARY KEY, entity TEXT NOT NULL, inserted INTEGER NOT NULL)"
    ))?;
    // The records the batch created say so themselves (`created_batch`).
    let mut inserted = HashMap::new();
    for entity in Entity::ALL {
        let table = entity.name();
        let n = db.execute(
            &format!(
                "INSERT INTO {name} (id, entity, inserted) SELECT id, '{table}', 1 FROM {table} WHERE created_batch = ?"
            ),
            &[batch.id.as_str().into()],
        )?;
        inserted.insert(entity, n);
    }
    db.execute(
        &format!(
            "INSERT INTO {name} (id, entity, inserted) SELECT DISTINCT record_id, entity, 0 FROM audit \
             WHERE batch_id = ? ON CONFLICT (id) DO NOTHING"
        ),
        &[batch.id.as_str().into()],
    )?;
    Ok((name.to_string(), inserted))
}

/// Whether the undo removes record `id` (the batch inserted it).
fn removes(db: &mut dyn Sql, records: &str, id: &str) -> Result<bool> {
    Ok(db.query_row(&format!("SELECT 1 FROM {records} WHERE id = ? AND inserted = 1"), &[id.into()])?.is_some())
}

fn undo_in_tx(db: &mut dyn Sql, batch: &Batch, force: bool) -> Result<Undone> {
    // The records the batch wrote go into a temporary table, not into
    // memory: an undo of a million inserted contacts held 637 MB of ids and
    // audit rows and took 40 s, looking up what links to each record one at
    // a time. Every step below is now a statement over the table.
    let (records, inserted) = undo_records(db, batch)?;
    let rows: Vec<Written> = db
        .query(
            &format!(
                "SELECT a.seq, a.entity, a.record_id, a.op, a.field, a.before, a.after, u.inserted FROM audit a \
                 JOIN {records} u ON u.id = a.record_id WHERE a.batch_id = ? ORDER BY a.seq DESC"
            ),
            &[batch.id.as_str().into()],
        )?
        .into_iter()
        .filter_map(|r| {
            let mut r = r.into_iter();
            let seq = r.next()?.int();
            let entity = r.next()?.into_text()?.parse().ok()?;
            let record = r.next()?.into_text()?;
            let op = r.next()?.into_text()?;
            let field = r.next().and_then(Cell::into_text);
            let before = r.next().and_then(Cell::into_text);
            let after = r.next().and_then(Cell::into_text);
            let inserted = r.next()?.int() == 1;
            Some(Written { seq, entity, record, op, field, before, after, inserted })
        })
        .collect();
    let last_seq = rows.first().map_or(0, |r| r.seq);

    // Later writes to the same records, by other batches. Those of batches
    // undone since, and of their undos, are none: the fields they wrote are
    // back as they were.
    let mut later: BTreeSet<(Entity, String)> = BTreeSet::new();
    db.query_each(
        &format!(
            "SELECT DISTINCT a.entity, a.record_id FROM audit a WHERE a.seq > ? AND (a.batch_id IS NULL OR \
             (a.batch_id <> ? AND a.batch_id NOT IN (SELECT id FROM batches WHERE status = 'undone' OR mode = 'undo'))) \
             AND a.record_id IN (SELECT id FROM {records})"
        ),
        &[Param::Int(last_seq), batch.id.as_str().into()],
        &mut |r| {
            let mut r = r.into_iter();
            if let (Some(Ok(entity)), Some(id)) =
                (r.next().and_then(Cell::into_text).map(|e| e.parse()), r.next().and_then(Cell::into_text))
            {
                later.insert((entity, id));
            }
            Ok(())
        },
    )?;
    // A field that no longer holds what the batch wrote was changed since,
    // even where the check above lets the writes pass: an undo of an
    // earlier batch with --force writes over this batch's values. (Back at
    // its value before the batch, it is no conflict: the undo writes that.)
    let changed_later: HashSet<&str> = later.iter().map(|(_, id)| id.as_str()).collect();
    let overwritten = overwritten(db, &rows, &changed_later)?;
    later.extend(overwritten);
    let later_ids: HashSet<&str> = later.iter().map(|(_, id)| id.as_str()).collect();
    let mut conflicts: Vec<String> =
        later.iter().map(|(e, id)| format!("{} was changed after the batch", label(db, *e, id))).collect();
    // Links this batch set on records it did not insert: undoing the batch
    // sets them back, so they do not hold anything it removes.
    let relinked: HashSet<(&str, &str)> = rows
        .iter()
        .filter(|r| r.op == "update")
        .filter_map(|r| Some((r.record.as_str(), r.field.as_deref()?)))
        .collect();
    // Records of other batches that link to records this batch inserted.
    // A table whose rows the batch inserted all (or an empty one) holds none.
    let mut totals: HashMap<Entity, u64> = HashMap::new();
    for entity in Entity::ALL {
        let n =
            db.query_row(&format!("SELECT count(*) FROM {}", entity.name()), &[])?.and_then(|r| r.into_iter().next());
        totals.insert(entity, n.map_or(0, |c| c.int() as u64));
    }
    let others = |e: Entity| totals[&e] > inserted[&e];
    let mut links_to_clear: Vec<(&'static str, &'static str, String)> = Vec::new();
    // Records of other batches that link to the batch's: the refusal names
    // the batches that made them.
    let mut linking: Vec<(Entity, String)> = Vec::new();
    for entity in Entity::ALL.into_iter().filter(|e| inserted[e] > 0) {
        for (table, column) in referrers(entity) {
            // (referrer, the inserted record it links to); a deal's
            // contacts are said `deal:contact`. Links between records the
            // batch inserted go with them, and are not asked for.
            let of = |e: Entity| format!("SELECT id FROM {records} WHERE inserted = 1 AND entity = '{}'", e.name());
            let mut params: Vec<Param> = Vec::new();
            let sql = match (*table, *column) {
                ("deal_contacts", "deal_id") if others(Entity::Contacts) => format!(
                    "SELECT r.deal_id || ':' || r.contact_id, r.deal_id FROM deal_contacts r \
                     WHERE r.deal_id IN ({}) AND r.contact_id NOT IN ({})",
                    of(Entity::Deals),
                    of(Entity::Contacts)
                ),
                ("deal_contacts", "contact_id") if others(Entity::Deals) => format!(
                    "SELECT r.deal_id || ':' || r.contact_id, r.contact_id FROM deal_contacts r \
                     WHERE r.contact_id IN ({}) AND r.deal_id NOT IN ({})",
                    of(Entity::Contacts),
                    of(Entity::Deals)
                ),
                ("deal_contacts", _) => continue,
                (_, _) if !others(table.parse().map_err(Error::Invalid)?) => continue,
                _ => {
                    params.push(batch.id.as_str().into());
                    format!(
                        "SELECT r.id, r.{column} FROM {table} r WHERE r.{column} IN ({}) \
                         AND (r.created_batch IS NULL OR r.created_batch <> ?)",
                        of(entity)
                    )
                }
            };
            for r in db.query(&sql, &params)? {
                let mut r = r.into_iter();
                let (Some(referrer), Some(id)) =
                    (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text))
                else {
                    continue;
                };
                let set_back = match *table {
                    "deal_contacts" => {
                        referrer.split(':').next().is_some_and(|deal| relinked.contains(&(deal, "contacts")))
                    }
                    _ => relinked.contains(&(referrer.as_str(), column.trim_end_matches("_id"))),
                };
                if set_back {
                    continue;
                }
                // A deal's contacts: the deal is the record that links
                // (a removed deal's own contact rows go with it).
                let (from, by) = match (*table, *column) {
                    ("deal_contacts", "deal_id") => (None, ""),
                    ("deal_contacts", _) => (Some(Entity::Deals), referrer.split(':').next().unwrap_or_default()),
                    _ => (Some(table.parse().map_err(Error::Invalid)?), referrer.as_str()),
                };
                if let Some(from) = from.filter(|_| !later_ids.contains(by)) {
                    conflicts.push(format!("{} is linked to from {}", label(db, entity, &id), label(db, from, by)));
                    linking.push((from, by.to_string()));
                }
                links_to_clear.push((table, column, id));
            }
        }
    }
    // Unique custom values the undo gives back must be free: --force
    // overrides later changes, never uniqueness.
    let taken = unique_values_taken(db, &rows, &records)?;
    if !taken.is_empty() {
        return Err(Error::Invalid(format!(
            "batch {} cannot be undone: {}. Change or clear those values first",
            batch.id,
            taken.join("; ")
        )));
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort();
        conflicts.dedup();
        let shown: Vec<&String> = conflicts.iter().take(10).collect();
        let more = if conflicts.len() > 10 { format!(" and {} more", conflicts.len() - 10) } else { String::new() };
        // The later imports that can be undone first, latest first: those
        // that changed the records named, or made the records linking to
        // them (of the first thousand named). The changes may also come
        // from an undo or a declaration, which cannot be undone.
        let changed: Vec<&String> = later.iter().map(|(_, id)| id).take(1000).collect();
        let mut by: BTreeSet<String> = BTreeSet::new();
        for part in changed.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT batch_id FROM audit WHERE seq > ? AND batch_id IS NOT NULL AND record_id IN ({})",
                crate::sql::placeholders(part.len())
            );
            let params: Vec<Param> =
                std::iter::once(Param::Int(last_seq)).chain(part.iter().map(|id| Param::from(id.as_str()))).collect();
            by.extend(db.query(&sql, &params)?.into_iter().filter_map(|r| r.into_iter().next()?.into_text()));
        }
        for (entity, id) in linking.iter().take(1000) {
            let sql = format!("SELECT created_batch FROM {} WHERE id = ?", entity.name());
            by.extend(db.query_row(&sql, &[id.as_str().into()])?.and_then(|r| r.into_iter().next()?.into_text()));
        }
        by.remove(&batch.id);
        let mut later: Vec<(String, String)> = Vec::new();
        let ids: Vec<&String> = by.iter().collect();
        for part in ids.chunks(500) {
            let sql = format!(
                "SELECT started_at, id FROM batches WHERE id IN ({}) AND status <> 'undone' \
                 AND mode NOT IN ('undo', 'declare')",
                crate::sql::placeholders(part.len())
            );
            let params: Vec<Param> = part.iter().map(|id| Param::from(id.as_str())).collect();
            for r in db.query(&sql, &params)? {
                let mut r = r.into_iter();
                if let (Some(at), Some(id)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                    later.push((at, id));
                }
            }
        }
        later.sort_by(|a, b| b.cmp(a));
        let later: Vec<String> = later.into_iter().map(|(_, id)| id).collect();
        let force = if linking.is_empty() {
            "--force to undo this one anyway (later changes to those records are overwritten)"
        } else {
            "--force to undo this one anyway (later changes to those records are overwritten, links to its records \
             cleared)"
        };
        let what = match later.len() {
            0 => format!("The changes came from an undo or a declaration, which cannot be undone: use {force}"),
            1..=5 => format!("Undo the later imports first (latest first: {}), or use {force}", later.join(", ")),
            _ => format!("Undo the later imports first (latest first: {}, …), or use {force}", later[..5].join(", ")),
        };
        return Err(Error::Invalid(format!(
            "batch {} cannot be undone cleanly: {}{more}. {what}",
            batch.id,
            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
        )));
    }

    let now = model::now_text();
    let undo_id = Ids::default().next_id();
    db.execute(
        "INSERT INTO batches (id, entity, source, mode, status, started_at, finished_at) VALUES (?, ?, ?, 'undo', 'done', ?, ?)",
        &[
            undo_id.as_str().into(),
            batch.entity.as_str().into(),
            format!("undo of {}", batch.id).into(),
            now.as_str().into(),
            now.as_str().into(),
        ],
    )?;
    let mut done = Undone { batch: batch.id.clone(), undo_batch: undo_id.clone(), ..Default::default() };
    let mut audit: BTreeMap<Entity, Vec<AuditRow>> = BTreeMap::new();

    // Links from other records to what goes away (only reached with --force).
    links_to_clear.sort();
    links_to_clear.dedup();
    for (table, column, id) in &links_to_clear {
        if *table == "deal_contacts" && *column == "contact_id" {
            // A contact that goes leaves the deals it was on: each deal is
            // written anew (its content hash, version and audit with it).
            // (Not the batch's own deals, which go with it.)
            let deals: Vec<String> = db
                .query(
                    "SELECT dc.deal_id FROM deal_contacts dc JOIN deals d ON d.id = dc.deal_id \
                     WHERE dc.contact_id = ? AND (d.created_batch IS NULL OR d.created_batch <> ?)",
                    &[id.as_str().into(), batch.id.as_str().into()],
                )?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
                .collect();
            for deal in deals {
                let on: Vec<String> = db
                    .query("SELECT contact_id FROM deal_contacts WHERE deal_id = ?", &[deal.as_str().into()])?
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
                    .filter(|c| c != id)
                    .collect();
                let mut rest = on;
                rest.sort();
                let after = (!rest.is_empty()).then(|| rest.join(","));
                for (field, before, after) in
                    restore(db, Entity::Deals, &deal, &[("contacts".to_string(), after)], &now)?
                {
                    audit
                        .entry(Entity::Deals)
                        .or_default()
                        .push(AuditRow::change(&deal, "undo", &field, before, after));
                }
                done.unlinked += 1;
            }
        } else if *table == "deal_contacts" {
            // The links of a deal that goes itself.
            db.execute(&format!("DELETE FROM deal_contacts WHERE {column} = ?"), &[id.as_str().into()])?;
        } else {
            let entity: Entity = table.parse().map_err(Error::Invalid)?;
            let field = column.trim_end_matches("_id");
            // (Not the batch's own records, which go with it.)
            let referrers: Vec<String> = db
                .query(
                    &format!(
                        "SELECT id FROM {table} WHERE {column} = ? AND (created_batch IS NULL OR created_batch <> ?)"
                    ),
                    &[id.as_str().into(), batch.id.as_str().into()],
                )?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
                .collect();
            for r in referrers {
                restore(db, entity, &r, &[(field.to_string(), None)], &now)?;
                audit.entry(entity).or_default().push(AuditRow::change(&r, "undo", field, Some(id.clone()), None));
                done.unlinked += 1;
            }
        }
    }

    // Field changes, latest first, so each field ends at its value before the batch.
    let mut restores: Vec<(Entity, String, FieldValues)> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for r in rows.iter().filter(|r| r.op == "update" && !r.inserted) {
        let Some(field) = &r.field else { continue };
        match at.get(r.record.as_str()) {
            // A field two rows of the batch wrote: the earlier change's
            // before is the value to restore, one field restored.
            Some(&i) => match restores[i].2.iter_mut().find(|(f, _)| f == field) {
                Some(written) => written.1 = r.before.clone(),
                None => restores[i].2.push((field.clone(), r.before.clone())),
            },
            None => {
                at.insert(r.record.as_str(), restores.len());
                restores.push((r.entity, r.record.clone(), vec![(field.clone(), r.before.clone())]));
            }
        }
    }
    skip_undone_writes(db, &rows, &records, &mut restores)?;
    for (entity, id, fields) in &restores {
        let changed = restore(db, *entity, id, fields, &now)?;
        // A record already gone (removed by a forced undo) restores nothing.
        if !changed.is_empty() {
            done.restored += 1;
        }
        for (field, before, after) in changed {
            audit.entry(*entity).or_default().push(AuditRow::change(id, "undo", &field, before, after));
            done.fields_restored += 1;
        }
    }

    for (entity, rows) in &audit {
        write_audit(db, *entity, &undo_id, rows, &now)?;
    }

    // Inserted records go, dependants first.
    for entity in [Entity::Activities, Entity::Deals, Entity::Contacts, Entity::Companies] {
        let table = entity.name();
        let removing = inserted[&entity];
        if removing == 0 {
            continue;
        }
        // Which rows go: all of the table's (an undo of a first import,
        // where SQLite empties a table at once: a million contacts in 0.2 s
        // against 3.6 s row by row), or those the temporary table lists.
        let whole = removing == totals[&entity];
        let going = if whole {
            table.to_string()
        } else {
            format!("{table} WHERE id IN (SELECT id FROM {records} WHERE inserted = 1 AND entity = '{table}')")
        };
        // A removed record's creation moves into the audit trail, where
        // its history goes on; its e-mail, name or subject goes with the
        // removal, for `history` to find it by when the record is gone.
        db.execute(
            &format!(
                "INSERT INTO audit (batch_id, entity, record_id, op, at) \
                 SELECT created_batch, '{table}', id, 'insert', created_at FROM {going} ORDER BY id"
            ),
            &[],
        )?;
        let l = model::label_field(entity);
        let label = format!("CASE WHEN {l} IS NULL THEN NULL ELSE '{l}' END, {l}");
        db.execute(
            &format!(
                "INSERT INTO audit (batch_id, entity, record_id, op, field, before, at) \
                 SELECT ?, '{table}', id, 'delete', {label}, ? FROM {going} ORDER BY id"
            ),
            &[undo_id.as_str().into(), now.as_str().into()],
        )?;
        let ids = format!("SELECT id FROM {going}");
        if db.query_row("SELECT 1 FROM external_ids WHERE entity = ? LIMIT 1", &[table.into()])?.is_some() {
            // The ids go with the removal too: an export's tombstone names
            // the record by them to the systems they are of.
            db.execute(
                &format!(
                    "INSERT INTO audit (batch_id, entity, record_id, op, field, before, at) \
                     SELECT ?, '{table}', record_id, 'delete', 'external_id.' || system, external_id, ? \
                     FROM external_ids WHERE entity = '{table}' AND record_id IN ({ids}) ORDER BY record_id, system"
                ),
                &[undo_id.as_str().into(), now.as_str().into()],
            )?;
            db.execute(&format!("DELETE FROM external_ids WHERE entity = '{table}' AND record_id IN ({ids})"), &[])?;
        }
        let linked = match entity {
            Entity::Deals => Some("deal_id"),
            Entity::Contacts => Some("contact_id"),
            _ => None,
        };
        if let Some(column) = linked
            && db.query_row("SELECT 1 FROM deal_contacts LIMIT 1", &[])?.is_some()
        {
            db.execute(&format!("DELETE FROM deal_contacts WHERE {column} IN ({ids})"), &[])?;
        }
        // SQLite takes each removed row out of every index one at a time (a
        // million contacts: 15 s); when most of a table goes, its indexes
        // are dropped and built again over what stays (6 s). PostgreSQL
        // leaves index entries for vacuum, so its indexes stay.
        let rebuild =
            db.backend() == Backend::Sqlite && !whole && removing >= 10_000 && removing * 2 >= totals[&entity];
        let indexes: Vec<&(&str, &str, &str)> =
            crate::LOOKUP_INDEXES.iter().filter(|(t, _, _)| rebuild && *t == table).collect();
        crate::drop_indexes(db, &indexes)?;
        db.execute(&format!("DELETE FROM {going}"), &[])?;
        done.removed += removing;
        crate::create_indexes(db, &indexes)?;
    }
    db.batch(&format!("DROP TABLE {records}"))?;
    db.execute("UPDATE batches SET status = 'undone' WHERE id = ?", &[batch.id.as_str().into()])?;
    // The legal forms the batch taught companies named without one (not
    // another a later batch taught one renamed since).
    db.execute(
        "UPDATE companies SET learned_form = NULL WHERE id IN (SELECT company_id FROM batch_forms WHERE batch_id = ?) \
         AND learned_form = (SELECT f.form FROM batch_forms f WHERE f.batch_id = ? AND f.company_id = companies.id)",
        &[batch.id.as_str().into(), batch.id.as_str().into()],
    )?;
    db.execute("DELETE FROM batch_forms WHERE batch_id = ?", &[batch.id.as_str().into()])?;
    db.execute("DELETE FROM batch_links WHERE batch_id = ?", &[batch.id.as_str().into()])?;
    db.execute(
        "UPDATE batches SET rows_read = ?, updated = ? WHERE id = ?",
        &[Param::Int((done.removed + done.restored) as i64), Param::Int(done.restored as i64), undo_id.as_str().into()],
    )?;
    Ok(done)
}

/// The unique values (declared unique custom fields, external ids) an undo
/// of `rows` would give back to records that other live records hold now,
/// each said as a conflict. Records the undo removes do not count as
/// holders, nor do records whose custom value it changes too.
fn unique_values_taken(db: &mut dyn Sql, rows: &[Written], records: &str) -> Result<Vec<String>> {
    // Each (record, field)'s value before the batch, its earliest write's,
    // for the records the undo keeps.
    let mut back: BTreeMap<(Entity, &str, &str), Option<&str>> = BTreeMap::new();
    for r in rows.iter().rev().filter(|r| r.op == "update" && !r.inserted) {
        if let Some(field) = r.field.as_deref() {
            back.entry((r.entity, r.record.as_str(), field)).or_insert(r.before.as_deref());
        }
    }
    let mut problems = Vec::new();
    // External ids are unique per system, as declared unique fields are.
    for (&(entity, id, field), before) in &back {
        let (Some(system), Some(wanted)) = (field.strip_prefix("external_id."), before) else { continue };
        let holder = db
            .query_row(
                "SELECT record_id FROM external_ids WHERE entity = ? AND system = ? AND external_id = ?",
                &[entity.name().into(), system.into(), (*wanted).into()],
            )?
            .and_then(|r| r.into_iter().next().and_then(Cell::into_text));
        // (A holder that gives the id up in this same undo still counts:
        // the store allows no moment with two holders.)
        if let Some(holder) = holder
            && holder != id
            && !removes(db, records, &holder)?
        {
            problems.push(format!(
                "{} would get external id {system} {wanted:?} back, which {} holds now",
                label(db, entity, id),
                label(db, entity, &holder)
            ));
        }
    }
    let entities: BTreeSet<Entity> =
        back.keys().filter(|(_, _, field)| field.starts_with("custom.")).map(|(e, _, _)| *e).collect();
    for entity in entities {
        for f in custom::declared(db, entity)?.into_iter().filter(|f| f.unique) {
            let field = format!("custom.{}", f.name);
            let wanted: Vec<(&str, String)> = back
                .iter()
                .filter(|((e, _, name), _)| *e == entity && *name == field)
                .filter_map(|((_, id, _), before)| Some((*id, custom_text((*before)?))))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let backend = db.backend();
            let sql = format!(
                "SELECT t.id, {} FROM {} t WHERE t.deleted_at IS NULL AND {}",
                backend.custom_key_text("t", &f.name),
                entity.name(),
                backend.has_custom("t", &f.name)
            );
            let mut holders: HashMap<String, Vec<String>> = HashMap::new();
            db.query_each(&sql, &[], &mut |row| {
                let mut row = row.into_iter();
                if let (Some(id), Some(v)) =
                    (row.next().and_then(Cell::into_text), row.next().and_then(Cell::into_text))
                {
                    holders.entry(v).or_default().push(id);
                }
                Ok(())
            })?;
            for (id, text) in wanted {
                for holder in holders.get(&text).into_iter().flatten() {
                    let moves = back
                        .get(&(entity, holder.as_str(), field.as_str()))
                        .is_some_and(|b| b.map(custom_text).as_ref() != Some(&text));
                    if holder != id && !moves && !removes(db, records, holder)? {
                        problems.push(format!(
                            "{} would get {field} {text:?} back, which {} holds now ({field} is unique)",
                            label(db, entity, id),
                            label(db, entity, holder),
                        ));
                    }
                }
            }
        }
    }
    Ok(problems)
}

/// A field's entity, the batch's last value for it and its value before.
type Wrote<'a> = (Entity, Option<&'a str>, Option<&'a str>);

/// The records (kept by the undo, not yet in `later`) with a field the
/// batch updated that holds neither the batch's last value for it nor the
/// value before the batch.
fn overwritten(db: &mut dyn Sql, rows: &[Written], later: &HashSet<&str>) -> Result<Vec<(Entity, String)>> {
    // Per record and field: the batch's last value (rows are latest first)
    // and its value before the batch (the earliest write's `before`).
    let mut wrote: BTreeMap<(&str, &str), Wrote<'_>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.op == "update" && !r.inserted) {
        let (Some(field), false) = (r.field.as_deref(), later.contains(r.record.as_str())) else { continue };
        wrote.entry((r.record.as_str(), field)).and_modify(|w| w.2 = r.before.as_deref()).or_insert((
            r.entity,
            r.after.as_deref(),
            r.before.as_deref(),
        ));
    }
    // The records, read 500 at a time.
    let mut records: HashMap<String, Existing> = HashMap::new();
    let mut ids: BTreeMap<Entity, BTreeSet<&str>> = BTreeMap::new();
    for ((record, _), (entity, _, _)) in &wrote {
        ids.entry(*entity).or_default().insert(record);
    }
    for (entity, ids) in ids {
        let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
        for part in ids.chunks(500) {
            records.extend(load_by(db, entity, "id", part, None)?.into_iter().map(|e| (e.id.clone(), e)));
        }
    }
    let mut changed: Vec<(Entity, String)> = Vec::new();
    for ((record, field), (entity, after, before)) in wrote {
        let Some(existing) = records.get(record) else { continue };
        if changed.last().is_some_and(|(_, c)| c == record) {
            continue;
        }
        let now = current_value(db, entity, existing, field)?;
        if !same_stored(now.as_deref(), after) && !same_stored(now.as_deref(), before) {
            changed.push((entity, record.to_string()));
        }
    }
    Ok(changed)
}

/// Whether two values as stored are the same: the same text, or the same
/// JSON (PostgreSQL's jsonb gives `["a", "b"]` back for `["a","b"]`).
fn same_stored(a: Option<&str>, b: Option<&str>) -> bool {
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    match (a, b) {
        (Some(a), Some(b)) if a != b && a.starts_with(['[', '{']) => json(a).is_some_and(|x| json(b) == Some(x)),
        _ => a == b,
    }
}

/// A field's value now, in the form the audit trail keeps it: custom
/// values as JSON, links as ids, another system's id from its table.
fn current_value(db: &mut dyn Sql, entity: Entity, existing: &Existing, field: &str) -> Result<Option<String>> {
    if let Some(system) = field.strip_prefix("external_id.") {
        return Ok(db
            .query_row(
                "SELECT external_id FROM external_ids WHERE entity = ? AND system = ? AND record_id = ?",
                &[entity.name().into(), system.into(), existing.id.as_str().into()],
            )?
            .and_then(|r| r.into_iter().next().and_then(Cell::into_text)));
    }
    let columns = model::columns(entity);
    if let Some(name) = field.strip_prefix("custom.") {
        let Some(pos) = columns.iter().position(|c| c.kind == Kind::Custom) else { return Ok(None) };
        return Ok(model::parse_custom(existing.value(pos)).get(name).map(ToString::to_string));
    }
    Ok(model::position(entity, field).and_then(|pos| existing.value(pos)).map(str::to_string))
}

/// A custom value as the audit trail keeps it (JSON), as text.
fn custom_text(before: &str) -> String {
    serde_json::from_str(before).map_or_else(|_| before.to_string(), |v| json_text(&v))
}

/// Sets fields of a stored record (`custom.x`, `external_id.sys`, links by
/// their field name) and rewrites its hash; returns what changed.
fn restore(
    db: &mut dyn Sql,
    entity: Entity,
    id: &str,
    fields: &[(String, Option<String>)],
    now: &str,
) -> Result<Restored> {
    let Some(existing) = load_by(db, entity, "id", &[id.to_string()], None)?.into_iter().next() else {
        return Ok(Vec::new());
    };
    let columns = model::columns(entity);
    let stored = existing.to_values();
    let mut values = stored.clone();
    let mut changed = Vec::new();
    // Custom values go back in the form today's declarations give them
    // (read when first needed): a value from before a declaration changed
    // its spelling (`gold` declared `Gold`) is respelt.
    let mut declared: Option<Vec<custom::CustomField>> = None;
    for (field, before) in fields {
        if let Some(system) = field.strip_prefix("external_id.") {
            let current = current_value(db, entity, &existing, field)?;
            if current == *before {
                continue;
            }
            db.execute(
                "DELETE FROM external_ids WHERE entity = ? AND system = ? AND record_id = ?",
                &[entity.name().into(), system.into(), id.into()],
            )?;
            if let Some(b) = before {
                db.execute(
                    "INSERT INTO external_ids (entity, system, external_id, record_id) VALUES (?, ?, ?, ?)",
                    &[entity.name().into(), system.into(), b.as_str().into(), id.into()],
                )?;
            }
            changed.push((field.clone(), current, before.clone()));
            continue;
        }
        if let Some(name) = field.strip_prefix("custom.") {
            let Some(pos) = columns.iter().position(|c| c.kind == Kind::Custom) else { continue };
            let mut custom = model::parse_custom(values[pos].as_deref());
            let current = custom.get(name).map(ToString::to_string);
            let back = match before.as_deref().map(serde_json::from_str::<serde_json::Value>) {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => Some(serde_json::Value::String(before.clone().unwrap_or_default())),
                None => None,
            };
            let back = match back {
                Some(v) => {
                    if declared.is_none() {
                        declared = Some(custom::declared(db, entity)?);
                    }
                    let field = declared.iter().flatten().find(|d| d.name == name);
                    Some(field.and_then(|d| d.check(&v).ok()).unwrap_or(v))
                }
                None => None,
            };
            let after = back.as_ref().map(ToString::to_string);
            if current == after {
                continue;
            }
            match back {
                Some(v) => custom.insert(name.to_string(), v),
                None => custom.remove(name),
            };
            values[pos] = model::custom_json(&custom);
            if after.is_some() {
                // The name may predate the list (a store made before it).
                custom::list_name(db, entity, name)?;
            }
            changed.push((field.clone(), current, after));
            continue;
        }
        if let Some(pos) = model::position(entity, field) {
            // (A field already back at its value is no change, nor audited:
            // a forced undo of an earlier batch may have set it so.)
            if !same_stored(values[pos].as_deref(), before.as_deref()) {
                changed.push((field.clone(), values[pos].clone(), before.clone()));
                values[pos] = before.clone();
            }
        }
    }
    if values == stored {
        return Ok(changed);
    }
    update_record(db, entity, id, (&stored, &values), (&content_hash(&values), None), now)?;
    Ok(changed)
}

/// A value to restore that an earlier batch wrote, a batch undone since
/// (with --force, out of order), is none the record should go back to:
/// the value before that batch is, and so on back. (Undoing B2 then B3,
/// both changes of one amount, leaves the amount as it was before B2, not
/// as B2 left it.) Only fields an undone batch wrote are looked into.
fn skip_undone_writes(
    db: &mut dyn Sql,
    rows: &[Written],
    records: &str,
    restores: &mut [(Entity, String, FieldValues)],
) -> Result<()> {
    let mut suspect: HashSet<(String, String)> = HashSet::new();
    db.query_each(
        &format!(
            "SELECT DISTINCT a.record_id, a.field FROM audit a JOIN batches b ON b.id = a.batch_id \
             WHERE b.status = 'undone' AND a.op = 'update' AND a.record_id IN (SELECT id FROM {records})"
        ),
        &[],
        &mut |r| {
            let mut r = r.into_iter();
            if let (Some(id), Some(field)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                suspect.insert((id, field));
            }
            Ok(())
        },
    )?;
    if suspect.is_empty() {
        return Ok(());
    }
    for (_, id, fields) in restores.iter_mut() {
        for (field, value) in fields.iter_mut() {
            if !suspect.contains(&(id.clone(), field.clone())) {
                continue;
            }
            // The batch's first write of the field: where the walk back starts.
            let Some(first) = rows
                .iter()
                .filter(|r| r.op == "update" && r.record == *id && r.field.as_deref() == Some(field.as_str()))
                .map(|r| r.seq)
                .min()
            else {
                continue;
            };
            let earlier = db.query(
                "SELECT a.before, a.after, b.status FROM audit a LEFT JOIN batches b ON b.id = a.batch_id \
                 WHERE a.record_id = ? AND a.field = ? AND a.op = 'update' AND a.seq < ? ORDER BY a.seq DESC",
                &[id.as_str().into(), field.as_str().into(), Param::Int(first)],
            )?;
            for r in earlier {
                let mut r = r.into_iter();
                let (before, after, status) = (
                    r.next().and_then(Cell::into_text),
                    r.next().and_then(Cell::into_text),
                    r.next().and_then(Cell::into_text),
                );
                if status.as_deref() != Some("undone") || !same_stored(after.as_deref(), value.as_deref()) {
                    break;
                }
                *value = before;
            }
        }
    }
    Ok(())
}

/// Adds to `hits` the (entity, record id) rows `sql` gives for `value`, of
/// the entities asked for, each record once.
fn records_of(
    db: &mut dyn Sql,
    sql: &str,
    value: &str,
    entities: &[Entity],
    hits: &mut Vec<(Entity, String)>,
) -> Result<()> {
    for r in db.query(sql, &[value.trim().into()])? {
        let mut r = r.into_iter();
        if let (Some(e), Some(id)) = (
            r.next().and_then(Cell::into_text).and_then(|t| t.parse::<Entity>().ok()),
            r.next().and_then(Cell::into_text),
        ) && entities.contains(&e)
            && !hits.iter().any(|(_, h)| h == &id)
        {
            hits.push((e, id));
        }
    }
    Ok(())
}

/// `LIKE` text for the batches whose ids start with `id`.
fn prefix_of(id: &str) -> String {
    format!("{}%", id.to_uppercase().replace(['%', '_'], ""))
}

/// The lookup of companies by `text` as a name: by its key, and by its
/// legal form where it gives one (`Acme BV` is `Acme B.V.` or `Acme`, not
/// `Acme AG`; nor an `Acme` an import found to be `Acme AG`).
fn by_name(text: &str) -> (String, Vec<String>) {
    match model::company_key_and_form(text) {
        (key, Some(form)) => {
            ("name_key = ? AND COALESCE(name_form, learned_form, ?) = ?".into(), vec![key, form.into(), form.into()])
        }
        (key, None) => ("name_key = ?".into(), vec![key]),
    }
}

/// The lookup of records whose `columns` hold the phone number `text` as
/// stored, or as `export --where` reads one: `(555) 010-0001` or `020 7946
/// 0958` written at home is each number in use it can be; with an
/// extension or without. (One lookup: a number in use in two countries
/// names two records, and says so.)
fn by_phone(text: &str, columns: &[&str]) -> (String, Vec<String>) {
    let mut numbers = crmsync_core::mapping::types::phone::readings(text);
    if !numbers.iter().any(|n| n == text) {
        numbers.push(text.to_string());
    }
    let (mut conditions, mut values) = (Vec::new(), Vec::new());
    for column in columns {
        conditions.push(format!("{column} IN ({})", crate::sql::placeholders(numbers.len())));
        values.extend(numbers.iter().cloned());
        for n in numbers.iter().filter(|n| n.starts_with('+')) {
            // (`;ext=` and digits, in byte order: the columns compare byte
            // by byte.)
            conditions.push(format!("({column} > ? AND {column} < ?)"));
            values.extend([format!("{n};ext="), format!("{n};ext=:")]);
        }
    }
    (conditions.join(" OR "), values)
}
