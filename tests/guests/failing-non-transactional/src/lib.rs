//! Test guest: a non-transactional migration that creates a table and then fails, so its
//! change cannot be rolled back and the host must leave it marked dirty.

use wasmig_guest::{Db, Migration, Result};

struct FailingNonTransactional;

impl Migration for FailingNonTransactional {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE TABLE half_done (id INTEGER)", &[])?;
        Err("failed after creating half_done".into())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE half_done", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    FailingNonTransactional,
    description = "Create half_done, then fail",
    transactional = false,
);
