//! Export: records of one entity out of the store, streamed by one query in
//! the order they were created in, so memory stays flat.
//!
//! Links come out as the linked record's natural key (`company.name`,
//! `contact.email`), never as crmsync's internal id, so an export can be
//! imported again into another store.

use std::collections::{BTreeSet, HashMap, HashSet};

use crmsync_core::mapping::{EXTERNAL_ID_PREFIX, external_system};
use crmsync_core::value::LIST_SEPARATOR;
use crmsync_core::{Entity, Key, Record, Value};

use crate::Store;
use crate::custom::{CustomField, CustomType};
use crate::error::{Error, Result};
use crate::filter::{self, Literal, Resolver};
use crate::model::{self, Kind};
use crate::sql::{Backend, Cell, Param, Sql};

/// Values a `--where` may give, with room for the export's own.
const MAX_FILTER_VALUES: usize = 30_000;

/// System fields an export can ask for by name.
pub const SYSTEM_FIELDS: &[&str] = &["id", "created_at", "updated_at", "deleted_at", "version"];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fields to export, in order; all standard and custom fields when empty.
    pub fields: Vec<String>,
    /// A `--where` expression.
    pub filter: Option<String>,
    /// Only records changed at or after this time.
    pub since: Option<String>,
    pub include_deleted: bool,
    /// The fields are a mapping's: a custom field no record has yet is an
    /// empty column of the other system's file, not a typo.
    pub fields_from_mapping: bool,
}

/// How one output field is read.
#[derive(Debug, Clone)]
enum Source {
    /// A selected SQL expression, with the kind it holds.
    Sql(usize, Kind),
    /// A key of the custom JSON object, with the kind its declaration
    /// gives dates and times (`None` for others and undeclared fields).
    Custom(String, Option<Kind>),
}

/// An export in progress.
pub struct Export<'s> {
    db: &'s mut dyn Sql,
    fields: Vec<Key>,
    sources: Vec<Source>,
    sql: String,
    params: Vec<Param>,
    custom_at: Option<usize>,
    /// Fields the records have that a default export leaves out (ids in a
    /// second system), for a note.
    left_out: Vec<String>,
    /// What the user should know of the fields asked for (see
    /// `unknown_system`).
    notes: Vec<String>,
    /// With `--include-deleted`: the query of the records undos removed
    /// (see `tombstones`), and its parameters.
    tombstones: Option<(String, Vec<Param>)>,
}

/// The SQL that reads a field of `entity` from table alias `t` (and the
/// joins links need), with the kind it holds.
fn field_sql(backend: Backend, entity: Entity, field: &str) -> Option<(String, Kind)> {
    if SYSTEM_FIELDS.contains(&field) {
        let kind = if field.ends_with("_at") { Kind::DateTime } else { Kind::Text };
        return Some((format!("t.{field}"), kind));
    }
    if let Some(name) = field.strip_prefix("custom.") {
        // As PostgreSQL's `->>` gives it on both: `true`, `7` and `3.0` as text.
        return Some((backend.custom_key_text("t", name), Kind::Text));
    }
    if let Some((link, system)) = entity.external_link_of(field) {
        return Some(linked_external_id(backend, link, system));
    }
    if let Some(system) = external_system(field) {
        return Some((external_id_of(entity.name(), "t.id", system), Kind::Text));
    }
    let sql = match (entity, field) {
        (Entity::Contacts | Entity::Deals | Entity::Activities, "company.name") => "lco.name".to_string(),
        (Entity::Contacts | Entity::Deals | Entity::Activities, "company.domain") => "lco.domain".to_string(),
        (Entity::Activities, "contact.email") => "lct.email".to_string(),
        (Entity::Activities, "deal.name") => "lde.name".to_string(),
        (Entity::Deals, "contacts") => {
            let sql = format!(
                "(SELECT {} FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id WHERE dc.deal_id = t.id)",
                backend.string_agg("c.email", LIST_SEPARATOR, "c.email")
            );
            return Some((sql, Kind::DealContacts));
        }
        _ => {
            let c = model::columns(entity)[model::position(entity, field)?];
            if c.column.is_empty() || matches!(c.kind, Kind::Custom | Kind::Link(_)) {
                return None;
            }
            return Some((format!("t.{}", c.column), c.kind));
        }
    };
    Some((sql, Kind::Text))
}

/// The SQL for the id in `system` of the `entity` record whose id `column`
/// holds. A subquery, not a join: a record has at most one id per system,
/// and the index on record_id finds it.
fn external_id_of(entity: &str, column: &str, system: &str) -> String {
    format!(
        "(SELECT x.external_id FROM external_ids x WHERE x.record_id = {column} AND x.entity = '{entity}' \
         AND x.system = '{}')",
        system.replace('\'', "''")
    )
}

/// The SQL for a linked record's id in another system (`company.external_id`
/// with system `erp`); a deal's contacts give theirs as a list.
fn linked_external_id(backend: Backend, link: &str, system: &str) -> (String, Kind) {
    let (entity, column) = match link {
        "contact.external_id" => ("contacts", "t.contact_id"),
        "deal.external_id" => ("deals", "t.deal_id"),
        "contacts.external_id" => {
            let sql = format!(
                "(SELECT {} FROM deal_contacts dc JOIN external_ids x ON x.record_id = dc.contact_id \
                 AND x.entity = 'contacts' AND x.system = '{}' WHERE dc.deal_id = t.id)",
                backend.string_agg("x.external_id", LIST_SEPARATOR, "x.external_id"),
                system.replace('\'', "''")
            );
            return (sql, Kind::DealContacts);
        }
        _ => ("companies", "t.company_id"),
    };
    (external_id_of(entity, column, system), Kind::Text)
}

/// The joins that bring linked records' natural keys to table alias `t`
/// (the aliases `field_sql` reads). One join reads a company once for its
/// name and domain, where a subquery per field looked it up twice; both
/// SQLite and PostgreSQL drop a left join on a primary key that nothing reads.
fn link_joins(entity: Entity) -> &'static str {
    match entity {
        Entity::Companies => "",
        Entity::Contacts | Entity::Deals => " LEFT JOIN companies lco ON lco.id = t.company_id",
        Entity::Activities => {
            " LEFT JOIN companies lco ON lco.id = t.company_id \
             LEFT JOIN contacts lct ON lct.id = t.contact_id \
             LEFT JOIN deals lde ON lde.id = t.deal_id"
        }
    }
}

