//! The one executor: runs a list of planned steps in order, forwards or backwards, for real,
//! as a preview or as a fake, and reports each step. Deciding the steps is the planner's
//! job ([`crate::plan`]); loading them the runtime's.

mod artefact;
mod batch;
mod fake;
mod live;
mod preview;

use std::path::PathBuf;
use std::time::Instant;

use self::artefact::{Packing, packing_limit};
pub(crate) use self::batch::refuse_batch;
use crate::backend::Connection;
use crate::bindings::wasmig::migration::types::Context;
use crate::capture::{Capture, DatabaseHandle};
use crate::error::{Error, Failure, MigrationError, Result, Rollback};
use crate::ledger;
use crate::plan::Direction;
use crate::report::{Batch, Event, Hooks, MigrationReport, Mode, Outcome, RunReport};
use crate::runtime::{CallOutcome, GuestOutput, LoadedMigration, Prepared, Preparing, Runtime};

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

impl Step {
    /// The step as its messages name it: app, migration ID and direction.
    fn what(&self) -> String {
        let m = &self.migration;
        format!("{} {} {}", m.app, m.id, self.direction.name())
    }

    /// The error of the step failing with `failure`, its transaction left as `rollback`
    /// says, its ledger row left `dirty` or not.
    fn failed(&self, failure: Failure, rollback: Rollback, dirty: bool) -> Error {
        let m = &self.migration;
        let (app, id, direction) = (m.app.clone(), m.id.to_string(), self.direction);
        MigrationError { app, id, direction, failure, rollback, dirty }.into()
    }
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
                result = delete_files(&m.path);
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
    let LoadedMigration { app, id, description, checksum, source_digest, .. } = migration;
    ledger::record(conn, app, id, description, checksum, source_digest.as_deref(), dirty).await
}

/// Deletes the file of a reversed migration: its component, or every file of a SQL
/// migration (`.up.sql` last, so that one left behind still names the migration).
fn delete_files(path: &std::path::Path) -> Result<()> {
    let mut files = crate::source::sql::files_of(path);
    if files.is_empty() {
        files.push(path.to_path_buf());
    }
    files.rotate_left(1);
    for file in files {
        std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
    }
    Ok(())
}
