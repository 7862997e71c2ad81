//! Hostile test guest: emits a million tiny statements. The statement limit must stop it.

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        for _ in 0..1_000_000 {
            db.execute("SELECT 1", &[])?;
        }
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: statement-flood");