/// Links the export cannot write: a deal's contacts, an activity's contact,
/// with no e-mail (and no id in the system whose ids it writes beside).
/// Imported again, the file would unlink them; said, not found out then.
fn unnamed_links(
    db: &mut dyn Sql,
    entity: Entity,
    fields: &[String],
    conditions: &[String],
    params: &[Param],
) -> Result<Option<String>> {
    let shows = |field: &str| fields.iter().any(|f| f == field);
    let (link, join, blank) = match entity {
        Entity::Deals if shows("contacts") => (
            "contacts.external_id",
            " JOIN deal_contacts ux ON ux.deal_id = t.id JOIN contacts cx ON cx.id = ux.contact_id",
            "cx.email IS NULL",
        ),
        Entity::Activities if shows("contact.email") => {
            ("contact.external_id", " JOIN contacts cx ON cx.id = t.contact_id", "cx.email IS NULL")
        }
        _ => return Ok(None),
    };
    let system = exported_system(entity, fields, link);
    let sql = format!(
        "SELECT count(DISTINCT t.id) FROM {} t{}{join} WHERE {blank}{}",
        entity.name(),
        link_joins(entity),
        without_id("cx", Entity::Contacts, system)
    );
    let n = count_exported(db, sql, conditions, params)?;
    if n == 0 {
        return Ok(None);
    }
    let (records, column) = match entity {
        Entity::Deals if n == 1 => ("1 deal links contacts".to_string(), "contacts"),
        Entity::Deals => (format!("{n} deals link contacts"), "contacts"),
        _ if n == 1 => ("1 activity links a contact".to_string(), "contact.email"),
        _ => (format!("{n} activities link a contact"), "contact.email"),
    };
    let (ids, remedy) = match system {
        Some(s) => (format!(" nor {s} id"), format!("give those contacts e-mails or {s} ids")),
        None => (
            String::new(),
            format!("export {link}.<system> too (for contacts with ids in a system), or give those contacts e-mails"),
        ),
    };
    Ok(Some(format!(
        "{records} with no e-mail{ids}: `{column}` cannot name them, and this file imported again would unlink \
         them; {remedy}"
    )))
}

/// The system whose ids of a link (`contacts.external_id`) the export
/// writes, if it writes them.
fn exported_system<'a>(entity: Entity, fields: &'a [String], link: &str) -> Option<&'a str> {
    fields.iter().find_map(|f| entity.external_link_of(f).filter(|(l, _)| *l == link).map(|(_, s)| s))
}

/// A condition on the linked record `alias` of `entity`: no id in `system`.
fn without_id(alias: &str, entity: Entity, system: Option<&str>) -> String {
    system.map_or_else(String::new, |s| {
        format!(
            " AND NOT EXISTS (SELECT 1 FROM external_ids x WHERE x.record_id = {alias}.id AND x.entity = '{}' \
             AND x.system = '{}')",
            entity.name(),
            s.replace('\'', "''")
        )
    })
}

/// The count `sql` gives of the records the export reads (its conditions
/// added, with their parameters).
fn count_exported(db: &mut dyn Sql, sql: String, conditions: &[String], params: &[Param]) -> Result<i64> {
    let sql = conditions.iter().fold(sql, |sql, c| format!("{sql} AND {c}"));
    Ok(db.query_row(&sql, params)?.and_then(|row| row.first().map(Cell::int)).unwrap_or(0))
}

/// Activities whose deal `deal.name` cannot tell from another of its name:
/// an import finds a deal of a name shared by several by the activity's
/// company, which must then be the deal's and hold no other of that name.
fn deals_named_alike(
    db: &mut dyn Sql,
    entity: Entity,
    fields: &[String],
    conditions: &[String],
    params: &[Param],
) -> Result<Option<String>> {
    let shows = |field: &str| fields.iter().any(|f| f == field);
    if entity != Entity::Activities || !shows("deal.name") {
        return Ok(None);
    }
    let system = exported_system(entity, fields, "deal.external_id");
    let told = if shows("company.name") || shows("company.domain") {
        " AND NOT (t.company_id IS NOT NULL AND t.company_id = dx.company_id AND NOT EXISTS (SELECT 1 FROM deals d3 \
         WHERE d3.name = dx.name AND d3.id <> dx.id AND d3.company_id = dx.company_id AND d3.deleted_at IS NULL))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT count(*) FROM activities t{} JOIN deals dx ON dx.id = t.deal_id WHERE EXISTS (SELECT 1 FROM deals d2 \
         WHERE d2.name = dx.name AND d2.id <> dx.id AND d2.deleted_at IS NULL){told}{}",
        link_joins(entity),
        without_id("dx", Entity::Deals, system)
    );
    let n = count_exported(db, sql, conditions, params)?;
    let company_shown = !told.is_empty();
    Ok((n > 0).then(|| {
        let records = records_that_link(n, entity);
        // (With the company in the file, the activity's is not its deal's,
        // or holds another deal of that name.)
        let (why, or) = if company_shown {
            ("at another company than the activity's, or beside another of that name at it", "")
        } else {
            ("and is not told apart by the activity's company", ", or company.name beside it")
        };
        format!(
            "{records} a deal whose name other deals have too, {why}: imported again, `deal.name` would find \
             another deal or none; export deal.external_id.<system> too (for deals with ids in a system){or}"
        )
    }))
}

/// Contacts, deals or activities whose company the file cannot tell from
/// another (no domain for both in the file, no id in the system exported),
/// said in a note for each way:
/// - named as another company is, to the letter: imported again, the name
///   finds both, and the row is refused;
/// - named as another is but for its legal form or spelling (`Zeta` beside
///   `Zeta AG`, `Acme` beside `ACME`), one of them without a form: imported
///   into an empty store, the name without a form finds the other, and the
///   two companies become one.
fn companies_alike(
    db: &mut dyn Sql,
    entity: Entity,
    fields: &[String],
    conditions: &[String],
    params: &[Param],
) -> Result<Vec<String>> {
    let shows = |field: &str| fields.iter().any(|f| f == field);
    if entity == Entity::Companies || !shows("company.name") {
        return Ok(Vec::new());
    }
    let system = exported_system(entity, fields, "company.external_id");
    let mut count = |alike: &str, domain: &str| {
        let sql = format!(
            "SELECT count(*) FROM {} t{} WHERE t.company_id IS NOT NULL{domain} AND EXISTS (SELECT 1 FROM companies \
             c2 WHERE {alike} AND c2.id <> lco.id AND c2.deleted_at IS NULL){}",
            entity.name(),
            link_joins(entity),
            without_id("lco", Entity::Companies, system)
        );
        count_exported(db, sql, conditions, params)
    };
    let domain = if shows("company.domain") { " AND lco.domain IS NULL" } else { "" };
    let named = count("c2.name = lco.name", domain)?;
    // (Two domains in the file tell them apart; one alone does not: the
    // company without one takes it.)
    let domains = if shows("company.domain") { " AND (lco.domain IS NULL OR c2.domain IS NULL)" } else { "" };
    let alike = "c2.name_key = lco.name_key AND c2.name <> lco.name \
                 AND (c2.name_form IS NULL OR lco.name_form IS NULL OR c2.name_form = lco.name_form)";
    let formed = count(&format!("{alike}{domains}"), "")?;
    let mut notes = Vec::new();
    if named > 0 {
        notes.push(format!(
            "{} a company whose name another company has too, and no domain in the file tells them \
             apart: imported again, `company.name` would find both and the row be refused; export company.domain \
             (for companies with domains) or company.external_id.<system> too",
            records_that_link(named, entity)
        ));
    }
    if formed > 0 {
        notes.push(format!(
            "{} a company named as another is but for its legal form or spelling (`Zeta`, `Zeta AG`), one of them \
             without a form, and nothing in the file tells them apart: imported into an empty store, the two \
             would become one company; export company.domain (for companies with domains) or \
             company.external_id.<system> too",
            records_that_link(formed, entity)
        ));
    }
    Ok(notes)
}

