//! Connecting to the database named by a URL, and running statements with typed values.
//!
//! [`Connection`] is the one place that knows each backend's driver; the ledger and the
//! guest's database handle both go through [`Connection::execute`] and
//! [`Connection::query`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteRow};
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

/// An open connection to the target database.
#[derive(Debug)]
pub enum Connection {
    /// An embedded SQLite database.
    Sqlite(SqliteConnection),
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
        match Dialect::from_url(url)? {
            Dialect::Sqlite => {
                let mut options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::database(context(), e))?
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true);
                if access == Access::ReadOnly {
                    if !options.get_filename().exists() {
                        options = SqliteConnectOptions::from_str("sqlite::memory:")
                            .map_err(|e| Error::database(context(), e))?;
                    }
                    options = options.read_only(true);
                } else {
                    options = options.create_if_missing(true);
                }
                let conn = SqliteConnection::connect_with(&options)
                    .await
                    .map_err(|e| Error::database(context(), e))?;
                Ok(Connection::Sqlite(conn))
            }
            other => Err(Error::Usage(format!(
                "the {} backend is not supported yet (database URL `{}`)",
                other.name(),
                redact(url)
            ))),
        }
    }

    /// The SQL dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self {
            Connection::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs a statement that returns no rows; gives the number of rows affected.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            Connection::Sqlite(conn) => {
                let result = if params.is_empty() {
                    // Unprepared, so a guest may send several statements at once.
                    sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut *conn).await
                } else {
                    sqlite_query(sql, params).execute(&mut *conn).await
                };
                result.map(|done| done.rows_affected()).map_err(db_error)
            }
        }
    }

    /// Runs a statement that returns rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        match self {
            Connection::Sqlite(conn) => {
                let rows =
                    sqlite_query(sql, params).fetch_all(&mut *conn).await.map_err(db_error)?;
                sqlite_rows(&rows)
            }
        }
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
        match self {
            Connection::Sqlite(conn) => {
                let _ = conn.close().await;
            }
        }
    }
}

type SqliteQuery = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

fn sqlite_query(sql: &str, params: &[Value]) -> SqliteQuery {
    params.iter().fold(sqlx::query(AssertSqlSafe(sql.to_string())), |query, param| {
        match param.clone() {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(v) => query.bind(v),
            Value::Real(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Blob(v) => query.bind(v),
            Value::Boolean(v) => query.bind(v),
        }
    })
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

fn sqlite_rows(rows: &[SqliteRow]) -> Result<Rows, DbError> {
    let columns = rows
        .first()
        .map(|row| row.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| sqlite_value(row, i)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows { columns, rows })
}

fn sqlite_value(row: &SqliteRow, index: usize) -> Result<Value, DbError> {
    let raw = row.try_get_raw(index).map_err(db_error)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    let value = match type_name.as_str() {
        "INTEGER" | "INT8" | "BIGINT" => Value::Integer(row.try_get(index).map_err(db_error)?),
        "BOOLEAN" => Value::Boolean(row.try_get(index).map_err(db_error)?),
        "REAL" | "FLOAT" | "DOUBLE" => Value::Real(row.try_get(index).map_err(db_error)?),
        "BLOB" => Value::Blob(row.try_get(index).map_err(db_error)?),
        "NUMERIC" => match row.try_get::<i64, _>(index) {
            Ok(v) => Value::Integer(v),
            Err(_) => Value::Real(row.try_get(index).map_err(db_error)?),
        },
        _ => Value::Text(row.try_get(index).map_err(db_error)?),
    };
    Ok(value)
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
    async fn sql_errors_are_values_with_the_database_message() {
        let mut conn = Connection::open("sqlite::memory:", Access::ReadWrite).await.unwrap();
        let err = conn.execute("INSERT INTO missing VALUES (1)", &[]).await.unwrap_err();
        assert!(err.message.contains("no such table: missing"), "{}", err.message);
    }
}
