//! Key phone numbers written without their country code, in rows that give
//! no country. The store keeps numbers in E.164 and compares them so: an
//! update file keyed by `(415) 555-0132` is to find the contact stored as
//! `+14155550132`, not insert another. Such a number is read in each
//! country the store's numbers are in and looked for as the store would
//! hold it there; a reading found is confirmed as what import makes of the
//! number in that country (`phone::reads_as`).
//!
//! Only the store's calling codes are tried: a reading in every country
//! (`phone::readings`) costs about 10 ms, minutes for a file of such rows,
//! where one per code costs microseconds.

use std::collections::HashMap;

use crmsync_core::mapping::types::phone;

use super::{Draft, Import, Outcome, key_hash, lookup_ids};
use crate::error::Result;
use crate::model::{self, Kind};
use crate::sql::Cell;

impl Import<'_> {
    /// Rewrites the key of each draft whose key phone number is written
    /// without its country code, in a row without a country, to the number
    /// the store holds for it: the row is then matched as if written with
    /// its code. A number the store holds as written, or in no reading, is
    /// left as it is. A number the store holds in several countries is
    /// refused: which record the row means is the row's country to say.
    pub(super) fn read_phone_keys(&mut self, drafts: &mut Vec<Draft>, outcomes: &mut [Option<Outcome>]) -> Result<()> {
        let entity = self.settings.entity;
        let phones: Vec<(usize, usize)> = self
            .settings
            .key
            .iter()
            .enumerate()
            .filter_map(|(k, f)| Some((k, model::position(entity, f)?)))
            .filter(|(_, pos)| self.columns[*pos].kind == Kind::Phone)
            .collect();
        // A bulk load's table was empty when it began: nothing to find.
        if phones.is_empty() || self.bulk.as_ref().is_some_and(|b| b.started) {
            return Ok(());
        }
        let country_at = self.drafter.country_at;
        let national = |d: &Draft, k: usize| -> Option<String> {
            let given_country = country_at.is_some_and(|at| matches!(d.values[at], Some(Some(_))));
            let number = d.key.as_ref()?.get(k)?;
            (!given_country && !number.starts_with('+')).then(|| number.clone())
        };
        let mut refused: Vec<(usize, String, String)> = Vec::new();
        for &(k, pos) in &phones {
            let wanted: Vec<(usize, String)> =
                drafts.iter().enumerate().filter_map(|(n, d)| Some((n, national(d, k)?))).collect();
            if wanted.is_empty() {
                continue;
            }
            let column = self.columns[pos].column;
            let codes = self.calling_codes(column)?;
            let readings: Vec<Vec<String>> = wanted
                .iter()
                .map(|(_, number)| codes.iter().filter_map(|&code| phone::under_code(number, code)).collect())
                .collect();
            let mut looked_for: Vec<String> = wanted.iter().map(|(_, number)| number.clone()).collect();
            looked_for.extend(readings.iter().flatten().cloned());
            let held = lookup_ids(self.db, entity, column, &looked_for)?;
            for ((n, number), readings) in wanted.into_iter().zip(readings) {
                if held.contains_key(&number) {
                    continue;
                }
                let mut found: Vec<String> =
                    readings.into_iter().filter(|r| held.contains_key(r) && phone::reads_as(&number, r)).collect();
                found.sort_unstable();
                found.dedup();
                let d = &mut drafts[n];
                match found.as_slice() {
                    [] => {}
                    [one] => {
                        if let Some(key) = d.key.as_mut() {
                            key[k] = one.clone();
                            d.marks[0] = Some(key_hash(key));
                        }
                        d.values[pos] = Some(Some(one.clone()));
                    }
                    several => {
                        let field = self.settings.key[k].clone();
                        let records: Vec<String> = several
                            .iter()
                            .map(|r| format!("{r} ({})", held.get(r).map(|ids| ids.join(", ")).unwrap_or_default()))
                            .collect();
                        let message = format!(
                            "{field} {number:?} has no country code and the row no country, and the store has it \
                             in several countries: {} (give the row's address.country, or write the number with \
                             its country code)",
                            records.join(", ")
                        );
                        refused.push((n, field, message));
                    }
                }
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let mut gone = vec![false; drafts.len()];
        for (n, field, message) in refused {
            if !gone[n] {
                gone[n] = true;
                outcomes[drafts[n].row] = Some(Outcome::Reject { field, message });
            }
        }
        let mut n = 0;
        drafts.retain(|_| {
            n += 1;
            !gone[n - 1]
        });
        Ok(())
    }

    /// The calling codes of the numbers stored in `column` (read once an
    /// import: a scan of the table).
    fn calling_codes(&mut self, column: &'static str) -> Result<Vec<u16>> {
        if let Some(codes) = self.phone_codes.get(column) {
            return Ok(codes.clone());
        }
        let sql = format!(
            "SELECT DISTINCT substr({column}, 1, 4) FROM {} WHERE {column} LIKE '+%' AND deleted_at IS NULL",
            self.settings.entity.name()
        );
        let mut codes: Vec<u16> = self
            .db
            .query(&sql, &[])?
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(Cell::into_text))
            .filter_map(|prefix| phone::calling_code(&prefix))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        self.phone_codes.insert(column, codes.clone());
        Ok(codes)
    }
}

/// Calling codes by column, as `calling_codes` read them.
pub(super) type PhoneCodes = HashMap<&'static str, Vec<u16>>;
