//! SQLite's rollback journal, kept between this connection's transactions rather than
//! created and deleted for each one, and given back its mode when the connection closes.

use crate::backend::embedded::Database;
use crate::backend::{SqlError, Value};

/// Keeps the rollback journal of a database in SQLite's default `delete` journal mode
/// between this connection's transactions (`persist`), rather than creating and deleting
/// it for each one: every migration is a transaction of its own, and on a journaling file
/// system creating the journal, syncing its directory and deleting it again cost about as
/// much as writing it. A committed transaction leaves the journal's header zeroed, so it
/// is never mistaken for one to roll back; the durability is the same. The mode is the
/// connection's own, not the database's: other connections, and the database after this
/// one closes, keep theirs. A database in any other mode (`wal`, `truncate`, ...) is left
/// as it is. Gives whether the mode was switched.
///
/// Only an optimisation: where SQLite will not switch (a read-only file, say), the
/// connection goes on as it is.
pub(super) fn persist(db: &mut Database) -> bool {
    journal_mode(db, "PRAGMA journal_mode").is_ok_and(|mode| mode == "delete")
        && journal_mode(db, "PRAGMA journal_mode = PERSIST").is_ok_and(|mode| mode == "persist")
}

/// The journal mode `pragma` (`PRAGMA journal_mode`, reading or setting it) gives for the
/// connection's main database, in lower case as SQLite names it.
fn journal_mode(db: &mut Database, pragma: &str) -> Result<String, SqlError> {
    let mut mode = String::new();
    db.run(pragma, &[], |row| {
        if let Some(Value::Text(text)) = row.values().into_iter().next() {
            mode = text;
        }
        Ok(())
    })?;
    Ok(mode)
}

/// Puts the connection's journal back in `delete` mode, where SQLite deletes the journal,
/// unless another connection is writing (it holds the lock that deleting needs). Leaving it
/// is harmless: a zeroed journal is not rolled back, and the next connection that closes
/// deletes it. A mode set on the connection since (only wasmig's own statements may) is
/// kept.
pub(super) fn restore(db: &mut Database) {
    if journal_mode(db, "PRAGMA journal_mode").is_ok_and(|m| m == "persist") {
        let _ = db.run("PRAGMA journal_mode = DELETE", &[], |_| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::{Access, Connection, Value};

    #[tokio::test]
    async fn the_journal_is_kept_between_transactions_and_deleted_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("j.db");
        let journal = dir.path().join("j.db-journal");
        let url = format!("sqlite://{}", file.display());
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE t (n INTEGER)", &[]).await.unwrap();
        conn.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        let header = std::fs::read(&journal).expect("the journal outlives the transaction");
        assert!(header.len() >= 28, "{} bytes", header.len());
        assert!(header[..28].iter().all(|&b| b == 0), "a committed journal's header is zeroed");
        // Another connection sees the database's own mode, and the committed row.
        let mut other = Connection::open(&url, Access::ReadOnly).await.unwrap();
        let mode = other.query("PRAGMA journal_mode", &[]).await.unwrap();
        assert_eq!(mode.rows, [[Value::Text("delete".into())]]);
        let rows = other.query("SELECT n FROM t", &[]).await.unwrap();
        assert_eq!(rows.rows, [[Value::Integer(1)]]);
        other.close().await;
        conn.close().await;
        assert!(!journal.exists(), "closing deletes the journal");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only j.db is left");
    }

    #[tokio::test]
    async fn a_database_in_another_journal_mode_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        let wal = conn.query("PRAGMA journal_mode = WAL", &[]).await.unwrap();
        assert_eq!(wal.rows, [[Value::Text("wal".into())]]);
        conn.close().await;
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE t (n INTEGER)", &[]).await.unwrap();
        assert!(!dir.path().join("w.db-journal").exists(), "WAL has no rollback journal");
        conn.close().await;
        let mut reader = Connection::open(&url, Access::ReadOnly).await.unwrap();
        let mode = reader.query("PRAGMA journal_mode", &[]).await.unwrap();
        assert_eq!(mode.rows, [[Value::Text("wal".into())]], "still WAL after wasmig closed");
        reader.close().await;
    }
}
