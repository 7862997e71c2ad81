//! PostgreSQL, through sqlx.

use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgConnection, PgRow, PgTypeInfo, Postgres as Pg,
};
use sqlx::{Connection as _, Row};

use super::{
    Access, Backend, BoxFuture, Capabilities, Dialect, LedgerSql, LockKind, Profile, Registration,
    Rows, SqlError, TimeLimits, Value, cell_type, sqlx_statements, unsupported,
};
use crate::error::{Error, Result};
use crate::sql::syntax_of;

pub(super) const REGISTRATION: Registration =
    Registration { schemes: &["postgres", "postgresql"], profile: &PROFILE, connect };

/// The advisory lock key: "wasmig" in ASCII. Advisory locks are per database.
const LOCK_KEY: i64 = 0x7761_736d_6967;

static PROFILE: Profile = Profile {
    dialect: Dialect::Postgres,
    capabilities: Capabilities {
        transactional_ddl: true,
        // A failed statement aborts the whole transaction.
        statement_savepoints: true,
        lock: LockKind::Advisory,
        syntax: syntax_of(Dialect::Postgres),
        begin: "BEGIN",
        begin_read_only: "BEGIN READ ONLY",
        guards_own_tables: false,
    },
    ledger: LedgerSql {
        create: "CREATE TABLE IF NOT EXISTS wasmig_migrations (
            id BIGSERIAL PRIMARY KEY,
            app_name TEXT NOT NULL,
            migration_id TEXT NOT NULL,
            description TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            dirty BOOLEAN NOT NULL DEFAULT FALSE,
            source_digest TEXT,
            UNIQUE (app_name, migration_id)
        )",
        exists: "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = ?",
        column_exists: "SELECT 1 FROM information_schema.columns \
                        WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?",
        applied_at: "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        artefacts_create: "CREATE TABLE IF NOT EXISTS wasmig_artefacts (
            checksum TEXT PRIMARY KEY,
            size BIGINT NOT NULL,
            zstd BYTEA NOT NULL
        )",
        artefact_insert: "INSERT INTO wasmig_artefacts (checksum, size, zstd) VALUES (?, ?, ?) \
                          ON CONFLICT (checksum) DO NOTHING",
    },
    schema: &[
        "SELECT 'column', table_name::text, column_name::text, data_type::text, \
         is_nullable::text, coalesce(column_default::text, '') \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND left(table_name::text, 7) <> 'wasmig_' \
         ORDER BY 2, 3",
        "SELECT 'index', tablename::text, indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = current_schema() AND left(tablename::text, 7) <> 'wasmig_' \
         ORDER BY 2, 3",
        "SELECT 'constraint', conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
         AND left(conrelid::regclass::text, 7) <> 'wasmig_' ORDER BY 2, 3",
    ],
};

#[derive(Debug)]
struct Postgres {
    conn: PgConnection,
}

fn connect(url: &str, _access: Access) -> BoxFuture<'_, Result<Box<dyn Backend>>> {
    Box::pin(async move {
        let fail = super::cannot_connect(url);
        let options = PgConnectOptions::from_str(url).map_err(fail)?.application_name("wasmig");
        let conn = PgConnection::connect_with(&options).await.map_err(fail)?;
        Ok(Box::new(Postgres { conn }) as Box<dyn Backend>)
    })
}

#[async_trait::async_trait]
impl Backend for Postgres {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    sqlx_statements!(UntypedNull, value);

    fn guest_error(&mut self, error: SqlError) -> SqlError {
        // query_canceled, lock_not_available: what the session's time limits raise.
        let key = match error.code.as_deref() {
            Some("57014") => "statement_seconds",
            Some("55P03") => "lock_wait_seconds",
            _ => return error,
        };
        SqlError { message: format!("{} ([limits] {key})", error.message), ..error }
    }

    async fn set_time_limits(&mut self, limits: &TimeLimits) -> Result<(), SqlError> {
        for (setting, limit) in
            [("statement_timeout", limits.statement), ("lock_timeout", limits.lock_wait)]
        {
            if let Some(limit) = limit {
                let set = format!("SET {setting} = {}", limit.as_millis());
                super::raw(&set).execute(&mut self.conn).await?;
            }
        }
        Ok(())
    }

    async fn try_lock(&mut self) -> Result<bool> {
        let rows = self
            .query("SELECT pg_try_advisory_lock($1)", &[Value::Integer(LOCK_KEY)], u64::MAX)
            .await
            .map_err(|e| Error::database("cannot take the run lock", e))?;
        Ok(matches!(rows.rows.first().and_then(|row| row.first()), Some(Value::Boolean(true))))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

/// A NULL parameter without a type (OID 0), so the server infers the type from where it
/// is used: a typed NULL such as `int8` could not go into a `bytea` column.
struct UntypedNull;

impl sqlx::Type<Pg> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Pg> for UntypedNull {
    fn encode_by_ref(&self, _: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

/// A PostgreSQL cell as a WIT value; types without a natural value must be cast.
fn value(row: &PgRow, index: usize) -> Result<Value, SqlError> {
    let Some(type_name) = cell_type(row, index)? else { return Ok(Value::Null) };
    Ok(match type_name.as_str() {
        "INT2" => Value::Integer(row.try_get::<i16, _>(index)?.into()),
        "INT4" => Value::Integer(row.try_get::<i32, _>(index)?.into()),
        "INT8" => Value::Integer(row.try_get(index)?),
        "FLOAT4" => Value::Real(row.try_get::<f32, _>(index)?.into()),
        "FLOAT8" => Value::Real(row.try_get(index)?),
        "BOOL" => Value::Boolean(row.try_get(index)?),
        "BYTEA" => Value::Blob(row.try_get(index)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "CITEXT" => {
            Value::Text(row.try_get(index)?)
        }
        other => return Err(unsupported(row, index, other, "e.g. `column::text`")),
    })
}
