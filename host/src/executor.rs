//! The one executor: runs a list of planned steps in order, forwards or backwards, for real,
//! as a preview or as a fake, and reports each step. Deciding the steps is the planner's
//! job ([`crate::plan`]); loading them the runtime's.

use std::path::PathBuf;
use std::time::Instant;

use crate::backend::Connection;
use crate::bindings::wasmig::migration::types::Context;
use crate::capture::{Capture, DatabaseHandle};
use crate::error::{Error, Failure, LoadError, LoadReason, MigrationError, Result, Rollback};
use crate::ledger;
use crate::plan::Direction;
use crate::report::{Batch, Event, Hooks, MigrationReport, Mode, Outcome, RunReport};
use crate::runtime::{
    Alongside, CallOutcome, GuestOutput, LoadedMigration, Prepared, Preparing, Runtime,
};

/// One migration to run one way.
#[derive(Debug)]
pub(crate) struct Step {
    /// The loaded, validated migration.
    pub migration: LoadedMigration,
    /// Which way.
    pub direction: Direction,
    /// Delete its component file once its reversal is committed (`backwards --clean`).
    pub delete_file: bool,
    /// The folder holding the component taken from the database, when the step runs
    /// that rather than a file of the app; kept until the step has run.
    pub _stored: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// What a step left behind besides its outcome.
#[derive(Debug, Default)]
struct Trace {
    /// Whether its code had to be compiled again just before it ran.
    compiled: bool,
    statements: Vec<String>,
    log: GuestOutput,
    deleted_file: Option<PathBuf>,
    /// Something that went through but is worth a warning.
    warning: Option<String>,
}

/// What is got ready for a step while the one before it runs.
#[derive(Debug, Default)]
struct Ahead {
    /// Its compiled code, unless it is faked.
    code: Option<Preparing>,
    /// Its component compressed for storing, when it goes forwards and storing is on.
    packing: Option<Packing>,
}

/// A migration's component being read again and compressed on a blocking thread, for
/// storing with its ledger row ([`ledger::pack`]).
#[derive(Debug)]
struct Packing {
    result: tokio::sync::oneshot::Receiver<Result<ledger::Packed>>,
}

impl Packing {
    /// Packing the component of `m`, to be stored unless it compresses to more than
    /// `max_bytes`, and the blocking work that does it. The file must still hold the bytes
    /// that were validated, so what is stored is what runs.
    fn new(m: &LoadedMigration, max_bytes: u64) -> (Self, Alongside) {
        let (app, id, path, checksum) =
            (m.app.clone(), m.id.clone(), m.path.clone(), m.checksum.clone());
        let (sender, result) = tokio::sync::oneshot::channel();
        let work = move || {
            let packed = crate::source::read(&path).and_then(|bytes| {
                let now = crate::source::checksum(&bytes);
                if now != checksum {
                    let reason = LoadReason::ChangedAfterValidation {
                        validated: checksum,
                        now,
                        storing: true,
                    };
                    return Err(LoadError::new(&app, &id.to_string(), &path, reason).into());
                }
                ledger::pack(&checksum, &bytes, max_bytes)
            });
            // The receiver is gone only when the run stopped before this step.
            let _ = sender.send(packed);
        };
        (Packing { result }, Box::new(work))
    }

    /// [`Packing::new`], its work started on a blocking thread of its own.
    fn start(m: &LoadedMigration, max_bytes: u64) -> Self {
        let (packing, work) = Self::new(m, max_bytes);
        tokio::task::spawn_blocking(work);
        packing
    }

    async fn finish(self) -> Result<ledger::Packed> {
        self.result.await.map_err(|_| Error::TaskLost { task: "compress task", detail: None })?
    }
}

/// The most a step's component may compress to for it to be stored with its ledger row;
/// `None` when nothing is stored: storing is off (`store_artefacts`), or it goes backwards.
fn packing_limit(store_artefacts: Option<u64>, step: &Step) -> Option<u64> {
    store_artefacts.filter(|_| step.direction == Direction::Forwards)
}

/// Runs steps on one connection.
pub(crate) struct Executor<'a> {
    runtime: &'a Runtime,
    hooks: &'a dyn Hooks,
    /// Always present, except while a migration call has it.
    conn: Option<Connection>,
    /// The largest compressed component stored with its ledger row; `None`: none is.
    store_artefacts: Option<u64>,
}

