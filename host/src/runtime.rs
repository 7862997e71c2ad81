//! The one configured wasmtime [`Engine`] migrations run on: loading migration components
//! (compiled as [`compilers`] says), validating them against the `wasmig:migration` world
//! and the import allowlist, and calling them in a fresh sandbox each time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTableError};
use wasmtime::{Config, Engine, OptLevel, Store, Strategy, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::bindings::exports::wasmig::migration::migration::Description;
use crate::bindings::wasmig::migration::types::Context;
use crate::bindings::{MigrationComponent, MigrationComponentPre};
use crate::cache::{Cache, EngineFingerprint, FileStamp, Indexed, Key, Validated};
use crate::capture::{Capture, DatabaseHandle};
use crate::config::Compiler;
use crate::error::{Error, Failure, Result, Stop, StopKind};
use crate::limits::{self, LimitHit};
pub use crate::plan::Direction;
use crate::sandbox::{CallClock, GuestLog, Limits, SandboxState};
use crate::source::{self, MigrationFile, MigrationId};

mod compilers;

use compilers::Compilers;

/// How often the epoch ticks; the resolution of the call time budget.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How long past its budget a call blocked in the host (a guest sleeping or polling) is
/// left before it is abandoned. Running guest code is stopped by the epoch deadline at the
/// budget itself, with a backtrace; the grace keeps that the first to fire.
const WATCHDOG_GRACE: Duration = Duration::from_millis(500);

/// The WASI interfaces a migration may import, by package. Rust's standard library (and
/// other language runtimes) import these even when a migration does not use them; every
/// one is served by the deny-all sandbox of [`SandboxState`]. Everything else (HTTP,
/// unknown packages) is refused when the component is loaded.
///
/// `wasi:sockets` is accepted because Python's runtime (componentize-py) always imports it,
/// as Rust's standard library does for `std::net`: refusing the import would refuse every
/// Python migration. The network stays closed at run time instead: the sandbox allows no
/// TCP, no UDP, no name lookup and no socket address, so every socket operation fails with
/// "access denied" (tests/cli/hostile.rs probes each one in Rust, Python and JavaScript).
const ALLOWED_WASI: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:clocks", &["*"]),
    ("wasi:random", &["*"]),
    ("wasi:io", &["*"]),
    // No directory is ever preopened: these only let a runtime link its file API.
    ("wasi:filesystem", &["types", "preopens"]),
    // Denied at run time, see above.
    (
        "wasi:sockets",
        &[
            "network",
            "instance-network",
            "udp",
            "udp-create-socket",
            "tcp",
            "tcp-create-socket",
            "ip-name-lookup",
        ],
    ),
];

/// The engine and linker shared by every migration of a run, and the compile cache they
/// use.
pub struct Runtime {
    engine: Engine,
    /// What compiles components for `engine`, with its fingerprint in the compile cache.
    compilers: Compilers,
    /// Shared with the blocking threads that link each migration just before it runs.
    linker: Arc<Linker<SandboxState>>,
    limits: Limits,
    cache: Option<Cache>,
    /// Used sandboxes waiting to be torn down, by the next migration's preparation.
    retired: Arc<Mutex<Vec<Store<SandboxState>>>>,
}

/// Work a preparation also does on its blocking thread, after mapping.
pub(crate) type Alongside = Box<dyn FnOnce() + Send>;

/// The most used sandboxes left waiting for a preparation to tear them down; with more,
/// they are torn down on a blocking thread of their own.
const RETIRED_MAX: usize = 2;

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// A migration component that has been compiled, checked against the world and described.
#[derive(Clone)]
pub struct LoadedMigration {
    /// The app it belongs to.
    pub app: String,
    /// Its ID.
    pub id: MigrationId,
    /// Its component file.
    pub path: PathBuf,
    /// sha256 of the component bytes.
    pub checksum: String,
    /// What `describe` said.
    pub description: String,
    /// False when it must run outside a transaction.
    pub transactional: bool,
    /// Whether it was compiled now rather than taken from the compile cache.
    pub compiled: bool,
    /// The file's stamp when it was read, if it had settled.
    stamp: Option<FileStamp>,
    /// Where its compiled code waits for its call.
    code: Code,
}

/// Where a validated migration's compiled code is kept until it is called.
#[derive(Clone)]
enum Code {
    /// In memory, because no compile cache holds it.
    Resident(MigrationComponentPre<SandboxState>),
    /// In the compile cache under this key: mapped again just before its call and unmapped
    /// after it, so that a run of a thousand migrations holds one or two, not all of them.
    Cached(Key),
}

