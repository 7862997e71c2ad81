//! One call into a migration: its compiled code instantiated in a fresh sandbox under the
//! time budget, one export called, and the used sandbox left to be torn down off the
//! migration's thread.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use super::diagnosis::{Stopped, diagnose};
use super::engine::ticks;
use super::{LoadedMigration, Runtime};
use crate::bindings::MigrationComponentPre;
use crate::bindings::exports::wasmig::migration::migration::Description;
use crate::bindings::wasmig::migration::types::Context;
use crate::capture::Capture;
use crate::error::{Failure, Stop};
use crate::limits;
use crate::plan::Direction;
use crate::sandbox::{CallClock, GuestLog, SandboxState};
use crate::source::MigrationId;

/// How long past its budget a call blocked in the host (a guest sleeping or polling) is
/// left before it is abandoned. Running guest code is stopped by the epoch deadline at the
/// budget itself, with a backtrace; the grace keeps that the first to fire.
const WATCHDOG_GRACE: Duration = Duration::from_millis(500);

/// The most used sandboxes left waiting for a preparation to tear them down; with more,
/// they are torn down on a blocking thread of their own.
const RETIRED_MAX: usize = 2;

/// A migration's compiled code, ready to be instantiated: see [`Runtime::prepare`].
pub struct Prepared {
    /// The code, linked against the sandbox's imports.
    code: MigrationComponentPre<SandboxState>,
    /// Whether it had to be compiled again (the compile cache had lost it).
    compiled: bool,
}

impl Prepared {
    pub(super) fn new(code: MigrationComponentPre<SandboxState>, compiled: bool) -> Self {
        Prepared { code, compiled }
    }

    /// Whether it had to be compiled again (the compile cache had lost it).
    pub fn compiled(&self) -> bool {
        self.compiled
    }

    /// The linked code, to be kept once the migration is validated.
    pub(super) fn into_code(self) -> MigrationComponentPre<SandboxState> {
        self.code
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("compiled", &self.compiled).finish_non_exhaustive()
    }
}

/// What one call into a migration left behind.
#[derive(Debug)]
pub struct CallOutcome {
    /// The database handle and the statements the migration emitted.
    pub capture: Capture,
    /// What the migration wrote to stdout and stderr.
    pub log: GuestOutput,
    /// Ok, or why the call failed: the migration's own error, or what stopped it (out of
    /// CPU budget, out of memory, stack overflow, a panic with its message, a host limit,
    /// ...) with the top of its backtrace.
    pub result: Result<(), Failure>,
}

/// What a migration wrote to stdout and stderr during one call, as far as it was kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestOutput {
    /// The output kept, both streams in the order written.
    pub text: String,
    /// How many bytes were dropped past the log limit.
    pub dropped: u64,
}

/// One of the migration's exports.
pub(super) enum Export {
    Describe,
    Run(Direction, Context),
}

/// What an export returned.
pub(super) enum Returned {
    Description(Description),
    Run(Result<(), String>),
}

/// What seeds a sandbox's randomness, with the name of the call: the migration, never the
/// mode, so that a preview and a live run see the same "randomness" and emit the same SQL.
#[derive(Clone, Copy)]
pub(super) struct Seed<'a> {
    pub(super) app: &'a str,
    pub(super) id: &'a MigrationId,
}

/// What [`Runtime::invoke`] gives back: what the export returned or what stopped it, and
/// the sandbox's database handle and output.
pub(super) struct Invoked {
    pub(super) returned: Result<Returned, Stop>,
    pub(super) capture: Capture,
    pub(super) log: GuestLog,
}

impl Runtime {
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
        let seed = Seed { app: &migration.app, id: &migration.id };
        let Invoked { returned, capture, log } =
            self.invoke(code, seed, Export::Run(direction, context), capture).await;
        let result = match returned {
            Ok(Returned::Run(result)) => result.map_err(|message| {
                Failure::Guest(limits::truncated(message, limits::MESSAGE_BYTES))
            }),
            Ok(Returned::Description(_)) => unreachable!("forwards and backwards return a result"),
            Err(stop) => Err(Failure::Stopped(stop)),
        };
        let (text, dropped) = log.contents();
        CallOutcome { capture, log: GuestOutput { text, dropped }, result }
    }

    /// Instantiates `code` in a fresh sandbox and calls `export`, under the time budget.
    /// `seed` seeds the sandbox's randomness. Gives what the export returned, or what
    /// stopped it, and the sandbox state.
    pub(super) async fn invoke(
        &self,
        code: &Prepared,
        seed: Seed<'_>,
        export: Export,
        capture: Capture,
    ) -> Invoked {
        let call = match &export {
            Export::Describe => "describe",
            Export::Run(direction, _) => direction.name(),
        };
        let mut store = self.store(seed, call, capture);
        let clock = store.data().clock.clone();
        let stopped = {
            let run = async {
                let instance = code.code.instantiate_async(&mut store).await?;
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
        let returned = stopped.map_err(|stopped| diagnose(&stopped, store.data(), &self.limits));
        let (capture, log) = store.data_mut().take_parts();
        self.retire(store);
        Invoked { returned, capture, log }
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

    /// A fresh sandbox for the call `call` of the migration `seed` names: its limits, and
    /// its time budget as an epoch deadline.
    fn store(
        &self,
        Seed { app, id }: Seed<'_>,
        call: &str,
        capture: Capture,
    ) -> Store<SandboxState> {
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
