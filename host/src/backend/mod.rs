//! Database backends. Each file of this module is one backend and holds everything wasmig
//! knows about it: how to connect, what it can do ([`Capabilities`]), the ledger's DDL, the
//! run lock, transactions, and typed values both ways. The rest of wasmig talks to a
//! [`Connection`] and asks it; the guest's [`Dialect`] is only what a migration is told.
//!
//! A new backend is a file implementing [`Backend`] plus one line in [`BACKENDS`].

mod authorizer;
mod embedded;
mod mysql;
mod postgres;
mod scratch;
mod sqlite;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::{Column, Row, TypeInfo, ValueRef};

pub use self::scratch::Scratch;
pub use crate::bindings::wasmig::migration::types::{Dialect, Rows, Value};
pub use crate::error::SqlError;
use crate::error::{Error, Result};
use crate::limits::Limits;
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

/// A boxed future, as the connect function of a [`Registration`] returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// `applied_at` as ISO-8601 UTC text with a `Z`.
    pub applied_at: &'static str,
    /// Creates `wasmig_artefacts` (the applied components, compressed, by sha256) if it
    /// does not exist.
    pub artefacts_create: &'static str,
    /// Stores an artefact (checksum, size, compressed bytes) unless it is stored already.
    pub artefact_insert: &'static str,
}

/// The time a statement may take inside the database, and a lock wait, as `[limits]`
/// sets them (`statement_seconds`, `lock_wait_seconds`); `None` leaves the backend's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeLimits {
    pub statement: Option<Duration>,
    pub lock_wait: Option<Duration>,
}

impl From<&Limits> for TimeLimits {
    fn from(limits: &Limits) -> Self {
        TimeLimits { statement: limits.statement_time, lock_wait: limits.lock_wait }
    }
}

/// Whether a connection may change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Migrations and ledger writes.
    ReadWrite,
    /// Preview and check: reading only, and never creating the database.
    ReadOnly,
}

impl From<sqlx::Error> for SqlError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(e) => SqlError {
                message: e.message().to_string(),
                code: e.code().map(|code| code.into_owned()),
            },
            other => SqlError::new(other.to_string()),
        }
    }
}

/// One backend's open connection.
#[async_trait::async_trait]
pub trait Backend: Send + fmt::Debug {
    /// What the backend is: its dialect, capabilities and ledger SQL.
    fn profile(&self) -> &'static Profile;

    /// Runs a statement that returns no rows; gives the number of rows affected. Without
    /// parameters the statement is sent unprepared, so several may be sent at once.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<u64, SqlError>>;

    /// Runs a statement that returns rows, refusing a result of more than `max_bytes`
    /// (counted as the rows arrive, so the host never holds more).
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Rows, SqlError>>;

    /// Marks the statements that follow as a migration's (`Some`) or wasmig's own
    /// (`None`), for a backend that enforces the guest rules itself.
    fn guest(&mut self, _purpose: Option<Purpose>) {}

    /// The error a migration's statement failed with, in words that say why when the
    /// backend's own enforcement refused or stopped it.
    fn guest_error(&mut self, error: SqlError) -> SqlError {
        error
    }

    /// Applies the time limits of `[limits]` to the session: `statement_seconds` per
    /// statement and `lock_wait_seconds` for a lock.
    async fn set_time_limits(&mut self, limits: &TimeLimits) -> Result<(), SqlError>;

    /// Tries once, without waiting, to take the run lock; true when it is now held. It is
    /// held until the connection is closed or dropped.
    async fn try_lock(&mut self) -> Result<bool>;

    /// Closes the connection cleanly.
    async fn close(self: Box<Self>);
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

/// An open connection to the target database, through its backend.
#[derive(Debug)]
pub struct Connection {
    backend: Box<dyn Backend>,
}

impl Connection {
    /// Opens `url` with the backend its scheme names. With [`Access::ReadOnly`] nothing is
    /// created: a SQLite file that does not exist yet is an empty database.
    pub async fn open(url: &str, access: Access) -> Result<Self> {
        let backend = (registration(url)?.connect)(url, access).await?;
        Ok(Connection { backend })
    }

    /// The SQL dialect of this connection, as migrations are told.
    pub fn dialect(&self) -> Dialect {
        self.backend.profile().dialect
    }

    /// What the backend can do.
    pub fn capabilities(&self) -> &'static Capabilities {
        &self.backend.profile().capabilities
    }