/// A migration's compiled code on its way to [`Prepared`]: see [`Runtime::prepare`].
pub struct Preparing(Pending);

enum Pending {
    /// Ready already.
    Ready(Prepared),
    /// Being mapped from the compile cache (or compiled again) on a blocking thread; the
    /// checksum the file must still have if it is compiled again.
    Mapping {
        /// Sent as soon as the code is linked, before the work done alongside it.
        mapped: tokio::sync::oneshot::Receiver<std::result::Result<Mapped, Refused>>,
        migration: Identity,
    },
}

impl std::fmt::Debug for Preparing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparing").finish_non_exhaustive()
    }
}

/// What a mapping task gave: the code linked against the sandbox (or why it does not
/// link), and the checksum of the file when it had to be compiled again.
type Mapped = (std::result::Result<MigrationComponentPre<SandboxState>, String>, Option<String>);

/// What names a migration in an error, and the checksum it was validated with.
#[derive(Debug)]
struct Identity {
    app: String,
    id: String,
    path: PathBuf,
    checksum: String,
}

impl Identity {
    fn of(migration: &LoadedMigration) -> Self {
        Identity {
            app: migration.app.clone(),
            id: migration.id.to_string(),
            path: migration.path.clone(),
            checksum: migration.checksum.clone(),
        }
    }
}

/// A migration's compiled code, ready to be instantiated: see [`Runtime::prepare`].
pub struct Prepared(MigrationComponentPre<SandboxState>, bool);

impl Prepared {
    /// Whether it had to be compiled again (the compile cache had lost it).
    pub fn compiled(&self) -> bool {
        self.1
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").finish_non_exhaustive()
    }
}

impl LoadedMigration {
    /// What the compile cache records about it: its file name and what it said.
    pub(crate) fn indexed(&self) -> Option<(String, Indexed)> {
        let name = self.path.file_name()?.to_string_lossy().into_owned();
        let entry = Indexed {
            stamp: self.stamp?,
            checksum: self.checksum.clone(),
            description: self.description.clone(),
            transactional: self.transactional,
        };
        Some((name, entry))
    }

    /// Whether its compiled code is in the compile cache (rather than held in memory, when
    /// the cache is off or could not store it).
    pub(crate) fn in_cache(&self) -> bool {
        matches!(self.code, Code::Cached(_))
    }
}

impl std::fmt::Debug for LoadedMigration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedMigration")
            .field("app", &self.app)
            .field("id", &self.id)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What one call into a migration left behind.
#[derive(Debug)]
pub struct CallOutcome {
    /// The database handle and the statements the migration emitted.
    pub capture: Capture,
    /// What the migration wrote to stdout and stderr, and how many bytes were dropped.
    pub log: (String, u64),
    /// Ok, or why the call failed: the migration's own error, or what stopped it (out of
    /// CPU budget, out of memory, stack overflow, a panic with its message, a host limit,
    /// ...) with the top of its backtrace.
    pub result: std::result::Result<(), Failure>,
}

/// One of the migration's exports.
enum Export {
    Describe,
    Run(Direction, Context),
}

/// What an export returned.
enum Returned {
    Description(Description),
    Run(std::result::Result<(), String>),
}

/// Why a call did not return.
enum Stopped {
    /// A trap, or an error raised by the host on the guest's behalf.
    Trap(wasmtime::Error),
    /// Blocked in the host past the time budget (a sleep, a poll that never ends).
    Stalled,
}

impl Runtime {
    /// A runtime with the default compiler: see [`Runtime::with_compiler`].
    pub fn new(limits: Limits) -> Result<Self> {
        Self::with_compiler(limits, Compiler::default())
    }

