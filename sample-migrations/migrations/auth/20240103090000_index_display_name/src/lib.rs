//! Indexes `users.display_name` without locking the table on PostgreSQL.
//!
//! `CREATE INDEX CONCURRENTLY` cannot run inside a transaction, so this migration is
//! exported as non-transactional: wasmig runs it on its own and records it once it
//! has succeeded.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct IndexDisplayName;

impl Migration for IndexDisplayName {
    fn forwards(db: &Db) -> Result<()> {
        let sql = match db.dialect() {
            Dialect::Postgres => {
                "CREATE INDEX CONCURRENTLY users_display_name_idx ON users (display_name)"
            }
            Dialect::Sqlite | Dialect::Mysql => {
                "CREATE INDEX users_display_name_idx ON users (display_name)"
            }
        };
        db.execute(sql, &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        let sql = match db.dialect() {
            Dialect::Sqlite => "DROP INDEX users_display_name_idx",
            Dialect::Postgres => "DROP INDEX CONCURRENTLY users_display_name_idx",
            Dialect::Mysql => "DROP INDEX users_display_name_idx ON users",
        };
        db.execute(sql, &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    IndexDisplayName,
    description = "Index users by display name",
    transactional = false,
);
