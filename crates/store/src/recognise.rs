//! Recognising source rows a store already holds as they are.
//!
//! Each record keeps a hash of the source row it was last imported from
//! (`source_hash`), made under a fingerprint of everything that turns a row
//! into a record: crmsync's own rules, the entity, the mapping, the key, the
//! import settings and the declared custom fields. An import loads the
//! hashes its table holds. A row whose hash is among them maps and drafts
//! only its key and links (`Draft::lite`); the store then finds the record
//! (below), and when that record still carries this row's hash and
//! its links agree, the row is unchanged without mapping it whole or
//! comparing it field by field. Otherwise the row is drafted in full and
//! goes the usual way. A hash that is known but stale (the record was
//! written since) costs that second drafting and nothing else.
//!
//! The hashes are loaded with the place of the record that carries each
//! (`Backend::record_locator`: SQLite's rowid, PostgreSQL's id), and a
//! recognised row's record is read from there instead of being searched
//! for by key: on SQLite, a million key lookups were most of a re-import's
//! store thread. The record must still carry the row's hash and have its
//! key; if not, or if several records carry the hash, the row is matched
//! by key as any other. So is a row whose key several records share (found
//! with one grouping query as the import begins): by key it is ambiguous.

use std::cell::RefCell;

use crmsync_core::{Entity, Record, Value};

use crate::error::Result;
use crate::import::{HashRows, KeyHashes};
use crate::sql::{Lent, Sql};

/// Bumped when a row maps to other stored values than before for the same
/// mapping (a type's canonical form changes, say): stored hashes then no
/// longer vouch for anything, and rows are drafted and compared in full.
/// (2: a typed custom date-time is stored in UTC. 3: Mexican phones in
/// their old forms are stored as dialled today, and North American ones in
/// a region of trunk-prefixed numbers are refused.)
const RULES: &[u8] = b"crmsync source hash 3";

/// At most this many stored hashes are kept in memory (16 bytes each and
/// the map's slack). Beyond it rows are recognised only while hashes last:
/// the others are drafted in full, as without recognition.
const MAX_KNOWN: usize = 4_000_000;

/// The stored source hashes of one table, and the fingerprint rows are
/// hashed under.
#[derive(Debug)]
pub(crate) struct Recognition {
    fingerprint: [u8; 16],
    /// Each hash, with where the one live record that carries it is:
    /// SQLite's rowid, or the index of the record's id in `ids`; `NOWHERE`
    /// where several records carry it. (Eight bytes: the map is made for a
    /// million records.)
    known: HashRows,
    /// The ids `known` points into (PostgreSQL; `None` on SQLite).
    ids: Option<Vec<Place>>,
    /// Hashes of key values that several records share: rows with such a
    /// key are matched by key, which finds them ambiguous.
    shared_keys: KeyHashes,
}

const NOWHERE: u64 = u64::MAX;

/// Where a record is, as `load_at` reads it: a rowid, or an id's 128 bits.
pub(crate) type Place = u128;

impl Recognition {
    /// Loads the hashes `entity`'s live records carry. `parts` are what
    /// makes a row into a record besides the row itself; `shared_keys`
    /// lists the keys several records have, asked only when some record
    /// carries a hash.
    pub fn load(
        db: &mut dyn Sql,
        entity: Entity,
        parts: &[&[u8]],
        shared_keys: impl FnOnce(&mut dyn Sql) -> Result<KeyHashes>,
    ) -> Result<Self> {
        let fingerprint = fingerprint(parts);
        // Gathered first, so that the set is made at its size once instead
        // of growing (rehashing was a third of the time it took).
        let mut hashes: Vec<(u64, u64)> = Vec::new();
        let mut ids: Vec<Place> = Vec::new();
        let locator = db.backend().record_locator();
        let sql = format!(
            "SELECT t.source_hash, {locator} FROM {} t WHERE t.source_hash IS NOT NULL AND t.deleted_at IS NULL",
            entity.name()
        );
        db.query_each_lent(&sql, &[], &mut |row| {
            if let Some(Lent::Int(n)) = row.first()
                && hashes.len() < MAX_KNOWN
            {
                let at = match row.get(1) {
                    Some(Lent::Int(r)) => u64::try_from(*r).unwrap_or(NOWHERE),
                    Some(Lent::Text(id)) => match std::str::from_utf8(id).ok().and_then(crate::model::ulid_value) {
                        Some(id) => {
                            ids.push(id);
                            ids.len() as u64 - 1
                        }
                        None => NOWHERE,
                    },
                    _ => NOWHERE,
                };
                hashes.push((*n as u64, at));
            }
            Ok(())
        })?;
        let mut known = HashRows::with_capacity_and_hasher(hashes.len(), Default::default());
        for (hash, at) in hashes {
            known.entry(hash).and_modify(|r| *r = NOWHERE).or_insert(at);
        }
        let ids = (db.backend() == crate::sql::Backend::Postgres).then_some(ids);
        let shared_keys = if known.is_empty() { KeyHashes::default() } else { shared_keys(db)? };
        Ok(Recognition { fingerprint, known, ids, shared_keys })
    }

