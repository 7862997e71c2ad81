//! Guest for the `wasmig-bench` benchmark (tests/bench): a small, typical schema migration.
//!
//! The bench installs this one component under many IDs (each copy with distinct bytes), so
//! every copy names its table and index after its migration ID. The statements are literal
//! SQL, identical to what the bench replays through the `sqlite3` shell and sqlx-cli, so the
//! three contenders do exactly the same database work.

use wasmig_guest::{Db, Migration, Result};

/// Rows inserted by `forwards`: enough to make the index build touch data.
const ROWS: u32 = 10;

struct BenchTable;

impl Migration for BenchTable {
    fn forwards(db: &Db) -> Result<()> {
        let id = db.migration_id();
        db.execute(
            &format!("CREATE TABLE t_{id} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
            &[],
        )?;
        let values: Vec<String> = (1..=ROWS).map(|n| format!("({n},'row {n}')")).collect();
        db.execute(&format!("INSERT INTO t_{id} (id, name) VALUES {}", values.join(",")), &[])?;
        db.execute(&format!("CREATE INDEX i_{id} ON t_{id} (name)"), &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        let id = db.migration_id();
        db.execute(&format!("DROP INDEX i_{id}"), &[])?;
        db.execute(&format!("DROP TABLE t_{id}"), &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(BenchTable, description = "Bench table");
