//! Hostile test guest: its `describe` never returns, so it is stopped while the host
//! loads it, before anything else runs.

use wasmig_guest::{Db, Migration, Result};

/// The description, never reached.
fn endless_description() -> &'static str {
    let mut spins: u64 = 0;
    loop {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
}

struct Hostile;

impl Migration for Hostile {
    fn forwards(_db: &Db) -> Result<()> {
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = endless_description());
