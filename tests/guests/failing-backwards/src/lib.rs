//! Test guest: a `backwards` that fails half-way, after it has dropped one of the two
//! tables `forwards` created. The host must roll the reversal back, leaving both tables.

use wasmig_guest::{Db, Migration, Result};

struct FailingBackwards;

impl Migration for FailingBackwards {
    fn forwards(db: &Db) -> Result<()> {
        db.execute_batch(&[
            "CREATE TABLE failing_backwards_first (id INTEGER PRIMARY KEY)",
            "CREATE TABLE failing_backwards_second (id INTEGER PRIMARY KEY)",
        ])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE failing_backwards_first", &[])?;
        db.execute("THIS IS NOT SQL", &[])?;
        db.execute("DROP TABLE failing_backwards_second", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    FailingBackwards,
    description = "Create two tables; fail half-way through dropping them"
);
