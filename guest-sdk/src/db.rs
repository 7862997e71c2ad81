//! The database handle a migration receives.

use std::fmt;

use crate::bindings::wasmig::migration::{database, types};
use crate::{DbError, Rows, Value};

/// The SQL dialect of the database a migration runs against.
///
/// Emit SQL for it: column types, auto-increment keys and parameter placeholders differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL (and MariaDB).
    Mysql,
}

impl Dialect {
    /// The placeholder for the `n`th parameter (counting from 1): `$n` on PostgreSQL,
    /// `?` on SQLite and MySQL.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".to_owned(),
        }
    }

    /// The dialect's lowercase name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<types::Dialect> for Dialect {
    fn from(dialect: types::Dialect) -> Self {
        match dialect {
            types::Dialect::Sqlite => Dialect::Sqlite,
            types::Dialect::Postgres => Dialect::Postgres,
            types::Dialect::Mysql => Dialect::Mysql,
        }
    }
}

/// The database, as the migration's one capability.
///
/// Every statement goes to the host, which runs it inside the migration's
/// transaction, or, in a preview, records `execute` statements without running them
/// and runs `query` statements read-only.
///
/// Parameters are bound by position; write placeholders with [`Db::placeholder`].
#[derive(Debug)]
pub struct Db {
    app_name: String,
    migration_id: String,
    dialect: Dialect,
    preview: bool,
}

impl Db {
    pub(crate) fn from_context(ctx: types::Context) -> Self {
        Db {
            app_name: ctx.app_name,
            migration_id: ctx.migration_id,
            dialect: ctx.dialect.into(),
            preview: ctx.preview,
        }
    }

    /// Runs a statement that returns no rows and gives the number of rows it affected.
    ///
    /// In a preview the statement is recorded, not run, and affects 0 rows, so do not
    /// make decisions on the count that would change the SQL a real run emits.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        database::execute(sql, params)
    }

    /// Runs each statement in turn with no parameters, stopping at the first error.
    pub fn execute_batch(&self, sqls: &[&str]) -> Result<(), DbError> {
        for sql in sqls {
            self.execute(sql, &[])?;
        }
        Ok(())
    }

    /// Runs a statement that returns rows.
    ///
    /// In a preview it reads the real database in a read-only transaction, so a data
    /// migration emits in its preview the same statements a real run would.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        database::query(sql, params).map(|rows| Rows::new(rows.columns, rows.rows))
    }

    /// The SQL dialect to emit.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// True when the host only records the statements to print them (`--preview`).
    pub fn is_preview(&self) -> bool {
        self.preview
    }

    /// The app this migration belongs to.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// This migration's ID, the digits of its file name.
    pub fn migration_id(&self) -> &str {
        &self.migration_id
    }

    /// The placeholder for the `n`th parameter (counting from 1) in this dialect:
    /// `$n` on PostgreSQL, `?` otherwise. See [`Dialect::placeholder`].
    pub fn placeholder(&self, n: usize) -> String {
        self.dialect.placeholder(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dialect: types::Dialect) -> Db {
        Db::from_context(types::Context {
            app_name: "blog".into(),
            migration_id: "20240101000000".into(),
            dialect,
            preview: true,
        })
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        assert_eq!(db(types::Dialect::Postgres).placeholder(1), "$1");
        assert_eq!(db(types::Dialect::Postgres).placeholder(12), "$12");
        assert_eq!(db(types::Dialect::Sqlite).placeholder(2), "?");
        assert_eq!(db(types::Dialect::Mysql).placeholder(3), "?");
    }

    #[test]
    fn context_is_exposed() {
        let db = db(types::Dialect::Mysql);
        assert_eq!(db.app_name(), "blog");
        assert_eq!(db.migration_id(), "20240101000000");
        assert_eq!(db.dialect(), Dialect::Mysql);
        assert!(db.is_preview());
        assert_eq!(Dialect::Postgres.to_string(), "postgres");
    }
}
