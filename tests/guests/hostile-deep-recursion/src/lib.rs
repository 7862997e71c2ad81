//! Hostile test guest: a `forwards` that recurses without bound. The guest stack limit
//! must turn it into a stack overflow trap, not crash the host.

use wasmig_guest::{Db, Migration, Result};

/// Counts down to zero one call at a time; `black_box` keeps the compiler from turning the
/// recursion into a loop.
fn descend(n: u64) -> u64 {
    if n == 0 { 0 } else { std::hint::black_box(descend(std::hint::black_box(n - 1))) + 1 }
}

struct Hostile;

impl Migration for Hostile {
    fn forwards(_db: &Db) -> Result<()> {
        let depth = descend(u64::MAX);
        Err(format!("came back from a recursion {depth} deep").into())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: deep-recursion");
