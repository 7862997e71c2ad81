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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};

pub use crate::build::{BuildOutcome, BuildReport, BuiltMigration, Language};
pub use backwards::{BackwardsMigrationManager, run_backwards};
pub use build::build;
pub use check::{CheckMigrationManager, CheckReport, MigrationStatus, State};
pub use clean::{CleanReport, RemovedRow, clean};
pub use fill::{FillOutcome, FillReport, FilledMigration, fill_cache};
pub use fleet::{
    FleetCommand, FleetReport, FleetTarget, TargetOutcome, TargetReport, read_targets, run_fleet,
};
pub use forwards::{ForwardsMigrationManager, run_forwards};
pub use new::{NewReport, new_migration};
pub use resolve::{Resolution, ResolveReport, resolve};
pub use verify::{Divergence, Stage, Verified, VerifyReport, verify};

use crate::backend::{Access, Connection, TimeLimits};
use crate::cache::{Cache, FolderIndex};
use crate::config::{App, Settings};
use crate::error::{ChangedFile, Error, Result};
use crate::executor::{Executor, Step, refuse_batch};
use crate::ledger::LedgerRow;
use crate::lock;
use crate::plan::Target;
use crate::report::{Batch, Hooks, Mode, Question, RunReport};
use crate::runtime::{LoadedMigration, Runtime};
use crate::source::{self, MigrationFile};

/// A loaded project: its settings and the runtime its migrations run in.
#[derive(Debug)]
pub struct Project {
    /// The validated settings.
    pub settings: Settings,
    runtime: Arc<Runtime>,
    /// How many components are compiled at once: the cores this process may use.
    parallel: usize,
    /// In a fleet, the migrations loaded once for every target, by file.
    loaded: Option<Loaded>,
}

/// Migrations loaded once and shared by the targets of a fleet, by file.
type Loaded = Arc<Mutex<HashMap<PathBuf, LoadedMigration>>>;

impl Project {
    /// A project from validated settings.
    pub fn new(settings: Settings) -> Result<Self> {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cache = settings.cache_dir.clone().map(Cache::new);
        let runtime =
            Runtime::with_compiler(settings.limits.clone(), settings.compiler)?.with_cache(cache);
        Ok(Project { runtime: Arc::new(runtime), settings, parallel, loaded: None })
    }

    /// The same project on another database, sharing this one's runtime and the
    /// migrations it loaded: one target of a fleet.
    fn on_target(&self, url: &str, loaded: &Loaded) -> Project {
        let mut settings = self.settings.clone();
        settings.database_url = url.to_string();
        Project {
            settings,
            runtime: self.runtime.clone(),
            parallel: self.parallel,
            loaded: Some(loaded.clone()),
        }
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
        let mut conn = Connection::open(&self.settings.database_url, access).await?;
        if let Err(e) = conn.set_time_limits(&TimeLimits::from(&self.settings.limits)).await {
            conn.close().await;
            return Err(e);
        }
        Ok(conn)
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

    /// The sha256 of a migration file: what the compile cache recorded while the file is
    /// unchanged since (`index`, its folder's record), else read from the file.
    fn file_checksum(&self, index: Option<&FolderIndex>, file: &MigrationFile) -> Result<String> {
        match index.and_then(|index| index.get(&file.path)) {
            Some(entry) => Ok(entry.checksum.clone()),
            None => Ok(source::checksum(&source::read(&file.path)?)),
        }
    }

    /// The applied migrations of `app` (`rows`) whose file among `files` holds other bytes
    /// than were applied.
    fn changed_files(
        &self,
        app: &App,
        files: &[MigrationFile],
        rows: &[LedgerRow],
    ) -> Result<Vec<ChangedFile>> {
        let index = self.runtime.cache().map(|cache| cache.folder(&app.dir));
        let mut changed = Vec::new();
        for row in rows {
            let Some(file) = files.iter().find(|f| f.id == row.migration_id) else { continue };
            let checksum = self.file_checksum(index.as_ref(), file)?;
            if checksum != row.checksum {
                changed.push(ChangedFile {
                    app: app.name.clone(),
                    id: row.migration_id.to_string(),
                    applied: row.checksum.clone(),
                    file: checksum,
                });
            }
        }
        Ok(changed)
    }

    /// Loads the components of `files` (each with its app), in order, several at once on
    /// all cores, each compiled unless the compile cache has it: all of them are loaded and
    /// validated before anything runs. What they said about themselves is recorded in the
    /// cache, so that `check` can list them later without loading them.
    async fn load_all<'f>(
        &self,
        files: impl IntoIterator<Item = (&'f App, &'f MigrationFile)>,
    ) -> Result<Vec<LoadedMigration>> {
        let known = |file: &MigrationFile| {
            let loaded = self.loaded.as_ref()?.lock().ok()?;
            loaded.get(&file.path).filter(|m| m.id == file.id).cloned()
        };
        // What the compile cache recorded of each folder: a file unchanged since need not
        // be read to learn its checksum.
        let mut indexes: BTreeMap<PathBuf, FolderIndex> = BTreeMap::new();
        let files: Vec<_> = files
            .into_iter()
            .map(|(app, file)| {
                let in_app = file.path.parent() == Some(app.dir.as_path());
                let cache = self.runtime.cache().filter(|_| in_app);
                let indexed = cache.and_then(|cache| {
                    let index =
                        indexes.entry(app.dir.clone()).or_insert_with(|| cache.folder(&app.dir));
                    index.get(&file.path).cloned()
                });
                (app, file, indexed)
            })
            .collect();
        let loaded: Vec<LoadedMigration> = futures::stream::iter(files)
            .map(|(app, file, indexed)| async move {
                match known(file) {
                    Some(migration) => Ok(migration),
                    None => self.runtime.load_known(&app.name, file, indexed).await,
                }
            })
            // One more than the cores: while a load describes its component or waits for a
            // file, the others' compiles keep every core busy.
            .buffered(self.parallel + 1)
            .try_collect()
            .await?;
        if let Some(memo) = &self.loaded
            && let Ok(mut memo) = memo.lock()
        {
            for migration in &loaded {
                memo.entry(migration.path.clone()).or_insert_with(|| migration.clone());
            }
        }
        if let Some(cache) = self.runtime.cache() {
            let mut by_folder: BTreeMap<&Path, Vec<_>> = BTreeMap::new();
            for migration in &loaded {
                // Only files of the apps' folders: not a component taken from the database.
                let in_app = |folder: &Path| {
                    self.settings.app(&migration.app).is_ok_and(|app| app.dir == folder)
                };
                if let (Some(folder), Some(entry)) = (migration.path.parent(), migration.indexed())
                    && in_app(folder)
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

/// A report's summary, or its error.
fn into_result(report: RunReport) -> Result<String> {
    let summary = report.summary();
    report.error.map_or(Ok(summary), Err)
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