    /// The backend's SQL for the ledger table.
    pub fn ledger_sql(&self) -> &'static LedgerSql {
        &self.backend.profile().ledger
    }

    /// The schema of the database as lines of text, in a stable order (see
    /// [`Profile::schema`]).
    pub async fn schema(&mut self) -> Result<Vec<String>, SqlError> {
        let mut lines = Vec::new();
        for sql in self.backend.profile().schema {
            let rows = self.query(sql, &[]).await?;
            lines.extend(rows.rows.iter().map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Value::Null => "NULL".to_string(),
                        Value::Text(text) => text.clone(),
                        Value::Integer(n) => n.to_string(),
                        Value::Boolean(b) => b.to_string(),
                        Value::Real(r) => r.to_string(),
                        Value::Blob(b) => format!("{} bytes", b.len()),
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            }));
        }
        Ok(lines)
    }

    /// Runs a statement that returns no rows; gives the number of rows affected. Without
    /// parameters the statement is sent unprepared, so a guest may send several at once.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.backend.execute(sql, params).await
    }

    /// Runs a statement that returns rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.backend.query(sql, params, u64::MAX).await
    }

    /// Applies `[limits]` time limits to this session (see [`Backend::set_time_limits`]).
    pub async fn set_time_limits(&mut self, limits: &TimeLimits) -> Result<()> {
        if *limits == TimeLimits::default() {
            return Ok(());
        }
        self.backend
            .set_time_limits(limits)
            .await
            .map_err(|e| Error::database("cannot set the [limits] time limits", e))
    }

    /// Checks a guest's statement against what a migration may send ([`guard`]), without
    /// running it: what a preview does with an `execute` it records.
    pub fn admit(&self, sql: &str, purpose: Purpose) -> Result<(), SqlError> {
        let profile = self.backend.profile();
        guard::check(profile.dialect, &profile.capabilities.syntax, sql, purpose)
            .map_err(|refusal| SqlError::new(refusal.0))
    }

    /// Runs a guest's statement, once [`Connection::admit`] let it through. Where a
    /// failed statement would abort the transaction ([`Capabilities::statement_savepoints`])
    /// it runs in a savepoint, so the migration gets its error as a value and may carry
    /// on, as on the other backends.
    pub async fn execute_guest(
        &mut self,
        sql: &str,
        params: &[Value],
        in_transaction: bool,
    ) -> Result<u64, SqlError> {
        self.admit(sql, Purpose::Execute)?;
        self.as_guest(in_transaction, Purpose::Execute, async |conn| {
            conn.backend.execute(sql, params).await
        })
        .await
    }

    /// [`Connection::query`] for a guest, checked and isolated like
    /// [`Connection::execute_guest`]; a result over `max_bytes` is refused.
    pub async fn query_guest(
        &mut self,
        sql: &str,
        params: &[Value],
        in_transaction: bool,
        purpose: Purpose,
        max_bytes: u64,
    ) -> Result<Rows, SqlError> {
        self.admit(sql, purpose)?;
        self.as_guest(in_transaction, purpose, async |conn| {
            conn.backend.query(sql, params, max_bytes).await
        })
        .await
    }

    /// Runs `statement` as the guest's (see [`Backend::guest`]), isolated.
    async fn as_guest<T>(
        &mut self,
        in_transaction: bool,
        purpose: Purpose,
        statement: impl AsyncFnOnce(&mut Self) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.isolated(in_transaction, async |conn| {
            conn.backend.guest(Some(purpose));
            let result = statement(conn).await;
            conn.backend.guest(None);
            result.map_err(|e| conn.backend.guest_error(e))
        })
        .await
    }

    /// Runs `statement`, in a savepoint when inside a transaction on a backend that needs it.
    async fn isolated<T>(
        &mut self,
        in_transaction: bool,
        statement: impl AsyncFnOnce(&mut Self) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        if !in_transaction || !self.capabilities().statement_savepoints {
            return statement(self).await;
        }
        self.execute("SAVEPOINT wasmig_statement", &[]).await?;
        let result = statement(self).await;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT wasmig_statement"
        } else {
            "ROLLBACK TO SAVEPOINT wasmig_statement"
        };
        self.execute(end, &[]).await?;
        result
    }

    /// Starts a transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so a
    /// concurrent writer waits here rather than failing half-way through a migration.
    pub async fn begin(&mut self) -> Result<(), SqlError> {
        self.execute(self.capabilities().begin, &[]).await.map(drop)
    }

    /// Starts a transaction that cannot write, for previews.
    pub async fn begin_read_only(&mut self) -> Result<(), SqlError> {
        self.execute(self.capabilities().begin_read_only, &[]).await.map(drop)
    }

    /// Commits the open transaction.
    pub async fn commit(&mut self) -> Result<(), SqlError> {
        self.execute("COMMIT", &[]).await.map(drop)
    }

    /// Rolls the open transaction back.
    pub async fn rollback(&mut self) -> Result<(), SqlError> {
        self.execute("ROLLBACK", &[]).await.map(drop)
    }

    /// Tries once to take the run lock (see [`crate::lock`]).
    pub async fn try_lock(&mut self) -> Result<bool> {
        self.backend.try_lock().await
    }

    /// Closes the connection cleanly, releasing the run lock if it holds it.
    pub async fn close(self) {
        self.backend.close().await;
    }
}

