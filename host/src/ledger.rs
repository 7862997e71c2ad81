//! The `wasmig_migrations` table: which migrations of which app have run, in what order.
//!
//! Every operation is scoped to one app. Run order is the table's own increasing key,
//! never a client clock.

use crate::backend::{Connection, Placeholders, SqlError, Syntax, Value};
use crate::error::{Error, Result};
use crate::id::MigrationId;

/// The ledger table's name.
pub const TABLE: &str = "wasmig_migrations";

/// The table of applied components, compressed, by sha256: what `backwards` runs.
pub const ARTEFACTS: &str = "wasmig_artefacts";

/// The table holding the version of the ledger's own layout: one row.
pub const VERSION_TABLE: &str = "wasmig_ledger_version";

/// The layout this wasmig writes. 1: the ledger without `source_digest`, and no version
/// table (wasmig 0.1 before source digests). 2: `source_digest` and the version table.
pub const LEDGER_VERSION: i64 = 2;

/// The zstd level artefacts are stored at: a Rust component compresses to about 37% at a
/// cost of about 0.2 ms per 100 KB (level 3 gives 35% for 40% more time).
const ZSTD_LEVEL: i32 = 1;

/// One applied migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// The increasing key: larger means applied later.
    pub run_order: i64,
    /// The app the migration belongs to.
    pub app_name: String,
    /// The migration's ID.
    pub migration_id: MigrationId,
    /// The description the migration gave when it was applied.
    pub description: String,
    /// sha256 of the component bytes that were applied.
    pub checksum: String,
    /// When it was applied, UTC, as the database wrote it.
    pub applied_at: String,
    /// Set while a migration that cannot be rolled back runs (MySQL DDL, a
    /// non-transactional migration); still set after it failed or its run was killed.
    pub dirty: bool,
    /// The digest of the source the applied component was built from, when it carried one
    /// (and the ledger is new enough to keep it).
    pub source_digest: Option<String>,
}

/// Rewrites the ledger's `?` placeholders for the backend: `$1`, `$2`, ... where it
/// numbers them. The ledger's own SQL has no `?` inside literals, so a plain scan is enough.
fn placeholders(syntax: &Syntax, sql: &str) -> String {
    if syntax.placeholders == Placeholders::Question {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a ledger statement that returns no rows.
async fn execute(
    conn: &mut Connection,
    sql: &str,
    params: &[Value],
    context: impl FnOnce() -> String,
) -> Result<u64> {
    let sql = placeholders(&conn.capabilities().syntax, sql);
    conn.execute(&sql, params).await.map_err(|e| Error::database(context(), e))
}

/// Whether the ledger table exists. Reads only.
pub async fn exists(conn: &mut Connection) -> Result<bool> {
    table_exists(conn, TABLE).await
}

async fn table_exists(conn: &mut Connection, table: &str) -> Result<bool> {
    let sql = placeholders(&conn.capabilities().syntax, conn.ledger_sql().exists);
    let rows = conn
        .query(&sql, &[Value::Text(table.to_string())])
        .await
        .map_err(|e| Error::database(format!("cannot look for the table {table}"), e))?;
    Ok(!rows.rows.is_empty())
}

async fn column_exists(conn: &mut Connection, table: &str, column: &str) -> Result<bool> {
    let sql = placeholders(&conn.capabilities().syntax, conn.ledger_sql().column_exists);
    let params = [Value::Text(table.to_string()), Value::Text(column.to_string())];
    let rows = conn
        .query(&sql, &params)
        .await
        .map_err(|e| Error::database(format!("cannot look at the columns of {table}"), e))?;
    Ok(!rows.rows.is_empty())
}

/// Creates the ledger table and the artefacts table if they do not exist, and brings a
/// ledger written by an older wasmig up to [`LEDGER_VERSION`]: the caller holds the run
/// lock (and, where the backend allows, a transaction). A ledger of a newer layout is an
/// error, and is left as it is.
pub async fn ensure(conn: &mut Connection) -> Result<()> {
    let create = conn.ledger_sql().create;
    execute(conn, create, &[], || "cannot create the ledger table".into()).await?;
    let create = conn.ledger_sql().artefacts_create;
    execute(conn, create, &[], || format!("cannot create the table {ARTEFACTS}")).await?;
    let version = version(conn).await?;
    match version {
        Some(LEDGER_VERSION) => return Ok(()),
        Some(newer) if newer > LEDGER_VERSION => {
            return Err(Error::database(
                "cannot use the ledger",
                SqlError::new(format!(
                    "{VERSION_TABLE} says layout {newer}, written by a newer wasmig; this one \
                     knows layouts up to {LEDGER_VERSION}"
                )),
            ));
        }
        _ => {}
    }
    // Version 1 to 2: the source digest.
    if !column_exists(conn, TABLE, "source_digest").await? {
        let sql = "ALTER TABLE wasmig_migrations ADD COLUMN source_digest TEXT";
        execute(conn, sql, &[], || "cannot add source_digest to the ledger".into()).await?;
    }
    let context = || format!("cannot record the ledger's version in {VERSION_TABLE}");
    let sql = "CREATE TABLE IF NOT EXISTS wasmig_ledger_version (version INTEGER NOT NULL)";
    execute(conn, sql, &[], context).await?;
    execute(conn, "DELETE FROM wasmig_ledger_version", &[], context).await?;
    let sql = "INSERT INTO wasmig_ledger_version (version) VALUES (?)";
    execute(conn, sql, &[Value::Integer(LEDGER_VERSION)], context).await.map(drop)
}

/// The ledger's layout version: `None` without a version table (a ledger of layout 1, or
/// none at all). Reads only.
pub async fn version(conn: &mut Connection) -> Result<Option<i64>> {
    if !table_exists(conn, VERSION_TABLE).await? {
        return Ok(None);
    }
    let rows = conn
        .query("SELECT version FROM wasmig_ledger_version", &[])
        .await
        .map_err(|e| Error::database(format!("cannot read {VERSION_TABLE}"), e))?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|row| match row.first() {
            Some(Value::Integer(v)) => Some(*v),
            _ => None,
        })
        .max())
}

