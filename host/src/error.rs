//! Errors of the wasmig library. Each message names the app, migration or file it is about,
//! so the CLI can print it as one line; each variant carries what a caller would match on.

use std::fmt;
use std::path::PathBuf;

use crate::limits::LimitHit;
use crate::plan::{Direction, PlanError};

mod load;

pub use load::{LoadError, LoadReason};

/// Everything that can make a wasmig operation fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `wasmig.toml` is missing, unreadable or invalid.
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    /// A command named an app the config does not define.
    #[error("unknown app `{app}` (apps: {known})")]
    UnknownApp { app: String, known: String },

    /// An argument has the right shape for the command line but not for wasmig.
    #[error("{0}")]
    Usage(String),

    /// A file in an app's migrations folder is not a valid migration file name, or two
    /// files share an ID.
    #[error("app {app}: {}: {message}", path.display())]
    Source { app: String, path: PathBuf, message: String },

    /// The planner refused the request (unknown target, invalid ID, ...).
    #[error("app {app}: {source}")]
    Plan {
        app: String,
        #[source]
        source: PlanError,
    },

    /// A migration component could not be read, compiled or validated against the
    /// `wasmig:migration` world: which one, and why ([`LoadError::reason`]).
    #[error(transparent)]
    Load(Box<LoadError>),

    /// Applied migrations whose component files are gone, found before anything changed.
    #[error(
        "app {app}: component file missing for applied migration(s) {ids}; nothing was changed"
    )]
    MissingFiles { app: String, ids: String },

    /// Applied migrations whose component file now holds other bytes than were applied,
    /// found before anything changed.
    #[error(
        "the component file of applied migration(s) changed since they were applied: {}; \
         nothing was changed (restore the files, or pass --allow-changed to go on)",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Changed(Vec<ChangedFile>),

    /// A migration failed while running, or its bookkeeping did; what happened to its
    /// changes is part of the error.
    #[error(transparent)]
    Migration(Box<MigrationError>),

    /// The database refused a connection or a bookkeeping statement.
    #[error("database: {context}: {source}")]
    Database {
        context: String,
        #[source]
        source: SqlError,
    },

    /// Another run held the run lock for longer than the lock timeout.
    #[error(
        "another wasmig run still holds the lock of this database after {seconds}s; try again later or raise lock_timeout"
    )]
    LockTimeout { seconds: u64 },

    /// A migration of the app was left part-applied by an earlier run that failed or was
    /// killed on a database without transactional DDL.
    #[error(
        "app {app}: migration {id} is dirty: an earlier run failed or stopped part-way through it and its changes could not be rolled back. Repair the schema by hand, then run `wasmig resolve {app} {id} --applied` (its changes are in place) or `wasmig resolve {app} {id} --reversed` (they are not)"
    )]
    Dirty { app: String, id: String },

    /// The confirmation was answered no (or not at all).
    #[error("not proceeding")]
    Declined,

    /// A file system operation of wasmig itself failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `wasmig build` could not compile a migration's source into its component.
    #[error("app {app}: {}: {message}", path.display())]
    Build { app: String, path: PathBuf, message: String },

    /// A tool `wasmig build` needs is not installed.
    #[error("{tool} not found: {install}")]
    Toolchain { tool: String, install: String },

    /// The WebAssembly engine or its linker could not be configured: a bug of the host.
    #[error("runtime: cannot set up the {part}: {message}")]
    EngineSetup { part: &'static str, message: String },

    /// A thread or an async runtime of wasmig's own could not be started: the host is out
    /// of threads or memory.
    #[error("runtime: cannot start {what}: {source}")]
    Start {
        /// What it is, as the message names it (`the epoch ticker`).
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// Work handed to a thread or task of wasmig's own ended without giving its result:
    /// it panicked, or its runtime shut down.
    #[error("runtime: the {task} ended without its result{}", detail_suffix(.detail))]
    TaskLost {
        /// The work, as the message names it (`compile task`).
        task: &'static str,
        /// What its thread or task said when it ended, if anything.
        detail: Option<String>,
    },

    /// A component could not be compressed for storing with its ledger row.
    #[error("runtime: cannot compress component {checksum}: {source}")]
    Compress {
        checksum: String,
        #[source]
        source: std::io::Error,
    },

    /// No fresh migration ID could be made from the clock for `wasmig new`.
    #[error("runtime: cannot make a migration ID: {0}")]
    NewId(String),

    /// `wasmig build` gave no result for a migration source: its worker stopped first.
    #[error("runtime: {}: not built", path.display())]
    NotBuilt { path: PathBuf },
}

/// `: detail` when there is one.
fn detail_suffix(detail: &Option<String>) -> String {
    detail.as_ref().map(|detail| format!(": {detail}")).unwrap_or_default()
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn database(context: impl Into<String>, source: SqlError) -> Self {
        Error::Database { context: context.into(), source }
    }

    /// A short, stable name of the kind of error, as JSON output gives it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::UnknownApp { .. } => "unknown_app",
            Error::Usage(_) => "usage",
            Error::Source { .. } => "source",
            Error::Plan { .. } => "plan",
            Error::Load(_) => "load",
            Error::MissingFiles { .. } => "missing_files",
            Error::Changed(_) => "changed",
            Error::Migration(_) => "migration",
            Error::Database { .. } => "database",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::Dirty { .. } => "dirty",
            Error::Declined => "declined",
            Error::Io { .. } => "io",
            Error::Build { .. } => "build",
            Error::Toolchain { .. } => "toolchain",
            // Failures of the host itself, not of the project: one kind for scripts.
            Error::EngineSetup { .. }
            | Error::Start { .. }
            | Error::TaskLost { .. }
            | Error::Compress { .. }
            | Error::NewId(_)
            | Error::NotBuilt { .. } => "runtime",
        }
    }

    /// The failed migration's error, if this is one.
    pub fn migration(&self) -> Option<&MigrationError> {
        match self {
            Error::Migration(error) => Some(error),
            _ => None,
        }
    }

    /// Which component failed to load and why, if this is a load failure.
    pub fn load(&self) -> Option<&LoadError> {
        match self {
            Error::Load(error) => Some(error),
            _ => None,
        }
    }
}