    /// Configures the engine, compiling with `compiler`, and the linker: WASI (deny-all,
    /// see [`SandboxState`]) and the `wasmig:migration/database` import, nothing else.
    pub fn with_compiler(limits: Limits, compiler: Compiler) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        match compiler {
            Compiler::Winch => {
                config.strategy(Strategy::Winch);
                // Cranelift still compiles the trampolines between the host and each
                // component: a few instructions each, compiled anew for every component,
                // where optimising costs more than it could ever save.
                config.cranelift_opt_level(OptLevel::None);
            }
            Compiler::Cranelift => {
                config.strategy(Strategy::Cranelift);
            }
        }
        // Epoch interruption enforces the call time budget without slowing guest code as
        // much as fuel would.
        config.epoch_interruption(true);
        // Unbounded recursion traps as a stack overflow once the guest has used this much
        // stack (wasmtime's default, made visible), well inside the fiber it runs on.
        config.max_wasm_stack(512 << 10);
        let engine = Engine::new(&config).map_err(|e| Error::Runtime(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        MigrationComponent::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| Error::Runtime(e.to_string()))?;

        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasmig-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| Error::Runtime(format!("cannot start the epoch ticker: {e}")))?;
        let policy = format!("wasmig {} {ALLOWED_WASI:?}", env!("CARGO_PKG_VERSION"));
        let fingerprint = EngineFingerprint::of(&engine, &policy);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let compilers = Compilers::new(engine.clone(), &config, fingerprint, policy, cores);
        Ok(Runtime {
            engine,
            compilers,
            linker: Arc::new(linker),
            limits,
            cache: None,
            retired: Arc::default(),
        })
    }

    /// Takes compiled components from `cache` and stores what it compiles there.
    pub fn with_cache(mut self, cache: Option<Cache>) -> Self {
        self.cache = cache;
        self
    }

    /// The compile cache, if it uses one.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads, compiles (or takes from the compile cache) and validates the component of
    /// `file` (its size, that it is a component, that it imports nothing outside the
    /// allowlist, that it exports the `wasmig:migration` world), then asks it to describe
    /// itself. Any failure names the app, the migration and the file.
    pub async fn load(&self, app: &str, file: &MigrationFile) -> Result<LoadedMigration> {
        self.load_known(app, file, None).await
    }

    /// [`Runtime::load`], given what the compile cache's folder record says of the file
    /// while it is unchanged since (`known`): when this wasmig validated those bytes and
    /// still holds their compiled code, the file is not even read.
    pub(crate) async fn load_known(
        &self,
        app: &str,
        file: &MigrationFile,
        known: Option<Indexed>,
    ) -> Result<LoadedMigration> {
        let fail = |message: String| Error::Load {
            app: app.to_string(),
            id: file.id.to_string(),
            path: file.path.clone(),
            message,
        };
        // Reading and compiling block: they run on a blocking thread, never on the async
        // executor, so other work (another compile, a database round trip) overlaps them.
        let (compilers, cache) = (self.compilers.clone(), self.cache.clone());
        let (path, limit) = (file.path.clone(), self.limits.component_bytes);
        let task = tokio::task::spawn_blocking(move || {
            compile(&compilers, cache.as_ref(), &path, limit, Reuse::Validation(known))
        });
        let compiled = joined(task.await, &file.path, fail)?;
        let Compiled { found, checksum, stamp, key } = compiled;
        let (component, compiled, cached) = match found {
            Found::Validated(record) => {
                return Ok(LoadedMigration {
                    app: app.to_string(),
                    id: file.id.clone(),
                    path: file.path.clone(),
                    checksum,
                    description: record.description,
                    transactional: record.transactional,
                    compiled: false,
                    stamp,
                    code: Code::Cached(key),
                });
            }
            Found::Component { component, compiled, cached } => (component, compiled, cached),
        };
        let component_type = component.component_type();
        let refused: Vec<&str> = component_type
            .imports(&self.engine)
            .map(|(name, _)| name)
            .filter(|name| !import_allowed(name))
            .collect();
        if !refused.is_empty() {
            return Err(fail(format!(
                "imports {}, which a migration may not use (allowed: wasmig:migration, and \
                 from WASI only cli environment/exit/stdio, clocks, random, io, \
                 filesystem types/preopens and sockets, all denied by the sandbox)",
                refused.join(", ")
            )));
        }
        let prepared = Prepared(link(&self.linker, &component).map_err(fail)?, compiled);
        let seed = (app, &file.id);
        let (returned, _) = self
            .invoke(&prepared, seed, Export::Describe, Capture::new(DatabaseHandle::Detached))
            .await;
        let mut description = match returned {
            Ok(Returned::Description(description)) => description,
            Ok(Returned::Run(_)) => unreachable!("describe returns a description"),
            Err(stop) => return Err(fail(format!("describe failed: {}", stop.message))),
        };
        description.description =
            limits::truncated(description.description, limits::DESCRIPTION_BYTES);
        let code = match (cached, self.cache()) {
            (true, Some(cache)) => {
                let record =
                    Validated::new(description.description.clone(), description.transactional);
                cache.record_validated(key, &record);
                Code::Cached(key)
            }
            _ => Code::Resident(prepared.0),
        };
        Ok(LoadedMigration {
            app: app.to_string(),
            id: file.id.clone(),
            path: file.path.clone(),
            checksum,
            description: description.description,
            transactional: description.transactional,
            compiled,
            stamp,
            code,
        })
    }

    /// Starts getting the compiled code of `migration` ready for [`Runtime::call`]: kept in
    /// memory, or mapped again from the compile cache on a blocking thread, while the
    /// caller goes on (the executor prepares the next migration while one runs).
    /// [`Runtime::ready`] gives the result. Should the cache have lost the code since the
    /// migration was loaded, its file is compiled again, provided it still holds the bytes
    /// that were validated. The same thread then tears down the sandboxes of earlier calls.
    pub fn prepare(&self, migration: &LoadedMigration) -> Preparing {
        self.prepare_with(migration, None)
    }

    /// [`Runtime::prepare`], doing `alongside` on the same thread after mapping: one
    /// hand-off to another thread per migration.
    pub(crate) fn prepare_with(
        &self,
        migration: &LoadedMigration,
        alongside: Option<Alongside>,
    ) -> Preparing {
        let idle = alongside.is_none()
            && self.retired.lock().unwrap_or_else(PoisonError::into_inner).is_empty();
        let retired = Arc::clone(&self.retired);
        let after = move || {
            if let Some(alongside) = alongside {
                alongside();
            }
            drop(std::mem::take(&mut *retired.lock().unwrap_or_else(PoisonError::into_inner)));
        };
        let key = match &migration.code {
            Code::Resident(pre) => {
                if !idle {
                    tokio::task::spawn_blocking(after);
                }
                return Preparing(Pending::Ready(Prepared(pre.clone(), false)));
            }
            Code::Cached(key) => *key,
        };
        let (compilers, cache, linker) =
            (self.compilers.clone(), self.cache.clone(), self.linker.clone());
        let (path, limit) = (migration.path.clone(), self.limits.component_bytes);
        // Linking (matching every import against the sandbox's) happens there too, off
        // the thread that runs the migration before. The code is handed over before the
        // work alongside, so the migration need not wait for that.
        let (sender, mapped) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // The receiver is gone only when the run stopped before this migration.
            let _ = sender.send(map(&compilers, cache.as_ref(), &linker, key, &path, limit));
            after();
        });
        Preparing(Pending::Mapping { mapped, migration: Identity::of(migration) })
    }

    /// The compiled code [`Runtime::prepare`] started to get ready.
    pub async fn ready(&self, preparing: Preparing) -> Result<Prepared> {
        let (mapped, migration) = match preparing.0 {
            Pending::Ready(prepared) => return Ok(prepared),
            Pending::Mapping { mapped, migration } => (mapped, migration),
        };
        let fail = |message: String| Error::Load {
            app: migration.app.clone(),
            id: migration.id.clone(),
            path: migration.path.clone(),
            message,
        };
        let mapped = mapped.await.map_err(|_| Error::Runtime("the mapping task failed".into()))?;
        let (linked, checksum) = refusal(mapped, &migration.path, fail)?;
        if let Some(checksum) = &checksum
            && *checksum != migration.checksum
        {
            return Err(fail(source::changed_since_validated(&migration.checksum, checksum)));
        }
        Ok(Prepared(linked.map_err(fail)?, checksum.is_some()))
    }

    /// Calls `forwards` or `backwards` of `migration` in a fresh sandbox whose database
    /// import is `capture`. The capture comes back whatever happened. Like WASI itself, the
    /// time budget needs a Tokio runtime with its time driver enabled.
    pub async fn call(
        &self,
        migration: &LoadedMigration,
        code: &Prepared,
        direction: Direction,
        context: Context,
        capture: Capture,
    ) -> CallOutcome {
        let seed = (migration.app.as_str(), &migration.id);
        let (returned, (capture, log)) =
            self.invoke(code, seed, Export::Run(direction, context), capture).await;
        let result = match returned {
            Ok(Returned::Run(result)) => result.map_err(|message| {
                Failure::Guest(limits::truncated(message, limits::MESSAGE_BYTES))
            }),
            Ok(Returned::Description(_)) => unreachable!("forwards and backwards return a result"),
            Err(stop) => Err(Failure::Stopped(stop)),
        };
        CallOutcome { capture, log: log.contents(), result }
    }

    /// Instantiates `code` in a fresh sandbox and calls `export`, under the time budget.
    /// `seed` (app and migration ID) seeds the sandbox's randomness. Gives what the export
    /// returned, or what stopped it, and the sandbox state.
    async fn invoke(
        &self,
        code: &Prepared,
        seed: (&str, &MigrationId),
        export: Export,
        capture: Capture,
    ) -> (std::result::Result<Returned, Stop>, (Capture, GuestLog)) {
        let call = match &export {
            Export::Describe => "describe",
            Export::Run(direction, _) => direction.name(),
        };
        let mut store = self.store(seed, call, capture);
        let clock = store.data().clock.clone();
        let stopped = {
            let run = async {
                let instance = code.0.instantiate_async(&mut store).await?;
                let exports = instance.wasmig_migration_migration();
                match &export {
                    Export::Describe => {
                        exports.call_describe(&mut store).await.map(Returned::Description)
                    }
                    Export::Run(Direction::Forwards, context) => {
                        exports.call_forwards(&mut store, context).await.map(Returned::Run)
                    }
                    Export::Run(Direction::Backwards, context) => {
                        exports.call_backwards(&mut store, context).await.map(Returned::Run)
                    }
                }
            };
            // The epoch deadline only fires while guest code runs; a guest blocked in a
            // host call (a sleep, a poll on a pollable that is never ready) is abandoned
            // by this watchdog instead. Dropping the call unwinds the guest.
            tokio::select! {
                returned = run => returned.map_err(Stopped::Trap),
                () = watchdog(&clock, self.limits.cpu_time + WATCHDOG_GRACE) => {
                    Err(Stopped::Stalled)
                }
            }
        };
        let result = stopped.map_err(|stopped| self.stop(&stopped, store.data()));
        let parts = store.data_mut().take_parts();
        self.retire(store);
        (result, parts)
    }

    /// Leaves a used sandbox to be torn down (its memories and stack unmapped) off the
    /// migration's thread: by the next preparation, or on a blocking thread of its own
    /// once more are waiting than [`RETIRED_MAX`].
    fn retire(&self, store: Store<SandboxState>) {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.push(store);
        if retired.len() > RETIRED_MAX {
            let stores = std::mem::take(&mut *retired);
            tokio::task::spawn_blocking(move || drop(stores));
        }
    }

    fn store(
        &self,
        (app, id): (&str, &MigrationId),
        call: &str,
        capture: Capture,
    ) -> Store<SandboxState> {
        // Seeded by the migration and the call, never by the mode: a preview and a live run
        // see the same "randomness" and emit the same SQL.
        let seed = format!("{app}/{id}/{call}");
        let mut store = Store::new(&self.engine, SandboxState::new(&self.limits, &seed, capture));
        store.limiter(|state| &mut state.limiter);
        let budget = self.limits.cpu_time;
        store.set_epoch_deadline(ticks(budget));
        // When the deadline passes, time spent waiting on the database does not count
        // against the guest: extend by what is left of its budget, or stop it.
        store.epoch_deadline_callback(move |ctx| {
            match budget.checked_sub(ctx.data().clock.guest_time()) {
                Some(left) if !left.is_zero() => Ok(UpdateDeadline::Continue(ticks(left))),
                _ => Ok(UpdateDeadline::Interrupt),
            }
        });
        store
    }

    /// What stopped a call, with words a user can act on: the kind, the limit and its key
    /// when a limit stopped it, a panic's message from the guest's stderr, and the top of
    /// the guest's backtrace.
    fn stop(&self, stopped: &Stopped, state: &SandboxState) -> Stop {
        let seconds = self.limits.cpu_time.as_secs();
        let error = match stopped {
            Stopped::Stalled => {
                return Stop {
                    kind: StopKind::Stalled,
                    message: format!(
                        "out of CPU budget: spent more than {seconds} s outside the database, \
                         blocked in a WASI call (a sleep or a poll that never ends?) \
                         ([limits] cpu_seconds)"
                    ),
                };
            }
            Stopped::Trap(error) => error,
        };
        let (kind, mut message) = if let Some(hit) = error.downcast_ref::<LimitHit>() {
            (StopKind::Limit(hit.clone()), hit.to_string())
        } else if let Some(ResourceTableError::Full) = error.downcast_ref::<ResourceTableError>() {
            let hit = LimitHit::Resources { limit: self.limits.resources };
            (StopKind::Limit(hit.clone()), hit.to_string())
        } else if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
            (
                StopKind::Exit(*code),
                format!("the migration called exit({code}) instead of returning"),
            )
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => (
                    StopKind::CpuBudget,
                    format!(
                        "out of CPU budget: ran guest code for more than {seconds} s (an endless \
                         loop?) ([limits] cpu_seconds)"
                    ),
                ),
                Some(Trap::StackOverflow) => {
                    (StopKind::StackOverflow, "stack overflow (unbounded recursion?)".to_string())
                }
                Some(Trap::UnreachableCodeReached) => {
                    let tail = state.log.tail();
                    if let Some(panic) = panic_message(&tail) {
                        (StopKind::Panic, format!("guest panic: {panic}"))
                    } else if let Some(line) = failed_allocation(&tail) {
                        (StopKind::OutOfMemory, format!("out of memory: {line}"))
                    } else {
                        (
                            StopKind::Unreachable,
                            "unreachable code reached (the guest aborted)".to_string(),
                        )
                    }
                }
                Some(trap) => (StopKind::Trap, format!("trapped: {trap}")),
                None => (StopKind::Host, chain(error)),
            }
        };
        if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
            let frames = backtrace_summary(backtrace);
            if !frames.is_empty() {
                message.push_str(&format!(" [wasm backtrace: {frames}]"));
            }
        }
        Stop { kind, message }
    }
}

