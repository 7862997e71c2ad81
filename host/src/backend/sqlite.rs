//! SQLite, embedded through sqlx: wasmig's default backend.

use std::fs::File;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection as _, Row};

use super::authorizer::{self, Guard, Mode};
use super::{
    Access, Backend, BlobLiteral, BoxFuture, Capabilities, Dialect, LedgerSql, LockKind,
    Placeholders, Profile, Purpose, Registration, Rows, SqlError, Syntax, TimeLimits, Value,
    cell_type, sqlx_statements,
};
use crate::error::{Error, Result};

pub(super) const REGISTRATION: Registration =
    Registration { schemes: &["sqlite"], profile: &PROFILE, connect };

/// How long SQLite waits for another writer before giving up on a statement.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

static PROFILE: Profile = Profile {
    dialect: Dialect::Sqlite,
    capabilities: Capabilities {
        transactional_ddl: true,
        statement_savepoints: false,
        lock: LockKind::File,
        syntax: Syntax {
            placeholders: Placeholders::Question,
            dollar_quotes: false,
            backslash_escapes: false,
            blob_literal: BlobLiteral::Hex,
        },
        begin: "BEGIN IMMEDIATE",
        begin_read_only: "BEGIN DEFERRED",
        guards_own_tables: true,
    },
    ledger: LedgerSql {
        create: "CREATE TABLE IF NOT EXISTS wasmig_migrations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            app_name TEXT NOT NULL,
            migration_id TEXT NOT NULL,
            description TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            dirty INTEGER NOT NULL DEFAULT 0,
            UNIQUE (app_name, migration_id)
        )",
        exists: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        applied_at: "applied_at",
        artefacts_create: "CREATE TABLE IF NOT EXISTS wasmig_artefacts (
            checksum TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            zstd BLOB NOT NULL
        )",
        artefact_insert: "INSERT INTO wasmig_artefacts (checksum, size, zstd) VALUES (?, ?, ?) \
                          ON CONFLICT (checksum) DO NOTHING",
    },
    schema: &["SELECT type, name, tbl_name, sql FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite_%' AND substr(tbl_name, 1, 7) <> 'wasmig_' \
         ORDER BY type, name"],
};

/// A connection to a SQLite file (or in-memory database).
#[derive(Debug)]
struct Sqlite {
    conn: SqliteConnection,
    /// `<database file>.lock`, or `None` for an in-memory database nobody else can see.
    lock_path: Option<PathBuf>,
    /// The lock file while the run lock is held; the kernel releases it if the process dies.
    lock: Option<File>,
    /// What the authorizer enforces, and for whom.
    guard: Arc<Guard>,
    /// The authorizer's registration, removed when the connection closes.
    registration: Option<authorizer::Registration>,
    /// `[limits] statement_seconds`, if set.
    statement_time: Option<Duration>,
}

fn connect(url: &str, access: Access) -> BoxFuture<'_, Result<Box<dyn Backend>>> {
    Box::pin(async move {
        let fail = super::cannot_connect(url);
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(fail)?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let lock_path = lock_path(url, &options);
        if access == Access::ReadOnly {
            if !options.get_filename().exists() {
                options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(fail)?;
            }
            // `query_only` rather than a read-only open: after a run was killed
            // mid-transaction, the first reader must roll the leftover journal back, which
            // a read-only connection cannot do. Statements still cannot write.
            options = options.pragma("query_only", "ON");
        } else {
            options = options.create_if_missing(true);
        }
        let mut conn = SqliteConnection::connect_with(&options).await.map_err(fail)?;
        let guard = Arc::new(Guard::default());
        let registration = authorizer::install(&mut conn, &guard, false).await.map_err(fail)?;
        let sqlite = Sqlite {
            conn,
            lock_path,
            lock: None,
            guard,
            registration: Some(registration),
            statement_time: None,
        };
        Ok(Box::new(sqlite) as Box<dyn Backend>)
    })
}

