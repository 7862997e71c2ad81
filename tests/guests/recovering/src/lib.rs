//! Test guest: a statement fails, the migration handles the error and carries on. The
//! failure must not poison the migration's transaction on any backend.

use wasmig_guest::{Db, Migration, Result};

struct Recovering;

impl Migration for Recovering {
    fn forwards(db: &Db) -> Result<()> {
        if db.execute("INSERT INTO no_such_table (id) VALUES (1)", &[]).is_ok() {
            return Err("inserting into a missing table succeeded".into());
        }
        if db.query("SELECT id FROM no_such_table", &[]).is_ok() {
            return Err("reading a missing table succeeded".into());
        }
        db.execute("CREATE TABLE recovered (id INTEGER)", &[])?;
        db.execute("INSERT INTO recovered (id) VALUES (1)", &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE recovered", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(Recovering, description = "Recover from failed statements");