/// A query of `sql` with `params` bound by position; `$null` is what a `Value::Null` binds
/// as.
macro_rules! bind {
    ($sql:expr, $params:expr, $null:expr) => {
        $params.iter().fold(sqlx::query(sqlx::AssertSqlSafe($sql.to_string())), |query, param| {
            match param.clone() {
                Value::Null => query.bind($null),
                Value::Integer(v) => query.bind(v),
                Value::Real(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Blob(v) => query.bind(v),
                Value::Boolean(v) => query.bind(v),
            }
        })
    };
}
use bind;

/// The [`Backend::execute`] and [`Backend::query`] of a backend whose connection is the
/// sqlx connection `self.conn`: `$null` is what a NULL parameter binds as, `$value`
/// converts a cell of a result row.
macro_rules! sqlx_statements {
    ($null:expr, $value:path) => {
        fn execute<'a>(
            &'a mut self,
            sql: &'a str,
            params: &'a [Value],
        ) -> super::BoxFuture<'a, Result<u64, SqlError>> {
            Box::pin(async move {
                let done = if params.is_empty() {
                    super::raw(sql).execute(&mut self.conn).await?
                } else {
                    super::bind!(sql, params, $null).execute(&mut self.conn).await?
                };
                Ok(done.rows_affected())
            })
        }

        fn query<'a>(
            &'a mut self,
            sql: &'a str,
            params: &'a [Value],
            max_bytes: u64,
        ) -> super::BoxFuture<'a, Result<Rows, SqlError>> {
            Box::pin(async move {
                use futures::TryStreamExt as _;
                let mut rows = super::RowsUnder::new(max_bytes);
                let mut stream = super::bind!(sql, params, $null).fetch(&mut self.conn);
                while let Some(row) = stream.try_next().await? {
                    rows.push(&row, $value)?;
                }
                Ok(rows.into_rows())
            })
        }
    };
}
use sqlx_statements;

/// A statement sent as text, unprepared: several statements in one string run in turn.
fn raw(sql: &str) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
}

/// A query's result as WIT rows, collected as the driver streams them, up to a size.
struct RowsUnder {
    rows: Rows,
    bytes: u64,
    max_bytes: u64,
}

/// What a cell costs the host beyond its text or blob: the value itself.
const CELL_BYTES: u64 = size_of::<Value>() as u64;

impl RowsUnder {
    fn new(max_bytes: u64) -> Self {
        RowsUnder { rows: Rows { columns: Vec::new(), rows: Vec::new() }, bytes: 0, max_bytes }
    }

    /// Adds `row`, each cell converted by `value`, or refuses once the result is too big.
    fn push<R: Row>(
        &mut self,
        row: &R,
        value: fn(&R, usize) -> Result<Value, SqlError>,
    ) -> Result<(), SqlError> {
        let cells = (0..row.len()).map(|i| value(row, i)).collect::<Result<Vec<_>, _>>()?;
        self.push_cells(|| row.columns().iter().map(|c| c.name().to_string()).collect(), cells)
    }

    /// Adds a row of `cells`, whose column names `columns` gives, or refuses once the
    /// result is too big.
    fn push_cells(
        &mut self,
        columns: impl FnOnce() -> Vec<String>,
        cells: Vec<Value>,
    ) -> Result<(), SqlError> {
        if self.rows.rows.is_empty() {
            self.rows.columns = columns();
        }
        let size = cells
            .iter()
            .map(|cell| {
                CELL_BYTES
                    + match cell {
                        Value::Text(text) => text.len() as u64,
                        Value::Blob(blob) => blob.len() as u64,
                        _ => 0,
                    }
            })
            .sum::<u64>();
        self.bytes = self.bytes.saturating_add(size + CELL_BYTES);
        if self.bytes > self.max_bytes {
            return Err(SqlError::new(format!(
                "the query's result is larger than {} MiB ([limits] query_mib): select fewer \
                 rows or columns, or page through them",
                self.max_bytes >> 20
            )));
        }
        self.rows.rows.push(cells);
        Ok(())
    }

    fn into_rows(self) -> Rows {
        self.rows
    }
}

/// The type name of a non-null cell, upper case, or `None` for NULL.
fn cell_type<R: Row>(row: &R, index: usize) -> Result<Option<String>, SqlError>
where
    usize: sqlx::ColumnIndex<R>,
{
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(None);
    }
    Ok(Some(raw.type_info().name().to_ascii_uppercase()))
}

/// The error for a column type a migration cannot receive, with the cast that helps.
fn unsupported<R: Row>(row: &R, index: usize, type_name: &str, cast: &str) -> SqlError {
    let column = row.columns().get(index).map(|c| c.name().to_string()).unwrap_or_default();
    SqlError::new(format!(
        "column `{column}` has type {type_name}, which a migration cannot receive; cast it in the query ({cast})"
    ))
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

    #[test]
    fn sql_errors_show_their_code() {
        let error = SqlError { message: "boom".into(), code: Some("42P01".into()) };
        assert_eq!(error.to_string(), "boom (code 42P01)");
        assert_eq!(SqlError::new("plain").to_string(), "plain");
    }
}
