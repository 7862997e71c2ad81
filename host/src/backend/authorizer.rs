//! SQLite's own enforcement of what a migration may do: its authorizer, which SQLite
//! consults for every action of a statement while preparing it, inside triggers and views
//! too, and a progress handler for the per-statement time limit.
//!
//! The text guard ([`crate::sql::guard`]) gives the clear message; this is what holds when the
//! text is read differently, because SQLite itself refuses to prepare the statement. While
//! wasmig's own statements run, the [`Guard`] is in [`Mode::Host`] and allows everything;
//! around each guest statement it is in [`Mode::Guest`] or [`Mode::Preview`]. Every
//! statement is prepared afresh ([`super::embedded`] caches none), so each one is
//! authorized in the mode it runs in.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;

use super::embedded::Database;

/// Who the statement being prepared belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Mode {
    /// wasmig's own statements: everything is allowed.
    Host = 0,
    /// A migration's statement, live.
    Guest = 1,
    /// A preview's query: reading only.
    Preview = 2,
}

/// The state the authorizer and progress handler read.
#[derive(Debug, Default)]
pub(super) struct Guard {
    mode: AtomicU8,
    /// The reason of the last refusal, for the migration's error message.
    denial: Mutex<Option<String>>,
    /// When the running guest statement must stop, if `statement_seconds` is set.
    deadline: Mutex<Option<Instant>>,
    /// Set when the progress handler interrupted a statement for its deadline.
    timed_out: AtomicBool,
}

impl Guard {
    /// Switches to `mode`; a guest statement gets `limit` to run in. What the last guest
    /// statement ran into is kept until the next one starts.
    pub(super) fn enter(&self, mode: Mode, limit: Option<Duration>) {
        let guest = mode != Mode::Host;
        if guest {
            if let Ok(mut denial) = self.denial.lock() {
                *denial = None;
            }
            self.timed_out.store(false, Ordering::SeqCst);
        }
        if let Ok(mut deadline) = self.deadline.lock() {
            *deadline = limit.filter(|_| guest).map(|d| Instant::now() + d);
        }
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Why the last statement was refused, if it was.
    pub(super) fn denial(&self) -> Option<String> {
        self.denial.lock().ok().and_then(|mut denial| denial.take())
    }

    /// Whether the last statement was stopped by its deadline.
    pub(super) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Guest,
            2 => Mode::Preview,
            _ => Mode::Host,
        }
    }

    /// The progress handler's answer: false interrupts the statement.
    fn keep_going(&self) -> bool {
        let late = self
            .deadline
            .lock()
            .ok()
            .and_then(|deadline| *deadline)
            .is_some_and(|deadline| Instant::now() > deadline);
        if late {
            self.timed_out.store(true, Ordering::SeqCst);
        }
        !late
    }
}

/// Installs `guard` as the authorizer of `db` (and, with `time_limits`, its progress
/// handler, else none), for as long as the connection is open.
pub(super) fn install(db: &mut Database, guard: &Arc<Guard>, time_limits: bool) {
    let data = Arc::as_ptr(guard).cast_mut().cast::<c_void>();
    let raw = db.handle_for_callbacks(Box::new(Arc::clone(guard)));
    let handler: Option<unsafe extern "C" fn(*mut c_void) -> c_int> =
        time_limits.then_some(progress);
    // SAFETY: the connection holds a reference to the guard until it is closed, and SQLite
    // calls back only while it is open, so `data` is valid in every callback; the callbacks
    // only read through it (`Guard` is `Sync`).
    unsafe {
        ffi::sqlite3_set_authorizer(raw, Some(authorize), data);
        // Every 1000 virtual machine instructions: a few microseconds.
        ffi::sqlite3_progress_handler(raw, if time_limits { 1000 } else { 0 }, handler, data);
    }
}

/// The progress handler SQLite calls while a statement runs: non-zero interrupts it.
unsafe extern "C" fn progress(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `Guard` registered by `install`, alive while registered.
    let guard = unsafe { &*data.cast::<Guard>() };
    c_int::from(!guard.keep_going())
}

/// The authorizer SQLite calls while preparing a statement.
unsafe extern "C" fn authorize(
    data: *mut c_void,
    action: c_int,
    first: *const c_char,
    second: *const c_char,
    _database: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    // SAFETY: `data` is the `Guard` registered by `install`, alive while registered.
    let guard = unsafe { &*data.cast::<Guard>() };
    // SAFETY: SQLite passes NUL-terminated strings or null, valid during the call.
    let text =
        |p: *const c_char| (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy());
    let (first, second) = (text(first), text(second));
    match decide(guard.mode(), action, first.as_deref(), second.as_deref()) {
        Ok(()) => ffi::SQLITE_OK,
        Err(reason) => {
            if let Ok(mut denial) = guard.denial.lock() {
                *denial = Some(reason);
            }
            ffi::SQLITE_DENY
        }
    }
}

