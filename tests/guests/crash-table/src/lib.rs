//! Test guest for crash and concurrency tests: one component installed under many IDs.
//! Each copy creates a table named after its migration ID holding one row, so a test can
//! tell from the schema alone which migrations are fully applied.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct CrashTable;

fn table(db: &Db) -> String {
    format!("t_{}", db.migration_id())
}

/// Some milliseconds of guest work, so a kill often lands inside a migration.
fn work() {
    let mut x = 1u64;
    for i in 0..20_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
}

impl Migration for CrashTable {
    fn forwards(db: &Db) -> Result<()> {
        let table = table(db);
        match db.dialect() {
            // One statement: MySQL commits DDL implicitly, so a two-step version could be
            // left half-done by a kill even though the host marks it dirty.
            Dialect::Mysql => {
                work();
                db.execute(&format!("CREATE TABLE {table} AS SELECT 1 AS id"), &[])?
            }
            Dialect::Sqlite | Dialect::Postgres => {
                db.execute(&format!("CREATE TABLE {table} (id INTEGER NOT NULL)"), &[])?;
                work();
                db.execute(&format!("INSERT INTO {table} (id) VALUES (1)"), &[])?
            }
        };
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        let table = table(db);
        if db.dialect() != Dialect::Mysql {
            // Two statements where a transaction makes them one.
            db.execute(&format!("DELETE FROM {table}"), &[])?;
        }
        work();
        db.execute(&format!("DROP TABLE {table}"), &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    CrashTable,
    description = "Create a table named after the migration"
);
