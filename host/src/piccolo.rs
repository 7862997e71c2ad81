//! The names users of Piccolo's migration API look for, in one place: the three managers,
//! the statuses and results they give, and the entry points that run a direction with
//! Piccolo's arguments, either quietly (`run_forwards`, `run_backwards`) or as the `wasmig`
//! command does (`forwards`, `backwards`, `check`).

use std::process::ExitCode;

pub use crate::commands::{
    BackwardsMigrationManager, CheckMigrationManager, ForwardsMigrationManager, MigrationStatus,
};

use crate::cli::{self, Format, Terminal};
use crate::error::Result;
use crate::project::Project;
use crate::report::{RunReport, Silent};

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

/// A report's summary, or its error.
fn into_result(report: RunReport) -> Result<String> {
    let summary = report.summary();
    report.error.map_or(Ok(summary), Err)
}

impl ForwardsMigrationManager {
    /// Runs it without hooks (a question is declined); failures come back as an
    /// unsuccessful result.
    pub async fn run(&self, project: &Project) -> MigrationResult {
        MigrationResult::from(&self.run_with(project, &Silent).await)
    }

    /// Runs it without hooks; failures come back as errors.
    pub async fn run_migrations(&self, project: &Project) -> Result<String> {
        into_result(self.run_with(project, &Silent).await)
    }
}

impl BackwardsMigrationManager {
    /// Runs it without hooks (so it proceeds only with `auto_agree`); failures come back
    /// as an unsuccessful result.
    pub async fn run(&self, project: &Project) -> MigrationResult {
        MigrationResult::from(&self.run_with(project, &Silent).await)
    }

    /// Runs it without hooks; failures come back as errors.
    pub async fn run_migrations_backwards(&self, project: &Project) -> Result<String> {
        into_result(self.run_with(project, &Silent).await)
    }
}

impl CheckMigrationManager {
    /// One status per migration file, and one per applied migration whose file is gone,
    /// in app order then ID order. A pending migration that was never described before is
    /// loaded, so a broken one fails the check.
    pub async fn get_migration_statuses(&self, project: &Project) -> Result<Vec<MigrationStatus>> {
        Ok(self.report(project, &Silent).await?.statuses)
    }
}

/// Piccolo gives each direction two entry points over the same arguments: `$run` runs the
/// manager `$manager` builds from them without hooks and gives a [`MigrationResult`];
/// `$shown` runs it as the `wasmig` command of its name does, printing what that prints,
/// and gives its exit status. The arguments are written once, so the two cannot drift
/// apart.
macro_rules! entry_points {
    (
        $(#[$run_doc:meta])* pub async fn $run:ident;
        $(#[$shown_doc:meta])* pub async fn $shown:ident;
        ($($arg:ident: $type:ty),* $(,)?) => $manager:expr
    ) => {
        $(#[$run_doc])*
        pub async fn $run(project: &Project, $($arg: $type),*) -> MigrationResult {
            $manager.run(project).await
        }

        $(#[$shown_doc])*
        pub async fn $shown(project: &Project, $($arg: $type),*) -> ExitCode {
            let manager = $manager;
            let run = async |hooks: &Terminal| manager.run_with(project, hooks).await;
            cli::run_shown(stringify!($shown), Format::Text, run).await
        }
    };
}

entry_points! {
    /// Applies migrations as [`ForwardsMigrationManager`] does.
    pub async fn run_forwards;
    /// `wasmig forwards` as a library call: runs, prints as the CLI does, gives the exit
    /// status (1 on failure).
    pub async fn forwards;
    (app_name: &str, migration_id: &str, fake: bool, preview: bool, auto_agree: bool) =>
        ForwardsMigrationManager {
            migration_id: migration_id.into(),
            fake,
            preview,
            auto_agree,
            ..ForwardsMigrationManager::new(app_name)
        }
}

entry_points! {
    /// Reverses migrations as [`BackwardsMigrationManager`] does.
    pub async fn run_backwards;
    /// `wasmig backwards` as a library call: runs, prints as the CLI does, gives the exit
    /// status (1 on failure or when declined).
    pub async fn backwards;
    (app_name: &str, migration_id: Option<&str>, auto_agree: bool, clean: bool, preview: bool) =>
        BackwardsMigrationManager {
            migration_id: migration_id.map(Into::into),
            auto_agree,
            clean,
            preview,
            ..BackwardsMigrationManager::new(app_name)
        }
}

/// `wasmig check` as a library call. With `fail_on_pending`, exit status 1 when any
/// listed migration has not run, so a CI job can fail on it.
pub async fn check(
    project: &Project,
    app_name: &str,
    format: Format,
    fail_on_pending: bool,
) -> ExitCode {
    cli::list(project, &CheckMigrationManager::new(app_name), fail_on_pending, format).await
}
