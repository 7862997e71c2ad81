//! Connecting to the database named by a URL, and running statements with typed values.
//!
//! [`Connection`] is the one place that knows each backend's driver; the ledger and the
//! guest's database handle both go through [`Connection::execute`] and
//! [`Connection::query`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgConnection, PgRow, PgTypeInfo, Postgres,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Connection as _, Row, TypeInfo, ValueRef};

use crate::bindings::wasmig::migration::types::{DbError, Dialect, Rows, Value};
use crate::error::{Error, Result};

/// How long SQLite waits for another writer before giving up on a statement.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            _ => Err(Error::Usage(format!(
                "unsupported database URL `{}`: expected a sqlite:, postgres: or mysql: URL",
                redact(url)
            ))),
        }
    }
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

/// A query of `sql` with `params` bound by position; `$null` is what a `Value::Null` binds as.
macro_rules! bind {
    ($sql:expr, $params:expr, $null:expr) => {
        $params.iter().fold(
            sqlx::query(AssertSqlSafe($sql.to_string())),
            |query, param| match param.clone() {
                Value::Null => query.bind($null),
                Value::Integer(v) => query.bind(v),
                Value::Real(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Blob(v) => query.bind(v),
                Value::Boolean(v) => query.bind(v),
            },
        )
    };
}

/// An open connection to the target database.
#[derive(Debug)]
pub enum Connection {
    /// An embedded SQLite database.
    Sqlite(SqliteConnection),
    /// A PostgreSQL server.
    Postgres(PgConnection),
    /// A MySQL or MariaDB server.
    MySql(MySqlConnection),
}

/// Whether a connection may change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Migrations and ledger writes.
    ReadWrite,
    /// Preview and check: reading only, and never creating the database.
    ReadOnly,
}

