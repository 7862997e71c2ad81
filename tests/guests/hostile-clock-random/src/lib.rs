//! Hostile test guest: probes the clocks and the randomness the sandbox gives it, and
//! writes what it saw into its SQL. Fixed clocks and seeded randomness make that SQL the
//! same on every run.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?;
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let slept = started.elapsed();
        // The hasher's keys come from the guest's randomness.
        let hash = RandomState::new().hash_one(42_u64);
        let order: Vec<String> =
            (0..16).collect::<HashSet<u32>>().into_iter().map(|n| n.to_string()).collect();
        let [wall_seconds, slept_nanos, hash_hex, set_order] =
            [1, 2, 3, 4].map(|n| db.placeholder(n));
        db.execute(
            &format!(
                "SELECT {wall_seconds} AS wall_seconds, {slept_nanos} AS slept_nanos, \
                 {hash_hex} AS hash, {set_order} AS set_order"
            ),
            params![
                wall.as_secs() as i64,
                slept.as_nanos() as i64,
                format!("{hash:016x}"),
                order.join(",")
            ],
        )?;
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: clock-random");
