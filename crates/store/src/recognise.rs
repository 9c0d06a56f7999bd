//! Recognising source rows a store already holds as they are.
//!
//! Each record keeps a hash of the source row it was last imported from
//! (`source_hash`), made under a fingerprint of everything that turns a row
//! into a record: crmsync's own rules, the entity, the mapping, the key, the
//! import settings and the declared custom fields. An import loads the
//! hashes its table holds. A row whose hash is among them maps and drafts
//! only its key and links (`Draft::lite`); the store then finds the record
//! by key as always, and when that record still carries this row's hash and
//! its links agree, the row is unchanged without mapping it whole or
//! comparing it field by field. Otherwise the row is drafted in full and
//! goes the usual way. A hash that is known but stale (the record was
//! written since) costs that second drafting and nothing else.

use std::cell::RefCell;

use crmsync_core::{Entity, Record, Value};

use crate::error::Result;
use crate::import::KeyHashes;
use crate::sql::{Lent, Sql};

/// Bumped when a row maps to other stored values than before for the same
/// mapping (a type's canonical form changes, say): stored hashes then no
/// longer vouch for anything, and rows are drafted and compared in full.
const RULES: &[u8] = b"crmsync source hash 1";

/// At most this many stored hashes are kept in memory (8 bytes each and the
/// set's slack). Beyond it rows are recognised only while hashes last:
/// the others are drafted in full, as without recognition.
const MAX_KNOWN: usize = 4_000_000;

/// The stored source hashes of one table, and the fingerprint rows are
/// hashed under.
#[derive(Debug)]
pub(crate) struct Recognition {
    fingerprint: [u8; 16],
    known: KeyHashes,
}

impl Recognition {
    /// Loads the hashes `entity`'s live records carry. `parts` are what
    /// makes a row into a record besides the row itself.
    pub fn load(db: &mut dyn Sql, entity: Entity, parts: &[&[u8]]) -> Result<Self> {
        let fingerprint = fingerprint(parts);
        // Gathered first, so that the set is made at its size once instead
        // of growing (rehashing was a third of the time it took).
        let mut hashes = Vec::new();
        let sql =
            format!("SELECT source_hash FROM {} WHERE source_hash IS NOT NULL AND deleted_at IS NULL", entity.name());
        db.query_each_lent(&sql, &[], &mut |row| {
            if let Some(Lent::Int(n)) = row.first()
                && hashes.len() < MAX_KNOWN
            {
                hashes.push(*n as u64);
            }
            Ok(())
        })?;
        let mut known = KeyHashes::with_capacity_and_hasher(hashes.len(), Default::default());
        known.extend(hashes);
        Ok(Recognition { fingerprint, known })
    }

    /// The hash of a source row as read (names and values, in order; not
    /// its position in the file).
    pub fn hash(&self, row: &Record) -> u64 {
        // Laid out in one buffer and hashed at once: feeding the streaming
        // hasher a piece at a time took four times as long.
        thread_local! {
            static FORM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        FORM.with_borrow_mut(|form| {
            form.clear();
            form.extend_from_slice(&self.fingerprint);
            for (name, value) in row.fields() {
                put(form, name.as_bytes());
                feed(form, value);
            }
            xxhash_rust::xxh3::xxh3_64(form)
        })
    }

    /// Whether some record carries `hash`.
    pub fn holds(&self, hash: u64) -> bool {
        self.known.contains(&hash)
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

    fn rec(fields: &[(&str, Value)]) -> Record {
        let mut r = Record::new();
        for (k, v) in fields {
            r.push(Key::from(*k), v.clone());
        }
        r
    }

    fn recognition(parts: &[&[u8]]) -> Recognition {
        Recognition { fingerprint: fingerprint(parts), known: KeyHashes::default() }
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
