//! The commands: orchestration only. Deciding is in [`crate::plan`], running in
//! [`crate::executor`], bookkeeping in [`crate::ledger`]. Each command returns a report;
//! none prints.

mod backwards;
pub mod build;
mod check;
mod clean;
mod forwards;
mod new;
mod resolve;

use std::collections::BTreeMap;
use std::path::Path;

use futures::{StreamExt, TryStreamExt};

pub use backwards::{BackwardsMigrationManager, run_backwards};
pub use build::{BuildOutcome, BuildReport, BuiltMigration, Language, build};
pub use check::{CheckMigrationManager, CheckReport, MigrationStatus};
pub use clean::{CleanReport, RemovedRow, clean};
pub use forwards::{ForwardsMigrationManager, run_forwards};
pub use new::{NewReport, new_migration};
pub use resolve::{Resolution, ResolveReport, resolve};

use crate::backend::{Access, Connection};
use crate::cache::Cache;
use crate::config::{App, Settings};
use crate::error::{Error, Result};
use crate::executor::{Executor, Step};
use crate::ledger::LedgerRow;
use crate::lock;
use crate::plan::Target;
use crate::report::{Hooks, Mode, Question, RunReport};
use crate::runtime::{LoadedMigration, Runtime};
use crate::source::MigrationFile;

/// A loaded project: its settings and the runtime its migrations run in.
#[derive(Debug)]
pub struct Project {
    /// The validated settings.
    pub settings: Settings,
    runtime: Runtime,
    /// How many components are compiled at once: the cores this process may use.
    parallel: usize,
}

impl Project {
    /// A project from validated settings.
    pub fn new(settings: Settings) -> Result<Self> {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cache = settings.cache_dir.clone().map(Cache::new);
        let runtime =
            Runtime::with_compiler(settings.limits.clone(), settings.compiler)?.with_cache(cache);
        Ok(Project { runtime, settings, parallel })
    }

    /// How many components are compiled (or migration sources built) at once.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Reads `config_path`; `database_url` (flag or environment) overrides the file.
    pub fn load(config_path: &Path, database_url: Option<String>) -> Result<Self> {
        Self::new(Settings::load(config_path, database_url)?)
    }

    async fn connect(&self, access: Access) -> Result<Connection> {
        Connection::open(&self.settings.database_url, access).await
    }

    /// Connects to change the database, taking the run lock, or, for a preview, to read it.
    async fn connect_to_run(&self, preview: bool, hooks: &dyn Hooks) -> Result<Connection> {
        if preview {
            return self.connect(Access::ReadOnly).await;
        }
        let mut conn = self.connect(Access::ReadWrite).await?;
        if let Err(e) = lock::acquire(&mut conn, self.settings.lock_timeout, hooks).await {
            conn.close().await;
            return Err(e);
        }
        Ok(conn)
    }

    /// Loads the components of `files` (each with its app), in order, several at once on
    /// all cores, each compiled unless the compile cache has it: all of them are loaded and
    /// validated before anything runs. What they said about themselves is recorded in the
    /// cache, so that `check` can list them later without loading them.
    async fn load_all<'f>(
        &self,
        files: impl IntoIterator<Item = (&'f App, &'f MigrationFile)>,
    ) -> Result<Vec<LoadedMigration>> {
        let loaded: Vec<LoadedMigration> = futures::stream::iter(files)
            .map(|(app, file)| self.runtime.load(&app.name, file))
            .buffered(self.parallel)
            .try_collect()
            .await?;
        if let Some(cache) = self.runtime.cache() {
            let mut by_folder: BTreeMap<&Path, Vec<_>> = BTreeMap::new();
            for migration in &loaded {
                if let (Some(folder), Some(entry)) = (migration.path.parent(), migration.indexed())
                {
                    by_folder.entry(folder).or_default().push(entry);
                }
            }
            for (folder, entries) in by_folder {
                cache.record(folder, entries);
            }
        }
        Ok(loaded)
    }
}

/// A forwards or backwards request: what it selects, and how it plans.
trait Request {
    /// How its migrations are treated.
    fn mode(&self) -> Mode;

    /// What to say when there is nothing to run.
    fn nothing_to_do(&self) -> &'static str;

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
    let mut report = RunReport { mode: request.mode(), ..RunReport::default() };
    let run = async {
        let (apps, target) = request.select(&project.settings)?;
        let mut conn = project.connect_to_run(report.mode == Mode::Preview, hooks).await?;
        let cx = Planning { project, hooks, conn: &mut conn, report: &mut report };
        let planned = request.plan(cx, &apps, &target).await;
        match planned {
            Ok(steps) if steps.is_empty() => report.notes.push(request.nothing_to_do().to_string()),
            Ok(steps) => {
                let executor = Executor::new(&project.runtime, hooks, conn);
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

/// A report's summary, or its error.
fn into_result(report: RunReport) -> Result<String> {
    let summary = report.summary();
    report.error.map_or(Ok(summary), Err)
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

/// The outcome of a library call, for callers that want a value rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationResult {
    /// Whether the operation succeeded.
    pub success: bool,
    /// What happened, or why it failed.
    pub message: String,
}

impl From<Result<String>> for MigrationResult {
    fn from(result: Result<String>) -> Self {
        match result {
            Ok(message) => MigrationResult { success: true, message },
            Err(e) => MigrationResult { success: false, message: e.to_string() },
        }
    }
}

impl From<&RunReport> for MigrationResult {
    fn from(report: &RunReport) -> Self {
        MigrationResult { success: report.success(), message: report.summary() }
    }
}