/// A component compressed for [`ARTEFACTS`]: see [`pack`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Packed {
    /// Its size and its zstd bytes.
    Compressed { size: u64, zstd: Vec<u8> },
    /// Compressed, it is over the limit it was packed for, so it is not stored.
    TooLarge,
}

/// Compresses the component `bytes` (sha256 `checksum`) for storing, unless that comes
/// to more than `max_bytes`. CPU-bound (about 0.2 ms per 100 KB): the executor
/// runs it on a blocking thread while the migration before runs.
pub fn pack(checksum: &str, bytes: &[u8], max_bytes: u64) -> Result<Packed> {
    let zstd = zstd::bulk::compress(bytes, ZSTD_LEVEL)
        .map_err(|source| Error::Compress { checksum: checksum.to_string(), source })?;
    if zstd.len() as u64 > max_bytes {
        return Ok(Packed::TooLarge);
    }
    Ok(Packed::Compressed { size: bytes.len() as u64, zstd })
}

/// Stores the component of sha256 `checksum` that [`pack`] compressed, unless it is
/// stored already. Gives the compressed size, or `None` when it was too large to store.
pub async fn store_artefact(
    conn: &mut Connection,
    checksum: &str,
    packed: Packed,
) -> Result<Option<usize>> {
    let Packed::Compressed { size, zstd } = packed else { return Ok(None) };
    let stored = zstd.len();
    let params = [Value::Text(checksum.into()), Value::Integer(size as i64), Value::Blob(zstd)];
    let insert = conn.ledger_sql().artefact_insert;
    execute(conn, insert, &params, || format!("cannot store component {checksum}")).await?;
    Ok(Some(stored))
}

