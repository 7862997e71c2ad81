//! Hostile test guest: a `forwards` that allocates (and touches) memory until something
//! stops it. The linear memory limit must, long before the host runs out.

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(_db: &Db) -> Result<()> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: memory-bomb");
