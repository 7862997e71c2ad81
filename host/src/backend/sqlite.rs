//! SQLite, embedded: wasmig's default backend. Statements run on the calling thread
//! through SQLite's C API ([`super::embedded`]); URLs are sqlx's `sqlite:` URLs.

mod journal;
mod target;

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::authorizer::{self, Guard, Mode};
use super::embedded::{Database, Open};
use super::{
    Access, Backend, BoxFuture, Capabilities, Dialect, LedgerSql, LockKind, Profile, Purpose,
    Registration, Rows, RowsUnder, SqlError, TimeLimits, Value,
};
use crate::error::{Error, Result};
use crate::sql::syntax_of;

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
        syntax: syntax_of(Dialect::Sqlite),
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
            source_digest TEXT,
            UNIQUE (app_name, migration_id)
        )",
        exists: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        column_exists: "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
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
    db: Database,
    /// `<database file>.lock`, or `None` for an in-memory database nobody else can see.
    lock_path: Option<PathBuf>,
    /// The lock file while the run lock is held; the kernel releases it if the process dies.
    lock: Option<File>,
    /// What the authorizer enforces, and for whom.
    guard: Arc<Guard>,
    /// `[limits] statement_seconds`, if set.
    statement_time: Option<Duration>,
    /// Whether this connection keeps its rollback journal between transactions
    /// ([`journal::persist`]) and so deletes it when it closes.
    persisted: bool,
}

impl Drop for Sqlite {
    /// Gives the journal back its mode ([`journal::restore`]), as a statement of wasmig's
    /// own.
    fn drop(&mut self) {
        if self.persisted {
            self.guard.enter(Mode::Host, None);
            journal::restore(&mut self.db);
        }
    }
}

fn connect(url: &str, access: Access) -> BoxFuture<'_, Result<Box<dyn Backend>>> {
    Box::pin(async move {
        let fail = super::cannot_connect::<SqlError>(url);
        let target = target::Target::parse(url).map_err(|e| fail(SqlError::new(e)))?;
        let lock_path = target.file.as_ref().map(|file| {
            let mut name = file.as_os_str().to_owned();
            name.push(".lock");
            PathBuf::from(name)
        });
        let (uri, open) = match (&target.file, access) {
            // Reading a file that does not exist yet: an empty database, nothing created.
            (Some(file), Access::ReadOnly) if !file.exists() => {
                (":memory:".to_string(), Open::Existing)
            }
            (_, Access::ReadOnly) => (target.uri, Open::Existing),
            (_, Access::ReadWrite) => (target.uri, Open::Create),
        };
        let mut db = Database::open(&uri, open).map_err(fail)?;
        db.busy_timeout(BUSY_TIMEOUT);
        db.run("PRAGMA foreign_keys = ON", &[], |_| Ok(())).map_err(fail)?;
        let mut persisted = false;
        match access {
            // `query_only` rather than a read-only open: after a run was killed
            // mid-transaction, the first reader must roll the leftover journal back, which
            // a read-only connection cannot do. Statements still cannot write.
            Access::ReadOnly => {
                db.run("PRAGMA query_only = ON", &[], |_| Ok(())).map_err(fail)?;
            }
            Access::ReadWrite if target.file.is_some() => {
                persisted = journal::persist(&mut db);
            }
            Access::ReadWrite => {}
        }
        let guard = Arc::new(Guard::default());
        authorizer::install(&mut db, &guard, false);
        let sqlite = Sqlite { db, lock_path, lock: None, guard, statement_time: None, persisted };
        Ok(Box::new(sqlite) as Box<dyn Backend>)
    })
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<u64, SqlError>> {
        let done = self.db.run(sql, params, |_| Ok(()));
        Box::pin(std::future::ready(done))
    }

    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Rows, SqlError>> {
        let mut rows = RowsUnder::new(max_bytes);
        let done = self.db.run(sql, params, |row| rows.push_cells(|| row.columns(), row.values()));
        Box::pin(std::future::ready(done.map(|_| rows.into_rows())))
    }

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
            self.db.busy_timeout(wait);
        }
        if limits.statement.is_some() {
            self.statement_time = limits.statement;
            authorizer::install(&mut self.db, &self.guard, true);
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

    async fn close(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::backend::{Access, Connection, Purpose, TimeLimits, Value};

    #[tokio::test]
    async fn several_statements_run_in_turn_and_count_only_their_own_changes() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        let setup = "CREATE TABLE t (n INTEGER UNIQUE); INSERT INTO t VALUES (1), (2); \
                     CREATE TABLE u (n); -- a comment\n INSERT INTO u SELECT n FROM t;";
        assert_eq!(conn.execute(setup, &[]).await.unwrap(), 4);
        // A statement that changes nothing counts nothing, even after one that did.
        assert_eq!(conn.execute("CREATE INDEX i ON u (n)", &[]).await.unwrap(), 0);
        let params = [Value::Integer(3), Value::Text("x".into()), Value::Integer(3)];
        let both = "INSERT INTO t VALUES (?); INSERT INTO u VALUES (?), (?)";
        assert_eq!(conn.execute(both, &params).await.unwrap(), 3);
        let few = conn.execute("INSERT INTO t VALUES (?)", &[]).await.unwrap_err();
        assert!(few.message.contains("1 placeholders but 0"), "{}", few.message);
        let many = conn.execute("INSERT INTO t VALUES (?)", &params).await.unwrap_err();
        assert!(many.message.contains("2 more parameter values"), "{}", many.message);
        let few = [Value::Integer(4)];
        let many = conn.execute("SELECT 2; SELECT 1", &few).await.unwrap_err();
        assert!(many.message.contains("1 more parameter values"), "{}", many.message);
        let duplicate = conn.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap_err();
        assert_eq!(duplicate.code.as_deref(), Some("2067"), "SQLITE_CONSTRAINT_UNIQUE");
        assert!(duplicate.message.contains("UNIQUE constraint failed"), "{}", duplicate.message);
        let rows = conn.query("SELECT count(*) FROM t; SELECT count(*) FROM u", &[]).await.unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Integer(3)], vec![Value::Integer(4)]]);
        let empty = conn.query("SELECT n FROM t WHERE n > 9", &[]).await.unwrap();
        assert!(empty.rows.is_empty());
        let blobs = [Value::Blob(Vec::new()), Value::Text(String::new())];
        let rows = conn.query("SELECT ?, ?, 'é'", &blobs).await.unwrap();
        assert_eq!(rows.rows[0][..2], blobs);
        assert_eq!(rows.rows[0][2], Value::Text("é".into()));
    }

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