/// The component stored for `checksum`, checked against it; `None` when none is stored.
/// `max_bytes` bounds what is decompressed.
pub async fn artefact(
    conn: &mut Connection,
    checksum: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>> {
    if !table_exists(conn, ARTEFACTS).await? {
        return Ok(None);
    }
    let sql = placeholders(
        &conn.capabilities().syntax,
        "SELECT size, zstd FROM wasmig_artefacts WHERE checksum = ?",
    );
    let rows = conn
        .query(&sql, &[Value::Text(checksum.to_string())])
        .await
        .map_err(|e| Error::database(format!("cannot read stored component {checksum}"), e))?;
    let Some(row) = rows.rows.into_iter().next() else { return Ok(None) };
    let bad = |why: &str| {
        Error::database(
            format!("stored component {checksum}"),
            SqlError::new(format!("{why} in {ARTEFACTS}")),
        )
    };
    let (Some(Value::Integer(size)), Some(Value::Blob(compressed))) = (row.first(), row.get(1))
    else {
        return Err(bad("unexpected row shape"));
    };
    if *size < 0 || *size as u64 > max_bytes {
        return Err(bad("a size over [limits] component_mib"));
    }
    let bytes = zstd::bulk::decompress(compressed, *size as usize)
        .map_err(|e| bad(&format!("undecodable data ({e})")))?;
    if crate::source::checksum(&bytes) != checksum {
        return Err(bad("data that does not match its checksum"));
    }
    Ok(Some(bytes))
}

/// The migrations of `app` that have run, in run order (oldest first). A missing ledger
/// means nothing has run.
pub async fn applied(conn: &mut Connection, app: &str) -> Result<Vec<LedgerRow>> {
    if !exists(conn).await? {
        return Ok(Vec::new());
    }
    // A ledger of layout 1 is read as it is, without changing it.
    let digest =
        if column_exists(conn, TABLE, "source_digest").await? { "source_digest" } else { "NULL" };
    let sql = format!(
        "SELECT id, app_name, migration_id, description, checksum, {}, dirty, {digest} \
         FROM wasmig_migrations WHERE app_name = ? ORDER BY id",
        conn.ledger_sql().applied_at
    );
    let sql = placeholders(&conn.capabilities().syntax, &sql);
    let rows = conn
        .query(&sql, &[Value::Text(app.to_string())])
        .await
        .map_err(|e| Error::database(format!("cannot read the ledger of app {app}"), e))?;
    rows.rows.into_iter().map(|row| parse_row(app, row)).collect()
}

fn parse_row(app: &str, row: Vec<Value>) -> Result<LedgerRow> {
    let bad = |what: &str| {
        Error::database(
            format!("ledger of app {app}"),
            SqlError::new(format!("unexpected {what} in {TABLE}")),
        )
    };
    let text = |value: &Value, what: &str| match value {
        Value::Text(text) => Ok(text.clone()),
        _ => Err(bad(what)),
    };
    let [run_order, app_name, migration_id, description, checksum, applied_at, dirty, digest] =
        row.as_slice()
    else {
        return Err(bad("row shape"));
    };
    let Value::Integer(run_order) = run_order else { return Err(bad("id")) };
    let migration_id = text(migration_id, "migration_id")?;
    Ok(LedgerRow {
        run_order: *run_order,
        app_name: text(app_name, "app_name")?,
        migration_id: MigrationId::parse(&migration_id).map_err(|_| bad("migration_id"))?,
        description: text(description, "description")?,
        checksum: text(checksum, "checksum")?,
        applied_at: text(applied_at, "applied_at")?,
        dirty: match dirty {
            Value::Boolean(dirty) => *dirty,
            Value::Integer(dirty) => *dirty != 0,
            _ => return Err(bad("dirty")),
        },
        source_digest: match digest {
            Value::Null => None,
            digest => Some(text(digest, "source_digest")?),
        },
    })
}

/// Every row of the ledger, of every app, as stored: what the executor compares before and
/// after a migration on a backend whose database cannot refuse a migration's changes to
/// the ledger itself ([`crate::backend::Capabilities::guards_own_tables`]).
pub async fn contents(conn: &mut Connection) -> Result<Vec<Vec<Value>>> {
    let sql = "SELECT id, app_name, migration_id, description, checksum, dirty \
               FROM wasmig_migrations ORDER BY id";
    let rows =
        conn.query(sql, &[]).await.map_err(|e| Error::database("cannot read the ledger", e))?;
    Ok(rows.rows)
}

/// Whether `id` of `app` has a ledger row.
pub async fn has_row(conn: &mut Connection, app: &str, id: &MigrationId) -> Result<bool> {
    let sql = placeholders(
        &conn.capabilities().syntax,
        "SELECT 1 FROM wasmig_migrations WHERE app_name = ? AND migration_id = ?",
    );
    let params = [Value::Text(app.to_string()), Value::Text(id.to_string())];
    let rows = conn
        .query(&sql, &params)
        .await
        .map_err(|e| Error::database(format!("cannot read the ledger of app {app}"), e))?;
    Ok(!rows.rows.is_empty())
}

/// Records that `id` of `app` has run, or with `dirty`, that it is running and cannot be
/// rolled back.
pub async fn record(
    conn: &mut Connection,
    app: &str,
    id: &MigrationId,
    description: &str,
    checksum: &str,
    source_digest: Option<&str>,
    dirty: bool,
) -> Result<()> {
    let sql = "INSERT INTO wasmig_migrations \
               (app_name, migration_id, description, checksum, dirty, source_digest) \
               VALUES (?, ?, ?, ?, ?, ?)";
    let params = [
        Value::Text(app.to_string()),
        Value::Text(id.to_string()),
        Value::Text(description.to_string()),
        Value::Text(checksum.to_string()),
        Value::Boolean(dirty),
        source_digest.map_or(Value::Null, |digest| Value::Text(digest.to_string())),
    ];
    execute(conn, sql, &params, || format!("cannot record app {app} migration {id}")).await?;
    Ok(())
}

/// Marks the row of `id` of `app` dirty or clean.
pub async fn set_dirty(
    conn: &mut Connection,
    app: &str,
    id: &MigrationId,
    dirty: bool,
) -> Result<()> {
    let sql = "UPDATE wasmig_migrations SET dirty = ? WHERE app_name = ? AND migration_id = ?";
    let params = [Value::Boolean(dirty), Value::Text(app.to_string()), Value::Text(id.to_string())];
    execute(conn, sql, &params, || format!("cannot mark app {app} migration {id}")).await?;
    Ok(())
}

/// Whether the artefacts table is known to exist on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Artefacts {
    /// [`ensure`] ran on it.
    Ensured,
    /// It may be a ledger of an older wasmig, without one: look.
    Unknown,
}

