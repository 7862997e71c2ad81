//! Hostile test guest: a `forwards` that calls the database forever. Time spent in the
//! database does not count against the CPU budget, so the statement limit must stop it.

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        loop {
            db.query("SELECT 1", &[])?;
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: host-loop");
