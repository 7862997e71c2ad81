//! The implementation of the WIT `database` import: live statements inside the
//! migration's transaction, or a recording for preview.

use crate::bindings::wasmig::migration::database;
use crate::bindings::wasmig::migration::types::{self, DbError, Rows, Value};
use crate::db::Connection;
use crate::render;
use crate::sandbox::SandboxState;

/// What a migration's `database` import is connected to during one call.
#[derive(Debug)]
pub enum DatabaseHandle {
    /// Statements run on the connection (inside the migration's transaction when it is
    /// transactional).
    Live(Connection),
    /// Preview: `execute` is recorded and reported as succeeded with 0 rows; `query` runs
    /// on a read-only connection inside a read-only transaction.
    Recording(Connection),
    /// No database: `describe` must not touch it.
    Detached,
}

/// The database handle of a call together with every statement it emitted, rendered with
/// its parameters as SQL literals.
#[derive(Debug)]
pub struct Capture {
    pub(crate) handle: DatabaseHandle,
    pub(crate) statements: Vec<String>,
}

impl Capture {
    /// A capture around `handle` with nothing emitted yet.
    pub fn new(handle: DatabaseHandle) -> Self {
        Capture { handle, statements: Vec::new() }
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
            DatabaseHandle::Live(conn) | DatabaseHandle::Recording(conn) => Some(conn),
            DatabaseHandle::Detached => None,
        }
    }
}

fn detached() -> DbError {
    DbError {
        message: "the database is not available while describing a migration".into(),
        code: None,
    }
}

impl types::Host for SandboxState {}

impl database::Host for SandboxState {
    async fn execute(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        let started = std::time::Instant::now();
        let capture = &mut self.database;
        let result = match &mut capture.handle {
            DatabaseHandle::Live(conn) => {
                capture.statements.push(render::statement(conn.dialect(), &sql, &params));
                conn.execute(&sql, &params).await
            }
            DatabaseHandle::Recording(conn) => {
                capture.statements.push(render::statement(conn.dialect(), &sql, &params));
                Ok(0)
            }
            DatabaseHandle::Detached => Err(detached()),
        };
        self.host_time += started.elapsed();
        Ok(result)
    }

    async fn query(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<Rows, DbError>> {
        let started = std::time::Instant::now();
        let result = match &mut self.database.handle {
            DatabaseHandle::Live(conn) | DatabaseHandle::Recording(conn) => {
                conn.query(&sql, &params).await
            }
            DatabaseHandle::Detached => Err(detached()),
        };
        self.host_time += started.elapsed();
        Ok(result)
    }
}
