//! Per-call sandbox state: a deny-all WASI context, resource limits, the captured guest log,
//! and the database capability. Every capability a migration gets is granted here.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, ResourceTable, WasiCtx, WasiCtxView, WasiView,
};

use crate::bindings::wasmig::migration::database;
use crate::bindings::wasmig::migration::types::{self, DbError, Rows, Value};
use crate::capture::{Capture, DatabaseHandle};
use crate::limits::LimitHit;
pub use crate::limits::Limits;

/// The data of a migration's `Store`.
pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: SandboxLimiter,
    pub(crate) database: Capture,
    pub(crate) log: GuestLog,
    /// How much of the call's time budget the guest has used.
    pub(crate) clock: Arc<CallClock>,
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState").field("database", &self.database).finish_non_exhaustive()
    }
}

impl SandboxState {
    /// A sandbox for one call. `seed` makes the guest's randomness a function of the
    /// migration, so the same migration always emits the same SQL.
    pub fn new(limits: &Limits, seed: &str, mut database: Capture) -> Self {
        let log = GuestLog::new(limits.log_bytes);
        // `WasiCtxBuilder::new` grants nothing: no preopened directories, environment,
        // arguments or network, and stdin is empty. Each line below is a grant, or
        // repeats a denial so that it stays visible here.
        let wasi = WasiCtx::builder()
            .stdout(log.clone())
            .stderr(log.clone())
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .secure_random(SeededRandom::new(seed, "secure"))
            .insecure_random(SeededRandom::new(seed, "insecure"))
            .insecure_random_seed(u128::from_le_bytes(
                Sha256::digest(format!("{seed}/seed"))[..16].try_into().unwrap_or_default(),
            ))
            // The network is closed: no TCP, UDP or name lookup, and no address passes
            // the check (the guest may import wasi:sockets, see runtime::policy::ALLOWED_WASI).
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        database.limit(limits.statements, limits.sql_bytes, limits.query_bytes);
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources);
        SandboxState {
            wasi,
            table,
            limiter: SandboxLimiter::new(limits),
            database,
            log,
            clock: Arc::new(CallClock::new()),
        }
    }

    /// Takes the database handle and the log out after the call, leaving the sandbox
    /// detached from the database, to be dropped.
    pub fn take_parts(&mut self) -> (Capture, GuestLog) {
        let database =
            std::mem::replace(&mut self.database, Capture::new(DatabaseHandle::Detached));
        let log = std::mem::replace(&mut self.log, GuestLog::new(0));
        (database, log)
    }
}

/// Enforces the memory, table and instance limits. Growing past a limit traps with a
/// [`LimitHit`] rather than failing the growth, so the call stops at once with an error
/// naming the limit instead of the guest's allocator aborting with a vaguer one.
#[derive(Debug)]
pub(crate) struct SandboxLimiter {
    memory_bytes: usize,
    table_elements: usize,
    instances: usize,
    tables: usize,
    memories: usize,
}

impl SandboxLimiter {
    fn new(limits: &Limits) -> Self {
        SandboxLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
        }
    }
}

impl ResourceLimiter for SandboxLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(LimitHit::Memory { desired, limit: self.memory_bytes }.into());
        }
        // Past the memory's own declared maximum the growth fails the WebAssembly way.
        Ok(maximum.is_none_or(|maximum| desired <= maximum))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(LimitHit::TableElements { desired, limit: self.table_elements }.into());
        }
        Ok(maximum.is_none_or(|maximum| desired <= maximum))
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// The time a call has used against its budget: everything since it started except the
/// time spent in database calls.
#[derive(Debug)]
pub(crate) struct CallClock {
    started: Instant,
    database: Mutex<DatabaseTime>,
}

#[derive(Debug, Default)]
struct DatabaseTime {
    /// Time spent in finished database calls.
    total: Duration,
    /// When the database call in progress started.
    current: Option<Instant>,
}

impl CallClock {
    fn new() -> Self {
        CallClock { started: Instant::now(), database: Mutex::default() }
    }

    /// Marks a database call until the returned guard is dropped.
    pub(crate) fn database_call(&self) -> DatabaseCall<'_> {
        self.database.lock().unwrap_or_else(PoisonError::into_inner).current = Some(Instant::now());
        DatabaseCall { clock: self }
    }

    /// Time used against the budget so far.
    pub(crate) fn guest_time(&self) -> Duration {
        let database = self.database.lock().unwrap_or_else(PoisonError::into_inner);
        let in_database = database.total + database.current.map_or(Duration::ZERO, |s| s.elapsed());
        self.started.elapsed().saturating_sub(in_database)
    }
}

/// A database call in progress; its time stops counting against the budget.
#[derive(Debug)]
pub(crate) struct DatabaseCall<'c> {
    clock: &'c CallClock,
}

impl Drop for DatabaseCall<'_> {
    fn drop(&mut self) {
        let mut database = self.clock.database.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(started) = database.current.take() {
            database.total += started.elapsed();
        }
    }
}

impl types::Host for SandboxState {}

/// The migration's one capability. Time spent in the database handle is the host's, not
/// the guest's: it does not count against the call's time budget.
impl database::Host for SandboxState {
    async fn execute(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        let clock = self.clock.clone();
        let _waiting = clock.database_call();
        self.database.execute(sql, params).await
    }

