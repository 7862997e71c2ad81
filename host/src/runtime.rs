//! The one configured wasmtime [`Engine`]: loading migration components, validating them
//! against the `wasmig:migration` world, and calling them in a fresh sandbox each time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, Trap, UpdateDeadline, WasmBacktrace};

use crate::bindings::exports::wasmig::migration::migration::Description;
use crate::bindings::wasmig::migration::types::Context;
use crate::bindings::{MigrationComponent, MigrationComponentPre};
use crate::capture::{Capture, DatabaseHandle};
use crate::error::{Error, Result};
use crate::sandbox::{Limits, SandboxState};
use crate::source::{self, MigrationFile, MigrationId};

/// How often the epoch ticks; the resolution of the call time budget.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

impl Direction {
    /// `forwards` or `backwards`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forwards => "forwards",
            Direction::Backwards => "backwards",
        }
    }
}

/// The engine and linker shared by every migration of a run.
pub struct Runtime {
    engine: Engine,
    linker: Linker<SandboxState>,
    limits: Limits,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// A migration component that has been compiled, checked against the world and described.
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
    pre: MigrationComponentPre<SandboxState>,
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
    /// Ok, or why the call failed: the migration's own error or a trap.
    pub result: std::result::Result<(), String>,
}

impl Runtime {
    /// Configures the engine and the linker: WASI (deny-all, see [`SandboxState`]) and the
    /// `wasmig:migration/database` import, nothing else.
    pub fn new(limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Epoch interruption enforces the call time budget without slowing guest code as
        // much as fuel would.
        config.epoch_interruption(true);
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
        Ok(Runtime { engine, linker, limits })
    }

    /// Reads, compiles and validates the component of `file`, then asks it to describe
    /// itself. Any failure names the app, the migration and the file.
    pub async fn load(&self, app: &str, file: &MigrationFile) -> Result<LoadedMigration> {
        let fail = |message: String| Error::Load {
            app: app.to_string(),
            id: file.id.to_string(),
            path: file.path.clone(),
            message,
        };
        let bytes = source::read(&file.path)?;
        let checksum = source::checksum(&bytes);
        if wasmparser::Parser::is_core_wasm(&bytes) {
            return Err(fail("a core WebAssembly module, not a component".into()));
        }
        if !wasmparser::Parser::is_component(&bytes) {
            return Err(fail("not a WebAssembly component".into()));
        }
        let component = Component::new(&self.engine, &bytes)
            .map_err(|e| fail(format!("invalid component: {}", chain(&e))))?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(format!("unsupported imports: {}", chain(&e))))?;
        let pre = MigrationComponentPre::new(instance_pre).map_err(|e| {
            fail(format!("does not export the wasmig:migration world: {}", chain(&e)))
        })?;
        let mut migration = LoadedMigration {
            app: app.to_string(),
            id: file.id.clone(),
            path: file.path.clone(),
            checksum,
            description: String::new(),
            transactional: true,
            pre,
        };
        let description =
            self.describe(&migration).await.map_err(|e| fail(format!("describe failed: {e}")))?;
        migration.description = description.description;
        migration.transactional = description.transactional;
        Ok(migration)
    }

    async fn describe(
        &self,
        migration: &LoadedMigration,
    ) -> std::result::Result<Description, String> {
        let mut store = self.store(migration, "describe", Capture::new(DatabaseHandle::Detached));
        let instance =
            migration.pre.instantiate_async(&mut store).await.map_err(|e| trap_message(&e))?;
        instance
            .wasmig_migration_migration()
            .call_describe(&mut store)
            .await
            .map_err(|e| trap_message(&e))
    }

    /// Calls `forwards` or `backwards` of `migration` in a fresh sandbox whose database
    /// import is `capture`. The capture comes back whatever happened.
    pub async fn call(
        &self,
        migration: &LoadedMigration,
        direction: Direction,
        context: Context,
        capture: Capture,
    ) -> CallOutcome {
        let mut store = self.store(migration, direction.name(), capture);
        let result = async {
            let instance =
                migration.pre.instantiate_async(&mut store).await.map_err(|e| trap_message(&e))?;
            let exports = instance.wasmig_migration_migration();
            let returned = match direction {
                Direction::Forwards => exports.call_forwards(&mut store, &context).await,
                Direction::Backwards => exports.call_backwards(&mut store, &context).await,
            };
            returned.map_err(|e| trap_message(&e))?
        }
        .await;
        let (capture, log) = store.into_data().into_parts();
        CallOutcome { capture, log: log.contents(), result }
    }

    fn store(
        &self,
        migration: &LoadedMigration,
        call: &str,
        capture: Capture,
    ) -> Store<SandboxState> {
        // Seeded by the migration and the call, never by the mode: a preview and a live run
        // see the same "randomness" and emit the same SQL.
        let seed = format!("{}/{}/{call}", migration.app, migration.id);
        let mut store = Store::new(&self.engine, SandboxState::new(&self.limits, &seed, capture));
        store.limiter(|state| &mut state.limits);
        let budget = self.limits.call_timeout;
        let started = Instant::now();
        store.set_epoch_deadline(ticks(budget));
        // When the deadline passes, time spent waiting on the database does not count
        // against the guest: extend by what is left of its budget, or stop it.
        store.epoch_deadline_callback(move |ctx| {
            let guest_time = started.elapsed().saturating_sub(ctx.data().host_time);
            match budget.checked_sub(guest_time) {
                Some(left) if !left.is_zero() => Ok(UpdateDeadline::Continue(ticks(left))),
                _ => Ok(UpdateDeadline::Interrupt),
            }
        });
        store
    }
}

fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// The message of a failed call: the trap kind in words, the cause chain, and the top of
/// the guest's backtrace when there is one.
fn trap_message(error: &wasmtime::Error) -> String {
    let mut message = match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "ran out of its time budget (endless loop?)".to_string(),
        Some(Trap::StackOverflow) => "stack overflow".to_string(),
        Some(Trap::UnreachableCodeReached) => {
            "trapped: unreachable code (guest panic?)".to_string()
        }
        Some(trap) => format!("trapped: {trap}"),
        None => chain(error),
    };
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        let frames: Vec<String> = backtrace
            .frames()
            .iter()
            .take(5)
            .map(|frame| frame.func_name().unwrap_or("<unknown>").to_string())
            .collect();
        if !frames.is_empty() {
            message.push_str(&format!(" (wasm backtrace: {})", frames.join(" <- ")));
        }
    }
    message
}

fn chain(error: &wasmtime::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
