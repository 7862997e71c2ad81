//! Hostile test guest: tries to list `/`. Should it succeed, it smuggles the names out as
//! SQL; the sandbox has no files, so it must fail with the OS error.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        match std::fs::read_dir("/") {
            Ok(entries) => {
                for entry in entries.flatten() {
                    db.execute(
                        &format!("SELECT {}", db.placeholder(1)),
                        params![entry.path().display().to_string()],
                    )?;
                }
                Ok(())
            }
            Err(error) => Err(format!("cannot list /: {error}").into()),
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: list-root");