/// Links `component` against the sandbox's imports and checks that it exports the
/// `wasmig:migration` world; or says why it cannot run.
fn link(
    linker: &Linker<SandboxState>,
    component: &Component,
) -> std::result::Result<MigrationComponentPre<SandboxState>, String> {
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| format!("unsupported imports: {}", chain(&e)))?;
    MigrationComponentPre::new(instance_pre)
        .map_err(|e| format!("does not export the wasmig:migration world: {}", chain(&e)))
}

/// The code of the migration under `key` in `cache`, linked against the sandbox, or its
/// file at `path` compiled again when the cache lost it (with the file's checksum then).
fn map(
    compilers: &Compilers,
    cache: Option<&Cache>,
    linker: &Linker<SandboxState>,
    key: Key,
    path: &Path,
    limit: u64,
) -> std::result::Result<Mapped, Refused> {
    if let Some(component) = cache.and_then(|cache| cache.load(compilers.engine(), key)) {
        return Ok((link(linker, &component), None));
    }
    let compiled = compile(compilers, cache, path, limit, Reuse::Code)?;
    match compiled.found {
        Found::Component { component, .. } => {
            Ok((link(linker, &component), Some(compiled.checksum)))
        }
        Found::Validated(_) => unreachable!("validation records are not asked for"),
    }
}

