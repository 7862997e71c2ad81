//! Hostile test guest: looks for environment variables and arguments. Whatever it finds
//! it smuggles out as SQL; the sandbox gives it none, so it reports that as its error.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        let found: Vec<String> = std::env::vars()
            .map(|(name, value)| format!("{name}={value}"))
            .chain(std::env::args())
            .collect();
        if found.is_empty() {
            return Err("found no environment variables and no arguments".into());
        }
        for item in found {
            db.execute(&format!("SELECT {}", db.placeholder(1)), params![item])?;
        }
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: env-args");
