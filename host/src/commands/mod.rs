//! The commands: orchestration only. Deciding is in [`crate::plan`], running in
//! [`crate::executor`], bookkeeping in [`crate::ledger`]. Each command returns a report;
//! none prints.

mod backwards;
mod build;
mod check;
mod clean;
mod fill;
mod fleet;
mod forwards;
mod new;
mod resolve;
mod verify;

pub use crate::build::{BuildOutcome, BuildReport, BuiltMigration, Language};
pub use backwards::BackwardsMigrationManager;
pub use build::build;
pub use check::{CheckMigrationManager, CheckReport, MigrationStatus, State};
pub use clean::{CleanReport, RemovedRow, clean};
pub use fill::{FillOutcome, FillReport, FilledMigration, fill_cache};
pub use fleet::{
    FleetCommand, FleetReport, FleetTarget, TargetOutcome, TargetReport, read_targets, run_fleet,
};
pub use forwards::ForwardsMigrationManager;
pub use new::{NewReport, new_migration};
pub use resolve::{Resolution, ResolveReport, resolve};
pub use verify::{Divergence, Stage, Verified, VerifyReport, verify};

pub use crate::project::Project;

use crate::backend::Connection;
use crate::config::{App, Settings};
use crate::error::{ChangedFile, Error, Result};
use crate::executor::{Executor, Step, refuse_batch};
use crate::ledger::LedgerRow;
use crate::plan::Target;
use crate::report::{Batch, Hooks, Mode, Question, RunReport};

/// A forwards or backwards request: what it selects, and how it plans.
trait Request {
    /// How its migrations are treated.
    fn mode(&self) -> Mode;

    /// What to say when there is nothing to run.
    fn nothing_to_do(&self) -> &'static str;

    /// Whether its migrations share one transaction (`--atomic`, `--dry-run`).
    fn batch(&self) -> Option<Batch>;

    /// The apps it addresses, in the order it visits them, and its target; or why the
    /// request is invalid.
    fn select<'s>(&self, settings: &'s Settings) -> Result<(Vec<&'s App>, Target)>;

    /// Plans each app and loads what is to run (asking where it must), before anything
    /// changes.
    async fn plan(&self, cx: Planning<'_>, apps: &[&App], target: &Target) -> Result<Vec<Step>>;
}

/// What planning works with: the project, the caller's hooks, the connection (locked
/// unless previewing) and the report, which gathers notes and warnings.
struct Planning<'a> {
    project: &'a Project,
    hooks: &'a dyn Hooks,
    conn: &'a mut Connection,
    report: &'a mut RunReport,
}

/// The pipeline both directions share: select, connect (taking the run lock unless
/// previewing), plan and load before anything changes, then run the steps in one
/// executor. Every failure ends up in the report.
async fn run_request(project: &Project, hooks: &dyn Hooks, request: &impl Request) -> RunReport {
    let mut report =
        RunReport { mode: request.mode(), batch: request.batch(), ..RunReport::default() };
    let run = async {
        let (apps, target) = request.select(&project.settings)?;
        let mut conn = project.connect_to_run(report.mode == Mode::Preview, hooks).await?;
        let cx = Planning { project, hooks, conn: &mut conn, report: &mut report };
        let planned = request.plan(cx, &apps, &target).await;
        match planned {
            Ok(steps) if steps.is_empty() => report.notes.push(request.nothing_to_do().to_string()),
            Ok(steps) => {
                if let Some(batch) = report.batch.filter(|_| report.mode == Mode::Live)
                    && let Err(e) = refuse_batch(batch, &conn, &steps)
                {
                    conn.close().await;
                    return Err(e);
                }
                let stored = project.settings.history.artefact_bytes;
                let executor = Executor::new(&project.runtime, hooks, conn, stored);
                conn = executor.run(&steps, &mut report).await;
            }
            Err(e) => {
                conn.close().await;
                return Err(e);
            }
        }
        conn.close().await;
        Ok(())
    };
    if let Err(e) = run.await {
        report.error = Some(e);
    }
    report
}

/// Fails on `changed` files unless they are allowed, when each is a warning.
fn refuse_changed(
    changed: Vec<ChangedFile>,
    allowed: bool,
    hooks: &dyn Hooks,
    report: &mut RunReport,
) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    if !allowed {
        return Err(Error::Changed(changed));
    }
    for file in changed {
        let warning =
            format!("the component changed since it was applied (--allow-changed): {file}");
        hooks.event(crate::report::Event::Warning(&warning));
        report.warnings.push(warning);
    }
    Ok(())
}

/// Fails if any of `rows` is dirty: an earlier run left that migration part-applied.
fn refuse_dirty(app: &str, rows: &[LedgerRow]) -> Result<()> {
    match rows.iter().find(|row| row.dirty) {
        Some(row) => Err(Error::Dirty { app: app.to_string(), id: row.migration_id.to_string() }),
        None => Ok(()),
    }
}

/// Asks `hooks` unless `auto_agree`; a no is [`Error::Declined`].
fn confirm(hooks: &dyn Hooks, auto_agree: bool, question: Question) -> Result<()> {
    if auto_agree || hooks.confirm(&question) { Ok(()) } else { Err(Error::Declined) }
}
