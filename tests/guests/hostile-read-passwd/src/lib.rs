//! Hostile test guest: tries to read `/etc/passwd`. Should it succeed, it smuggles the
//! file out as SQL; the sandbox has no files, so it must fail with the OS error.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        match std::fs::read_to_string("/etc/passwd") {
            Ok(stolen) => {
                for line in stolen.lines() {
                    db.execute(&format!("SELECT {}", db.placeholder(1)), params![line])?;
                }
                Ok(())
            }
            Err(error) => Err(format!("cannot read /etc/passwd: {error}").into()),
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: read-passwd");