/// Waits until the call has used `limit` of time outside the database.
async fn watchdog(clock: &Arc<CallClock>, limit: Duration) {
    loop {
        let used = clock.guest_time();
        if used >= limit {
            return;
        }
        tokio::time::sleep(limit - used).await;
    }
}

fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// A component file read, checked and looked up in the compile cache.
struct Compiled {
    /// What was found.
    found: Found,
    /// sha256 of the file's bytes.
    checksum: String,
    /// The file's stamp as it was read, if it had settled.
    stamp: Option<FileStamp>,
    /// Its key in the compile cache.
    key: Key,
}

/// What [`compile`] found for a component.
enum Found {
    /// This wasmig validated the same bytes before, and the cache holds their compiled
    /// code: nothing to compile, map or validate now.
    Validated(Validated),
    /// The compiled component, still to be validated.
    Component {
        component: Component,
        /// Whether it was compiled now rather than taken from the cache.
        compiled: bool,
        /// Whether the cache holds it.
        cached: bool,
    },
}

/// What [`compile`] may take from the cache.
#[derive(Debug)]
enum Reuse {
    /// A validation record, else compiled code; with what the cache's folder record says
    /// of the file while it is unchanged since, when it says anything.
    Validation(Option<Indexed>),
    /// Compiled code only.
    Code,
}

