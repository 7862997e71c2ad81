//! Test guest: a migration whose description is 8 MiB, which would land in every line of
//! output and in its ledger row.

use wasmig_guest::{Db, Migration, Result};

struct LongDescription;

impl Migration for LongDescription {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE TABLE described (id INTEGER)", &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE described", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(LongDescription, description = &"d".repeat(8 << 20));