/// `<database file>.lock`, or `None` for an in-memory database.
fn lock_path(url: &str, options: &SqliteConnectOptions) -> Option<PathBuf> {
    let path = options.get_filename();
    if path.as_os_str().is_empty()
        || path.to_string_lossy().starts_with(':')
        || url.contains("mode=memory")
    {
        return None;
    }
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    Some(PathBuf::from(name))
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    sqlx_statements!(None::<i64>, value);

    fn guest(&mut self, purpose: Option<Purpose>) {
        let mode = match purpose {
            None => Mode::Host,
            Some(Purpose::Execute) => Mode::Guest,
            Some(Purpose::PreviewQuery) => Mode::Preview,
        };
        self.guard.enter(mode, self.statement_time);
    }

    fn guest_error(&mut self, error: SqlError) -> SqlError {
        if let Some(reason) = self.guard.denial() {
            return SqlError { message: format!("refused by wasmig: {reason}"), ..error };
        }
        match self.statement_time {
            Some(limit) if self.guard.timed_out() => SqlError {
                message: format!(
                    "the statement was stopped after {} s ([limits] statement_seconds)",
                    limit.as_secs()
                ),
                ..error
            },
            _ => error,
        }
    }

    async fn set_time_limits(&mut self, limits: &TimeLimits) -> Result<(), SqlError> {
        if let Some(wait) = limits.lock_wait {
            let pragma = format!("PRAGMA busy_timeout = {}", wait.as_millis());
            super::raw(&pragma).execute(&mut self.conn).await?;
        }
        if limits.statement.is_some() {
            self.statement_time = limits.statement;
            if let Some(registration) = self.registration.take() {
                registration.remove(&mut self.conn).await;
            }
            self.registration = Some(authorizer::install(&mut self.conn, &self.guard, true).await?);
        }
        Ok(())
    }

    async fn try_lock(&mut self) -> Result<bool> {
        let Some(path) = &self.lock_path else { return Ok(true) };
        if self.lock.is_some() {
            return Ok(true);
        }
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    async fn close(mut self: Box<Self>) {
        if let Some(registration) = self.registration.take() {
            registration.remove(&mut self.conn).await;
        }
        let _ = self.conn.close().await;
    }
}

/// A SQLite cell as a WIT value, by its declared (or stored) type.
fn value(row: &SqliteRow, index: usize) -> Result<Value, SqlError> {
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "INTEGER" | "INT8" | "BIGINT" => Value::Integer(row.try_get(index)?),
        "BOOLEAN" => Value::Boolean(row.try_get(index)?),
        "REAL" | "FLOAT" | "DOUBLE" => Value::Real(row.try_get(index)?),
        "BLOB" => Value::Blob(row.try_get(index)?),
        "NUMERIC" => match row.try_get::<i64, _>(index) {
            Ok(v) => Value::Integer(v),
            Err(_) => Value::Real(row.try_get(index)?),
        },
        _ => Value::Text(row.try_get_unchecked(index)?),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::backend::{Access, Connection, Purpose, TimeLimits, Value};

    /// Runs `sql` as a guest's statement, bypassing the text guard, so that only SQLite's
    /// authorizer stands in the way.
    async fn past_the_text_guard(conn: &mut Connection, sql: &str, purpose: Purpose) -> String {
        conn.backend.guest(Some(purpose));
        let result = conn.backend.execute(sql, &[]).await;
        conn.backend.guest(None);
        let error = result.expect_err(sql);
        conn.backend.guest_error(error).message
    }

    #[tokio::test]
    async fn the_authorizer_refuses_what_the_text_guard_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE wasmig_migrations (id INTEGER)", &[]).await.unwrap();
        conn.execute("INSERT INTO wasmig_migrations VALUES (1)", &[]).await.unwrap();
        let evil = dir.path().join("evil.db");
        let copy = dir.path().join("copy.db");
        // Outside a transaction, as a non-transactional migration runs.
        let vacuum = format!("VACUUM INTO '{}'", copy.display());
        let message = past_the_text_guard(&mut conn, &vacuum, Purpose::Execute).await;
        assert!(message.starts_with("refused by wasmig: "), "{vacuum}: {message}");
        conn.begin().await.unwrap();
        for sql in [
            format!("ATTACH DATABASE '{}' AS evil", evil.display()),
            "COMMIT".to_string(),
            "SAVEPOINT s".to_string(),
            "DELETE FROM wasmig_migrations".to_string(),
            "CREATE TEMP TABLE wasmig_migrations (x)".to_string(),
            "CREATE TRIGGER t AFTER INSERT ON wasmig_migrations BEGIN SELECT 1; END".to_string(),
            "PRAGMA query_only = OFF".to_string(),
            "SELECT load_extension('x')".to_string(),
        ] {
            let message = past_the_text_guard(&mut conn, &sql, Purpose::Execute).await;
            assert!(message.starts_with("refused by wasmig: "), "{sql}: {message}");
        }
        // A preview's query may read, not write.
        conn.execute("CREATE TABLE t (x)", &[]).await.unwrap();
        let message =
            past_the_text_guard(&mut conn, "INSERT INTO t VALUES (1)", Purpose::PreviewQuery).await;
        assert!(message.contains("a preview may only read"), "{message}");
        // The transaction is intact, and wasmig's own statements are not refused.
        conn.execute("INSERT INTO wasmig_migrations VALUES (2)", &[]).await.unwrap();
        conn.commit().await.unwrap();
        assert!(!evil.exists() && !copy.exists(), "no file was created");
        let rows = conn.query("SELECT count(*) FROM wasmig_migrations", &[]).await.unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Integer(2)]]);
        conn.close().await;
    }

    #[tokio::test]
    async fn a_guest_statement_is_stopped_after_statement_seconds() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        let limits = TimeLimits { statement: Some(Duration::from_secs(1)), lock_wait: None };
        conn.set_time_limits(&limits).await.unwrap();
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                       SELECT count(*) FROM n";
        let started = std::time::Instant::now();
        let error =
            conn.query_guest(endless, &[], false, Purpose::Execute, u64::MAX).await.unwrap_err();
        assert!(error.message.contains("[limits] statement_seconds"), "{}", error.message);
        assert!(started.elapsed() < Duration::from_secs(10));
        // The host's own statements have no deadline, and the connection still works.
        let rows = conn.query("SELECT 1", &[]).await.unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Integer(1)]]);
    }

    #[tokio::test]
    async fn a_query_result_over_its_limit_is_refused_as_it_streams() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        let big = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 100000) \
                   SELECT i, zeroblob(1000) FROM n";
        let error = conn.query_guest(big, &[], false, Purpose::Execute, 1 << 20).await.unwrap_err();
        assert!(error.message.contains("([limits] query_mib)"), "{}", error.message);
        let small = conn.query_guest("SELECT 1", &[], false, Purpose::Execute, 1 << 20).await;
        assert_eq!(small.unwrap().rows, vec![vec![Value::Integer(1)]]);
    }

    #[tokio::test]
    async fn typed_values_round_trip() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE t (n, i, r, s, b, f)", &[]).await.unwrap();
        let values = vec![
            Value::Null,
            Value::Integer(-7),
            Value::Real(1.5),
            Value::Text("it's".into()),
            Value::Blob(vec![0, 255]),
            Value::Boolean(true),
        ];
        let affected =
            conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", &values).await.unwrap();
        assert_eq!(affected, 1);
        let rows = conn.query("SELECT * FROM t", &[]).await.unwrap();
        assert_eq!(rows.columns, ["n", "i", "r", "s", "b", "f"]);
        // SQLite stores booleans as integers.
        let mut expected = values;
        expected[5] = Value::Integer(1);
        assert_eq!(rows.rows, vec![expected]);
    }

    #[tokio::test]
    async fn a_reader_recovers_a_database_left_mid_transaction_but_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (live, left) = (dir.path().join("live.db"), dir.path().join("left"));
        let url = format!("sqlite://{}", live.display());
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE t (n INTEGER)", &[]).await.unwrap();
        conn.begin().await.unwrap();
        conn.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        // More than the page cache holds, so the transaction reaches the file and journal.
        conn.execute("CREATE TABLE big (b BLOB)", &[]).await.unwrap();
        conn.execute("INSERT INTO big VALUES (zeroblob(16000000))", &[]).await.unwrap();
        // What a killed run leaves behind: the files as they are in the middle of its
        // transaction, journal included.
        std::fs::create_dir(&left).unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), left.join(entry.file_name())).unwrap();
            }
        }
        conn.rollback().await.unwrap();
        conn.close().await;

        let url = format!("sqlite://{}", left.join("live.db").display());
        let mut reader = Connection::open(&url, Access::ReadOnly).await.unwrap();
        let rows = reader.query("SELECT n FROM t", &[]).await.unwrap();
        assert!(rows.rows.is_empty(), "the uncommitted row is rolled back: {:?}", rows.rows);
        let err = reader.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap_err();
        assert!(err.message.contains("readonly"), "{}", err.message);
    }

    #[tokio::test]
    async fn sql_errors_are_values_with_the_database_message() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        let err = conn.execute("INSERT INTO missing VALUES (1)", &[]).await.unwrap_err();
        assert!(err.message.contains("no such table: missing"), "{}", err.message);
    }

    #[tokio::test]
    async fn the_lock_file_is_exclusive_until_the_connection_closes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let mut first = Connection::open(&url, Access::ReadWrite).await.unwrap();
        let mut second = Connection::open(&url, Access::ReadWrite).await.unwrap();
        assert!(first.try_lock().await.unwrap());
        assert!(first.try_lock().await.unwrap(), "taking it again is a no-op");
        assert!(!second.try_lock().await.unwrap());
        first.close().await;
        assert!(second.try_lock().await.unwrap());
        second.close().await;
    }
}