impl Connection {
    /// Opens `url`. With [`Access::ReadOnly`], a SQLite file that does not exist yet is
    /// treated as an empty database (an in-memory one) rather than created.
    pub async fn open(url: &str, access: Access) -> Result<Self> {
        let context = || format!("cannot connect to {}", redact(url));
        let fail = |e: sqlx::Error| Error::database(context(), e);
        match Dialect::from_url(url)? {
            Dialect::Sqlite => {
                let mut options = SqliteConnectOptions::from_str(url)
                    .map_err(fail)?
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true);
                if access == Access::ReadOnly {
                    if !options.get_filename().exists() {
                        options =
                            SqliteConnectOptions::from_str("sqlite::memory:").map_err(fail)?;
                    }
                    // `query_only` rather than a read-only open: after a run was killed
                    // mid-transaction, the first reader must roll the leftover journal back,
                    // which a read-only connection cannot do. Statements still cannot write.
                    options = options.pragma("query_only", "ON");
                } else {
                    options = options.create_if_missing(true);
                }
                Ok(Connection::Sqlite(
                    SqliteConnection::connect_with(&options).await.map_err(fail)?,
                ))
            }
            Dialect::Postgres => {
                let options =
                    PgConnectOptions::from_str(url).map_err(fail)?.application_name("wasmig");
                Ok(Connection::Postgres(PgConnection::connect_with(&options).await.map_err(fail)?))
            }
            Dialect::Mysql => {
                let url = url
                    .strip_prefix("mariadb:")
                    .map_or_else(|| url.to_string(), |rest| format!("mysql:{rest}"));
                // UTC sessions: the ledger's TIMESTAMP reads back as UTC, and NOW() in a
                // migration does not depend on the server's zone.
                let options = MySqlConnectOptions::from_str(&url)
                    .map_err(fail)?
                    .timezone(Some("+00:00".into()));
                Ok(Connection::MySql(MySqlConnection::connect_with(&options).await.map_err(fail)?))
            }
        }
    }

    /// The SQL dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self {
            Connection::Sqlite(_) => Dialect::Sqlite,
            Connection::Postgres(_) => Dialect::Postgres,
            Connection::MySql(_) => Dialect::Mysql,
        }
    }

    /// Runs a statement that returns no rows; gives the number of rows affected. Without
    /// parameters the statement is sent unprepared, so a guest may send several at once.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let raw = || sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        let affected = match self {
            Connection::Sqlite(conn) if params.is_empty() => {
                raw().execute(conn).await.map(|r| r.rows_affected())
            }
            Connection::Sqlite(conn) => {
                bind!(sql, params, None::<i64>).execute(conn).await.map(|r| r.rows_affected())
            }
            Connection::Postgres(conn) if params.is_empty() => {
                raw().execute(conn).await.map(|r| r.rows_affected())
            }
            Connection::Postgres(conn) => {
                bind!(sql, params, UntypedNull).execute(conn).await.map(|r| r.rows_affected())
            }
            Connection::MySql(conn) if params.is_empty() => {
                raw().execute(conn).await.map(|r| r.rows_affected())
            }
            Connection::MySql(conn) => {
                bind!(sql, params, None::<i64>).execute(conn).await.map(|r| r.rows_affected())
            }
        };
        affected.map_err(db_error)
    }

    /// Runs a statement that returns rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        match self {
            Connection::Sqlite(conn) => {
                let rows =
                    bind!(sql, params, None::<i64>).fetch_all(conn).await.map_err(db_error)?;
                to_rows(&rows, sqlite_value)
            }
            Connection::Postgres(conn) => {
                let rows =
                    bind!(sql, params, UntypedNull).fetch_all(conn).await.map_err(db_error)?;
                to_rows(&rows, postgres_value)
            }
            Connection::MySql(conn) => {
                let rows =
                    bind!(sql, params, None::<i64>).fetch_all(conn).await.map_err(db_error)?;
                to_rows(&rows, mysql_value)
            }
        }
    }

    /// Runs a guest's statement. Inside a PostgreSQL transaction it runs in a savepoint:
    /// there a failed statement would otherwise abort the whole transaction, while on
    /// SQLite and MySQL only the statement fails. Either way the migration gets its error
    /// as a value and may carry on.
    pub async fn execute_guest(
        &mut self,
        sql: &str,
        params: &[Value],
        in_transaction: bool,
    ) -> Result<u64, DbError> {
        self.isolated(in_transaction, async |conn| conn.execute(sql, params).await).await
    }

    /// [`Connection::query`] for a guest, isolated like [`Connection::execute_guest`].
    pub async fn query_guest(
        &mut self,
        sql: &str,
        params: &[Value],
        in_transaction: bool,
    ) -> Result<Rows, DbError> {
        self.isolated(in_transaction, async |conn| conn.query(sql, params).await).await
    }

    /// Runs `statement`, in a savepoint when on PostgreSQL inside a transaction.
    async fn isolated<T>(
        &mut self,
        in_transaction: bool,
        statement: impl AsyncFnOnce(&mut Self) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        if !in_transaction || self.dialect() != Dialect::Postgres {
            return statement(self).await;
        }
        self.execute("SAVEPOINT wasmig_statement", &[]).await?;
        let result = statement(self).await;
        self.end_savepoint(result.is_ok()).await?;
        result
    }

    async fn end_savepoint(&mut self, succeeded: bool) -> Result<(), DbError> {
        let sql = if succeeded {
            "RELEASE SAVEPOINT wasmig_statement"
        } else {
            "ROLLBACK TO SAVEPOINT wasmig_statement"
        };
        self.execute(sql, &[]).await.map(drop)
    }

    /// Starts a transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// a concurrent writer waits here rather than failing half-way through a migration.
    pub async fn begin(&mut self) -> Result<(), DbError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
            Dialect::Mysql => "START TRANSACTION",
        };
        self.execute(sql, &[]).await.map(drop)
    }

    /// Starts a transaction that cannot write, for previews.
    pub async fn begin_read_only(&mut self) -> Result<(), DbError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "BEGIN DEFERRED",
            Dialect::Postgres => "BEGIN READ ONLY",
            Dialect::Mysql => "START TRANSACTION READ ONLY",
        };
        self.execute(sql, &[]).await.map(drop)
    }

    /// Commits the open transaction.
    pub async fn commit(&mut self) -> Result<(), DbError> {
        self.execute("COMMIT", &[]).await.map(drop)
    }

    /// Rolls the open transaction back.
    pub async fn rollback(&mut self) -> Result<(), DbError> {
        self.execute("ROLLBACK", &[]).await.map(drop)
    }

    /// Closes the connection cleanly.
    pub async fn close(self) {
        let _ = match self {
            Connection::Sqlite(conn) => conn.close().await,
            Connection::Postgres(conn) => conn.close().await,
            Connection::MySql(conn) => conn.close().await,
        };
    }
}

/// A PostgreSQL NULL parameter without a type (OID 0), so the server infers the type from
/// where it is used: a typed NULL such as `int8` could not go into a `bytea` column.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

