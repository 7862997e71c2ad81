//! Hostile test guest: writes rows into the `typed_values` table (which the tests apply
//! first, from the `typed-values` guest), then panics. The panic must be reported with its
//! message and the rows rolled back. Only rows, no DDL, so that the rollback holds on
//! every database, MySQL included.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        let insert = format!("INSERT INTO typed_values (v_text) VALUES ({})", db.placeholder(1));
        for n in 0..3 {
            db.execute(&insert, params![format!("half-written {n}")])?;
        }
        panic!("gave up half-way: 3 rows written")
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: panic-after-writes");
