//! The one engine configuration every migration runs on, each setting with the reason for
//! it; the linker that gives a migration its imports and nothing else; and the epoch ticker
//! that enforces the call time budget.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel, Strategy};

use super::compilers::Compilers;
use super::diagnosis::chain;
use super::policy;
use crate::bindings::MigrationComponent;
use crate::cache::EngineFingerprint;
use crate::config::Compiler;
use crate::error::{Error, Result};
use crate::sandbox::SandboxState;

/// How often the epoch ticks; the resolution of the call time budget.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The epoch ticks in `budget`, at least one.
pub(super) fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// The engine, the linker bound to it, and what compiles components for it.
pub(super) struct Configured {
    pub(super) engine: Engine,
    pub(super) linker: Linker<SandboxState>,
    pub(super) compilers: Compilers,
}

/// Configures the engine, compiling with `compiler`, and the linker: WASI (deny-all, see
/// [`SandboxState`]) and the `wasmig:migration/database` import, nothing else. Starts the
/// epoch ticker, which stops with the engine.
pub(super) fn configure(compiler: Compiler) -> Result<Configured> {
    let config = config(compiler);
    let engine = Engine::new(&config).map_err(setup("engine"))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup("WASI linker"))?;
    MigrationComponent::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
        .map_err(setup("wasmig:migration linker"))?;
    start_epoch_ticker(&engine)?;
    // The import policy is part of what a cached compile was validated against: a wasmig
    // with another allowlist must not trust this one's validation records.
    let policy = policy::fingerprint();
    let fingerprint = EngineFingerprint::of(&engine, &policy);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let compilers = Compilers::new(engine.clone(), &config, fingerprint, policy, cores);
    Ok(Configured { engine, linker, compilers })
}

/// The engine's settings.
fn config(compiler: Compiler) -> Config {
    let mut config = Config::new();
    // Migrations are components of the `wasmig:migration` world, never core modules.
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
    config
}

/// Words a failure to set up `part` of the engine.
fn setup(part: &'static str) -> impl FnOnce(wasmtime::Error) -> Error {
    move |error| Error::EngineSetup { part, message: chain(&error) }
}

/// Advances the epoch of `engine` every [`EPOCH_TICK`] on a thread of its own, until the
/// engine is dropped: without it no call would ever reach its deadline.
fn start_epoch_ticker(engine: &Engine) -> Result<()> {
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
        .map_err(|source| Error::Start { what: "the epoch ticker", source })?;
    Ok(())
}
