//! `wasmig check`: which migrations have run. Never changes the database.

use std::process::ExitCode;

use comfy_table::{Table, presets};
use serde::Serialize;

use super::Project;
use crate::db::Access;
use crate::error::Result;
use crate::ledger;
use crate::source;

/// The status of one migration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// The app it belongs to.
    pub app_name: String,
    /// Its ID.
    pub migration_id: String,
    /// What the migration says it does.
    pub description: String,
    /// Whether the ledger records it as applied.
    pub has_ran: bool,
    /// Whether an earlier run failed or stopped part-way through it without being able to
    /// roll back (see `wasmig resolve`).
    pub dirty: bool,
}

/// How `check` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned table.
    #[default]
    Table,
    /// A JSON array of objects with the keys app_name, migration_id, description, has_ran.
    Json,
}

/// Lists the migrations of an app, or of every app, with whether each has run.
#[derive(Debug, Clone)]
pub struct CheckMigrationManager {
    /// An app name, or `all`.
    pub app_name: String,
}

impl CheckMigrationManager {
    /// A manager for `app_name` (`all` for every app).
    pub fn new(app_name: impl Into<String>) -> Self {
        CheckMigrationManager { app_name: app_name.into() }
    }

    /// One status per migration file, in app order then ID order. Loads every component,
    /// so a broken one fails the check.
    pub async fn get_migration_statuses(&self, project: &Project) -> Result<Vec<MigrationStatus>> {
        let apps = project.settings.select(&self.app_name)?;
        let mut conn = project.connect(Access::ReadOnly).await?;
        let mut statuses = Vec::new();
        for app in apps {
            let files = source::discover(app)?;
            let applied = ledger::applied(&mut conn, &app.name).await?;
            for migration in project.load_all(app, &files).await? {
                let row = applied.iter().find(|row| row.migration_id == migration.id);
                statuses.push(MigrationStatus {
                    has_ran: row.is_some(),
                    dirty: row.is_some_and(|row| row.dirty),
                    app_name: migration.app,
                    migration_id: migration.id.to_string(),
                    description: migration.description,
                });
            }
            let orphans: Vec<String> = applied
                .iter()
                .filter(|row| !files.iter().any(|f| f.id == row.migration_id))
                .map(|row| row.migration_id.to_string())
                .collect();
            if !orphans.is_empty() {
                eprintln!(
                    "warning: app {}: applied migration(s) without a component file: {} (see `wasmig clean {}`)",
                    app.name,
                    orphans.join(", "),
                    app.name
                );
            }
        }
        conn.close().await;
        Ok(statuses)
    }
}

/// Renders statuses as `format`.
pub fn render(statuses: &[MigrationStatus], format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => {
            let mut json = serde_json::to_string_pretty(statuses).unwrap_or_else(|_| "[]".into());
            json.push('\n');
            json
        }
        OutputFormat::Table => {
            let mut table = Table::new();
            table.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
            // The dirty column shows only when there is something to see.
            let any_dirty = statuses.iter().any(|s| s.dirty);
            let mut header = vec!["app_name", "migration_id", "description", "has_ran"];
            if any_dirty {
                header.push("dirty");
            }
            table.set_header(header);
            for s in statuses {
                let mut row = vec![
                    s.app_name.as_str(),
                    s.migration_id.as_str(),
                    s.description.as_str(),
                    if s.has_ran { "true" } else { "false" },
                ];
                if any_dirty {
                    row.push(if s.dirty { "DIRTY" } else { "" });
                }
                table.add_row(row);
            }
            format!("{table}\n")
        }
    }
}

/// The `wasmig check` command. With `fail_on_pending`, exit status 1 when any listed
/// migration has not run, so a CI job can fail on it.
pub async fn check(
    project: &Project,
    app_name: &str,
    format: OutputFormat,
    fail_on_pending: bool,
) -> ExitCode {
    let statuses = match CheckMigrationManager::new(app_name).get_migration_statuses(project).await
    {
        Ok(statuses) => statuses,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&statuses, format));
    let dirty: Vec<String> = statuses
        .iter()
        .filter(|s| s.dirty)
        .map(|s| format!("{} {}", s.app_name, s.migration_id))
        .collect();
    if !dirty.is_empty() {
        eprintln!(
            "warning: dirty migration(s): {} (an earlier run failed part-way; repair, then `wasmig resolve`)",
            dirty.join(", ")
        );
    }
    let pending = statuses.iter().filter(|s| !s.has_ran || s.dirty).count();
    if fail_on_pending && pending > 0 {
        eprintln!("error: {pending} migration(s) pending");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
