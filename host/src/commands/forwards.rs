//! `wasmig forwards`: apply pending migrations.

use std::process::ExitCode;

use super::{MigrationResult, Project, confirm, record, refuse_dirty, summary};
use crate::error::{Error, Result};
use crate::ledger;
use crate::plan::{self, Target};
use crate::runtime::{Direction, LoadedMigration};
use crate::source;

/// Applies the pending migrations of an app, or of every app.
#[derive(Debug, Clone)]
pub struct ForwardsMigrationManager {
    /// An app name, or `all` for every app in app order.
    pub app_name: String,
    /// `all` (default), `1` for the next pending one, or an ID to apply up to.
    pub migration_id: String,
    /// Record the migrations as applied without running them.
    pub fake: bool,
    /// Print the SQL instead of running it.
    pub preview: bool,
    /// Do not ask before faking more than one migration.
    pub auto_agree: bool,
}

impl ForwardsMigrationManager {
    /// A manager for `app_name` with the defaults: every pending migration, for real.
    pub fn new(app_name: impl Into<String>) -> Self {
        ForwardsMigrationManager {
            app_name: app_name.into(),
            migration_id: "all".into(),
            fake: false,
            preview: false,
            auto_agree: false,
        }
    }

    /// Runs it; failures come back as an unsuccessful result.
    pub async fn run(&self, project: &Project) -> MigrationResult {
        self.run_migrations(project).await.into()
    }

    /// Runs it; failures come back as errors.
    pub async fn run_migrations(&self, project: &Project) -> Result<String> {
        let apps = project.settings.select(&self.app_name)?;
        if self.app_name == "all" && self.migration_id != "all" {
            return Err(Error::Usage(format!(
                "forwards all applies every pending migration: a MIGRATION_ID (`{}`) needs a single app",
                self.migration_id
            )));
        }
        let target = Target::parse(&self.migration_id)
            .map_err(|source| Error::Plan { app: self.app_name.clone(), source })?;
        let (mut conn, _lock) = project.connect_to_run(self.preview).await?;

        // Plan and load everything before changing anything.
        let mut selected: Vec<LoadedMigration> = Vec::new();
        let mut notes = Vec::new();
        for app in apps {
            let files = source::discover(app)?;
            let rows = ledger::applied(&mut conn, &app.name).await?;
            refuse_dirty(&app.name, &rows)?;
            let applied: Vec<_> = rows.into_iter().map(|row| row.migration_id).collect();
            let ids: Vec<_> = files.iter().map(|f| f.id.clone()).collect();
            let plan = plan::forwards(&ids, &applied, &target)
                .map_err(|source| Error::Plan { app: app.name.clone(), source })?;
            match plan {
                plan::Forwards::AlreadyApplied(id) => {
                    notes.push(format!("app {}: migration {id} has already run", app.name));
                }
                plan::Forwards::Apply(to_apply) => {
                    let files = files.iter().filter(|f| to_apply.contains(&f.id));
                    selected.extend(project.load_all(app, files).await?);
                }
            }
        }
        if selected.is_empty() {
            conn.close().await;
            notes.push("no migrations to run".into());
            return Ok(notes.join("\n"));
        }

        if self.preview {
            for migration in &selected {
                let (back, result) =
                    project.run_preview(conn, migration, Direction::Forwards).await;
                conn = back;
                result?;
            }
            conn.close().await;
            return Ok(String::new());
        }

        if self.fake {
            if selected.len() > 1
                && !self.auto_agree
                && !confirm(&format!("Fake {} migration(s) of {}?", selected.len(), self.app_name))
            {
                return Err(Error::Declined);
            }
            ledger::ensure(&mut conn).await?;
            for migration in &selected {
                record(&mut conn, migration, false).await?;
                eprintln!("faked {} {}: {}", migration.app, migration.id, migration.description);
            }
            conn.close().await;
            return Ok(format!(
                "recorded {} migration(s) as applied without running them",
                selected.len()
            ));
        }

        ledger::ensure(&mut conn).await?;
        for (done, migration) in selected.iter().enumerate() {
            let (back, result) = project.run_live(conn, migration, Direction::Forwards).await;
            conn = back;
            if let Err(e) = result {
                conn.close().await;
                return Err(Error::Migration {
                    message: format!(
                        "{e}\ncompleted before the failure: {}",
                        summary(&selected[..done])
                    ),
                });
            }
            let note = if migration.transactional { "" } else { " (non-transactional)" };
            eprintln!(
                "applied {} {}: {}{note}",
                migration.app, migration.id, migration.description
            );
        }
        conn.close().await;
        Ok(format!("applied {} migration(s)", selected.len()))
    }
}

/// Applies migrations as [`ForwardsMigrationManager`] does.
pub async fn run_forwards(
    project: &Project,
    app_name: &str,
    migration_id: &str,
    fake: bool,
    preview: bool,
    auto_agree: bool,
) -> MigrationResult {
    ForwardsMigrationManager {
        app_name: app_name.into(),
        migration_id: migration_id.into(),
        fake,
        preview,
        auto_agree,
    }
    .run(project)
    .await
}

/// The `wasmig forwards` command: reports on stderr; exit status 1 on failure.
pub async fn forwards(
    project: &Project,
    app_name: &str,
    migration_id: &str,
    fake: bool,
    preview: bool,
    auto_agree: bool,
) -> ExitCode {
    run_forwards(project, app_name, migration_id, fake, preview, auto_agree).await.report()
}
