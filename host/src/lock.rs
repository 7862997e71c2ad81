//! The run lock: one wasmig changing a database at a time.
//!
//! Each backend takes its own kind (see [`crate::backend::LockKind`]); all are released by
//! the server or the kernel when the process dies, so a killed run never leaves a stale
//! lock. `check` and `--preview` take none. The lock is held until the connection it was
//! taken on is closed.

use std::time::{Duration, Instant};

use crate::backend::Connection;
use crate::error::{Error, Result};
use crate::report::{Event, Hooks};

/// How often a waiting runner tries again.
const POLL: Duration = Duration::from_millis(100);

/// Takes the run lock of the database behind `conn`, waiting up to `timeout` while another
/// runner holds it (telling `hooks` once that it waits).
pub async fn acquire(conn: &mut Connection, timeout: Duration, hooks: &dyn Hooks) -> Result<()> {
    let started = Instant::now();
    let mut said = false;
    loop {
        if conn.try_lock().await? {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(Error::LockTimeout { seconds: timeout.as_secs() });
        }
        if !said {
            hooks.event(Event::WaitingForLock { timeout });
            said = true;
        }
        tokio::time::sleep(POLL).await;
    }
}