impl<'a> Executor<'a> {
    pub(crate) fn new(
        runtime: &'a Runtime,
        hooks: &'a dyn Hooks,
        conn: Connection,
        store_artefacts: Option<u64>,
    ) -> Self {
        Executor { runtime, hooks, conn: Some(conn), store_artefacts }
    }

    fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("the connection is back after every call")
    }

    /// Runs `steps` in order, the way `report.mode` says, stopping at the first failure.
    /// Every step ends up in `report`: completed, failed, or skipped after a failure; the
    /// failure is the report's error. With `report.batch` every step runs in one
    /// transaction, committed at the end (`--atomic`) or rolled back (`--dry-run`, or a
    /// failure); see [`refuse_batch`] for when that is possible. Gives the connection back.
    pub(crate) async fn run(mut self, steps: &[Step], report: &mut RunReport) -> Connection {
        let mode = report.mode;
        let batch = report.batch.filter(|_| mode == Mode::Live);
        self.hooks.event(Event::Planned { total: steps.len() });
        if batch.is_some()
            && let Err(e) = self.conn().begin().await
        {
            report.error = Some(Error::database("cannot begin the batch's transaction", e));
        }
        // Recording a migration as applied needs the ledger table, reversing one the
        // artefacts table, which a ledger written by an older wasmig lacks.
        if mode != Mode::Preview
            && report.error.is_none()
            && let Err(e) = ledger::ensure(self.conn()).await
        {
            report.error = Some(e);
        }
        // Each migration's code is mapped from the compile cache on another thread while
        // the one before it runs, and unmapped once it ran: at most two are held.
        // So is the component it stores with its ledger row read and compressed.
        let store_artefacts = self.store_artefacts.filter(|_| mode != Mode::Preview);
        let prepare = |step: &Step| {
            let max_bytes = packing_limit(store_artefacts, step);
            if mode == Mode::Fake {
                let packing = max_bytes.map(|max_bytes| Packing::start(&step.migration, max_bytes));
                return Ahead { code: None, packing };
            }
            let (packing, work) =
                max_bytes.map(|max_bytes| Packing::new(&step.migration, max_bytes)).unzip();
            Ahead { code: Some(self.runtime.prepare_with(&step.migration, work)), packing }
        };
        let mut next = steps.first().map(prepare);
        for (index, step) in steps.iter().enumerate() {
            let Ahead { code: preparing, packing } = next.take().unwrap_or_default();
            if report.error.is_some() {
                let skipped =
                    report_of(step, mode, Outcome::Skipped, Instant::now(), Trace::default());
                report.migrations.push(skipped);
                continue;
            }
            next = steps.get(index + 1).map(prepare);
            let m = &step.migration;
            self.hooks.event(Event::Started {
                app: &m.app,
                migration_id: m.id.as_str(),
                direction: step.direction,
            });
            let started = Instant::now();
            let mut trace = Trace::default();
            let result = match mode {
                Mode::Live => {
                    self.live(step, preparing, packing, &mut trace, batch.is_some()).await
                }
                Mode::Preview => self.preview(step, preparing, &mut trace).await,
                Mode::Fake => self.fake(step, packing, &mut trace).await,
            };
            let outcome = match (&result, mode, step.direction) {
                (Err(_), ..) => Outcome::Failed,
                (Ok(()), Mode::Live, _) if batch == Some(Batch::DryRun) => Outcome::RolledBack,
                (Ok(()), Mode::Preview, _) => Outcome::Previewed,
                (Ok(()), Mode::Fake, _) => Outcome::Faked,
                (Ok(()), Mode::Live, Direction::Forwards) => Outcome::Applied,
                (Ok(()), Mode::Live, Direction::Backwards) => Outcome::Reversed,
            };
            let mut result = result;
            // A batch may still be rolled back: its files stay.
            if result.is_ok() && step.delete_file && mode == Mode::Live && batch.is_none() {
                result = std::fs::remove_file(&m.path).map_err(|e| Error::io(&m.path, e));
                if result.is_ok() {
                    trace.deleted_file = Some(m.path.clone());
                }
            }
            if let Some(warning) = trace.warning.take() {
                self.hooks.event(Event::Warning(&warning));
                report.warnings.push(warning);
            }
            let entry = report_of(step, mode, outcome, started, trace);
            self.hooks.event(Event::Finished(&entry));
            report.migrations.push(entry);
            report.error = result.err();
        }
        if let Some(batch) = batch {
            self.end_batch(batch, report).await;
        }
        self.conn.take().expect("the connection is back after every call")
    }

    /// Commits the batch's transaction, or rolls it back (a dry run, or a failure); what
    /// ran is then reported as rolled back.
    async fn end_batch(&mut self, batch: Batch, report: &mut RunReport) {
        if batch == Batch::Atomic && report.error.is_none() {
            match self.conn().commit().await {
                Ok(()) => return,
                Err(e) => {
                    report.error = Some(Error::database("cannot commit the batch", e));
                }
            }
        }
        if let Err(e) = self.conn().rollback().await
            && report.error.is_none()
        {
            report.error = Some(Error::database("cannot roll the dry run back", e));
        }
        for migration in &mut report.migrations {
            if matches!(migration.outcome, Outcome::Applied | Outcome::Reversed) {
                migration.outcome = Outcome::RolledBack;
            }
        }
    }

    /// Calls the migration with the connection behind a recording handle (a preview) or a
    /// live one, in the migration's transaction when it is transactional.
    async fn call(&mut self, step: &Step, code: &Prepared, preview: bool) -> CallOutcome {
        let conn = self.conn.take().expect("the connection is back after every call");
        let m = &step.migration;
        let context = Context {
            app_name: m.app.clone(),
            migration_id: m.id.to_string(),
            dialect: conn.dialect(),
            preview,
        };
        let handle = if preview {
            DatabaseHandle::Recording(conn)
        } else {
            DatabaseHandle::Live { conn, in_transaction: m.transactional }
        };
        let capture = Capture::new(handle);
        let mut outcome = self.runtime.call(m, code, step.direction, context, capture).await;
        let handle = std::mem::replace(&mut outcome.capture.handle, DatabaseHandle::Detached);
        self.conn = handle.into_connection();
        outcome
    }

    /// The code of `step`, from what [`Runtime::prepare`] started for it.
    async fn ready(&self, step: &Step, preparing: Option<Preparing>) -> Result<Prepared> {
        let preparing = preparing.unwrap_or_else(|| self.runtime.prepare(&step.migration));
        self.runtime.ready(preparing).await
    }

    /// Runs a step for real. Its statements and its ledger change commit together in one
    /// transaction. Where that cannot be all-or-nothing (a non-transactional migration, or
    /// a backend whose DDL commits implicitly) the ledger row is marked dirty before the
    /// migration starts and made clean only when it succeeded, so a failure or a kill
    /// leaves a dirty row that blocks further runs until someone resolves it.
    async fn live(
        &mut self,
        step: &Step,
        preparing: Option<Preparing>,
        packing: Option<Packing>,
        trace: &mut Trace,
        in_batch: bool,
    ) -> Result<()> {
        let (m, direction) = (&step.migration, step.direction);
        // In a batch the transaction is the batch's: begun before the first step, ended
        // after the last.
        let own_transaction = m.transactional && !in_batch;
        let what = format!("{} {} {}", m.app, m.id, direction.name());
        let atomic = m.transactional && self.conn().capabilities().transactional_ddl;
        let code = self.ready(step, preparing).await?;
        trace.compiled = code.compiled();
        // What is stored with the ledger row is ready before anything changes, so a file
        // that changed since it was validated fails the step while there is nothing to
        // undo, even for a migration that cannot be rolled back.
        let packed = self.packed(step, packing).await?;
        if !atomic {
            match direction {
                Direction::Forwards => record(self.conn(), m, true).await?,
                Direction::Backwards => ledger::set_dirty(self.conn(), &m.app, &m.id, true).await?,
            }
        }
        if own_transaction {
            self.conn()
                .begin()
                .await
                .map_err(|e| Error::database(format!("{what}: cannot begin a transaction"), e))?;
        }
        // Where the database cannot refuse a migration's changes to the ledger itself, they
        // are found by comparing it before and after: the migration then fails.
        let watched = if self.conn().capabilities().guards_own_tables {
            None
        } else {
            Some(ledger::contents(self.conn()).await?)
        };
        let outcome = self.call(step, &code, false).await;
        // Unmapped as soon as it ran, before the bookkeeping.
        drop(code);
        trace.statements = outcome.capture.statements;
        trace.log = outcome.log;
        let mut tampered = false;
        let mut result = outcome.result;
        if let Some(before) = watched
            && result.is_ok()
            && ledger::contents(self.conn()).await? != before
        {
            tampered = true;
            result = Err(Failure::Guest(format!(
                "it changed wasmig's ledger ({}), which only wasmig may change",
                ledger::TABLE
            )));
        }
        let failure = match result {
            Ok(()) => {
                let bookkeeping = match direction {
                    Direction::Forwards if atomic => match record(self.conn(), m, false).await {
                        Ok(()) => self.store(m, packed, trace).await,
                        Err(e) => Err(e),
                    },
                    Direction::Forwards => match self.store(m, packed, trace).await {
                        Ok(()) => ledger::set_dirty(self.conn(), &m.app, &m.id, false).await,
                        Err(e) => Err(e),
                    },
                    Direction::Backwards => {
                        ledger::remove(self.conn(), &m.app, &m.id, ledger::Artefacts::Ensured).await
                    }
                };
                match bookkeeping {
                    Ok(()) => None,
                    Err(Error::Database { context, source }) => {
                        Some(Failure::Database { context, error: source })
                    }
                    Err(other) => return Err(other),
                }
            }
            Err(failure) => Some(failure),
        };
        if in_batch {
            let Some(failure) = failure else { return Ok(()) };
            let (app, id) = (m.app.clone(), m.id.to_string());
            let rollback = Rollback::Done;
            return Err(
                MigrationError { app, id, direction, failure, rollback, dirty: false }.into()
            );
        }
        let (failure, rollback) = match (failure, own_transaction) {
            (None, true) => match self.conn().commit().await {
                Ok(()) => return Ok(()),
                Err(e) => (
                    Failure::Database { context: format!("{what}: cannot commit"), error: e },
                    Rollback::NotNeeded,
                ),
            },
            (None, false) => return Ok(()),
            (Some(failure), true) => match self.conn().rollback().await {
                Ok(()) => (failure, Rollback::Done),
                Err(r) => (failure, Rollback::Failed(r.message)),
            },
            (Some(failure), false) => (failure, Rollback::NotNeeded),
        };
        // What could not be rolled back stays marked, even if the migration deleted its row.
        if tampered && !atomic {
            if ledger::has_row(self.conn(), &m.app, &m.id).await? {
                ledger::set_dirty(self.conn(), &m.app, &m.id, true).await?;
            } else {
                record(self.conn(), m, true).await?;
            }
        }
        Err(MigrationError {
            app: m.app.clone(),
            id: m.id.to_string(),
            direction,
            failure,
            rollback,
            dirty: !atomic,
        }
        .into())
    }

    /// The component of `step` compressed for storing, from `packing` (started ahead) or
    /// packed now; `None` when nothing is stored: storing is off, or the step goes
    /// backwards.
    async fn packed(
        &self,
        step: &Step,
        packing: Option<Packing>,
    ) -> Result<Option<ledger::Packed>> {
        let Some(max_bytes) = packing_limit(self.store_artefacts, step) else { return Ok(None) };
        let packing = packing.unwrap_or_else(|| Packing::start(&step.migration, max_bytes));
        packing.finish().await.map(Some)
    }

    /// Records `step` as applied without running it, its component stored as a live run
    /// stores it.
    async fn fake(
        &mut self,
        step: &Step,
        packing: Option<Packing>,
        trace: &mut Trace,
    ) -> Result<()> {
        let packed = self.packed(step, packing).await?;
        record(self.conn(), &step.migration, false).await?;
        self.store(&step.migration, packed, trace).await
    }

    /// Stores the component of `m` with its ledger row, in the same transaction, unless
    /// storing is off (`packed` is `None`) or it is too large (a warning then says so).
    async fn store(
        &mut self,
        m: &LoadedMigration,
        packed: Option<ledger::Packed>,
        trace: &mut Trace,
    ) -> Result<()> {
        let (Some(packed), Some(max_bytes)) = (packed, self.store_artefacts) else {
            return Ok(());
        };
        if ledger::store_artefact(self.conn(), &m.checksum, packed).await?.is_none() {
            trace.warning = Some(format!(
                "app {} migration {}: its component was not stored in the database: \
                 compressed, it is over {} MiB ([history] artefact_mib), so `backwards` \
                 will need its file",
                m.app,
                m.id,
                max_bytes >> 20
            ));
        }
        Ok(())
    }

    /// Runs a step against a recording handle: `execute` is recorded, `query` reads inside
    /// a read-only transaction that is rolled back.
    async fn preview(
        &mut self,
        step: &Step,
        preparing: Option<Preparing>,
        trace: &mut Trace,
    ) -> Result<()> {
        let m = &step.migration;
        let what = format!("{} {} {}", m.app, m.id, step.direction.name());
        let code = self.ready(step, preparing).await?;
        trace.compiled = code.compiled();
        self.conn().begin_read_only().await.map_err(|e| {
            Error::database(format!("{what}: cannot begin a read-only transaction"), e)
        })?;
        let outcome = self.call(step, &code, true).await;
        let _ = self.conn().rollback().await;
        trace.statements = outcome.capture.statements;
        trace.log = outcome.log;
        outcome.result.map_err(|failure| {
            MigrationError {
                app: m.app.clone(),
                id: m.id.to_string(),
                direction: step.direction,
                failure,
                rollback: Rollback::NotNeeded,
                dirty: false,
            }
            .into()
        })
    }
}

