//! Rows inserted through SQLite's C API, values bound without a copy.
//!
//! rusqlite binds every text and blob as `SQLITE_TRANSIENT`, so SQLite
//! copies each value into memory of its own before the statement runs: on
//! a bulk load of a million contacts, binding took a quarter of the insert
//! statements' instructions (callgrind), most of it that copy. Here the
//! values outlive each step, so they are bound as `SQLITE_STATIC`, on
//! statements prepared on rusqlite's own connection.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int};
use std::ptr::NonNull;

use rusqlite::ffi;

use crate::sql::Arg;

/// Prepared insert statements by SQL text. Dropped before the connection
/// they belong to (`SqliteConn`'s `Drop`), as SQLite closes a connection
/// only once its statements are finalized.
#[derive(Default)]
pub(super) struct Inserts(HashMap<String, Statement>);

struct Statement(NonNull<ffi::sqlite3_stmt>);

// The statement is only used through its connection, which moves between
// threads with it and is used by one at a time.
unsafe impl Send for Statement {}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: prepared by `prepare`, finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

impl Inserts {
    /// Runs `sql` (one `INSERT … VALUES (?, …)` of `width` parameters) once
    /// for each `width` values of `params`.
    ///
    /// # Safety
    /// `db` is the open connection these statements were prepared on, used
    /// by no one else during the call.
    pub(super) unsafe fn run(
        &mut self,
        db: *mut ffi::sqlite3,
        sql: String,
        width: usize,
        params: &[Arg<'_>],
    ) -> rusqlite::Result<()> {
        let stmt = match self.0.entry(sql) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut().0.as_ptr(),
            std::collections::hash_map::Entry::Vacant(e) => {
                // SAFETY: as this function's.
                let prepared = unsafe { prepare(db, e.key())? };
                e.insert(prepared).0.as_ptr()
            }
        };
        debug_assert_eq!(params.len() % width.max(1), 0, "whole rows of {width} values");
        let mut result = Ok(());
        for row in params.chunks(width) {
            // SAFETY: `stmt` is a live statement of `db`; every value bound
            // lives in `params`, which outlives the step that reads it, and
            // the bindings are cleared before `params` is returned.
            result = unsafe { step_row(db, stmt, row) };
            if result.is_err() {
                break;
            }
        }
        // SAFETY: a live statement; no pointer into `params` stays bound.
        unsafe { ffi::sqlite3_clear_bindings(stmt) };
        result
    }
}

unsafe fn prepare(db: *mut ffi::sqlite3, sql: &str) -> rusqlite::Result<Statement> {
    let mut stmt = std::ptr::null_mut();
    let len = c_int::try_from(sql.len())
        .map_err(|_| rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None))?;
    // SAFETY: `db` is open; `sql` is `len` bytes of UTF-8.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            db,
            sql.as_ptr().cast::<c_char>(),
            len,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut stmt,
            std::ptr::null_mut(),
        )
    };
    match NonNull::new(stmt) {
        Some(stmt) if rc == ffi::SQLITE_OK => Ok(Statement(stmt)),
        // (No statement in the text: not an insert.)
        None if rc == ffi::SQLITE_OK => Err(unsafe { failure(db, ffi::SQLITE_MISUSE) }),
        _ => Err(unsafe { failure(db, rc) }),
    }
}

/// Binds one row's values and steps the statement once.
unsafe fn step_row(db: *mut ffi::sqlite3, stmt: *mut ffi::sqlite3_stmt, row: &[Arg<'_>]) -> rusqlite::Result<()> {
    for (i, value) in row.iter().enumerate() {
        let n = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
        // SAFETY: the caller's; lengths are those of the slices pointed to.
        let rc = unsafe {
            match *value {
                Arg::Null => ffi::sqlite3_bind_null(stmt, n),
                Arg::Int(v) => ffi::sqlite3_bind_int64(stmt, n, v),
                Arg::Text(t) => ffi::sqlite3_bind_text64(
                    stmt,
                    n,
                    t.as_ptr().cast::<c_char>(),
                    t.len() as u64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                Arg::Bytes(b) => {
                    ffi::sqlite3_bind_blob64(stmt, n, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_STATIC())
                }
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(unsafe { failure(db, rc) });
        }
    }
    // SAFETY: the caller's.
    let rc = unsafe { ffi::sqlite3_step(stmt) };
    // The message goes with the step that failed; reset only repeats it.
    let result = if rc == ffi::SQLITE_DONE { Ok(()) } else { Err(unsafe { failure(db, rc) }) };
    unsafe { ffi::sqlite3_reset(stmt) };
    result
}

/// The error SQLite reported for `rc`, with the connection's message when
/// that message is `rc`'s (else SQLite's text for the code).
unsafe fn failure(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is open; the message is copied before any other call.
    let message = unsafe {
        let text =
            if ffi::sqlite3_extended_errcode(db) == rc { ffi::sqlite3_errmsg(db) } else { ffi::sqlite3_errstr(rc) };
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message)
}