/// `1 contact links`, `3 contacts link`: the start of an export's note.
fn records_that_link(n: i64, entity: Entity) -> String {
    if n == 1 { format!("1 {} links", model::singular(entity)) } else { format!("{n} {} link", entity.name()) }
}

/// Companies or deals of the file it cannot tell from another of their
/// name in it: no `id` column, and not every one of them with an id in the
/// system exported, or (for a company) a domain of its own, or (for a deal)
/// a company of its own. Imported again, into an empty store or this one,
/// the rows of one name would be taken for one record.
fn records_alike(
    db: &mut dyn Sql,
    entity: Entity,
    fields: &[String],
    conditions: &[String],
    params: &[Param],
) -> Result<Option<String>> {
    let shows = |field: &str| fields.iter().any(|f| f == field);
    if shows("id") || !shows("name") {
        return Ok(None);
    }
    // A deal's company by its id in another system, where the file shows
    // it: two companies `Zeta` with ids of their own are two.
    let company_id_in = fields.iter().find_map(|f| f.strip_prefix("company.external_id.")).map(|system| {
        format!(
            "(SELECT x.external_id FROM external_ids x WHERE x.record_id = t.company_id AND x.entity = 'companies' \
             AND x.system = '{}')",
            system.replace('\'', "''")
        )
    });
    // (And by legal form where the file shows the company's name, as
    // import tells `Acme BV` from `Acme AG`.)
    let (key, apart, form) = match entity {
        Entity::Deals if company_id_in.is_some() => ("name", company_id_in.as_deref(), None),
        Entity::Companies if shows("domain") => ("name_key", Some("t.domain"), Some("t.name_form")),
        Entity::Companies => ("name_key", None, Some("t.name_form")),
        // A deal's company as the file shows it: two companies `Zeta` at
        // zeta.de and zeta.fr are one `Zeta` in a file without domains.
        Entity::Deals if shows("company.name") && shows("company.domain") => (
            "name",
            Some("CASE WHEN t.company_id IS NULL THEN NULL ELSE lco.name_key || '|' || COALESCE(lco.domain, '') END"),
            Some("lco.name_form"),
        ),
        Entity::Deals if shows("company.name") => ("name", Some("lco.name_key"), Some("lco.name_form")),
        Entity::Deals if shows("company.domain") => ("name", Some("lco.domain"), None),
        Entity::Deals => ("name", None, None),
        _ => return Ok(None),
    };
    let table = entity.name();
    // (With an id in the system exported: a name whose records all have
    // one is told apart by them.)
    let has_id = match fields.iter().find_map(|f| crmsync_core::mapping::external_system(f)) {
        Some(s) => format!(
            "CASE WHEN EXISTS (SELECT 1 FROM external_ids x WHERE x.record_id = t.id AND x.entity = '{table}' \
             AND x.system = '{}') THEN 1 ELSE 0 END",
            s.replace('\'', "''")
        ),
        None => "0".to_string(),
    };
    // (Deleted records in an `--include-deleted` file are not imported.)
    let wheres: Vec<&str> =
        std::iter::once("t.deleted_at IS NULL").chain(conditions.iter().map(String::as_str)).collect();
    let sql = format!(
        "SELECT s.k, s.a, s.f, s.ids FROM (SELECT t.{key} AS k, {} AS a, {} AS f, {has_id} AS ids, \
         count(*) OVER (PARTITION BY t.{key}) AS c FROM {table} t{} WHERE {}) s WHERE s.c > 1 ORDER BY s.k",
        apart.unwrap_or("NULL"),
        form.unwrap_or("NULL"),
        link_joins(entity),
        wheres.join(" AND ")
    );
    let mut n = 0;
    let mut group: (Option<String>, Vec<Named>) = (None, Vec::new());
    db.query_each(&sql, params, &mut |row| {
        let mut row = row.into_iter();
        let key = row.next().and_then(Cell::into_text);
        let named = Named {
            apart: row.next().and_then(Cell::into_text),
            form: row.next().and_then(Cell::into_text),
            id: row.next().is_some_and(|c| c.int() > 0),
        };
        if group.0 != key {
            n += alike(&std::mem::take(&mut group.1));
            group.0 = key;
        }
        group.1.push(named);
        Ok(())
    })?;
    n += alike(&group.1);
    Ok((n > 0).then(|| {
        let one = model::singular(entity);
        let records = if n == 1 { format!("1 {one} shares its") } else { format!("{n} {table} share their") };
        let by = match entity {
            Entity::Companies => "domain",
            _ => "company",
        };
        format!(
            "{records} name with another in the file, and no {by} tells them apart: imported again, the rows of \
             one name would be taken for one {one} (merged, or refused as ambiguous); export `id` too \
             (`--fields id,...`), which an import matches first, into this store or an empty one"
        )
    }))
}

/// A record of a name others in the file have too: what tells it apart
/// there (its company or domain, `None`: nothing), its legal form or its
/// company's, and whether it has an id in the system exported.
struct Named {
    apart: Option<String>,
    form: Option<String>,
    id: bool,
}

/// How many of `named`, records of one name, a file cannot tell from
/// another of them: two are alike unless both have what tells them apart
/// and it differs, or both give a legal form and not the same one. (None
/// when each has an id.) Counted per form and per what tells them apart, so
/// that a thousand deals `Renewal` are not compared pair by pair.
fn alike(named: &[Named]) -> i64 {
    if named.len() < 2 || named.iter().all(|n| n.id) {
        return 0;
    }
    type Key<'a> = Option<&'a str>;
    let mut by_both: HashMap<(Key<'_>, Key<'_>), i64> = HashMap::new();
    let (mut by_apart, mut by_form): (HashMap<Key<'_>, i64>, HashMap<Key<'_>, i64>) = Default::default();
    for n in named {
        let (a, f) = (n.apart.as_deref(), n.form.as_deref());
        *by_both.entry((a, f)).or_default() += 1;
        *by_apart.entry(a).or_default() += 1;
        *by_form.entry(f).or_default() += 1;
    }
    // (`None`: any.)
    let count = |apart: Option<Key<'_>>, form: Option<Key<'_>>| -> i64 {
        match (apart, form) {
            (None, None) => named.len() as i64,
            (Some(a), None) => by_apart.get(&a).copied().unwrap_or(0),
            (None, Some(f)) => by_form.get(&f).copied().unwrap_or(0),
            (Some(a), Some(f)) => by_both.get(&(a, f)).copied().unwrap_or(0),
        }
    };
    // Each may be taken for those of its own `apart` or none (any, without
    // one) and of its own form or none (any, without one).
    fn either(own: Option<&str>) -> Vec<Option<Option<&str>>> {
        match own {
            None => vec![None],
            Some(_) => vec![Some(own), Some(None)],
        }
    }
    let taken_for_another = |r: &Named| {
        let (aparts, forms) = (either(r.apart.as_deref()), either(r.form.as_deref()));
        let like: i64 = aparts.iter().flat_map(|a| forms.iter().map(|f| count(*a, *f))).sum();
        like > 1
    };
    named.iter().filter(|r| taken_for_another(r)).count() as i64
}

