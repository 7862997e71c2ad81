//! The [`Connection`]: the one handle the rest of wasmig holds on the target database,
//! whatever its backend. It answers what the backend is and can do, checks a guest's
//! statement before it runs, and isolates it where a failed statement would abort the
//! transaction.

use super::{
    Access, Backend, Capabilities, Dialect, LedgerSql, Purpose, Rows, SqlError, TimeLimits, Value,
    guard, registration,
};
use crate::error::{Error, Result};

/// An open connection to the target database, through its backend.
#[derive(Debug)]
pub struct Connection {
    /// Open to the backend files, whose tests reach past the text guard to the backend's
    /// own enforcement.
    pub(super) backend: Box<dyn Backend>,
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
