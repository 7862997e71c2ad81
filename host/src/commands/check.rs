//! `wasmig check`: which migrations have run. Never changes the database.

use serde::Serialize;

use super::Project;
use crate::backend::Access;
use crate::error::Result;
use crate::id::MigrationId;
use crate::ledger;
use crate::report::{Event, Hooks};
use crate::source;

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not applied.
    Pending,
    /// Applied, and its file holds what was applied.
    Applied,
    /// Applied, but its file now holds other bytes.
    Changed,
    /// Applied, and its file is gone.
    Missing,
    /// Applied part-way by a run that could not roll it back (see `wasmig resolve`).
    Dirty,
}

impl State {
    /// The state's name, as JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Applied => "applied",
            State::Changed => "changed",
            State::Missing => "missing",
            State::Dirty => "dirty",
        }
    }
}

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
    /// Where it stands: `has_ran` and `dirty` in one word, and whether its file still
    /// holds what was applied.
    pub state: State,
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// One status per migration file, in app order then ID order.
    pub statuses: Vec<MigrationStatus>,
    /// Applied migrations whose component file is gone, as `(app, ids)`.
    pub orphans: Vec<(String, Vec<String>)>,
}

impl CheckReport {
    /// The migrations that are not simply applied: pending, changed, missing or dirty.
    pub fn pending(&self) -> usize {
        self.statuses.iter().filter(|s| s.state != State::Applied).count()
    }
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

    /// The statuses and the applied migrations whose file is gone (also told to `hooks` as
    /// warnings).
    pub async fn report(&self, project: &Project, hooks: &dyn Hooks) -> Result<CheckReport> {
        let apps = project.settings.select(&self.app_name)?;
        let mut conn = project.connect(Access::ReadOnly).await?;
        let mut report = CheckReport::default();
        let found = async {
            let mut listed = Vec::with_capacity(apps.len());
            for app in apps {
                let files = source::discover(app)?;
                let applied = ledger::applied(&mut conn, &app.name).await?;
                listed.push((app, files, applied));
            }
            // Descriptions come from the ledger for applied migrations and from the
            // compile cache's record for pending ones seen before. Only the rest are
            // loaded, every app's at once.
            let mut unknown = Vec::new();
            let mut missing = Vec::new();
            for (app, files, applied) in &listed {
                let known = project.runtime.cache().map(|cache| cache.folder(&app.dir));
                for file in files {
                    let row = applied.iter().find(|row| row.migration_id == file.id);
                    let description = match row {
                        Some(row) => Some(row.description.clone()),
                        None => known.as_ref().and_then(|index| index.get(&file.path)).map(
                            |entry| entry.description.clone(),
                        ),
                    };
                    if description.is_none() {
                        unknown.push((report.statuses.len(), (*app, file)));
                    }
                    let state = match row {
                        None => State::Pending,
                        Some(row) if row.dirty => State::Dirty,
                        Some(row) => {
                            if project.file_checksum(&app.name, known.as_ref(), file)? == row.checksum {
                                State::Applied
                            } else {
                                State::Changed
                            }
                        }
                    };
                    report.statuses.push(MigrationStatus {
                        app_name: app.name.clone(),
                        migration_id: file.id.to_string(),
                        description: description.unwrap_or_default(),
                        has_ran: row.is_some(),
                        dirty: row.is_some_and(|row| row.dirty),
                        state,
                    });
                }
                let orphans: Vec<_> = applied
                    .iter()
                    .filter(|row| !files.iter().any(|f| f.id == row.migration_id))
                    .collect();
                if !orphans.is_empty() {
                    let ids: Vec<String> =
                        orphans.iter().map(|row| row.migration_id.to_string()).collect();
                    hooks.event(Event::Warning(&format!(
                        "app {}: applied migration(s) without a component file: {} (see `wasmig clean {}`)",
                        app.name,
                        ids.join(", "),
                        app.name
                    )));
                    report.orphans.push((app.name.clone(), ids));
                }
                missing.extend(orphans.into_iter().map(|row| MigrationStatus {
                    app_name: app.name.clone(),
                    migration_id: row.migration_id.to_string(),
                    description: row.description.clone(),
                    has_ran: true,
                    dirty: row.dirty,
                    state: if row.dirty { State::Dirty } else { State::Missing },
                }));
            }
            let loaded = project.load_all(unknown.iter().map(|(_, file)| *file)).await?;
            for ((at, _), migration) in unknown.iter().zip(loaded) {
                report.statuses[*at].description = migration.description;
            }
            // Applied migrations without a file take their place in ID order.
            if !missing.is_empty() {
                let order: Vec<String> = listed.iter().map(|(app, ..)| app.name.clone()).collect();
                report.statuses.extend(missing);
                report.statuses.sort_by_cached_key(|s| {
                    let app = order.iter().position(|name| *name == s.app_name);
                    (app, MigrationId::parse(&s.migration_id).ok())
                });
            }
            Ok(())
        }
        .await;
        conn.close().await;
        found.map(|()| report)
    }
}