/// Reads the component at `path` (its size, that it is a component). When `reuse` allows,
/// and this wasmig validated the same bytes before, gives that record, without reading the
/// file at all when the folder record gives its checksum; otherwise takes the compiled
/// component from `cache` when an engine with the runtime engine's fingerprint compiled it
/// before, or compiles it and stores it there. Blocks.
fn compile(
    compilers: &Compilers,
    cache: Option<&Cache>,
    path: &Path,
    limit: u64,
    reuse: Reuse,
) -> Result<Compiled, Refused> {
    let validation = matches!(reuse, Reuse::Validation(_));
    if let (Reuse::Validation(Some(known)), Some(cache)) = (reuse, cache) {
        let key = compilers.fingerprint().key(&known.checksum);
        if let Some(record) = cache.validated(key) {
            let (found, checksum) = (Found::Validated(record), known.checksum);
            return Ok(Compiled { found, checksum, stamp: Some(known.stamp), key });
        }
    }
    let (bytes, metadata) = read_component(path, limit)?;
    let checksum = source::checksum(&bytes);
    let stamp = FileStamp::settled(&metadata);
    let invalid = |message: &str| Err(Refused::Invalid(message.to_string()));
    if wasmparser::Parser::is_core_wasm(&bytes) {
        return invalid("a core WebAssembly module, not a component");
    }
    if !wasmparser::Parser::is_component(&bytes) {
        return invalid("not a WebAssembly component");
    }
    let key = compilers.fingerprint().key(&checksum);
    let found = |found: Found| Ok(Compiled { found, checksum: checksum.clone(), stamp, key });
    if validation && let Some(record) = cache.and_then(|cache| cache.validated(key)) {
        return found(Found::Validated(record));
    }
    if let Some(component) = cache.and_then(|cache| cache.load(compilers.engine(), key)) {
        return found(Found::Component { component, compiled: false, cached: true });
    }
    let (component, image) = compilers
        .compile(&bytes)
        .map_err(|e| Refused::Invalid(format!("invalid component: {}", chain(&e))))?;
    let cached = cache.is_some_and(|cache| cache.store(key, &image));
    found(Found::Component { component, compiled: true, cached })
}

