//! Hostile test guest: runs a statement, then exits the process with status 0 instead of
//! returning. That is no success: the host must fail the migration and roll it back.

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("SELECT 1", &[])?;
        std::process::exit(0)
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: exit");