/// Why `steps` cannot share one transaction on `conn`, if they cannot: DDL that commits
/// implicitly (MySQL), or a migration that runs outside a transaction.
pub(crate) fn refuse_batch(batch: Batch, conn: &Connection, steps: &[Step]) -> Result<()> {
    let flag = match batch {
        Batch::Atomic => "--atomic",
        Batch::DryRun => "--dry-run",
    };
    if !conn.capabilities().transactional_ddl {
        return Err(Error::Usage(format!(
            "{flag} needs one transaction around every migration, and {} commits each DDL \
             statement implicitly, so it could not be undone; nothing was changed",
            conn.dialect().name()
        )));
    }
    if let Some(step) = steps.iter().find(|step| !step.migration.transactional) {
        let m = &step.migration;
        return Err(Error::Usage(format!(
            "{flag}: app {} migration {} runs outside a transaction, so it cannot share the \
             batch's; nothing was changed",
            m.app, m.id
        )));
    }
    Ok(())
}

/// The report of one step. A live run executed every statement it emitted; a preview none.
fn report_of(
    step: &Step,
    mode: Mode,
    outcome: Outcome,
    started: Instant,
    trace: Trace,
) -> MigrationReport {
    let m = &step.migration;
    let executed = if mode == Mode::Live { trace.statements.len() as u64 } else { 0 };
    MigrationReport {
        app_name: m.app.clone(),
        migration_id: m.id.to_string(),
        description: m.description.clone(),
        direction: step.direction,
        outcome,
        transactional: m.transactional,
        compiled: m.compiled || trace.compiled,
        duration: started.elapsed(),
        statements_executed: executed,
        statements: trace.statements,
        log: trace.log.text,
        log_dropped: trace.log.dropped,
        deleted_file: trace.deleted_file,
    }
}

/// Writes the ledger row of `migration`.
async fn record(conn: &mut Connection, migration: &LoadedMigration, dirty: bool) -> Result<()> {
    let LoadedMigration { app, id, description, checksum, .. } = migration;
    ledger::record(conn, app, id, description, checksum, dirty).await
}
