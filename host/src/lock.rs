//! The run lock: one wasmig changing a database at a time.
//!
//! PostgreSQL uses a session advisory lock, MySQL/MariaDB a named `GET_LOCK`, SQLite an
//! exclusive lock on a file beside the database. All three are released by the server or
//! the kernel when the process dies, so a killed run never leaves a stale lock.
//! `check` and `--preview` take no lock. The lock lives as long as the [`RunLock`] and the
//! connection it was taken on.

use std::fs::File;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;

use crate::bindings::wasmig::migration::types::{Dialect, Value};
use crate::db::Connection;
use crate::error::{Error, Result};

/// How often a waiting runner tries again.
const POLL: Duration = Duration::from_millis(100);

/// The PostgreSQL advisory lock key: "wasmig" in ASCII. Advisory locks are per database.
const PG_KEY: i64 = 0x7761_736d_6967;

/// A held run lock. Dropping it, or closing the connection it was taken on, releases it.
#[derive(Debug)]
pub struct RunLock {
    /// The locked file beside a SQLite database; server locks live in the connection.
    _file: Option<File>,
}

impl RunLock {
    /// Takes the run lock of the database behind `conn`, waiting up to `timeout` (saying
    /// so on stderr once) while another runner holds it.
    pub async fn acquire(conn: &mut Connection, url: &str, timeout: Duration) -> Result<Self> {
        let started = Instant::now();
        let mut said = false;
        let file = match conn.dialect() {
            Dialect::Sqlite => match lock_file_path(url)? {
                Some(path) => Some((File::create(&path).map_err(|e| Error::io(&path, e))?, path)),
                // An in-memory database: nobody else can see it.
                None => return Ok(RunLock { _file: None }),
            },
            _ => None,
        };
        loop {
            let taken = match &file {
                Some((file, path)) => match file.try_lock() {
                    Ok(()) => true,
                    Err(std::fs::TryLockError::WouldBlock) => false,
                    Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
                },
                None => try_server_lock(conn).await?,
            };
            if taken {
                return Ok(RunLock { _file: file.map(|(file, _)| file) });
            }
            if started.elapsed() >= timeout {
                return Err(Error::Lock(format!(
                    "another wasmig run still holds the lock of this database after {}s; try again later or raise lock_timeout",
                    timeout.as_secs()
                )));
            }
            if !said {
                eprintln!(
                    "waiting for another wasmig run to finish (lock_timeout {}s)...",
                    timeout.as_secs()
                );
                said = true;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

async fn try_server_lock(conn: &mut Connection) -> Result<bool> {
    let (sql, params) = match conn.dialect() {
        Dialect::Postgres => ("SELECT pg_try_advisory_lock($1)", vec![Value::Integer(PG_KEY)]),
        // Named locks are server-wide: the name carries the database.
        _ => ("SELECT GET_LOCK(CONCAT('wasmig:', DATABASE()), 0)", vec![]),
    };
    let rows = conn
        .query(sql, &params)
        .await
        .map_err(|e| Error::database("cannot take the run lock", e))?;
    Ok(matches!(
        rows.rows.first().and_then(|row| row.first()),
        Some(Value::Boolean(true) | Value::Integer(1))
    ))
}

/// `<database file>.lock`, or `None` for an in-memory database.
fn lock_file_path(url: &str) -> Result<Option<PathBuf>> {
    let options =
        SqliteConnectOptions::from_str(url).map_err(|e| Error::database("bad SQLite URL", e))?;
    let path = options.get_filename();
    if path.as_os_str().is_empty()
        || path.to_string_lossy().starts_with(':')
        || url.contains("mode=memory")
    {
        return Ok(None);
    }
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    Ok(Some(PathBuf::from(name)))
}
