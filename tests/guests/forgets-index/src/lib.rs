//! Test guest: indexes `typed_values`, and its `backwards` forgets to drop the index, which
//! `wasmig verify` must catch.

use wasmig_guest::{Db, Migration, Result};

struct ForgetsIndex;

impl Migration for ForgetsIndex {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE INDEX typed_values_integer ON typed_values (v_integer)", &[])?;
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(ForgetsIndex, description = "Index typed_values.v_integer");
