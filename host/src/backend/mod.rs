//! Database backends: which there are, by URL scheme, and what each one is (its
//! [`Profile`]). Each database has a file of its own holding everything wasmig knows about
//! it: how to connect, what it can do ([`Capabilities`]), the ledger's DDL, the run lock,
//! transactions, and typed values both ways. The rest of wasmig talks to a [`Connection`]
//! and asks it; the guest's [`Dialect`] is only what a migration is told.
//!
//! A new backend is a file implementing [`Backend`] plus one line in [`BACKENDS`].

mod authorizer;
mod connection;
mod embedded;
mod mysql;
mod postgres;
mod rows;
mod scratch;
mod session;
mod sqlite;
mod via_sqlx;

pub use self::connection::Connection;
pub(crate) use self::session::BoxFuture;
pub use self::session::{Access, Backend, TimeLimits};
// What the backend files share.
use self::rows::{RowsUnder, cell_type, unsupported};
use self::via_sqlx::{raw, sqlx_statements};

pub use self::scratch::Scratch;
pub use crate::bindings::wasmig::migration::types::{Dialect, Rows, Value};
pub use crate::error::SqlError;
use crate::error::{Error, Result};
use crate::sql::guard;
pub use crate::sql::guard::Purpose;
pub use crate::sql::{BlobLiteral, Placeholders, Syntax};

/// Every backend wasmig can connect to, by URL scheme.
const BACKENDS: [Registration; 3] =
    [sqlite::REGISTRATION, postgres::REGISTRATION, mysql::REGISTRATION];

/// A backend's entry in [`BACKENDS`].
struct Registration {
    /// URL schemes it answers to, without the colon.
    schemes: &'static [&'static str],
    /// What the backend is.
    profile: &'static Profile,
    /// Opens a connection.
    connect: Connect,
}

/// What does not change between connections of a backend.
#[derive(Debug)]
pub struct Profile {
    /// What its migrations are told.
    pub dialect: Dialect,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Its SQL for the ledger table.
    pub ledger: LedgerSql,
    /// Queries of its catalog that together describe the schema of the current database
    /// (tables, columns with their types and defaults, indexes, constraints), wasmig's
    /// own tables left out, each row as text: what `wasmig verify` compares.
    pub schema: &'static [&'static str],
}

type Connect = for<'a> fn(&'a str, Access) -> BoxFuture<'a, Result<Box<dyn Backend>>>;

/// What a backend can do, as far as wasmig has to know.
#[derive(Debug)]
pub struct Capabilities {
    /// Whether DDL runs inside a transaction and rolls back with it. Where it does not
    /// (MySQL commits DDL implicitly), a migration cannot be all-or-nothing, so its ledger
    /// row is marked dirty while it runs.
    pub transactional_ddl: bool,
    /// Whether a failed statement aborts the whole transaction (PostgreSQL). Then each
    /// guest statement inside a transaction runs in a savepoint, so that a failed one is an
    /// error value the migration may recover from, as on the other backends.
    pub statement_savepoints: bool,
    /// How one wasmig run keeps others out of the database.
    pub lock: LockKind,
    /// How SQL text is written for this backend.
    pub syntax: Syntax,
    /// Starts a transaction that takes the write lock at once.
    pub begin: &'static str,
    /// Starts a transaction that cannot write, for previews.
    pub begin_read_only: &'static str,
    /// Whether the database itself refuses a migration's changes to wasmig's own tables
    /// (SQLite's authorizer). Where it does not, the executor compares the ledger before
    /// and after each migration. Where it does, it checks each statement as it is
    /// prepared, in the mode it runs in.
    pub guards_own_tables: bool,
}

/// The kind of run lock a backend takes. Every kind is released by the server or the
/// kernel when the process dies, so a killed run never leaves a stale lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// An exclusive lock on a file beside the database.
    File,
    /// A session advisory lock.
    Advisory,
    /// A named, server-wide lock whose name carries the database.
    Named,
}

/// The backend's SQL for the ledger table; every statement uses `?` placeholders, which
/// the ledger rewrites for [`Placeholders::Dollar`].
#[derive(Debug)]
pub struct LedgerSql {
    /// Creates `wasmig_migrations` if it does not exist.
    pub create: &'static str,
    /// One row when a table of the given name exists in the current schema.
    pub exists: &'static str,
    /// One row when the table of the first name has a column of the second.
    pub column_exists: &'static str,
    /// `applied_at` as ISO-8601 UTC text with a `Z`.
    pub applied_at: &'static str,
    /// Creates `wasmig_artefacts` (the applied components, compressed, by sha256) if it
    /// does not exist.
    pub artefacts_create: &'static str,
    /// Stores an artefact (checksum, size, compressed bytes) unless it is stored already.
    pub artefact_insert: &'static str,
}

impl Dialect {
    /// The dialect's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// The dialect of a database URL, from its scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        registration(url).map(|backend| backend.profile.dialect)
    }
}

/// The backend registered for the scheme of `url`.
fn registration(url: &str) -> Result<&'static Registration> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
    BACKENDS.iter().find(|backend| backend.schemes.contains(&scheme)).ok_or_else(|| {
        Error::Usage(format!(
            "unsupported database URL `{}`: expected a sqlite:, postgres: or mysql: URL",
            redact(url)
        ))
    })
}

/// The error of a failed connection to `url`, its password hidden.
fn cannot_connect<E: Into<SqlError>>(url: &str) -> impl Fn(E) -> Error + Copy + '_ {
    move |e| Error::database(format!("cannot connect to {}", redact(url)), e.into())
}

/// A URL with any password replaced, fit for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_from_url_scheme() {
        assert_eq!(Dialect::from_url("sqlite://x.db").unwrap(), Dialect::Sqlite);
        assert_eq!(Dialect::from_url("sqlite::memory:").unwrap(), Dialect::Sqlite);
        assert_eq!(Dialect::from_url("postgresql://h/db").unwrap(), Dialect::Postgres);
        assert_eq!(Dialect::from_url("mariadb://h/db").unwrap(), Dialect::Mysql);
        let err = Dialect::from_url("oracle://scott:tiger@h/db").unwrap_err().to_string();
        assert!(err.contains("oracle://scott:***@h/db"), "{err}");
    }
}
