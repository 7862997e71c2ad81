//! A step run for real. Its statements and its ledger change commit together in one
//! transaction. Where that cannot be all-or-nothing (a non-transactional migration, or a
//! backend whose DDL commits implicitly) the ledger row is marked dirty before the
//! migration starts and made clean only when it succeeded, so a failure or a kill leaves a
//! dirty row that blocks further runs until someone resolves it.

use super::artefact::Packing;
use super::{Executor, Step, Trace, record};
use crate::backend::{Capabilities, Value};
use crate::error::{Error, Failure, Result, Rollback};
use crate::ledger;
use crate::plan::Direction;
use crate::runtime::{LoadedMigration, Preparing};

/// What a live step can promise, worked out before it starts.
struct Bounds {
    /// Whether the step begins and ends a transaction of its own. In a batch the
    /// transaction is the batch's: begun before the first step, ended after the last.
    own_transaction: bool,
    /// Whether the step is all-or-nothing: a transactional migration on a backend whose DDL
    /// rolls back with the transaction. Otherwise its ledger row is marked dirty while it
    /// runs.
    atomic: bool,
}

impl Bounds {
    /// The bounds of `step` on a backend that can do what `capabilities` says.
    fn of(step: &Step, in_batch: bool, capabilities: &Capabilities) -> Self {
        let transactional = step.migration.transactional;
        Bounds {
            own_transaction: transactional && !in_batch,
            atomic: transactional && capabilities.transactional_ddl,
        }
    }
}

/// The ledger's rows as a migration found them, to compare with what it leaves.
type Watched = Option<Vec<Vec<Value>>>;

