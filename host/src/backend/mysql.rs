//! MySQL and MariaDB, through sqlx.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{Connection as _, Row};

use super::{
    Access, Backend, BoxFuture, Capabilities, Dialect, LedgerSql, LockKind, Profile, Registration,
    Rows, SqlError, TimeLimits, Value, cell_type, sqlx_statements, unsupported,
};
use crate::error::{Error, Result};
use crate::sql::syntax_of;

pub(super) const REGISTRATION: Registration =
    Registration { schemes: &["mysql", "mariadb"], profile: &PROFILE, connect };

static PROFILE: Profile = Profile {
    dialect: Dialect::Mysql,
    capabilities: Capabilities {
        // DDL commits implicitly: a migration that changes the schema cannot be rolled back.
        transactional_ddl: false,
        statement_savepoints: false,
        lock: LockKind::Named,
        syntax: syntax_of(Dialect::Mysql),
        begin: "START TRANSACTION",
        begin_read_only: "START TRANSACTION READ ONLY",
        guards_own_tables: false,
    },
    ledger: LedgerSql {
        create: "CREATE TABLE IF NOT EXISTS wasmig_migrations (
            id BIGINT AUTO_INCREMENT PRIMARY KEY,
            app_name VARCHAR(255) NOT NULL,
            migration_id VARCHAR(64) NOT NULL,
            description TEXT NOT NULL,
            checksum CHAR(64) NOT NULL,
            applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            dirty BOOLEAN NOT NULL DEFAULT FALSE,
            source_digest TEXT,
            UNIQUE (app_name, migration_id)
        )",
        exists: "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?",
        column_exists: "SELECT 1 FROM information_schema.columns \
                        WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
        // Sessions run with time_zone '+00:00' (see `connect`).
        applied_at: "DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%s.%fZ')",
        artefacts_create: "CREATE TABLE IF NOT EXISTS wasmig_artefacts (
            checksum CHAR(64) PRIMARY KEY,
            size BIGINT NOT NULL,
            zstd LONGBLOB NOT NULL
        )",
        artefact_insert: "INSERT IGNORE INTO wasmig_artefacts (checksum, size, zstd) VALUES (?, ?, ?)",
    },
    schema: &[
        "SELECT 'column', CAST(table_name AS CHAR), CAST(column_name AS CHAR), \
         CAST(column_type AS CHAR), CAST(is_nullable AS CHAR), \
         CAST(COALESCE(column_default, '') AS CHAR) FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND LEFT(table_name, 7) <> 'wasmig_' ORDER BY 2, 3",
        "SELECT 'index', CAST(table_name AS CHAR), CAST(index_name AS CHAR), \
         CAST(seq_in_index AS CHAR), CAST(column_name AS CHAR), CAST(non_unique AS CHAR) \
         FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND LEFT(table_name, 7) <> 'wasmig_' ORDER BY 2, 3, 4",
        "SELECT 'foreign key', CAST(table_name AS CHAR), CAST(constraint_name AS CHAR), \
         CAST(referenced_table_name AS CHAR) FROM information_schema.referential_constraints \
         WHERE constraint_schema = DATABASE() AND LEFT(table_name, 7) <> 'wasmig_' ORDER BY 2, 3",
    ],
};

#[derive(Debug)]
struct MySql {
    conn: MySqlConnection,
}

fn connect(url: &str, _access: Access) -> BoxFuture<'_, Result<Box<dyn Backend>>> {
    Box::pin(async move {
        let fail = super::cannot_connect(url);
        let url = url
            .strip_prefix("mariadb:")
            .map_or_else(|| url.to_string(), |rest| format!("mysql:{rest}"));
        // UTC sessions: the ledger's TIMESTAMP reads back as UTC, and NOW() in a migration
        // does not depend on the server's zone.
        let options =
            MySqlConnectOptions::from_str(&url).map_err(fail)?.timezone(Some("+00:00".into()));
        let conn = MySqlConnection::connect_with(&options).await.map_err(fail)?;
        Ok(Box::new(MySql { conn }) as Box<dyn Backend>)
    })
}

#[async_trait::async_trait]
impl Backend for MySql {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    sqlx_statements!(None::<i64>, value);

    fn guest_error(&mut self, error: SqlError) -> SqlError {
        // ER_LOCK_WAIT_TIMEOUT; MariaDB's ER_STATEMENT_TIMEOUT and MySQL's
        // ER_QUERY_TIMEOUT: what the session's time limits raise.
        let key = match error.code.as_deref() {
            Some("HY000") if error.message.contains("Lock wait timeout") => "lock_wait_seconds",
            Some("70100") => "statement_seconds",
            _ if error.message.contains("max_statement_time")
                || error.message.contains("maximum statement execution time") =>
            {
                "statement_seconds"
            }
            _ => return error,
        };
        SqlError { message: format!("{} ([limits] {key})", error.message), ..error }
    }

    async fn set_time_limits(&mut self, limits: &TimeLimits) -> Result<(), SqlError> {
        if let Some(limit) = limits.statement {
            let version = self.query("SELECT VERSION()", &[], u64::MAX).await?;
            let mariadb = matches!(
                version.rows.first().and_then(|row| row.first()),
                Some(Value::Text(v)) if v.contains("MariaDB")
            );
            // MariaDB bounds every statement; MySQL only SELECTs, in milliseconds.
            let set = if mariadb {
                format!("SET SESSION max_statement_time = {}", limit.as_secs())
            } else {
                format!("SET SESSION max_execution_time = {}", limit.as_millis())
            };
            super::raw(&set).execute(&mut self.conn).await?;
        }
        if let Some(limit) = limits.lock_wait {
            let seconds = limit.as_secs().max(1);
            let set = format!(
                "SET SESSION innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
            );
            super::raw(&set).execute(&mut self.conn).await?;
        }
        Ok(())
    }

    async fn try_lock(&mut self) -> Result<bool> {
        // Named locks are server-wide: the name carries the database.
        let rows = self
            .query("SELECT GET_LOCK(CONCAT('wasmig:', DATABASE()), 0)", &[], u64::MAX)
            .await
            .map_err(|e| Error::database("cannot take the run lock", e))?;
        Ok(matches!(
            rows.rows.first().and_then(|row| row.first()),
            Some(Value::Boolean(true) | Value::Integer(1))
        ))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

/// A MySQL cell as a WIT value; types without a natural value must be cast.
fn value(row: &MySqlRow, index: usize) -> Result<Value, SqlError> {
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "BOOLEAN" => Value::Boolean(row.try_get(index)?),
        "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "YEAR" => {
            Value::Integer(row.try_get_unchecked(index)?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => {
            let n: u64 = row.try_get_unchecked(index)?;
            Value::Integer(i64::try_from(n).map_err(|_| {
                unsupported(row, index, "BIGINT UNSIGNED above 2^63", "CAST(column AS CHAR)")
            })?)
        }
        "FLOAT" => Value::Real(row.try_get::<f32, _>(index)?.into()),
        "DOUBLE" => Value::Real(row.try_get(index)?),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Value::Blob(row.try_get(index)?)
        }
        // Sent as text on the wire.
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "DECIMAL" | "JSON" => Value::Text(row.try_get_unchecked(index)?),
        other => return Err(unsupported(row, index, other, "e.g. `CAST(column AS CHAR)`")),
    })
}
