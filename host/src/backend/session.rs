//! One open connection of a backend: the [`Backend`] trait each backend file implements,
//! how the connection is opened ([`Access`]) and the time limits its session runs under
//! ([`TimeLimits`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{Profile, Purpose, Rows, SqlError, Value};
use crate::error::Result;
use crate::limits::Limits;

/// A boxed future, as a backend's statements and its connect function return.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