    async fn query(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<Rows, DbError>> {
        let clock = self.clock.clone();
        let _waiting = clock.database_call();
        self.database.query(sql, params).await
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A deterministic byte stream derived from the migration, standing in for randomness:
/// the 64 blocks `sha256("{seed}/{purpose}/{k}")`, k = 0..63, over and over. A block is
/// hashed when the guest first reads into it: most migrations never ask for randomness,
/// and every sandbox has two of these.
#[derive(Debug)]
struct SeededRandom {
    /// `{seed}/{purpose}/`.
    prefix: String,
    /// The next block to hash.
    next_block: u32,
    block: [u8; 32],
    /// Bytes of `block` already handed out.
    used: usize,
}

impl SeededRandom {
    /// Blocks before the stream repeats.
    const BLOCKS: u32 = 64;

    fn new(seed: &str, purpose: &str) -> Self {
        SeededRandom {
            prefix: format!("{seed}/{purpose}/"),
            next_block: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            let block = self.next_block;
            self.block = Sha256::digest(format!("{}{block}", self.prefix)).into();
            self.next_block = (block + 1) % Self::BLOCKS;
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }
}

/// Words are read big-endian from the stream, as wasmtime-wasi's `Deterministic` reads them.
impl rand_core::TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_be_bytes(std::array::from_fn(|_| self.next_byte())))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from_be_bytes(std::array::from_fn(|_| self.next_byte())))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        dest.fill_with(|| self.next_byte());
        Ok(())
    }
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
/// rest only counted. The last [`TAIL_BYTES`] are kept too, whatever came before, so the
/// message of a panic at the end of a long log is not lost.
#[derive(Debug, Clone)]
pub struct GuestLog {
    inner: Arc<Mutex<LogBuffer>>,
}

/// How much of the end of the guest's output is kept for error messages.
const TAIL_BYTES: usize = 4 << 10;

#[derive(Debug, Default)]
struct LogBuffer {
    kept: Vec<u8>,
    dropped: u64,
    capacity: usize,
    tail: VecDeque<u8>,
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
        let recent = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (buffer.tail.len() + recent.len()).saturating_sub(TAIL_BYTES);
        buffer.tail.drain(..overflow);
        buffer.tail.extend(recent);
    }

    /// The kept text, and how many bytes beyond it were dropped.
    pub fn contents(&self) -> (String, u64) {
        let buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (String::from_utf8_lossy(&buffer.kept).into_owned(), buffer.dropped)
    }

    /// The last bytes the guest wrote, as text.
    pub fn tail(&self) -> String {
        let buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (front, back) = buffer.tail.as_slices();
        String::from_utf8_lossy(&[front, back].concat()).into_owned()
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
        assert_eq!(log.tail(), "hello world");
    }

    #[test]
    fn log_tail_keeps_the_last_bytes() {
        let log = GuestLog::new(2);
        log.append(&vec![b'x'; TAIL_BYTES * 3]);
        log.append(b"panicked at the end");
        let tail = log.tail();
        assert_eq!(tail.len(), TAIL_BYTES);
        assert!(tail.ends_with("xpanicked at the end"), "{tail}");
        assert_eq!(log.contents().0, "xx");
    }

    #[test]
    fn seeded_randomness_is_hashed_lazily_into_the_same_stream_as_before() {
        use rand_core::Rng as _;
        // The stream as wasmig built it eagerly: a migration that uses randomness must emit
        // the same SQL as it did then.
        let eager = (0u32..64).flat_map(|k| Sha256::digest(format!("app 1/secure/{k}")));
        let mut expected = wasmtime_wasi::random::Deterministic::new(eager.collect());
        let mut lazy = SeededRandom::new("app 1", "secure");
        assert_eq!(lazy.next_block, 0, "nothing is hashed before it is read");
        // Well past the 2048 bytes after which the stream repeats.
        for round in 0..600 {
            match round % 3 {
                0 => assert_eq!(lazy.next_u32(), expected.next_u32(), "round {round}"),
                1 => assert_eq!(lazy.next_u64(), expected.next_u64(), "round {round}"),
                _ => {
                    let (mut got, mut want) = ([0; 13], [0; 13]);
                    lazy.fill_bytes(&mut got);
                    expected.fill_bytes(&mut want);
                    assert_eq!(got, want, "round {round}");
                }
            }
        }
        let mut other = SeededRandom::new("app 1", "insecure");
        assert_ne!(other.next_u64(), SeededRandom::new("app 1", "secure").next_u64());
    }

    #[test]
    fn the_limiter_traps_past_the_memory_limit_with_its_key() {
        let limits = Limits { memory_bytes: 1 << 20, ..Limits::default() };
        let mut limiter = SandboxLimiter::new(&limits);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.memory_growing(0, 1 << 19, Some(1 << 18)).unwrap());
        let error = limiter.memory_growing(0, (1 << 20) + 1, None).unwrap_err();
        assert!(error.to_string().contains("[limits] memory_mib"), "{error}");
        assert!(error.downcast_ref::<LimitHit>().is_some());
    }

    #[test]
    fn database_time_does_not_count_against_the_budget() {
        let clock = CallClock::new();
        {
            let _call = clock.database_call();
            std::thread::sleep(Duration::from_millis(50));
            assert!(clock.guest_time() < Duration::from_millis(40));
        }
        assert!(clock.guest_time() < Duration::from_millis(40));
        std::thread::sleep(Duration::from_millis(50));
        assert!(clock.guest_time() >= Duration::from_millis(50));
    }
}