fn db_error(error: sqlx::Error) -> DbError {
    match error {
        sqlx::Error::Database(e) => DbError {
            message: e.message().to_string(),
            code: e.code().map(|code| code.into_owned()),
        },
        other => DbError { message: other.to_string(), code: None },
    }
}

fn to_rows<R: Row>(
    rows: &[R],
    value: fn(&R, usize) -> Result<Value, DbError>,
) -> Result<Rows, DbError> {
    let columns = rows
        .first()
        .map(|row| row.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| value(row, i)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows { columns, rows })
}

/// The type name of a non-null cell, or `None` for NULL.
fn cell_type<R: Row>(row: &R, index: usize) -> Result<Option<String>, DbError>
where
    usize: sqlx::ColumnIndex<R>,
{
    let raw = row.try_get_raw(index).map_err(db_error)?;
    if raw.is_null() {
        return Ok(None);
    }
    Ok(Some(raw.type_info().name().to_ascii_uppercase()))
}

fn unsupported<R: Row>(row: &R, index: usize, type_name: &str, cast: &str) -> DbError {
    let column = row.columns().get(index).map(|c| c.name().to_string()).unwrap_or_default();
    DbError {
        message: format!(
            "column `{column}` has type {type_name}, which a migration cannot receive; cast it in the query ({cast})"
        ),
        code: None,
    }
}

fn sqlite_value(row: &SqliteRow, index: usize) -> Result<Value, DbError> {
    let get = |e| db_error(e);
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "INTEGER" | "INT8" | "BIGINT" => Value::Integer(row.try_get(index).map_err(get)?),
        "BOOLEAN" => Value::Boolean(row.try_get(index).map_err(get)?),
        "REAL" | "FLOAT" | "DOUBLE" => Value::Real(row.try_get(index).map_err(get)?),
        "BLOB" => Value::Blob(row.try_get(index).map_err(get)?),
        "NUMERIC" => match row.try_get::<i64, _>(index) {
            Ok(v) => Value::Integer(v),
            Err(_) => Value::Real(row.try_get(index).map_err(get)?),
        },
        _ => Value::Text(row.try_get_unchecked(index).map_err(get)?),
    })
}

fn postgres_value(row: &PgRow, index: usize) -> Result<Value, DbError> {
    let get = |e| db_error(e);
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "INT2" => Value::Integer(row.try_get::<i16, _>(index).map_err(get)?.into()),
        "INT4" => Value::Integer(row.try_get::<i32, _>(index).map_err(get)?.into()),
        "INT8" => Value::Integer(row.try_get(index).map_err(get)?),
        "FLOAT4" => Value::Real(row.try_get::<f32, _>(index).map_err(get)?.into()),
        "FLOAT8" => Value::Real(row.try_get(index).map_err(get)?),
        "BOOL" => Value::Boolean(row.try_get(index).map_err(get)?),
        "BYTEA" => Value::Blob(row.try_get(index).map_err(get)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "CITEXT" => {
            Value::Text(row.try_get(index).map_err(get)?)
        }
        other => return Err(unsupported(row, index, other, "e.g. `column::text`")),
    })
}

fn mysql_value(row: &MySqlRow, index: usize) -> Result<Value, DbError> {
    let get = |e| db_error(e);
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "BOOLEAN" => Value::Boolean(row.try_get(index).map_err(get)?),
        "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "YEAR" => {
            Value::Integer(row.try_get_unchecked(index).map_err(get)?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => {
            let n: u64 = row.try_get_unchecked(index).map_err(get)?;
            Value::Integer(i64::try_from(n).map_err(|_| {
                unsupported(row, index, "BIGINT UNSIGNED above 2^63", "CAST(column AS CHAR)")
            })?)
        }
        "FLOAT" => Value::Real(row.try_get::<f32, _>(index).map_err(get)?.into()),
        "DOUBLE" => Value::Real(row.try_get(index).map_err(get)?),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Value::Blob(row.try_get(index).map_err(get)?)
        }
        // Sent as text on the wire.
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "DECIMAL" | "JSON" => Value::Text(row.try_get_unchecked(index).map_err(get)?),
        other => return Err(unsupported(row, index, other, "e.g. `CAST(column AS CHAR)`")),
    })
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

    #[tokio::test]
    async fn typed_values_round_trip_on_sqlite() {
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
}
