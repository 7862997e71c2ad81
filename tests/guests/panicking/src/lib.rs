//! Test guest: a `forwards` that runs a statement and then panics with "boom". The
//! panic traps the component; the host must report it and roll the statement back.

use wasmig_guest::{Db, Migration, Result};

struct Panicking;

impl Migration for Panicking {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE TABLE panicking (id INTEGER PRIMARY KEY)", &[])?;
        panic!("boom")
    }

    fn backwards(db: &Db) -> Result<()> {
        // `forwards` never completes, so only a faked run can be reversed.
        db.execute("DROP TABLE IF EXISTS panicking", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(Panicking, description = "Run a statement, then panic");