impl From<MigrationError> for Error {
    fn from(error: MigrationError) -> Self {
        Error::Migration(Box::new(error))
    }
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        Error::Load(Box::new(error))
    }
}

/// An applied migration whose file changed: both checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub app: String,
    pub id: String,
    /// sha256 recorded in the ledger when it was applied.
    pub applied: String,
    /// sha256 of the file now.
    pub file: String,
}

impl fmt::Display for ChangedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ChangedFile { app, id, applied, file } = self;
        write!(f, "{app} {id} (applied sha256 {applied}, file sha256 {file})")
    }
}

/// A migration that failed while it ran: which, why, and what became of its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationError {
    /// The app of the migration.
    pub app: String,
    /// Its ID.
    pub id: String,
    /// Which way it ran.
    pub direction: Direction,
    /// What went wrong.
    pub failure: Failure,
    /// What happened to its transaction.
    pub rollback: Rollback,
    /// Whether its ledger row was left dirty: its changes could not all be rolled back.
    pub dirty: bool,
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let MigrationError { app, id, direction, failure, rollback, dirty } = self;
        match failure {
            Failure::Guest(message) | Failure::Stopped(Stop { message, .. }) => {
                write!(f, "{app} {id} {} failed: {message}", direction.name())?;
            }
            Failure::Database { context, error } => write!(f, "database: {context}: {error}")?,
        }
        match rollback {
            Rollback::NotNeeded => {}
            Rollback::Done => f.write_str("; rolled back")?,
            Rollback::Failed(reason) => write!(f, "; rollback failed too: {reason}")?,
        }
        if *dirty {
            write!(
                f,
                "; changes it made could not all be rolled back, so it is marked dirty \
                 (see `wasmig check`; repair by hand, then `wasmig resolve {app} {id} --applied` or `--reversed`)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for MigrationError {}

/// Why a migration failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The migration returned an error (its own message, or a database error it passed on).
    Guest(String),
    /// The sandbox stopped the migration: a limit, a trap, a panic.
    Stopped(Stop),
    /// A statement of wasmig's own around the migration failed (begin, the ledger row,
    /// commit).
    Database { context: String, error: SqlError },
}

/// How the sandbox stopped a migration, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// What stopped it.
    pub kind: StopKind,
    /// The kind, the limit and its key when a limit stopped it, a panic's message, and the
    /// top of the guest's backtrace.
    pub message: String,
}

/// What stopped a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopKind {
    /// A `[limits]` limit of the host (memory, statements, SQL size, tables, handles).
    Limit(LimitHit),
    /// It ran guest code past `cpu_seconds`.
    CpuBudget,
    /// It was blocked in a WASI call (a sleep, a poll) past `cpu_seconds`.
    Stalled,
    /// Unbounded recursion.
    StackOverflow,
    /// A guest panic; the message is in [`Stop::message`].
    Panic,
    /// The guest's allocator could not get memory within its limits.
    OutOfMemory,
    /// The guest aborted (an `unreachable` instruction) without a panic message.
    Unreachable,
    /// It called `exit` instead of returning.
    Exit(i32),
    /// Another WebAssembly trap.
    Trap,
    /// The host failed on the guest's behalf.
    Host,
}

/// What happened to a failed migration's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rollback {
    /// There was none to roll back (a preview, a non-transactional migration, or it failed
    /// before its transaction began).
    NotNeeded,
    /// Rolled back.
    Done,
    /// The rollback failed too, for this reason.
    Failed(String),
}

/// A failed statement: the database's message, and its code (SQLSTATE or vendor code)
/// when it gave one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", code.as_ref().map(|code| format!(" (code {code})")).unwrap_or_default())]
pub struct SqlError {
    /// The database's message.
    pub message: String,
    /// The database's error code.
    pub code: Option<String>,
}

impl SqlError {
    /// An error wasmig raises itself, without a database code.
    pub fn new(message: impl Into<String>) -> Self {
        SqlError { message: message.into(), code: None }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
