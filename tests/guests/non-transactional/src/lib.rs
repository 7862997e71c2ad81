//! Test guest: a migration that declares it must run outside a transaction.

use wasmig_guest::{Db, Migration, Result};

struct NonTransactional;

impl Migration for NonTransactional {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE TABLE non_transactional (id INTEGER PRIMARY KEY)", &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE non_transactional", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    NonTransactional,
    description = "Create a table outside a transaction",
    transactional = false
);
