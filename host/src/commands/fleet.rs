//! A fleet: one command on many databases (a database per tenant, region or customer),
//! several at once, each target with its own run lock, plan and outcome.

use std::path::Path;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    BackwardsMigrationManager, CheckMigrationManager, CheckReport, ForwardsMigrationManager,
    Project, Question, VerifyReport, confirm,
};
use crate::backend::{Access, Connection, redact};
use crate::error::{Error, Result};
use crate::ledger;
use crate::plan::{self, Target};
use crate::project::Loaded;
use crate::report::{Event, Hooks, RunReport, Silent};
use crate::source;

pub use crate::config::Target as FleetTarget;

/// A targets file: TOML `[[target]]` tables with `name` and `url`, or one URL per line
/// (blank lines and `#` comments ignored; each is named by its URL, password hidden).
pub fn read_targets(path: &Path) -> Result<Vec<FleetTarget>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        target: Vec<FleetTarget>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let invalid = |message: String| Error::Config { path: path.to_path_buf(), message };
    let targets = if text.contains("[[target]]") {
        toml::from_str::<File>(&text).map_err(|e| invalid(e.message().to_string()))?.target
    } else {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|url| FleetTarget { name: redact(url), url: url.to_string() })
            .collect()
    };
    if targets.is_empty() {
        return Err(invalid("no targets".into()));
    }
    let mut names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(invalid(format!("target `{}` is listed twice", pair[0])));
    }
    Ok(targets)
}

/// What a fleet runs on each target.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FleetCommand {
    Forwards(ForwardsMigrationManager),
    Backwards(BackwardsMigrationManager),
    Check(CheckMigrationManager),
    /// `verify APP` on a scratch database beside each target.
    Verify {
        app_name: String,
    },
}

/// How one target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TargetOutcome {
    /// The command succeeded there.
    Succeeded,
    /// It failed there (a migration, the database, the lock).
    Failed,
    /// A dirty migration blocks the target: skipped and left as it is for a person to
    /// resolve.
    Dirty,
    /// Not started, because another target failed first (`--fail-fast`).
    NotRun,
}

/// One target's result.
#[derive(Debug)]
pub struct TargetReport {
    pub name: String,
    /// Its URL, password hidden.
    pub url: String,
    pub outcome: TargetOutcome,
    /// The run's report (forwards, backwards).
    pub run: Option<RunReport>,
    /// The check's report.
    pub check: Option<CheckReport>,
    /// The verification's report.
    pub verify: Option<VerifyReport>,
    /// Why it failed, for a check or a run that failed before it started.
    pub error: Option<Error>,
}

impl TargetReport {
    /// A report of `outcome` with nothing run yet.
    fn new(name: String, url: String, outcome: TargetOutcome) -> Self {
        TargetReport { name, url, outcome, run: None, check: None, verify: None, error: None }
    }

    /// A target that failed before its command could run, with `error`.
    fn failed(name: String, url: String, error: Error) -> Self {
        let error = Some(error);
        TargetReport { error, ..TargetReport::new(name, url, TargetOutcome::Failed) }
    }

    /// The outcome's name, as JSON gives it.
    pub fn outcome_name(&self) -> &'static str {
        match self.outcome {
            TargetOutcome::Succeeded => "succeeded",
            TargetOutcome::Failed => "failed",
            TargetOutcome::Dirty => "dirty, skipped",
            TargetOutcome::NotRun => "not run",
        }
    }

    /// The error of the target: its run's, or its own.
    pub fn error(&self) -> Option<&Error> {
        self.run.as_ref().and_then(|run| run.error.as_ref()).or(self.error.as_ref())
    }
}

/// Every target's result, in the order they were listed.
#[derive(Debug, Default)]
pub struct FleetReport {
    pub targets: Vec<TargetReport>,
}

impl FleetReport {
    /// How many targets ended with `outcome`.
    pub fn count(&self, outcome: TargetOutcome) -> usize {
        self.targets.iter().filter(|t| t.outcome == outcome).count()
    }

    /// Whether every target succeeded.
    pub fn success(&self) -> bool {
        self.count(TargetOutcome::Succeeded) == self.targets.len()
    }
}