/// For `--since`: the records of `entity` whose linked records, as
/// `fields` show them (a company's name, a deal's contacts' e-mails),
/// changed at or after a time (one `?` each). Each is one indexed lookup,
/// so that SQLite and PostgreSQL still read only what changed.
fn links_shown(entity: Entity, fields: &[String]) -> Vec<&'static str> {
    let shows = |field: &str| fields.iter().any(|f| f == field);
    let mut links = Vec::new();
    if entity != Entity::Companies && (shows("company.name") || shows("company.domain")) {
        links.push("t.company_id IN (SELECT id FROM companies WHERE updated_at >= ?)");
    }
    if entity == Entity::Activities && shows("contact.email") {
        links.push("t.contact_id IN (SELECT id FROM contacts WHERE updated_at >= ?)");
    }
    if entity == Entity::Activities && shows("deal.name") {
        links.push("t.deal_id IN (SELECT id FROM deals WHERE updated_at >= ?)");
    }
    if entity == Entity::Deals && fields.iter().any(|f| f == "contacts") {
        links.push(
            "t.id IN (SELECT dc.deal_id FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id \
             WHERE c.updated_at >= ?)",
        );
    }
    links
}

/// The fields an export and `--where` know, for messages.
fn known_fields(entity: Entity) -> String {
    format!(
        "fields are {}, custom.<name>, {EXTERNAL_ID_PREFIX}<system>, {}",
        entity.fields().join(", "),
        SYSTEM_FIELDS.join(", ")
    )
}

struct FieldResolver {
    backend: Backend,
    entity: Entity,
    /// The systems records have ids in, when a field names one: another
    /// is a typo (`external_id.ERP` for `erp`).
    systems: Option<BTreeSet<String>>,
    /// Notes on fields named (see `unknown_system`).
    notes: std::cell::RefCell<BTreeSet<String>>,
    /// The entity's declared custom fields: their values compare in their
    /// type, as import stores them.
    declared: Vec<CustomField>,
    /// Every custom field name declared or ever stored: another is a typo.
    known: BTreeSet<String>,
    /// How many values phone numbers without their country code added (see
    /// `also`), for the message when there are too many.
    readings: std::cell::Cell<usize>,
}

impl FieldResolver {
    /// The SQL reading `field`, and its kind; a message for a field the
    /// entity does not have.
    fn field(&self, field: &str) -> Result<(String, Kind), String> {
        if let Some(name) = field.strip_prefix("custom.") {
            unknown_custom(self.entity, name, &self.known)?;
        }
        if let Some(systems) = &self.systems
            && let Some(note) = unknown_system(self.entity, field, systems)?
        {
            self.notes.borrow_mut().insert(note);
        }
        field_sql(self.backend, self.entity, field)
            .ok_or_else(|| format!("`{field}` is not a field of {}; {}", self.entity, known_fields(self.entity)))
    }

    /// Whether `field` compares with `literal` as numbers: amounts and
    /// declared numbers, however the literal is written (`amount =
    /// '1234.5'` finds 1234.50; other declared fields compare in their
    /// type: `custom.vip = 1` is true); a number literal with undeclared
    /// custom values and the version. Names and other systems' ids stay
    /// text (`007` is not the id 7), as does a number written with a
    /// leading zero for an undeclared custom value: a code (`custom.zip =
    /// 02134` is not 2134).
    fn as_number(&self, field: &str, literal: Option<&Literal>, kind: Kind) -> bool {
        let declared = self.declared(field).map(|d| matches!(d.kind, CustomType::Integer | CustomType::Decimal));
        let code = |n: &str| n.len() > 1 && n.starts_with('0') && n.as_bytes()[1].is_ascii_digit();
        match (literal, kind, declared) {
            (None, _, _) | (_, Kind::Tags, _) => false,
            (Some(_), Kind::Decimal, _) | (Some(_), _, Some(true)) => true,
            (Some(Literal::Number(n)), Kind::Text, None) if code(n) => false,
            (Some(Literal::Number(_)), Kind::Text, None) => field.starts_with("custom.") || field == "version",
            _ => false,
        }
    }

    /// Whether `field` is a company's name: a company's own, or the one a
    /// record links to.
    fn company_name(&self, field: &str) -> bool {
        field == "company.name" && self.entity != Entity::Companies
            || field == "name" && self.entity == Entity::Companies
    }

    /// The table a company's name is read from: the company's own, or the
    /// one a record links to.
    fn company_table(&self) -> &'static str {
        if self.entity == Entity::Companies { "t" } else { "lco" }
    }

    fn declared(&self, field: &str) -> Option<&CustomField> {
        let name = field.strip_prefix("custom.")?;
        self.declared.iter().find(|d| d.name == name)
    }
}

impl Resolver for FieldResolver {
    fn column(&self, field: &str, literal: Option<&Literal>) -> Result<String, String> {
        // A company's name compares as import matches it: without case,
        // punctuation or legal form (`acme inc` finds `Acme, Inc.`), but a
        // name given with one legal form is not a name given with another
        // (`Acme BV` finds `Acme B.V.` and `Acme`, not `Acme AG`, nor an
        // `Acme` an import found to be `Acme AG`).
        if let Some(literal) = literal.filter(|_| self.company_name(field)) {
            let table = self.company_table();
            let form = match literal {
                Literal::Text(t) | Literal::Number(t) => model::legal_form(t),
                Literal::Bool(_) => None,
            };
            // (A form is one of crmsync's own words, `bv`: never a quote.)
            return Ok(match form {
                Some(form) => format!(
                    "(CASE WHEN COALESCE({table}.name_form, {table}.learned_form, '{form}') = '{form}' THEN {table}.name_key END)"
                ),
                None => format!("{table}.name_key"),
            });
        }
        let (sql, kind) = self.field(field)?;
        Ok(match kind {
            // A list compares as a flat export writes it: `tags like '%vip%'`.
            Kind::Tags => self.backend.list_text(&sql),
            // An undeclared value written with a leading zero is a code,
            // as a literal so written is: `custom.zip = 2134` is not `02134`.
            _ if self.as_number(field, literal, kind) => match self.declared(field) {
                None if field.starts_with("custom.") => {
                    let code = self.backend.code_like(&sql);
                    self.backend.numeric(&format!("(CASE WHEN {code} THEN NULL ELSE {sql} END)"))
                }
                _ => self.backend.numeric(&sql),
            },
            _ => sql,
        })
    }

