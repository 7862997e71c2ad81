//! Hostile test guest: writes 100 MiB to stdout, then panics. The host must keep only a
//! bounded log, and still report the panic's message.

use std::io::Write;

use wasmig_guest::{Db, Migration, Result};

struct Hostile;

impl Migration for Hostile {
    fn forwards(_db: &Db) -> Result<()> {
        let chunk = "flood ".repeat(64 << 10);
        let mut out = std::io::stdout().lock();
        let mut written = 0;
        while written < 100 << 20 {
            out.write_all(chunk.as_bytes()).map_err(|e| e.to_string())?;
            written += chunk.len();
        }
        out.flush().map_err(|e| e.to_string())?;
        drop(out);
        panic!("flooded the log with {written} bytes")
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: log-flood");
