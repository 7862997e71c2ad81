//! Errors of the wasmig library. Each message names the app, migration or file it is about,
//! so the CLI can print it as one line.

use std::path::PathBuf;

use crate::bindings::wasmig::migration::types::DbError;
use crate::plan::PlanError;

/// Everything that can make a wasmig operation fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `wasmig.toml` is missing, unreadable or invalid.
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    /// A command named an app the config does not define.
    #[error("unknown app `{app}` (apps: {known})")]
    UnknownApp { app: String, known: String },

    /// A command line argument has the right shape for clap but not for wasmig.
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
    /// `wasmig:migration` world.
    #[error("app {app} migration {id} ({}): {message}", path.display())]
    Load { app: String, id: String, path: PathBuf, message: String },

    /// Applied migrations whose component files are gone, found before anything changed.
    #[error(
        "app {app}: component file missing for applied migration(s) {ids}; nothing was changed"
    )]
    MissingFiles { app: String, ids: String },

    /// A migration failed while running; its transaction was rolled back.
    #[error("{message}")]
    Migration { message: String },

    /// The database refused a connection or a bookkeeping statement.
    #[error("database: {context}: {message}")]
    Database { context: String, message: String },

    /// The run lock could not be taken in time.
    #[error("{0}")]
    Lock(String),

    /// A migration of the app was left part-applied by an earlier run that failed or was
    /// killed on a database without transactional DDL.
    #[error(
        "app {app}: migration {id} is dirty: an earlier run failed or stopped part-way through it and its changes could not be rolled back. Repair the schema by hand, then run `wasmig resolve {app} {id} --applied` (its changes are in place) or `wasmig resolve {app} {id} --reversed` (they are not)"
    )]
    Dirty { app: String, id: String },

    /// The user answered no (or nothing) to a confirmation prompt.
    #[error("not proceeding")]
    Declined,

    /// A file system operation of wasmig itself failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The sandbox could not be set up: a bug or a resource problem of the host.
    #[error("runtime: {0}")]
    Runtime(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn database(context: impl Into<String>, reason: impl Reason) -> Self {
        Error::Database { context: context.into(), message: reason.reason() }
    }
}

/// What went wrong with a database operation, in words.
pub(crate) trait Reason {
    fn reason(self) -> String;
}

impl Reason for DbError {
    fn reason(self) -> String {
        match self.code {
            Some(code) => format!("{} (code {code})", self.message),
            None => self.message,
        }
    }
}

impl Reason for sqlx::Error {
    fn reason(self) -> String {
        self.to_string()
    }
}

impl Reason for &str {
    fn reason(self) -> String {
        self.to_string()
    }
}

impl Reason for String {
    fn reason(self) -> String {
        self
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
