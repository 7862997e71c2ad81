//! Hostile test guest: sleeps for an hour. A sleep blocks in the host, where the epoch
//! deadline cannot reach it: the host's watchdog must abandon the call.

use std::time::Duration;

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(_db: &Db) -> Result<()> {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: sleep");