/// Removes the row of `id` of `app`, and its stored component unless another row has the
/// same; fails if there was none (someone else reversed it).
pub async fn remove(
    conn: &mut Connection,
    app: &str,
    id: &MigrationId,
    artefacts: Artefacts,
) -> Result<()> {
    if artefacts == Artefacts::Ensured || table_exists(conn, ARTEFACTS).await? {
        let sql = "DELETE FROM wasmig_artefacts WHERE checksum = \
                   (SELECT checksum FROM wasmig_migrations WHERE app_name = ? AND migration_id = ?) \
                   AND NOT EXISTS (SELECT 1 FROM wasmig_migrations AS other \
                   WHERE other.checksum = wasmig_artefacts.checksum \
                   AND NOT (other.app_name = ? AND other.migration_id = ?))";
        let (app_value, id_value) = (Value::Text(app.to_string()), Value::Text(id.to_string()));
        let params = [app_value.clone(), id_value.clone(), app_value, id_value];
        let context = || format!("cannot remove the stored component of app {app} migration {id}");
        execute(conn, sql, &params, context).await?;
    }
    let sql = "DELETE FROM wasmig_migrations WHERE app_name = ? AND migration_id = ?";
    let params = [Value::Text(app.to_string()), Value::Text(id.to_string())];
    let context = || format!("cannot remove app {app} migration {id}");
    let affected = execute(conn, sql, &params, context).await?;
    if affected != 1 {
        return Err(Error::database(context(), SqlError::new("its ledger row is gone")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Access, Dialect};
    use crate::sql::syntax_of;

    fn id(text: &str) -> MigrationId {
        MigrationId::parse(text).unwrap()
    }

    #[test]
    fn placeholders_are_numbered_where_the_backend_numbers_them() {
        let mut syntax = syntax_of(Dialect::Sqlite);
        assert_eq!(placeholders(&syntax, "a = ?"), "a = ?");
        syntax.placeholders = Placeholders::Dollar;
        assert_eq!(placeholders(&syntax, "a = ? AND b = ?"), "a = $1 AND b = $2");
    }

    #[tokio::test]
    async fn rows_are_scoped_by_app_and_kept_in_run_order() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        assert!(!exists(&mut conn).await.unwrap());
        assert!(applied(&mut conn, "a").await.unwrap().is_empty());
        ensure(&mut conn).await.unwrap();
        ensure(&mut conn).await.unwrap();
        record(&mut conn, "a", &id("20240102000000"), "second", "c2", None, false).await.unwrap();
        record(&mut conn, "b", &id("20240102000000"), "other app", "c3", None, true).await.unwrap();
        record(&mut conn, "a", &id("20240101000000"), "first", "c1", None, false).await.unwrap();

        let rows = applied(&mut conn, "a").await.unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.migration_id.as_str()).collect();
        assert_eq!(ids, ["20240102000000", "20240101000000"]);
        assert!(rows[0].run_order < rows[1].run_order);
        assert!(rows[0].applied_at.ends_with('Z'), "{}", rows[0].applied_at);
        assert!(!rows[0].dirty);
        assert!(applied(&mut conn, "b").await.unwrap()[0].dirty);
        set_dirty(&mut conn, "b", &id("20240102000000"), false).await.unwrap();
        assert!(!applied(&mut conn, "b").await.unwrap()[0].dirty);

        let duplicate =
            record(&mut conn, "a", &id("20240101000000"), "again", "c1", None, false).await;
        assert!(duplicate.is_err());

        remove(&mut conn, "a", &id("20240102000000"), Artefacts::Ensured).await.unwrap();
        assert_eq!(applied(&mut conn, "a").await.unwrap().len(), 1);
        assert_eq!(applied(&mut conn, "b").await.unwrap().len(), 1, "other app untouched");
        assert!(remove(&mut conn, "a", &id("20240102000000"), Artefacts::Unknown).await.is_err());
    }
}