    /// The hash of a source row as read (names and values, in order; not
    /// its position in the file).
    pub fn hash(&self, row: &Record) -> u64 {
        hash_row(&self.fingerprint, row)
    }

    /// Whether some record carries `hash`.
    pub fn holds(&self, hash: u64) -> bool {
        self.known.contains_key(&hash)
    }

    /// Whether records share the key whose hash (`Draft::marks`) is `key`.
    pub fn key_is_shared(&self, key: u64) -> bool {
        self.shared_keys.contains(&key)
    }

    /// Where the one record that carried `hash` when the import began is.
    pub fn place_of(&self, hash: u64) -> Option<Place> {
        let at = self.known.get(&hash).copied().filter(|r| *r != NOWHERE)?;
        match &self.ids {
            None => Some(Place::from(at)),
            Some(ids) => ids.get(usize::try_from(at).ok()?).copied(),
        }
    }
}

/// The rows of a source up to `row`, in order, as one hash: `running` is
/// that of the rows before it (0 before the first). An import moves it with
/// its checkpoint; `--resume` reads the rows it skips again and compares,
/// so it never skips rows of a file that changed since.
pub fn source_digest(running: u64, row: &Record) -> u64 {
    hash_row(&running.to_le_bytes(), row)
}

/// `source_digest` and `Recognition::hash` of one row, from one layout of
/// it (on a re-import, laying the row out twice was a quarter of the
/// mapping thread). The same hashes, byte for byte, as each alone.
pub fn digest_and_hash(running: u64, recognition: &Recognition, row: &Record) -> (u64, u64) {
    with_form(|form| {
        // The fingerprint's 16 bytes before the row, then the digest's 8.
        form.extend_from_slice(&[0; 16]);
        lay_out(form, row);
        form[..16].copy_from_slice(&recognition.fingerprint);
        let hash = xxhash_rust::xxh3::xxh3_64(form);
        form[8..16].copy_from_slice(&running.to_le_bytes());
        (xxhash_rust::xxh3::xxh3_64(&form[8..]), hash)
    })
}

/// `prefix`, then a row's names and values in order, as one hash.
fn hash_row(prefix: &[u8], row: &Record) -> u64 {
    with_form(|form| {
        form.extend_from_slice(prefix);
        lay_out(form, row);
        xxhash_rust::xxh3::xxh3_64(form)
    })
}

/// Runs `f` on this thread's layout buffer, emptied. (Laid out in one
/// buffer and hashed at once: feeding the streaming hasher a piece at a
/// time took four times as long.)
fn with_form<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    thread_local! {
        static FORM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    FORM.with_borrow_mut(|form| {
        form.clear();
        f(form)
    })
}

/// A row's names and values, in order.
fn lay_out(form: &mut Vec<u8>, row: &Record) {
    for (name, value) in row.fields() {
        put(form, name.as_bytes());
        feed(form, value);
    }
}