impl Executor<'_> {
    /// Runs a step for real (see the module's comment). In a batch, a failure leaves the
    /// batch's transaction to be rolled back with every step in it.
    pub(super) async fn live(
        &mut self,
        step: &Step,
        preparing: Option<Preparing>,
        packing: Option<Packing>,
        trace: &mut Trace,
        in_batch: bool,
    ) -> Result<()> {
        let bounds = Bounds::of(step, in_batch, self.conn().capabilities());
        let code = self.ready(step, preparing).await?;
        trace.compiled = code.compiled();
        // What is stored with the ledger row is ready before anything changes, so a file
        // that changed since it was validated fails the step while there is nothing to
        // undo, even for a migration that cannot be rolled back.
        let packed = self.packed(step, packing).await?;
        if !bounds.atomic {
            self.mark_dirty(step).await?;
        }
        if bounds.own_transaction {
            self.begin_own_transaction(step).await?;
        }
        let watched = self.watch_ledger().await?;
        let outcome = self.call(step, &code, false).await;
        // Unmapped as soon as it ran, before the bookkeeping.
        drop(code);
        trace.statements = outcome.capture.statements;
        trace.log = outcome.log;
        let tampered = self.ledger_changed(watched, &outcome.result).await?;
        let result = if tampered { Err(tampering()) } else { outcome.result };
        let failure = match result {
            Ok(()) => self.write_success(step, bounds.atomic, packed, trace).await?,
            Err(failure) => Some(failure),
        };
        if in_batch {
            return failure.map_or(Ok(()), |f| Err(step.failed(f, Rollback::Done, false)));
        }
        let Some((failure, rollback)) = self.end_own_transaction(step, &bounds, failure).await
        else {
            return Ok(());
        };
        // What could not be rolled back stays marked, even if the migration deleted its row.
        if tampered && !bounds.atomic {
            self.keep_dirty(&step.migration).await?;
        }
        Err(step.failed(failure, rollback, !bounds.atomic))
    }

    /// Marks the step's ledger row dirty before the migration starts (writing the row of a
    /// migration going forwards), so that a failure or a kill leaves it so.
    async fn mark_dirty(&mut self, step: &Step) -> Result<()> {
        let m = &step.migration;
        match step.direction {
            Direction::Forwards => record(self.conn(), m, true).await,
            Direction::Backwards => ledger::set_dirty(self.conn(), &m.app, &m.id, true).await,
        }
    }

    async fn begin_own_transaction(&mut self, step: &Step) -> Result<()> {
        self.conn()
            .begin()
            .await
            .map_err(|e| Error::database(format!("{}: cannot begin a transaction", step.what()), e))
    }

    /// The ledger's rows before the migration runs, where the database cannot refuse a
    /// migration's changes to the ledger itself ([`Capabilities::guards_own_tables`]): they
    /// are found by comparing it before and after, and the migration then fails.
    async fn watch_ledger(&mut self) -> Result<Watched> {
        if self.conn().capabilities().guards_own_tables {
            return Ok(None);
        }
        ledger::contents(self.conn()).await.map(Some)
    }

    /// Whether a migration that succeeded left the ledger other than `watched` found it.
    async fn ledger_changed(
        &mut self,
        watched: Watched,
        result: &Result<(), Failure>,
    ) -> Result<bool> {
        let Some(before) = watched else { return Ok(false) };
        if result.is_err() {
            return Ok(false);
        }
        Ok(ledger::contents(self.conn()).await? != before)
    }

    /// Writes the success of the step into the ledger, inside its transaction: the row of
    /// a migration applied, with its component, made clean where it was marked dirty, or
    /// the row of one reversed removed. A database error is the step's failure (its
    /// transaction is then rolled back); any other error stops the run as it is.
    async fn write_success(
        &mut self,
        step: &Step,
        atomic: bool,
        packed: Option<ledger::Packed>,
        trace: &mut Trace,
    ) -> Result<Option<Failure>> {
        match self.write_ledger(step, atomic, packed, trace).await {
            Ok(()) => Ok(None),
            Err(Error::Database { context, source }) => {
                Ok(Some(Failure::Database { context, error: source }))
            }
            Err(other) => Err(other),
        }
    }

    /// The ledger writes of [`Executor::write_success`], in the order they run.
    async fn write_ledger(
        &mut self,
        step: &Step,
        atomic: bool,
        packed: Option<ledger::Packed>,
        trace: &mut Trace,
    ) -> Result<()> {
        let m = &step.migration;
        match step.direction {
            Direction::Forwards if atomic => {
                record(self.conn(), m, false).await?;
                self.store(m, packed, trace).await
            }
            Direction::Forwards => {
                self.store(m, packed, trace).await?;
                ledger::set_dirty(self.conn(), &m.app, &m.id, false).await
            }
            Direction::Backwards => {
                ledger::remove(self.conn(), &m.app, &m.id, ledger::Artefacts::Ensured).await
            }
        }
    }

    /// Commits the step's own transaction when it succeeded, or rolls it back when it
    /// failed. Gives the failure to report, if there is one, and what became of the
    /// transaction; a step without a transaction of its own has none to end.
    async fn end_own_transaction(
        &mut self,
        step: &Step,
        bounds: &Bounds,
        failure: Option<Failure>,
    ) -> Option<(Failure, Rollback)> {
        match (failure, bounds.own_transaction) {
            (None, false) => None,
            (None, true) => {
                let error = self.conn().commit().await.err()?;
                let context = format!("{}: cannot commit", step.what());
                Some((Failure::Database { context, error }, Rollback::NotNeeded))
            }
            (Some(failure), false) => Some((failure, Rollback::NotNeeded)),
            (Some(failure), true) => match self.conn().rollback().await {
                Ok(()) => Some((failure, Rollback::Done)),
                Err(r) => Some((failure, Rollback::Failed(r.message))),
            },
        }
    }

    /// Leaves the ledger row of `m` dirty after a migration that changed the ledger and
    /// could not be rolled back, writing it again if the migration deleted it.
    async fn keep_dirty(&mut self, m: &LoadedMigration) -> Result<()> {
        if ledger::has_row(self.conn(), &m.app, &m.id).await? {
            ledger::set_dirty(self.conn(), &m.app, &m.id, true).await
        } else {
            record(self.conn(), m, true).await
        }
    }
}

/// The failure of a migration that changed the ledger.
fn tampering() -> Failure {
    Failure::Guest(format!(
        "it changed wasmig's ledger ({}), which only wasmig may change",
        ledger::TABLE
    ))
}