    fn fold(&self, expr: &str) -> String {
        self.backend.fold(expr)
    }

    fn ordered(&self, field: &str, literal: &Literal) -> Option<(String, String)> {
        // A company's name orders by its key, whatever its legal form.
        if self.company_name(field) {
            return Some((format!("{}.name_key", self.company_table()), "?".to_string()));
        }
        let (sql, kind) = self.field(field).ok()?;
        let declared = self.declared(field);
        let text_against_number = matches!(literal, Literal::Number(_))
            && kind == Kind::Text
            && declared.is_none()
            && !self.as_number(field, Some(literal), kind);
        if text_against_number {
            return Some((self.backend.numeric(&sql), self.backend.numeric_param().to_string()));
        }
        // Text orders without case, as `like` matches it: `last_name < 'm'`
        // is the names from A to L, `Zeta` not before `alpha`. (A company's
        // name orders by its key, which has no case.)
        let text = matches!(literal, Literal::Text(_))
            && kind == Kind::Text
            && !self.company_name(field)
            && declared.is_none_or(|d| d.kind == CustomType::String);
        text.then(|| (self.backend.fold(&sql), self.backend.fold("?")))
    }

    fn param_sql(&self, field: &str, literal: &Literal) -> String {
        let kind = field_sql(self.backend, self.entity, field).map_or(Kind::Text, |(_, k)| k);
        if self.as_number(field, Some(literal), kind) { self.backend.numeric_param() } else { "?" }.to_string()
    }

    fn text_column(&self, field: &str, _pattern: &str) -> Result<String, String> {
        let (sql, kind) = self.field(field)?;
        Ok(match kind {
            Kind::Tags => self.backend.list_text(&sql),
            kind => self.backend.as_text(&sql, kind),
        })
    }

    fn also(&self, field: &str, literal: &Literal) -> Vec<String> {
        // An undeclared custom list (read from JSON or XML) is exported as a
        // cell, `A1; B2`, and found by it, or by its JSON: as the stored
        // list's text, which each backend writes its own way, and as the
        // text a flat file stored for it.
        if field.starts_with("custom.")
            && self.declared(field).is_none()
            && let Literal::Text(text) = literal
            && (text.contains(LIST_SEPARATOR) || text.trim_start().starts_with('['))
        {
            let items = model::list_items(&Value::Text(text.clone()));
            let quoted: Vec<String> = items.iter().map(|i| serde_json::Value::from(i.as_str()).to_string()).collect();
            let json = match self.backend {
                Backend::Sqlite => format!("[{}]", quoted.join(",")),
                Backend::Postgres => format!("[{}]", quoted.join(", ")),
            };
            let cell = items.join(LIST_SEPARATOR);
            return [json, cell].into_iter().filter(|v| v != text).collect();
        }
        let kind = field_sql(self.backend, self.entity, field).map(|(_, k)| k);
        let (Some(Kind::Phone), Literal::Text(text) | Literal::Number(text)) = (kind, literal) else {
            return Vec::new();
        };
        // (A `+` number is its one reading, bound by `param`.)
        if text.trim().starts_with('+') {
            return Vec::new();
        }
        let readings: Vec<String> =
            crmsync_core::mapping::types::phone::readings(text).into_iter().filter(|r| r != text).collect();
        self.readings.set(self.readings.get() + readings.len());
        readings
    }

    fn param(&self, field: &str, literal: &Literal) -> Result<String, String> {
        let text = match literal {
            Literal::Text(t) | Literal::Number(t) => t.clone(),
            Literal::Bool(b) => b.to_string(),
        };
        // A declared custom value as import keeps it: an enum in its
        // declared spelling, `yes` as true, a number as a number.
        if let Some(d) = self.declared(field) {
            return Ok(crate::import::json_text(&d.check(&serde_json::Value::String(text))?));
        }
        if self.company_name(field) {
            return Ok(model::company_key(&text));
        }
        let kind = field_sql(self.backend, self.entity, field).map(|(_, k)| k);
        let text = match (field, kind) {
            (_, Some(Kind::DateTime)) => model::parse_time(&text)
                .ok_or_else(|| format!("{text:?} is not a date or time (YYYY-MM-DD[THH:MM:SS])"))?,
            // A date and time compares with custom date-times, which are
            // stored in UTC: as the instant it is, in their form.
            (f, _) if f.starts_with("custom.") && matches!(text.as_bytes().get(10), Some(b'T' | b't' | b' ')) => {
                model::parse_time(&text).unwrap_or(text)
            }
            // (A deal's `contacts` are e-mails too, `a@x.com; b@y.com`.)
            ("email" | "contact.email" | "contacts", _) => text.trim().to_lowercase(),
            // An id typed or pasted in lower case: ids are upper case, as
            // `history` takes them either way.
            ("id", _) if model::ulid_value(&text.trim().to_ascii_uppercase()).is_some() => {
                text.trim().to_ascii_uppercase()
            }
            // An international number as the store keeps it: `+1 555 010
            // 0001` is +15550100001.
            (_, Some(Kind::Phone)) if text.trim().starts_with('+') => {
                crmsync_core::mapping::types::phone::to_e164(&text, None).unwrap_or(text)
            }
            ("domain" | "company.domain", _) if !text.contains('%') => model::domain_key(&text),
            // A list as import reads a cell of one: an export's own cell,
            // `"Sales, EMEA"; vip`, finds the record it came from.
            (_, Some(Kind::Tags)) => crmsync_core::value::split_list(&text).join(LIST_SEPARATOR),
            // Codes, lists, dates and amounts as the store keeps them: `de`
            // is DE, a date-time given for a date is its date, `1,000.00`
            // is 1000.00.
            (_, Some(kind @ (Kind::Country | Kind::Enum(_) | Kind::Currency | Kind::Date | Kind::Decimal))) => {
                let column = model::Column { field: "", column: "", kind, max: None };
                model::stored(&column, &Value::Text(text.clone()))
                    .map_err(|expected| format!("{text:?} is not {expected}"))?
                    .unwrap_or(text)
            }
            _ => text,
        };
        // Amounts and versions compare as numbers: a literal that is none
        // would match nothing on SQLite and fail the query on PostgreSQL.
        if (kind == Some(Kind::Decimal) || field == "version") && !crate::sql::is_number(&text) {
            return Err(format!("{text:?} is not a number, and `{field}` holds numbers"));
        }
        Ok(text)
    }
}

/// Every custom field name of `entity` declared or ever stored.
fn custom_known(db: &mut dyn Sql, entity: Entity, declared: &[CustomField]) -> Result<BTreeSet<String>> {
    let mut known: BTreeSet<String> = db
        .query("SELECT name FROM custom_keys WHERE entity = ?", &[entity.name().into()])?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
        .collect();
    known.extend(declared.iter().map(|d| d.name.clone()));
    Ok(known)
}