/// Pragmas a migration may read but not set: they would lift the preview's read-only
/// mode, let it rewrite the schema table, move the journal or temporary files, or undo
/// the time limits.
const SET_ONLY_BY_HOST: [&str; 9] = [
    "query_only",
    "writable_schema",
    "journal_mode",
    "locking_mode",
    "temp_store_directory",
    "data_store_directory",
    "busy_timeout",
    "trusted_schema",
    "schema_version",
];

/// Functions no migration may call.
const REFUSED_FUNCTIONS: [&str; 2] = ["load_extension", "fts3_tokenizer"];

/// Whether `action` (with SQLite's two arguments) is allowed in `mode`, or why not.
fn decide(
    mode: Mode,
    action: c_int,
    first: Option<&str>,
    second: Option<&str>,
) -> Result<(), String> {
    if mode == Mode::Host {
        return Ok(());
    }
    let lower = |s: Option<&str>| s.unwrap_or_default().to_ascii_lowercase();
    match action {
        ffi::SQLITE_TRANSACTION | ffi::SQLITE_SAVEPOINT => {
            return Err("transaction control is the host's".into());
        }
        ffi::SQLITE_ATTACH | ffi::SQLITE_DETACH => {
            return Err("a migration may not open another database file".into());
        }
        ffi::SQLITE_FUNCTION => {
            let name = lower(second);
            if REFUSED_FUNCTIONS.contains(&name.as_str()) {
                return Err(format!("a migration may not call {name}()"));
            }
            return Ok(());
        }
        ffi::SQLITE_PRAGMA => {
            let name = lower(first);
            if second.is_some() && SET_ONLY_BY_HOST.contains(&name.as_str()) {
                return Err(format!("a migration may not set PRAGMA {name}"));
            }
            return Ok(());
        }
        ffi::SQLITE_SELECT | ffi::SQLITE_READ | ffi::SQLITE_RECURSIVE => return Ok(()),
        _ => {}
    }
    for name in [lower(first), lower(second)] {
        if name.starts_with(crate::sql::guard::OWNED_PREFIX) {
            return Err(format!("`{name}` is wasmig's own"));
        }
    }
    if mode == Mode::Preview {
        return Err("a preview may only read".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_may_do_anything_a_guest_may_not() {
        let actions = [
            (ffi::SQLITE_TRANSACTION, Some("COMMIT"), None),
            (ffi::SQLITE_SAVEPOINT, Some("BEGIN"), Some("x")),
            (ffi::SQLITE_ATTACH, Some("/tmp/x.db"), None),
            (ffi::SQLITE_DELETE, Some("wasmig_migrations"), None),
            (ffi::SQLITE_CREATE_TEMP_TABLE, Some("WASMIG_MIGRATIONS"), None),
            (ffi::SQLITE_CREATE_TRIGGER, Some("t"), Some("wasmig_migrations")),
            (ffi::SQLITE_PRAGMA, Some("query_only"), Some("0")),
            (ffi::SQLITE_FUNCTION, None, Some("load_extension")),
        ];
        for (action, first, second) in actions {
            assert_eq!(decide(Mode::Host, action, first, second), Ok(()));
            assert!(decide(Mode::Guest, action, first, second).is_err(), "{action} {first:?}");
            assert!(decide(Mode::Preview, action, first, second).is_err(), "{action} {first:?}");
        }
    }

    #[test]
    fn a_guest_changes_its_own_tables_and_a_preview_only_reads() {
        let write = (ffi::SQLITE_INSERT, Some("users"), None);
        assert_eq!(decide(Mode::Guest, write.0, write.1, write.2), Ok(()));
        assert!(decide(Mode::Preview, write.0, write.1, write.2).is_err());
        for (action, first, second) in [
            (ffi::SQLITE_SELECT, None, None),
            (ffi::SQLITE_READ, Some("wasmig_migrations"), Some("app_name")),
            (ffi::SQLITE_PRAGMA, Some("table_info"), Some("users")),
            (ffi::SQLITE_PRAGMA, Some("journal_mode"), None),
            (ffi::SQLITE_FUNCTION, None, Some("count")),
        ] {
            assert_eq!(decide(Mode::Preview, action, first, second), Ok(()), "{action}");
            assert_eq!(decide(Mode::Guest, action, first, second), Ok(()), "{action}");
        }
    }
}
