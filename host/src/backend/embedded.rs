//! The embedded SQLite (the copy sqlx bundles), driven through its C API on the calling
//! thread.
//!
//! A migration's statements arrive one at a time, each waiting for the one before. A
//! driver that runs SQLite on a worker thread makes every one of them, and the `BEGIN`,
//! ledger row and `COMMIT` around them, a hand-off to that thread and back, and waking a
//! thread costs more than the statement itself. Here a statement runs where it is called.
//!
//! Nothing is cached: every statement is prepared afresh, so SQLite's authorizer
//! ([`super::authorizer`]) sees each one in the mode it runs in.
//!
//! This module, the authorizer and [`crate::cache`]'s artefact loader are the only
//! `unsafe` in wasmig.

#![allow(unsafe_code)]

use std::any::Any;
use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr::{self, NonNull};
use std::time::Duration;

use libsqlite3_sys as ffi;

use super::{SqlError, Value};

/// How a database is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    /// Reading and writing, creating the file if it does not exist.
    Create,
    /// Reading and writing an existing file.
    Existing,
}

/// An open SQLite connection.
#[derive(Debug)]
pub(super) struct Database {
    raw: NonNull<ffi::sqlite3>,
    /// What the connection's callbacks point to, kept alive until it is closed.
    kept: Vec<Box<dyn Any + Send + Sync>>,
}

// SAFETY: SQLite is built thread-safe (`SQLITE_THREADSAFE=1`), so a connection may move
// between threads; every use goes through `&mut self`, so it is never used by two at once.
unsafe impl Send for Database {}