/// A custom field no record ever had and none is declared: a typo, which
/// would give an empty column or match nothing.
fn unknown_custom(entity: Entity, name: &str, known: &BTreeSet<String>) -> Result<(), String> {
    if known.contains(name) {
        return Ok(());
    }
    let names: Vec<String> = known.iter().map(|n| format!("custom.{n}")).collect();
    Err(format!(
        "no {} has a custom field `{name}`, and none is declared ({})",
        model::singular(entity),
        if names.is_empty() {
            "there are no custom fields yet".to_string()
        } else {
            format!("custom fields: {}", names.join(", "))
        }
    ))
}

/// The system of an id field (`external_id.erp`, `company.external_id.erp`).
fn system_of(entity: Entity, field: &str) -> Option<&str> {
    entity.external_link_of(field).map(|(_, system)| system).or_else(|| external_system(field))
}

/// Every system records of any entity have ids in, and with `removed`,
/// that records an undo removed had ids in (their tombstones carry them).
fn stored_systems(db: &mut dyn Sql, removed: bool) -> Result<BTreeSet<String>> {
    let mut systems: BTreeSet<String> = db
        .query("SELECT DISTINCT system FROM external_ids", &[])?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
        .collect();
    if removed {
        systems.extend(removed_systems(db, None)?);
    }
    Ok(systems)
}

/// The systems records an undo removed had ids in (of `entity`, or any),
/// as the trail keeps them for tombstones.
fn removed_systems(db: &mut dyn Sql, entity: Option<Entity>) -> Result<Vec<String>> {
    let mut sql = "SELECT DISTINCT substr(field, 13) FROM audit WHERE op = 'delete' \
                   AND field LIKE 'external\\_id.%' ESCAPE '\\'"
        .to_string();
    let mut params = Vec::new();
    if let Some(e) = entity {
        sql.push_str(" AND entity = ?");
        params.push(Param::from(e.name()));
    }
    sql.push_str(" ORDER BY 1");
    Ok(db.query(&sql, &params)?.into_iter().filter_map(|r| r.into_iter().next().and_then(Cell::into_text)).collect())
}

/// An id field of a system no record has ids in: empty for every record,
/// and true of every record with `is null`. Written as a system records
/// have ids in but for case (`ERP` for `erp`), a typo: refused, as a "not
/// yet in the ERP" export would send every record again. Otherwise a note:
/// a system no record has reached yet is a fair thing to ask for.
fn unknown_system(entity: Entity, field: &str, systems: &BTreeSet<String>) -> Result<Option<String>, String> {
    let Some(system) = system_of(entity, field) else { return Ok(None) };
    if systems.contains(system) {
        return Ok(None);
    }
    if let Some(s) = systems.iter().find(|s| s.eq_ignore_ascii_case(system)) {
        return Err(format!(
            "no record has an id in system `{system}`: did you mean `{}{s}`? (systems are told apart by case)",
            field.strip_suffix(system).unwrap_or(field)
        ));
    }
    let list: Vec<String> = systems.iter().map(|s| format!("`{s}`")).collect();
    Ok(Some(match list.as_slice() {
        [] => format!("`{field}` is empty for every record: no record has an id in system `{system}` yet"),
        _ => format!(
            "`{field}` is empty for every record: no record has an id in system `{system}` yet (records have ids in {})",
            list.join(", ")
        ),
    }))
}

/// Up to this many custom field names, each is looked for in the records
/// on its own (usually the first record has it).
const PROBED: usize = 64;

/// The custom field names of `entity`: all it declares, else those its
/// records carry.
fn custom_names(db: &mut dyn Sql, entity: Entity) -> Result<Vec<String>> {
    if model::position(entity, "custom").is_none() {
        return Ok(Vec::new());
    }
    // Declared fields are columns of the entity's files whether or not a
    // record has a value yet: a file's columns do not come and go with
    // its data, and an empty store's export is a template to fill. (An
    // entity with declared fields takes no others.)
    let declared = crate::custom::declared(db, entity)?;
    if !declared.is_empty() {
        return Ok(declared.into_iter().map(|f| f.name).collect());
    }
    let listed: BTreeSet<String> = db
        .query("SELECT name FROM custom_keys WHERE entity = ?", &[entity.name().into()])?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
        .collect();
    if listed.len() > PROBED {
        // Many names, most of them perhaps rare: each probe would scan until
        // a record with its name, so the records are read once instead.
        let sql = db.backend().custom_names(entity.name());
        let mut carried = HashSet::new();
        db.query_each(&sql, &[], &mut |row| {
            carried.extend(row.into_iter().next().and_then(Cell::into_text));
            Ok(())
        })?;
        return Ok(listed.into_iter().filter(|n| carried.contains(n)).collect());
    }
    let mut names = Vec::with_capacity(listed.len());
    for name in listed {
        // Usually the first record has it; a name no record has any more
        // (its batch undone) costs one scan and is left out.
        let sql = format!("SELECT 1 FROM {0} t WHERE {1} LIMIT 1", entity.name(), db.backend().has_custom("t", &name));
        if db.query_row(&sql, &[])?.is_some() {
            names.push(name);
        }
    }
    Ok(names)
}

