//! Per-call sandbox state: a deny-all WASI context, resource limits, the captured guest log,
//! and the database capability. Every capability a migration gets is granted here.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::random::Deterministic;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, ResourceTable, WasiCtx, WasiCtxView, WasiView,
};

use crate::capture::Capture;

/// Resource limits of one call into a migration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory per instance: stops a migration that allocates without bound from
    /// taking the host's memory.
    pub memory_bytes: usize,
    /// Core instances per store: language runtimes such as componentize-py use a dozen;
    /// the limit stops a component from instantiating without bound.
    pub instances: usize,
    /// Tables and memories per store, for the same reason.
    pub tables: usize,
    pub memories: usize,
    /// Wall-clock budget of one call: stops an endless loop.
    pub call_timeout: Duration,
    /// Bytes of guest stdout/stderr kept for the log; the rest is counted, not kept, so a
    /// chatty migration cannot exhaust host memory.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            instances: 100,
            tables: 100,
            memories: 100,
            call_timeout: Duration::from_secs(30),
            log_bytes: 64 << 10,
        }
    }
}

/// The data of a migration's `Store`.
pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) database: Capture,
    pub(crate) log: GuestLog,
    /// Time spent in database calls, which does not count against the call's budget.
    pub(crate) host_time: Duration,
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState").field("database", &self.database).finish_non_exhaustive()
    }
}

impl SandboxState {
    /// A sandbox for one call. `seed` makes the guest's randomness a function of the
    /// migration, so the same migration always emits the same SQL.
    pub fn new(limits: &Limits, seed: &str, database: Capture) -> Self {
        let log = GuestLog::new(limits.log_bytes);
        // `WasiCtxBuilder::new` grants nothing: no preopened directories, environment,
        // arguments or network, and stdin is empty. Each line below is a grant.
        let wasi = WasiCtx::builder()
            .stdout(log.clone())
            .stderr(log.clone())
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .secure_random(seeded_random(seed, "secure"))
            .insecure_random(seeded_random(seed, "insecure"))
            .insecure_random_seed(u128::from_le_bytes(
                Sha256::digest(format!("{seed}/seed"))[..16].try_into().unwrap_or_default(),
            ))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(limits.instances)
            .tables(limits.tables)
            .memories(limits.memories)
            .trap_on_grow_failure(true)
            .build();
        SandboxState {
            wasi,
            table: ResourceTable::new(),
            limits: store_limits,
            database,
            log,
            host_time: Duration::ZERO,
        }
    }

    /// Takes the database handle back after the call.
    pub fn into_parts(self) -> (Capture, GuestLog) {
        (self.database, self.log)
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A deterministic byte stream derived from the migration, standing in for randomness.
fn seeded_random(seed: &str, purpose: &str) -> Deterministic {
    let mut bytes = Vec::with_capacity(32 * 64);
    for block in 0u32..64 {
        bytes.extend_from_slice(&Sha256::digest(format!("{seed}/{purpose}/{block}")));
    }
    Deterministic::new(bytes)
}

/// Both clocks stand still at 2000-01-01T00:00:00Z: time cannot change what a migration
/// emits.
#[derive(Debug, Clone, Copy)]
struct FixedClock;

const FIXED_EPOCH_SECONDS: u64 = 946_684_800;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(FIXED_EPOCH_SECONDS)
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The guest's stdout and stderr, interleaved: the first `capacity` bytes are kept, the
/// rest only counted.
#[derive(Debug, Clone)]
pub struct GuestLog {
    inner: Arc<Mutex<LogBuffer>>,
}

#[derive(Debug, Default)]
struct LogBuffer {
    kept: Vec<u8>,
    dropped: u64,
    capacity: usize,
}

impl GuestLog {
    fn new(capacity: usize) -> Self {
        GuestLog { inner: Arc::new(Mutex::new(LogBuffer { capacity, ..LogBuffer::default() })) }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let room = buffer.capacity.saturating_sub(buffer.kept.len());
        let keep = bytes.len().min(room);
        buffer.kept.extend_from_slice(&bytes[..keep]);
        buffer.dropped += (bytes.len() - keep) as u64;
    }

    /// The kept text, and how many bytes beyond it were dropped.
    pub fn contents(&self) -> (String, u64) {
        let buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (String::from_utf8_lossy(&buffer.kept).into_owned(), buffer.dropped)
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always ready: what does not fit is counted and dropped, never refused.
        Ok(64 << 10)
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_first_bytes_and_counts_the_rest() {
        let log = GuestLog::new(5);
        log.append(b"hel");
        log.append(b"lo world");
        assert_eq!(log.contents(), ("hello".to_string(), 6));
    }
}
