//! `wasmig backwards`: reverse applied migrations, newest-applied first.

use std::process::ExitCode;

use super::{MigrationResult, Project, confirm, refuse_dirty, summary};
use crate::error::{Error, Result};
use crate::ledger;
use crate::plan::{self, Target};
use crate::runtime::{Direction, LoadedMigration};
use crate::source;

/// Reverses applied migrations of an app, or of every app.
#[derive(Debug, Clone)]
pub struct BackwardsMigrationManager {
    /// An app name, or `all` for every app in reverse app order.
    pub app_name: String,
    /// `1` (default for one app), `all` (default and only choice for all apps), or an
    /// ID: that migration and every one of the app applied after it.
    pub migration_id: Option<String>,
    /// Do not ask before reversing.
    pub auto_agree: bool,
    /// Delete each reversed migration's component file once its reversal is committed.
    pub clean: bool,
    /// Print the SQL of each `backwards` instead of running it.
    pub preview: bool,
}

/// The migrations of one app to reverse, newest-applied first.
struct AppReversal {
    app: String,
    migrations: Vec<LoadedMigration>,
}

impl BackwardsMigrationManager {
    /// A manager for `app_name` with the defaults.
    pub fn new(app_name: impl Into<String>) -> Self {
        BackwardsMigrationManager {
            app_name: app_name.into(),
            migration_id: None,
            auto_agree: false,
            clean: false,
            preview: false,
        }
    }

    /// Runs it; failures come back as an unsuccessful result.
    pub async fn run(&self, project: &Project) -> MigrationResult {
        self.run_migrations_backwards(project).await.into()
    }

    /// Runs it; failures come back as errors.
    pub async fn run_migrations_backwards(&self, project: &Project) -> Result<String> {
        let all_apps = self.app_name == "all";
        let mut apps = project.settings.select(&self.app_name)?;
        apps.reverse();
        let target_text =
            self.migration_id.as_deref().unwrap_or(if all_apps { "all" } else { "1" });
        if all_apps && target_text != "all" {
            return Err(Error::Usage(format!(
                "backwards all reverses every applied migration of every app: use `all`, not `{target_text}`"
            )));
        }
        let target = Target::parse(target_text)
            .map_err(|source| Error::Plan { app: self.app_name.clone(), source })?;
        let (mut conn, _lock) = project.connect_to_run(self.preview).await?;

        // Plan, find and load every migration in range before changing anything.
        let mut reversals = Vec::new();
        for app in apps {
            let applied = ledger::applied(&mut conn, &app.name).await?;
            refuse_dirty(&app.name, &applied)?;
            let ids: Vec<_> = applied.iter().map(|row| row.migration_id.clone()).collect();
            let to_reverse = plan::backwards(&ids, &target)
                .map_err(|source| Error::Plan { app: app.name.clone(), source })?;
            if to_reverse.is_empty() {
                continue;
            }
            let files = source::discover(app)?;
            let missing: Vec<String> = to_reverse
                .iter()
                .filter(|id| !files.iter().any(|f| &f.id == *id))
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(Error::MissingFiles { app: app.name.clone(), ids: missing.join(", ") });
            }
            let in_order = to_reverse.iter().filter_map(|id| files.iter().find(|f| &f.id == id));
            let migrations = project.load_all(app, in_order).await?;
            for migration in &migrations {
                let row = applied.iter().find(|row| row.migration_id == migration.id);
                if row.is_some_and(|row| row.checksum != migration.checksum) {
                    eprintln!(
                        "warning: app {} migration {}: the component changed since it was applied",
                        migration.app, migration.id
                    );
                }
            }
            reversals.push(AppReversal { app: app.name.clone(), migrations });
        }
        let total: usize = reversals.iter().map(|r| r.migrations.len()).sum();
        if total == 0 {
            conn.close().await;
            return Ok("no migrations to reverse".into());
        }

        if self.preview {
            for migration in reversals.iter().flat_map(|r| &r.migrations) {
                let (back, result) =
                    project.run_preview(conn, migration, Direction::Backwards).await;
                conn = back;
                result?;
            }
            conn.close().await;
            return Ok(String::new());
        }

        if !self.auto_agree && !confirm(&question(&reversals, total)) {
            conn.close().await;
            return Err(Error::Declined);
        }

        let mut done: Vec<&LoadedMigration> = Vec::new();
        for migration in reversals.iter().flat_map(|r| &r.migrations) {
            let (back, result) = project.run_live(conn, migration, Direction::Backwards).await;
            conn = back;
            if let Err(e) = result {
                conn.close().await;
                return Err(Error::Migration {
                    message: format!("{e}\ncompleted before the failure: {}", summary(done)),
                });
            }
            eprintln!("reversed {} {}: {}", migration.app, migration.id, migration.description);
            if self.clean {
                std::fs::remove_file(&migration.path).map_err(|e| Error::io(&migration.path, e))?;
                eprintln!("deleted {}", migration.path.display());
            }
            done.push(migration);
        }
        conn.close().await;
        Ok(format!("reversed {total} migration(s)"))
    }
}

/// `Reverse N migration(s) of APP?`, or for several apps the total and each app's count.
fn question(reversals: &[AppReversal], total: usize) -> String {
    match reversals {
        [one] => format!("Reverse {total} migration(s) of {}?", one.app),
        several => {
            let apps: Vec<String> =
                several.iter().map(|r| format!("{}: {}", r.app, r.migrations.len())).collect();
            format!("Reverse {total} migration(s) of {} apps ({})?", several.len(), apps.join(", "))
        }
    }
}

/// Reverses migrations as [`BackwardsMigrationManager`] does.
pub async fn run_backwards(
    project: &Project,
    app_name: &str,
    migration_id: Option<&str>,
    auto_agree: bool,
    clean: bool,
    preview: bool,
) -> MigrationResult {
    BackwardsMigrationManager {
        app_name: app_name.into(),
        migration_id: migration_id.map(Into::into),
        auto_agree,
        clean,
        preview,
    }
    .run(project)
    .await
}

/// The `wasmig backwards` command: reports on stderr; exit status 1 on failure or when
/// declined.
pub async fn backwards(
    project: &Project,
    app_name: &str,
    migration_id: Option<&str>,
    auto_agree: bool,
    clean: bool,
    preview: bool,
) -> ExitCode {
    run_backwards(project, app_name, migration_id, auto_agree, clean, preview).await.report()
}