/// crmsync's rules and `parts`, each with its length, as one hash.
fn fingerprint(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in std::iter::once(RULES).chain(parts.iter().copied()) {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.digest128().to_le_bytes()
}

/// Bytes with their length before them, so that no value can run into
/// the next, whatever bytes it holds.
fn put(form: &mut Vec<u8>, bytes: &[u8]) {
    form.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    form.extend_from_slice(bytes);
}

/// A value, tagged with its kind so that `1` the number and `"1"` the text
/// hash apart.
fn feed(form: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => form.push(b'0'),
        Value::Text(t) => {
            form.push(b't');
            put(form, t.as_bytes());
        }
        Value::Number(n) => {
            form.push(b'n');
            put(form, n.as_bytes());
        }
        Value::Bool(b) => form.push(if *b { b'T' } else { b'F' }),
        Value::Array(items) => {
            form.push(b'[');
            form.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                feed(form, item);
            }
        }
        Value::Object(fields) => {
            form.push(b'{');
            form.extend_from_slice(&(fields.len() as u64).to_le_bytes());
            for (k, v) in fields {
                put(form, k.as_bytes());
                feed(form, v);
            }
        }
        other => {
            form.push(b'v');
            put(form, other.to_text().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_core::Key;

    #[test]
    fn one_layout_gives_both_hashes_as_each_alone() {
        let r = Recognition {
            fingerprint: fingerprint(&[b"contacts", b"email"]),
            known: HashRows::default(),
            ids: None,
            shared_keys: KeyHashes::default(),
        };
        let row = rec(&[("Email", Value::Text("a@x.com".into())), ("Name", Value::Null)]);
        for running in [0, 1, u64::MAX] {
            assert_eq!(digest_and_hash(running, &r, &row), (source_digest(running, &row), r.hash(&row)));
        }
    }

    fn rec(fields: &[(&str, Value)]) -> Record {
        let mut r = Record::new();
        for (k, v) in fields {
            r.push(Key::from(*k), v.clone());
        }
        r
    }

    fn recognition(parts: &[&[u8]]) -> Recognition {
        Recognition {
            fingerprint: fingerprint(parts),
            known: HashRows::default(),
            ids: None,
            shared_keys: KeyHashes::default(),
        }
    }

    #[test]
    fn rows_hash_by_their_names_values_and_kinds_not_their_place() {
        let r = recognition(&[b"mapping"]);
        let text = |s: &str| Value::Text(s.into());
        let a = rec(&[("Email", text("a@x.com")), ("Phone", text("1"))]);
        let mut moved = a.clone();
        moved.row = 99;
        moved.line = 120;
        assert_eq!(r.hash(&a), r.hash(&moved));
        assert_ne!(r.hash(&a), r.hash(&rec(&[("Email", text("a@x.com")), ("Phone", Value::Number("1".into()))])));
        assert_ne!(r.hash(&a), r.hash(&rec(&[("Email", text("a@x.com")), ("Phone", text("2"))])));
        assert_ne!(r.hash(&a), r.hash(&rec(&[("Email", text("a@x.com")), ("Mobile", text("1"))])));
        // A value cannot run into the next field's name, whatever its bytes.
        assert_ne!(
            r.hash(&rec(&[("a", text("bc")), ("d", text(""))])),
            r.hash(&rec(&[("a", text("b")), ("cd", text(""))]))
        );
        assert_ne!(
            r.hash(&rec(&[("A", text("x\u{1e}B\u{1f}tz")), ("B", text("Q"))])),
            r.hash(&rec(&[("A", text("x")), ("B", text("z\u{1e}B\u{1f}tQ"))]))
        );
        let list = |items: &[&str]| Value::Array(items.iter().map(|t| text(t)).collect());
        assert_ne!(r.hash(&rec(&[("a", list(&["x", "y"]))])), r.hash(&rec(&[("a", list(&["x"])), ("y", text(""))])));
        assert_ne!(r.hash(&rec(&[("a", Value::Null)])), r.hash(&rec(&[("a", text(""))])));
    }

    #[test]
    fn another_mapping_or_setting_hashes_every_row_anew() {
        let row = rec(&[("Email", Value::Text("a@x.com".into()))]);
        let base = recognition(&[b"contacts", b"mapping one"]).hash(&row);
        assert_ne!(base, recognition(&[b"contacts", b"mapping two"]).hash(&row));
        assert_ne!(base, recognition(&[b"contactsmapping one"]).hash(&row));
        assert_eq!(base, recognition(&[b"contacts", b"mapping one"]).hash(&row));
    }
}