impl Store {
    /// Starts an export of `entity`.
    pub fn export(&mut self, entity: Entity, opts: &Options) -> Result<Export<'_>> {
        let db = self.db.as_mut();
        let backend = db.backend();
        let mut left_out = Vec::new();
        let fields: Vec<String> = if opts.fields.is_empty() {
            let mut f: Vec<String> = entity.fields().iter().map(|s| s.to_string()).collect();
            f.extend(custom_names(db, entity)?.into_iter().map(|n| format!("custom.{n}")));
            // The records' ids in another system, so that the file imports
            // again matching by them. An import reads one system's ids from
            // a file: of several, the one most records have ids in (a
            // contact given an id in a second system leaves the first's on
            // every other), and the rest are named in a note.
            let systems_of = |db: &mut dyn crate::sql::Sql, e: &str| -> Result<Vec<String>> {
                let texts = |rows: Vec<Vec<Cell>>| -> Vec<String> {
                    rows.into_iter().filter_map(|r| r.into_iter().next().and_then(Cell::into_text)).collect()
                };
                let some =
                    texts(db.query("SELECT DISTINCT system FROM external_ids WHERE entity = ? LIMIT 2", &[e.into()])?);
                if some.len() < 2 {
                    return Ok(some);
                }
                // (Counted only then: one system, the usual case, costs no scan.)
                Ok(texts(db.query(
                    "SELECT system FROM external_ids WHERE entity = ? GROUP BY system ORDER BY count(*) DESC, system",
                    &[e.into()],
                )?))
            };
            let mut own = systems_of(db, entity.name())?;
            if opts.include_deleted {
                // Tombstones carry the ids the removed records had, kept by
                // the trail, where no live record has one in that system.
                for system in removed_systems(db, Some(entity))? {
                    if !own.contains(&system) {
                        own.push(system);
                    }
                }
            }
            if let Some((system, others)) = own.split_first() {
                f.push(format!("{EXTERNAL_ID_PREFIX}{system}"));
                left_out.extend(others.iter().map(|s| format!("{EXTERNAL_ID_PREFIX}{s}")));
            }
            // Linked records' ids in that system too (or, for records with
            // none, in the system most kinds of linked records have ids in,
            // as import reads link ids in one system): a link by natural
            // key is lost for a contact without an e-mail, or a deal whose
            // name another deal has; by id it imports again.
            let mut links: Vec<(&str, Vec<String>)> = Vec::new();
            for link in entity.external_links() {
                links.push((link, systems_of(db, Entity::linked_by(link).name())?));
            }
            let system = match own.first() {
                Some(system) => Some(system.clone()),
                None => {
                    // A company is found again by its name and domain; a
                    // contact without an e-mail, or a deal of a name several
                    // have, only by id: on a tie, their system.
                    let mut firsts: Vec<&String> = links.iter().filter_map(|(_, s)| s.first()).collect();
                    if let Some((_, company)) = links.iter().find(|(l, _)| *l == "company.external_id")
                        && let Some(first) = company.first()
                        && let Some(at) = firsts.iter().position(|s| *s == first)
                    {
                        let moved = firsts.remove(at);
                        firsts.push(moved);
                    }
                    let shared = |s: &&String| links.iter().filter(|(_, of)| of.contains(s)).count();
                    // (The first of the most shared: `max_by_key` takes the last.)
                    firsts.iter().rev().max_by_key(|s| shared(s)).map(|s| (*s).clone())
                }
            };
            for (link, systems) in &links {
                for s in systems {
                    if system.as_ref() == Some(s) {
                        f.push(format!("{link}.{s}"));
                    } else {
                        left_out.push(format!("{link}.{s}"));
                    }
                }
            }
            if opts.include_deleted {
                f.push("deleted_at".into());
            }
            f
        } else {
            opts.fields.clone()
        };
        if let Some(twice) = fields.iter().enumerate().find_map(|(i, f)| fields[..i].contains(f).then_some(f)) {
            return Err(Error::Argument(format!(
                "--fields: `{twice}` is listed twice; a file with two columns of one name cannot be imported again"
            )));
        }
        let declared = crate::custom::declared(db, entity)?;
        let known = custom_known(db, entity, &declared)?;
        // (Read only when a field names a system. A reverse mapping may name
        // one before any record has ids there: its column is empty until
        // then.)
        let names_system = |f: &String| system_of(entity, f).is_some();
        let systems = if (!opts.fields_from_mapping && fields.iter().any(names_system))
            || opts.filter.as_ref().is_some_and(|f| f.contains(EXTERNAL_ID_PREFIX))
        {
            Some(stored_systems(db, opts.include_deleted)?)
        } else {
            None
        };
        let mut notes = BTreeSet::new();
        if let (Some(systems), false) = (&systems, opts.fields_from_mapping) {
            for f in &fields {
                let note = unknown_system(entity, f, systems).map_err(|m| Error::Argument(format!("--fields: {m}")))?;
                notes.extend(note);
            }
        }
        let mut select = Vec::new();
        let mut sources = Vec::with_capacity(fields.len());
        let mut custom_at = None;
        for f in &fields {
            if let Some(name) = f.strip_prefix("custom.")
                && !name.is_empty()
                && model::position(entity, "custom").is_some()
            {
                if !opts.fields_from_mapping {
                    unknown_custom(entity, name, &known).map_err(|m| Error::Argument(format!("--fields: {m}")))?;
                }
                if custom_at.is_none() {
                    select.push("t.custom".into());
                    custom_at = Some(select.len() - 1);
                }
                // A declared date is one in the output too (a date cell of a
                // sheet), as a standard field's is.
                let kind = declared.iter().find(|d| d.name == name).and_then(|d| match d.kind {
                    crate::custom::CustomType::Date => Some(Kind::Date),
                    crate::custom::CustomType::DateTime => Some(Kind::DateTime),
                    _ => None,
                });
                sources.push(Source::Custom(name.to_string(), kind));
                continue;
            }
            let (sql, kind) = field_sql(backend, entity, f).ok_or_else(|| {
                Error::Argument(format!("--fields: `{f}` is not a field of {entity}; {}", known_fields(entity)))
            })?;
            select.push(sql);
            sources.push(Source::Sql(select.len() - 1, kind));
        }
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let mut since_time = None;
        if !opts.include_deleted {
            conditions.push("t.deleted_at IS NULL".to_string());
        }
        if let Some(since) = &opts.since {
            let t = model::parse_time(since).ok_or_else(|| {
                Error::Argument(format!(
                    "--since: {since:?} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+08:00)"
                ))
            })?;
            // A record whose exported link changed is changed as the file
            // shows it: a contact whose company was renamed carries the new
            // `company.name`, so an incremental export must carry it.
            let mut changed = vec!["t.updated_at >= ?".to_string()];
            for link in links_shown(entity, &fields) {
                changed.push(link.to_string());
            }
            since_time = Some(t.clone());
            params.extend(std::iter::repeat_n(Param::Text(t), changed.len()));
            conditions.push(format!("({})", changed.join(" OR ")));
        }
        if let Some(expr) = &opts.filter {
            let parsed = filter::parse(expr).map_err(|e| Error::Argument(e.to_string()))?;
            let mut sql = String::new();
            let mut texts = Vec::new();
            let resolver = FieldResolver {
                backend,
                entity,
                systems,
                notes: Default::default(),
                declared,
                known,
                readings: Default::default(),
            };
            filter::compile(&parsed, &resolver, &mut sql, &mut texts).map_err(|e| Error::Argument(e.to_string()))?;
            // (SQLite binds at most 32,766 values to a statement.)
            if texts.len() > MAX_FILTER_VALUES {
                let readings = match resolver.readings.get() {
                    0 => String::new(),
                    n => format!(
                        " ({n} of them the numbers that phone numbers written without their country code are in the \
                         countries they are numbers of: write them with it, `+49 30 …`)"
                    ),
                };
                return Err(Error::Argument(format!(
                    "--where: the expression gives {} values{readings}, more than the {MAX_FILTER_VALUES} one query can \
                     take; export in parts",
                    texts.len()
                )));
            }
            notes.extend(resolver.notes.take());
            conditions.push(sql);
            params.extend(texts.into_iter().map(Param::Text));
        }
        let sql = format!(
            "SELECT {} FROM {} t{} WHERE {}",
            select.join(", "),
            entity.name(),
            link_joins(entity),
            if conditions.is_empty() { "1 = 1".to_string() } else { conditions.join(" AND ") }
        );
        notes.extend(unnamed_links(db, entity, &fields, &conditions, &params)?);
        notes.extend(deals_named_alike(db, entity, &fields, &conditions, &params)?);
        notes.extend(companies_alike(db, entity, &fields, &conditions, &params)?);
        if !opts.fields_from_mapping {
            notes.extend(records_alike(db, entity, &fields, &conditions, &params)?);
        }
        if opts.include_deleted && !fields.iter().any(|f| f == "deleted_at") {
            notes.insert(
                "--include-deleted without `deleted_at` in --fields: deleted records cannot be told from live ones \
                 in the file, and imported again would be made live"
                    .to_string(),
            );
        }
        Ok(Export {
            db,
            fields: fields.iter().map(|f| Key::from(f.as_str())).collect(),
            sources,
            sql,
            params,
            custom_at,
            left_out,
            notes: notes.into_iter().collect(),
            tombstones: tombstones(entity, opts, &fields, since_time),
        })
    }
}

