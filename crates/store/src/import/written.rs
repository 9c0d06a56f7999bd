//! The records rows of an import have made or changed, so that a later
//! row of the file that changes one again is told apart: the file gives
//! that record twice, keeps the last row's values, and imported again
//! writes both rows again, never `unchanged`.

use super::{FastSet, Import, named_bits};
use crate::error::Result;
use crate::model;
use crate::sql::Cell;

/// Record ids folded to 64 bits (a ULID's halves, as `Import::named`
/// keeps them): 18 MB for a million records. A bulk load into an empty
/// table keeps none: every record a row matches there is one an earlier
/// row made.
#[derive(Default)]
pub(super) struct Written(FastSet<u64>);

impl Written {
    /// Adds `id`; whether it was there already.
    pub fn insert(&mut self, id: &str) -> bool {
        !self.0.insert(fold(id))
    }
}

fn fold(id: &str) -> u64 {
    match model::ulid_value(id) {
        Some(v) => named_bits(v),
        // (No id crmsync gives; records are never stored under one.)
        None => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = foldhash::fast::FixedState::default().build_hasher();
            h.write(id.as_bytes());
            h.finish()
        }
    }
}

impl Import<'_> {
    /// The records this batch has made or changed so far, as the store
    /// holds them: for a resumed import, and for a bulk load that ends
    /// before the file does.
    pub(super) fn written_by_batch(&mut self) -> Result<()> {
        let (batch, entity) = (self.batch.as_str(), self.settings.entity.name());
        let sql = format!(
            "SELECT id FROM {entity} WHERE created_batch = ? \
             UNION SELECT record_id FROM audit WHERE batch_id = ? AND entity = ? AND op = 'update'"
        );
        for row in self.db.query(&sql, &[batch.into(), batch.into(), entity.into()])? {
            if let Some(id) = row.into_iter().next().and_then(Cell::into_text) {
                self.written.insert(&id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_an_id_given_before() {
        let mut w = Written::default();
        assert!(!w.insert("01HZY3M5V8Q2K7W9X4B6N1C0DE"));
        assert!(w.insert("01HZY3M5V8Q2K7W9X4B6N1C0DE"));
        assert!(!w.insert("01HZY3M5V8Q2K7W9X4B6N1C0DF"));
        assert!(!w.insert("7"));
        assert!(w.insert("7"));
    }
}
