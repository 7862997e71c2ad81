//! Hostile test guest: emits 100 MiB of SQL, one MiB per statement. The SQL byte limit
//! must stop it.

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        let padding = "x".repeat(1 << 20);
        for _ in 0..100 {
            db.execute(&format!("SELECT '{padding}' AS flood"), &[])?;
        }
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: sql-flood");