impl Export<'_> {
    /// The exported fields, in order.
    pub fn fields(&self) -> &[Key] {
        &self.fields
    }

    /// Fields the records have that this export leaves out, not having
    /// been asked for them: ids in systems besides the one exported.
    /// Notes on the fields asked for, for stderr.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn left_out(&self) -> &[String] {
        &self.left_out
    }

    /// Reads every record, in the order they were created, handing each to
    /// `each`. One statement streams them all, so the export is one
    /// consistent snapshot and memory stays flat.
    pub fn read(&mut self, each: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        let sql = format!("{} ORDER BY {}", self.sql, self.db.backend().creation_order());
        let mut n: u64 = 0;
        let (fields, sources, custom_at) = (&self.fields, &self.sources, self.custom_at);
        self.db.query_each(&sql, &self.params, &mut |mut row| {
            n += 1;
            let mut rec = Record::with_capacity(fields.len());
            rec.row = n;
            let custom = custom_at.map(|i| model::parse_custom(row[i].text()));
            for (field, source) in fields.iter().zip(sources) {
                let value = match source {
                    // Each column is read once: its text moves into the value.
                    Source::Sql(i, kind) => match std::mem::replace(&mut row[*i], Cell::Null) {
                        // (A deal without contacts has an empty list, as a
                        // contact without tags has.)
                        Cell::Null if *kind == Kind::DealContacts => Value::Array(Vec::new()),
                        Cell::Null | Cell::Bytes(_) => Value::Null,
                        Cell::Int(n) => Value::Number(n.to_string()),
                        Cell::Text(t) => model::value_from(*kind, t),
                    },
                    Source::Custom(name, kind) => match (custom.as_ref().and_then(|c| c.get(name)), kind) {
                        (Some(serde_json::Value::String(t)), Some(kind)) => model::value_of(*kind, t),
                        (v, _) => v.map_or(Value::Null, custom_field),
                    },
                };
                rec.push(field.clone(), value);
            }
            each(rec)
        })?;
        let Some((sql, params)) = &self.tombstones else { return Ok(()) };
        // One removal's rows (its label, its ids elsewhere) side by side,
        // in the order they went.
        let mut gone: Vec<Tombstone> = Vec::new();
        self.db.query_each(sql, params, &mut |row| {
            let mut cells = row.into_iter().map(Cell::into_text);
            let (Some(id), field, before, Some(at)) =
                (cells.next().flatten(), cells.next().flatten(), cells.next().flatten(), cells.next().flatten())
            else {
                return Ok(());
            };
            match gone.last_mut() {
                Some((last, when, _)) if *last == id && *when == at => {}
                _ => gone.push((id, at, Vec::new())),
            }
            if let (Some(field), Some(before), Some(last)) = (field, before, gone.last_mut()) {
                last.2.push((field, before));
            }
            Ok(())
        })?;
        for (id, at, values) in gone {
            n += 1;
            let mut rec = Record::with_capacity(fields.len());
            rec.row = n;
            for (field, source) in fields.iter().zip(sources) {
                let kind = match source {
                    Source::Sql(_, kind) => *kind,
                    Source::Custom(..) => Kind::Text,
                };
                let text = match &**field {
                    "id" => Some(id.clone()),
                    "deleted_at" => Some(at.clone()),
                    f => values.iter().find(|(name, _)| name == f).map(|(_, v)| v.clone()),
                };
                rec.push(field.clone(), text.map_or(Value::Null, |t| model::value_from(kind, t)));
            }
            each(rec)?;
        }
        Ok(())
    }
}

/// A removed record's id, when it went, and its fields the trail keeps.
type Tombstone = (String, String, Vec<(String, String)>);

/// With `--include-deleted`, the records an undo removed are tombstones
/// too: a system that took them from an earlier export learns they are
/// gone. The audit trail keeps what names them (the id, the e-mail, name
/// or subject, the ids in other systems) and when they went; a record made
/// again since under its id is the live one, and one removed twice went
/// when it went last. Not under `--where`, whose
/// conditions a removed record's other fields cannot be tested against,
/// nor where the file names them by nothing the trail keeps.
fn tombstones(
    entity: Entity,
    opts: &Options,
    fields: &[String],
    since: Option<String>,
) -> Option<(String, Vec<Param>)> {
    let named = |f: &String| f == "id" || f == model::label_field(entity) || f.starts_with(EXTERNAL_ID_PREFIX);
    if !opts.include_deleted || opts.filter.is_some() || !fields.iter().any(named) {
        return None;
    }
    let table = entity.name();
    let mut params = vec![Param::from(table)];
    let mut sql = format!(
        "SELECT a.record_id, a.field, a.before, a.at FROM audit a WHERE a.entity = ? AND a.op = 'delete' \
         AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = a.record_id) \
         AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.record_id = a.record_id AND b.entity = a.entity \
         AND b.op = 'delete' AND b.at > a.at)"
    );
    if let Some(t) = since {
        sql.push_str(" AND a.at >= ?");
        params.push(Param::Text(t));
    }
    sql.push_str(" ORDER BY a.at, a.record_id, a.seq");
    Some((sql, params))
}

/// A custom field's stored JSON as a value: a list (a mapping's `split`)
/// stays a list, which flat files write as `a; b` and a mapping run
/// backwards joins with its separator; an object stays JSON text.
fn custom_field(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Object(_) => Value::Text(v.to_string()),
        // A time the store wrote (a mapping's `datetime` into a field not
        // declared, `2024-03-10T06:30:00.000000Z`) is written as every
        // other time is, without a fraction of zeros.
        serde_json::Value::String(t) if t.len() == 27 && t.ends_with('Z') => {
            match crmsync_core::mapping::types::date::parse_iso(t) {
                Some(dt) => Value::DateTime(dt),
                None => Value::Text(t.clone()),
            }
        }
        // Inside a list an object stays one: lists are not flattened into
        // dotted fields on the way back in.
        v => Value::from_json(v),
    }
}