impl Database {
    /// Opens `uri`, a SQLite `file:` URI (or `:memory:`).
    pub(super) fn open(uri: &str, open: Open) -> Result<Self, SqlError> {
        let name = CString::new(uri).map_err(|_| SqlError::new("the path contains a NUL byte"))?;
        let flags = ffi::SQLITE_OPEN_READWRITE
            | ffi::SQLITE_OPEN_URI
            | ffi::SQLITE_OPEN_NOMUTEX
            | match open {
                Open::Create => ffi::SQLITE_OPEN_CREATE,
                Open::Existing => 0,
            };
        let mut raw = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; `raw` receives the handle.
        let code = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut raw, flags, ptr::null()) };
        let Some(raw) = NonNull::new(raw) else {
            return Err(SqlError::new("out of memory opening the database"));
        };
        // From here on `Drop` closes the handle, also when opening failed.
        let db = Database { raw, kept: Vec::new() };
        if code != ffi::SQLITE_OK {
            return Err(db.error());
        }
        // SAFETY: the handle is open.
        unsafe { ffi::sqlite3_extended_result_codes(db.raw.as_ptr(), 1) };
        Ok(db)
    }

    /// How long a statement waits for another connection's lock before it fails.
    pub(super) fn busy_timeout(&mut self, wait: Duration) {
        let millis = c_int::try_from(wait.as_millis()).unwrap_or(c_int::MAX);
        // SAFETY: the handle is open.
        unsafe { ffi::sqlite3_busy_timeout(self.raw.as_ptr(), millis) };
    }

    /// The raw handle, for registering callbacks; `keep` is what they point to, which the
    /// connection holds until it is closed.
    pub(super) fn handle_for_callbacks(
        &mut self,
        keep: Box<dyn Any + Send + Sync>,
    ) -> *mut ffi::sqlite3 {
        self.kept.push(keep);
        self.raw.as_ptr()
    }

    /// Runs each statement of `sql` in turn, binding `params` to their parameters in
    /// order, and hands every row they return to `row`. Gives the number of rows the
    /// statements inserted, updated or deleted.
    pub(super) fn run(
        &mut self,
        sql: &str,
        params: &[Value],
        mut row: impl FnMut(&Row<'_>) -> Result<(), SqlError>,
    ) -> Result<u64, SqlError> {
        let mut rest = sql.as_bytes();
        let mut params = params;
        let mut changed = 0;
        while !rest.is_empty() {
            let (statement, tail) = self.prepare(rest)?;
            rest = tail;
            let Some(statement) = statement else { continue };
            params = statement.bind(params, self)?;
            // Too many values is found before the last statement runs.
            if rest.trim_ascii().is_empty() {
                left_over(params)?;
            }
            changed += self.step(&statement, &mut row)?;
        }
        left_over(params)?;
        Ok(changed)
    }

    /// Prepares the first statement of `sql`: the statement (`None` for only whitespace
    /// or comments) and the text after it.
    fn prepare<'s>(&mut self, sql: &'s [u8]) -> Result<(Option<Statement>, &'s [u8]), SqlError> {
        let length = c_int::try_from(sql.len())
            .map_err(|_| SqlError::new("the statement is longer than SQLite takes (2 GiB)"))?;
        let (mut raw, mut tail) = (ptr::null_mut(), ptr::null());
        // SAFETY: `sql` is valid for `length` bytes (SQLite reads no further and needs no
        // NUL); `tail` is set to a point inside it.
        let code = unsafe {
            ffi::sqlite3_prepare_v2(
                self.raw.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                length,
                &mut raw,
                &mut tail,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(self.error());
        }
        let statement = NonNull::new(raw).map(Statement);
        let consumed = if tail.is_null() {
            sql.len()
        } else {
            // SAFETY: SQLite sets `tail` to a pointer into `sql`, at or after its start.
            let offset = unsafe { tail.offset_from(sql.as_ptr().cast::<c_char>()) };
            usize::try_from(offset).unwrap_or(sql.len()).min(sql.len())
        };
        // Nothing consumed means nothing left that SQLite reads as a statement.
        let tail = if consumed == 0 { &[] } else { &sql[consumed..] };
        Ok((statement, tail))
    }

    /// Steps `statement` to its end; gives the rows it changed itself (not those of the
    /// triggers it fired, and none for a statement that changes no rows).
    fn step(
        &mut self,
        statement: &Statement,
        row: &mut impl FnMut(&Row<'_>) -> Result<(), SqlError>,
    ) -> Result<u64, SqlError> {
        let db = self.raw.as_ptr();
        // SAFETY: the handle is open.
        let before = unsafe { ffi::sqlite3_total_changes64(db) };
        loop {
            // SAFETY: the statement belongs to this open connection.
            match unsafe { ffi::sqlite3_step(statement.0.as_ptr()) } {
                ffi::SQLITE_ROW => row(&Row { statement })?,
                ffi::SQLITE_DONE => break,
                _ => return Err(self.error()),
            }
        }
        // SAFETY: the handle is open.
        let changed = unsafe {
            if ffi::sqlite3_total_changes64(db) == before { 0 } else { ffi::sqlite3_changes64(db) }
        };
        Ok(u64::try_from(changed).unwrap_or_default())
    }

    /// The connection's last error.
    fn error(&self) -> SqlError {
        // SAFETY: the handle is valid (open, or failed to open, which still has a message);
        // the message is NUL-terminated and copied before the next call.
        unsafe {
            let code = ffi::sqlite3_extended_errcode(self.raw.as_ptr());
            let message = CStr::from_ptr(ffi::sqlite3_errmsg(self.raw.as_ptr()));
            SqlError {
                message: message.to_string_lossy().into_owned(),
                code: Some(code.to_string()),
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: every statement is finalized when it is dropped, before this, so the
        // connection closes at once; after it, no callback runs, and only then are the
        // values they point to (`kept`) dropped.
        unsafe { ffi::sqlite3_close(self.raw.as_ptr()) };
    }
}

/// Refuses parameter values that no placeholder took.
fn left_over(params: &[Value]) -> Result<(), SqlError> {
    if params.is_empty() {
        return Ok(());
    }
    Err(SqlError::new(format!(
        "{} more parameter values given than the statement has placeholders",
        params.len()
    )))
}

/// A prepared statement, finalized when dropped.
struct Statement(NonNull<ffi::sqlite3_stmt>);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared and is finalized only here.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

impl Statement {
    /// Binds the first of `params` to the statement's placeholders; gives those left for
    /// the statements after it. `db` is the statement's connection, for SQLite's error.
    fn bind<'p>(&self, params: &'p [Value], db: &Database) -> Result<&'p [Value], SqlError> {
        let raw = self.0.as_ptr();
        // SAFETY: the statement is prepared.
        let wanted = unsafe { ffi::sqlite3_bind_parameter_count(raw) };
        let wanted = usize::try_from(wanted).unwrap_or_default();
        if wanted > params.len() {
            return Err(SqlError::new(format!(
                "the statement has {wanted} placeholders but {} parameter values were given",
                params.len()
            )));
        }
        let (mine, rest) = params.split_at(wanted);
        for (index, value) in (1..).zip(mine) {
            // SAFETY: `index` is within the statement's parameters; text and blobs are
            // copied by SQLite (`SQLITE_TRANSIENT`) before the call returns.
            let code = unsafe {
                match value {
                    Value::Null => ffi::sqlite3_bind_null(raw, index),
                    Value::Integer(n) => ffi::sqlite3_bind_int64(raw, index, *n),
                    Value::Boolean(b) => ffi::sqlite3_bind_int64(raw, index, i64::from(*b)),
                    Value::Real(r) => ffi::sqlite3_bind_double(raw, index, *r),
                    Value::Text(text) => ffi::sqlite3_bind_text64(
                        raw,
                        index,
                        text.as_ptr().cast::<c_char>(),
                        text.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::Blob(blob) if blob.is_empty() => {
                        ffi::sqlite3_bind_zeroblob(raw, index, 0)
                    }
                    Value::Blob(blob) => ffi::sqlite3_bind_blob64(
                        raw,
                        index,
                        blob.as_ptr().cast(),
                        blob.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                }
            };
            if code != ffi::SQLITE_OK {
                return Err(db.error());
            }
        }
        Ok(rest)
    }
}

/// The row a statement is on.
pub(super) struct Row<'s> {
    statement: &'s Statement,
}

impl Row<'_> {
    /// The names of the result's columns.
    pub(super) fn columns(&self) -> Vec<String> {
        let raw = self.statement.0.as_ptr();
        // SAFETY: the statement is prepared; a column's name is NUL-terminated (or null
        // when out of memory) and copied at once.
        unsafe {
            (0..ffi::sqlite3_column_count(raw))
                .map(|index| {
                    let name = ffi::sqlite3_column_name(raw, index);
                    if name.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(name).to_string_lossy().into_owned()
                    }
                })
                .collect()
        }
    }

    /// The row's cells, each by the type of the value stored (SQLite's storage class).
    pub(super) fn values(&self) -> Vec<Value> {
        let raw = self.statement.0.as_ptr();
        // SAFETY: the statement is on a row, so its columns can be read; text and blob
        // pointers are valid for `sqlite3_column_bytes` bytes, asked for after them as
        // SQLite requires, and copied before the next step.
        unsafe {
            (0..ffi::sqlite3_column_count(raw))
                .map(|index| match ffi::sqlite3_column_type(raw, index) {
                    ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(raw, index)),
                    ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(raw, index)),
                    ffi::SQLITE_TEXT => {
                        let text = ffi::sqlite3_column_text(raw, index);
                        let bytes = bytes(text, ffi::sqlite3_column_bytes(raw, index));
                        Value::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                    ffi::SQLITE_BLOB => {
                        let blob = ffi::sqlite3_column_blob(raw, index);
                        Value::Blob(
                            bytes(blob.cast(), ffi::sqlite3_column_bytes(raw, index)).to_vec(),
                        )
                    }
                    _ => Value::Null,
                })
                .collect()
        }
    }
}

/// The `length` bytes at `data`, or none when it is null.
///
/// # Safety
///
/// `data` must be null or valid for `length` bytes for as long as the slice is used.
unsafe fn bytes<'a>(data: *const u8, length: c_int) -> &'a [u8] {
    match usize::try_from(length) {
        Ok(length) if !data.is_null() && length > 0 => {
            // SAFETY: the caller's promise.
            unsafe { std::slice::from_raw_parts(data, length) }
        }
        _ => &[],
    }
}