/// What a compile task for the file at `path` gave, as the error a user sees; `fail`
/// words a refusal.
fn joined<T>(
    joined: std::result::Result<std::result::Result<T, Refused>, tokio::task::JoinError>,
    path: &Path,
    fail: impl Fn(String) -> Error,
) -> Result<T> {
    let result = joined.map_err(|e| Error::Runtime(format!("the compile task failed: {e}")))?;
    refusal(result, path, fail)
}

/// A refusal of the file at `path` as the error a user sees; `fail` words an invalid one.
fn refusal<T>(
    result: std::result::Result<T, Refused>,
    path: &Path,
    fail: impl Fn(String) -> Error,
) -> Result<T> {
    result.map_err(|refused| match refused {
        Refused::Io(e) => Error::io(path, e),
        Refused::Invalid(message) => fail(message),
    })
}

/// Why a component file could not be compiled.
#[derive(Debug)]
enum Refused {
    /// It could not be read.
    Io(std::io::Error),
    /// It is not a valid component, or too large to be one.
    Invalid(String),
}

/// Reads a component file, refusing one over `limit` bytes before reading it. Gives its
/// bytes and its metadata as it was opened.
fn read_component(path: &Path, limit: u64) -> Result<(Vec<u8>, std::fs::Metadata), Refused> {
    let file = std::fs::File::open(path).map_err(Refused::Io)?;
    let metadata = file.metadata().map_err(Refused::Io)?;
    let size = metadata.len();
    let too_large = |size: u64| {
        Refused::Invalid(format!(
            "the component file is {size} bytes, over the limit of {} MiB ([limits] component_mib)",
            limit >> 20
        ))
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may have grown since its size was read: never read past the limit.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(Refused::Io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok((bytes, metadata))
}

/// Whether a migration may import the interface `name` (`wasi:io/poll@0.2.6`).
fn import_allowed(name: &str) -> bool {
    let Some((package, interface)) = name.split_once('/') else { return false };
    let interface = interface.split_once('@').map_or(interface, |(interface, _)| interface);
    if package == "wasmig:migration" {
        return true;
    }
    ALLOWED_WASI.iter().any(|(allowed, interfaces)| {
        *allowed == package && interfaces.iter().any(|i| *i == "*" || *i == interface)
    })
}

/// The message and location of the last Rust panic in the guest's output:
/// `thread '<unnamed>' panicked at src/lib.rs:12:9:\nboom\nnote: ...` gives
/// `boom (at src/lib.rs:12:9)`.
fn panic_message(log: &str) -> Option<String> {
    let start = log.rfind(" panicked at ")?;
    let rest = &log[start + " panicked at ".len()..];
    let (location, rest) = rest.split_once('\n').unwrap_or((rest, ""));
    let location = location.trim_end_matches(':').trim();
    let message: Vec<&str> = rest
        .lines()
        .take_while(|line| !line.starts_with("note: "))
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    let message = if message.is_empty() { "(no message)".to_string() } else { message.join(" ") };
    Some(format!("{message} (at {location})"))
}

/// The line in which the guest's allocator reported that it could not get memory.
fn failed_allocation(log: &str) -> Option<&str> {
    log.lines().rev().find(|line| line.starts_with("memory allocation of "))
}

/// The innermost frames of a backtrace that belong to the migration rather than to the
/// language's runtime or the SDK's glue: at most five, innermost first, demangled, with a
/// recursing function shown once.
fn backtrace_summary(backtrace: &WasmBacktrace) -> String {
    const RUNTIME: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "__rust",
        "rust_panic",
        "abort",
        "dlmalloc",
        "wit_bindgen",
        "wasmig_guest::",
    ];
    let names: Vec<String> = backtrace
        .frames()
        .iter()
        .filter_map(|frame| frame.func_name())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .collect();
    let own: Vec<&String> =
        names.iter().filter(|name| !RUNTIME.iter().any(|p| name.starts_with(p))).collect();
    let frames = if own.is_empty() { names.iter().collect() } else { own };
    let mut shown: Vec<String> = Vec::new();
    let mut previous: Option<&String> = None;
    for name in frames {
        if previous == Some(name) {
            if let Some(last) = shown.last_mut()
                && !last.ends_with(" (recursing)")
            {
                last.push_str(" (recursing)");
            }
            continue;
        }
        if shown.len() == 5 {
            break;
        }
        previous = Some(name);
        shown.push(name.clone());
    }
    shown.join(" <- ")
}

fn chain(error: &wasmtime::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Image;

    #[test]
    fn a_file_the_folder_record_knows_is_not_read_when_its_validation_is_cached() {
        let runtime = Runtime::new(Limits::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let checksum = "ab".repeat(32);
        let key = runtime.compilers.fingerprint().key(&checksum);
        let component = Component::new(&runtime.engine, "(component)").unwrap();
        assert!(cache.store(key, &Image::of(&component).unwrap()));
        cache.record_validated(key, &Validated::new("Known".into(), true));
        let known = |checksum: &str| -> Indexed {
            serde_json::from_value(serde_json::json!({
                "stamp": { "len": 11, "modified_ns": 1, "changed_ns": 1, "inode": 7 },
                "checksum": checksum,
                "description": "Known",
                "transactional": true,
            }))
            .unwrap()
        };
        // The file is gone: only the record can describe it.
        let gone = dir.path().join("20240101000000_gone.wasm");
        let compile = |reuse| compile(&runtime.compilers, Some(&cache), &gone, 1 << 20, reuse);

        let compiled = compile(Reuse::Validation(Some(known(&checksum)))).unwrap();
        assert_eq!(compiled.checksum, checksum);
        assert_eq!(compiled.key, key);
        assert!(compiled.stamp.is_some());
        match compiled.found {
            Found::Validated(record) => assert_eq!(record.description, "Known"),
            Found::Component { .. } => panic!("the known file was compiled"),
        }
        // Without the record, or with a checksum nothing was validated for, the file is read.
        for reuse in [Reuse::Validation(None), Reuse::Validation(Some(known(&"cd".repeat(32))))] {
            assert!(matches!(compile(reuse), Err(Refused::Io(_))));
        }
        // Asked for code, the record is no use either.
        assert!(matches!(compile(Reuse::Code), Err(Refused::Io(_))));
    }

    #[test]
    fn the_allowlist_takes_the_sdk_imports_and_refuses_the_rest() {
        for allowed in [
            "wasmig:migration/types@0.1.0",
            "wasmig:migration/database@0.1.0",
            "wasi:io/poll@0.2.6",
            "wasi:io/streams@0.2.9",
            "wasi:cli/environment@0.2.6",
            "wasi:cli/terminal-stderr@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:random/insecure-seed@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:sockets/ip-name-lookup@0.2.9",
            "wasi:sockets/udp-create-socket@0.2.9",
        ] {
            assert!(import_allowed(allowed), "{allowed}");
        }
        for refused in [
            "wasi:sockets/other@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/run@0.2.6",
            "wasi:filesystem/other@0.2.6",
            "evil:pkg/iface",
            "wasi:iox/poll@0.2.6",
            "a-plain-function",
        ] {
            assert!(!import_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn a_panic_message_is_found_at_the_end_of_the_log() {
        let log = "starting\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(log).unwrap(), "boom (at src/lib.rs:12:9)");
        let multi = "thread 'main' panicked at a.rs:1:1:\nline one\nline two\n";
        assert_eq!(panic_message(multi).unwrap(), "line one line two (at a.rs:1:1)");
        assert_eq!(panic_message("just a log\n"), None);
        assert_eq!(
            failed_allocation("x\nmemory allocation of 1048576 bytes failed\n"),
            Some("memory allocation of 1048576 bytes failed")
        );
    }

    #[test]
    fn an_oversized_component_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("20240101000000_big.wasm");
        std::fs::write(&path, vec![0u8; 2048]).unwrap();
        let Err(Refused::Invalid(error)) = read_component(&path, 1024) else {
            panic!("an oversized file is refused")
        };
        assert!(error.contains("2048 bytes") && error.contains("component_mib"), "{error}");
        assert_eq!(read_component(&path, 4096).unwrap().0.len(), 2048);
    }
}
