//! The implementation of the WIT `database` import: live statements inside the
//! migration's transaction, or a recording for preview.

use crate::backend::{Connection, Purpose, SqlError};
use crate::bindings::wasmig::migration::types::{DbError, Rows, Value};
use crate::limits::{LimitHit, Limits};
use crate::sql::inline;

/// What a migration's `database` import is connected to during one call.
#[derive(Debug)]
pub enum DatabaseHandle {
    /// Statements run on the connection, inside the migration's transaction when it is
    /// transactional.
    Live { conn: Connection, in_transaction: bool },
    /// Preview: `execute` is recorded and reported as succeeded with 0 rows; `query` runs
    /// on a read-only connection inside a read-only transaction.
    Recording(Connection),
    /// No database: `describe` must not touch it.
    Detached,
}

/// The database handle of a call together with every statement it emitted, rendered with
/// its parameters as SQL literals, and what it may still emit.
#[derive(Debug)]
pub struct Capture {
    pub(crate) handle: DatabaseHandle,
    pub(crate) statements: Vec<String>,
    /// `execute` and `query` calls so far, and their SQL and parameter bytes.
    calls: u64,
    bytes: u64,
    /// The call's `statements` and `sql_bytes` limits.
    max_calls: u64,
    max_bytes: u64,
    /// The call's `query_mib` limit, per query result.
    max_query_bytes: u64,
}

impl Capture {
    /// A capture around `handle` with nothing emitted yet, under the default limits until
    /// the sandbox sets the configured ones.
    pub fn new(handle: DatabaseHandle) -> Self {
        let limits = Limits::default();
        Capture {
            handle,
            statements: Vec::new(),
            calls: 0,
            bytes: 0,
            max_calls: limits.statements,
            max_bytes: limits.sql_bytes,
            max_query_bytes: limits.query_bytes,
        }
    }

    /// Sets how many statements and how many bytes of SQL (with parameters) the call may
    /// send, and how large a query result it may receive.
    pub(crate) fn limit(&mut self, statements: u64, sql_bytes: u64, query_bytes: u64) {
        self.max_calls = statements;
        self.max_bytes = sql_bytes;
        self.max_query_bytes = query_bytes;
    }

    /// The `execute` statements the migration emitted, in order, each rendered with its
    /// parameters as literals: what a preview prints, and what a live run executed.
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// Counts one statement against the limits, before it is recorded or run. Past a
    /// limit the host import traps: the migration is stopped, not told, so it cannot
    /// carry on regardless.
    fn charge(&mut self, sql: &str, params: &[Value]) -> wasmtime::Result<()> {
        self.calls += 1;
        if self.calls > self.max_calls {
            return Err(LimitHit::Statements { limit: self.max_calls }.into());
        }
        let size = sql.len() + params.iter().map(value_size).sum::<usize>();
        self.bytes = self.bytes.saturating_add(size as u64);
        if self.bytes > self.max_bytes {
            return Err(LimitHit::SqlBytes { limit: self.max_bytes }.into());
        }
        Ok(())
    }

    /// The connection, given back after the call.
    pub fn into_connection(self) -> Option<Connection> {
        self.handle.into_connection()
    }
}

impl DatabaseHandle {
    /// The connection, if the handle has one.
    pub fn into_connection(self) -> Option<Connection> {
        match self {
            DatabaseHandle::Live { conn, .. } | DatabaseHandle::Recording(conn) => Some(conn),
            DatabaseHandle::Detached => None,
        }
    }
}

/// The bytes a parameter adds to a statement.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Text(text) => text.len(),
        Value::Blob(blob) => blob.len(),
        Value::Null | Value::Integer(_) | Value::Real(_) | Value::Boolean(_) => 8,
    }
}

fn detached() -> DbError {
    DbError {
        message: "the database is not available while describing a migration".into(),
        code: None,
    }
}

impl Capture {
    /// The guest's `execute`: run on the connection, or recorded in a preview. Past a
    /// limit the call traps (see [`Capture::charge`]).
    pub(crate) async fn execute(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.charge(&sql, &params)?;
        let result = match &mut self.handle {
            DatabaseHandle::Live { conn, in_transaction } => {
                let syntax = conn.capabilities().syntax;
                self.statements.push(inline::statement(&syntax, &sql, &params));
                conn.execute_guest(&sql, &params, *in_transaction).await.map_err(db_error)
            }
            // Checked as a live run would check it, so a preview shows what would run.
            DatabaseHandle::Recording(conn) => match conn.admit(&sql, Purpose::Execute) {
                Ok(()) => {
                    let syntax = conn.capabilities().syntax;
                    self.statements.push(inline::statement(&syntax, &sql, &params));
                    Ok(0)
                }
                Err(e) => Err(db_error(e)),
            },
            DatabaseHandle::Detached => Err(detached()),
        };
        Ok(result)
    }

    /// The guest's `query`: run on the connection; in a preview inside its read-only
    /// transaction.
    pub(crate) async fn query(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<Rows, DbError>> {
        self.charge(&sql, &params)?;
        let result = match &mut self.handle {
            DatabaseHandle::Live { conn, in_transaction } => conn
                .query_guest(&sql, &params, *in_transaction, Purpose::Execute, self.max_query_bytes)
                .await
                .map_err(db_error),
            DatabaseHandle::Recording(conn) => conn
                .query_guest(&sql, &params, true, Purpose::PreviewQuery, self.max_query_bytes)
                .await
                .map_err(db_error),
            DatabaseHandle::Detached => Err(detached()),
        };
        Ok(result)
    }
}

/// A database error as the guest receives it.
fn db_error(error: SqlError) -> DbError {
    DbError { message: error.message, code: error.code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_sql_bytes_are_charged_before_they_run() {
        let mut capture = Capture::new(DatabaseHandle::Detached);
        capture.limit(2, 100, 100);
        capture.charge("SELECT 1", &[]).unwrap();
        capture.charge("SELECT ?", &[Value::Text("x".repeat(10))]).unwrap();
        let error = capture.charge("SELECT 1", &[]).unwrap_err();
        assert_eq!(error.downcast_ref::<LimitHit>(), Some(&LimitHit::Statements { limit: 2 }));

        let mut capture = Capture::new(DatabaseHandle::Detached);
        capture.limit(10, 30, 100);
        capture.charge("SELECT ?", &[Value::Blob(vec![0; 20])]).unwrap();
        let error = capture.charge("SELECT ?", &[Value::Integer(1)]).unwrap_err();
        assert_eq!(error.downcast_ref::<LimitHit>(), Some(&LimitHit::SqlBytes { limit: 30 }));
        assert!(error.to_string().starts_with("host limit hit: "), "{error}");
    }
}