/// Runs `command` on every target, at most `concurrency` at once. Every component of the
/// selected apps is loaded and validated once, before any target changes, and shared by
/// all. A target that fails does not stop the others unless `fail_fast`; `hooks` hear of
/// each target as it ends (as a warning line) and answer the one confirmation a
/// `backwards` needs.
pub async fn run_fleet(
    project: &Project,
    targets: &[FleetTarget],
    concurrency: usize,
    fail_fast: bool,
    command: &FleetCommand,
    hooks: &dyn Hooks,
) -> Result<FleetReport> {
    let app_name = match command {
        FleetCommand::Forwards(m) => &m.app_name,
        FleetCommand::Backwards(m) => &m.app_name,
        FleetCommand::Check(m) => &m.app_name,
        FleetCommand::Verify { app_name } => app_name,
    };
    let apps = project.settings.select(app_name)?;
    let loaded = Loaded::default();
    let base = project.on_target(&project.settings.database_url, &loaded);
    let mut files = Vec::new();
    for app in &apps {
        files.extend(source::discover(app)?.into_iter().map(|file| (*app, file)));
    }
    base.load_all(files.iter().map(|(app, file)| (*app, file))).await?;

    let mut command = command.clone();
    if let FleetCommand::Backwards(manager) = &mut command
        && !manager.preview
        && !manager.auto_agree
    {
        let total = reversals(project, targets, manager).await;
        let prompt = format!(
            "Reverse {total} migration(s) of {} on {} target(s)?",
            manager.app_name,
            targets.len()
        );
        confirm(hooks, manager.auto_agree, Question { prompt, details: Vec::new() })?;
        manager.auto_agree = true;
    }
    let failed = std::sync::atomic::AtomicBool::new(false);
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let (done, total) = (std::sync::atomic::AtomicUsize::new(0), targets.len());
    let mut reports: Vec<(usize, TargetReport)> = futures::stream::iter(targets.iter().enumerate())
        .map(|(index, target)| {
            let (command, loaded, failed, done) = (&command, &loaded, &failed, &done);
            let failures = &failures;
            async move {
                let url = redact(&target.url);
                if fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                    let report = TargetReport::new(target.name.clone(), url, TargetOutcome::NotRun);
                    return (index, report);
                }
                let on_target = project.on_target(&target.url, loaded);
                let report =
                    on_own_thread(on_target, target.name.clone(), url, command.clone()).await;
                let order = std::sync::atomic::Ordering::SeqCst;
                let failed_so_far = if report.outcome == TargetOutcome::Succeeded {
                    failures.load(order)
                } else {
                    failed.store(true, order);
                    failures.fetch_add(1, order) + 1
                };
                let finished = done.fetch_add(1, order) + 1;
                let progress = format!(
                    "[{finished}/{total} done, {failed_so_far} failed, {} left]",
                    total - finished
                );
                let line = match report.error() {
                    None => format!("{progress} target {}: done", report.name),
                    Some(e) => format!("{progress} target {}: {e}", report.name),
                };
                hooks.event(Event::TargetEnded { line: &line });
                (index, report)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    reports.sort_by_key(|(index, _)| *index);
    Ok(FleetReport { targets: reports.into_iter().map(|(_, report)| report).collect() })
}

/// [`run_one`] on a thread of its own, with its own current-thread runtime: an embedded
/// SQLite database runs its statements on the thread that drives its migrations, so
/// targets sharing one thread would wait for each other's commits instead of overlapping
/// them, and would use one core.
async fn on_own_thread(
    project: Project,
    name: String,
    url: String,
    command: FleetCommand,
) -> TargetReport {
    let (sender, report) = tokio::sync::oneshot::channel();
    let failed = TargetReport::failed;
    let (thread_name, thread_url) = (name.clone(), url.clone());
    let spawned = std::thread::Builder::new().name("wasmig-target".into()).spawn(move || {
        let report = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(run_one(&project, &name, url, &command)),
            Err(e) => failed(name, url, Error::Start { what: "the target's runtime", source: e }),
        };
        // The receiver is gone only when the fleet run itself was dropped.
        let _ = sender.send(report);
    });
    if let Err(e) = spawned {
        return failed(
            thread_name,
            thread_url,
            Error::Start { what: "the target's thread", source: e },
        );
    }
    report.await.unwrap_or_else(|_| {
        failed(thread_name, thread_url, Error::TaskLost { task: "target's thread", detail: None })
    })
}

async fn run_one(
    project: &Project,
    name: &str,
    url: String,
    command: &FleetCommand,
) -> TargetReport {
    let mut report = TargetReport::new(name.to_string(), url, TargetOutcome::Succeeded);
    match command {
        FleetCommand::Forwards(manager) => {
            report.run = Some(manager.run_with(project, &Silent).await)
        }
        FleetCommand::Backwards(manager) => {
            report.run = Some(manager.run_with(project, &Silent).await);
        }
        FleetCommand::Check(manager) => match manager.report(project, &Silent).await {
            Ok(check) => report.check = Some(check),
            Err(e) => report.error = Some(e),
        },
        FleetCommand::Verify { app_name } => match super::verify(project, app_name, None).await {
            Ok(verified) => report.verify = Some(verified),
            Err(e) => report.error = Some(e),
        },
    }
    let diverged = report.verify.as_ref().is_some_and(|v| v.failure.is_some());
    report.outcome = match report.error() {
        None if diverged => TargetOutcome::Failed,
        None => TargetOutcome::Succeeded,
        Some(Error::Dirty { .. }) => TargetOutcome::Dirty,
        Some(_) => TargetOutcome::Failed,
    };
    report
}

/// How many migrations `manager` would reverse over all targets (unreachable ones count
/// none), for the one question asked before.
async fn reversals(
    project: &Project,
    targets: &[FleetTarget],
    manager: &BackwardsMigrationManager,
) -> usize {
    let Ok(apps) = project.settings.select(&manager.app_name) else { return 0 };
    let Ok(wanted) = Target::parse(manager.target_id()) else { return 0 };
    let mut total = 0;
    for target in targets {
        let Ok(mut conn) = Connection::open(&target.url, Access::ReadOnly).await else { continue };
        for app in &apps {
            if let Ok(rows) = ledger::applied(&mut conn, &app.name).await {
                let ids: Vec<_> = rows.into_iter().map(|row| row.migration_id).collect();
                total += plan::backwards(&ids, &wanted).map_or(0, |ids| ids.len());
            }
        }
        conn.close().await;
    }
    total
}
