//! `wasmig backwards`: reverse applied migrations, newest-applied first.

use super::{
    Planning, Project, Question, Request, confirm, refuse_changed, refuse_dirty, run_request,
};
use crate::config::{App, Settings};
use crate::error::{Error, LoadError, LoadReason, Result};
use crate::executor::Step;
use crate::ledger;
use crate::plan::{self, Direction, Target};
use crate::report::{Batch, Hooks, Mode, RunReport};
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
    /// Report the SQL of each `backwards` instead of running it.
    pub preview: bool,
    /// Go on when an applied migration's file changed since it was applied (with a
    /// warning); by default that fails the run before anything changes.
    pub allow_changed: bool,
    /// Run the selection in one transaction and roll it back: what would happen, with
    /// nothing changed (`--dry-run`; not on MySQL).
    pub dry_run: bool,
    /// Run the selection in one transaction with its ledger rows: all or nothing
    /// (`--atomic`; not on MySQL, nor with a non-transactional migration).
    pub atomic: bool,
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
            allow_changed: false,
            dry_run: false,
            atomic: false,
        }
    }

    /// Runs it, telling `hooks` what happens and asking them to confirm; the report says
    /// what each migration did and, if the run failed, why.
    pub async fn run_with(&self, project: &Project, hooks: &dyn Hooks) -> RunReport {
        run_request(project, hooks, self).await
    }

    /// What it reverses: `migration_id`, or by default `1` for one app and `all` for all
    /// of them.
    pub(super) fn target_id(&self) -> &str {
        let all_apps = self.app_name == "all";
        self.migration_id.as_deref().unwrap_or(if all_apps { "all" } else { "1" })
    }
}

impl Request for BackwardsMigrationManager {
    fn mode(&self) -> Mode {
        if self.preview { Mode::Preview } else { Mode::Live }
    }

    fn batch(&self) -> Option<Batch> {
        Batch::of(self.dry_run, self.atomic)
    }

    fn nothing_to_do(&self) -> &'static str {
        "no migrations to reverse"
    }

    /// The apps in reverse app order.
    fn select<'s>(&self, settings: &'s Settings) -> Result<(Vec<&'s App>, Target)> {
        let mut apps = settings.select(&self.app_name)?;
        apps.reverse();
        let target = self.target_id();
        if self.app_name == "all" && target != "all" {
            return Err(Error::Usage(format!(
                "backwards all reverses every applied migration of every app: use `all`, not `{target}`"
            )));
        }
        let target = Target::parse(target)
            .map_err(|source| Error::Plan { app: self.app_name.clone(), source })?;
        Ok((apps, target))
    }

    async fn plan(&self, cx: Planning<'_>, apps: &[&App], target: &Target) -> Result<Vec<Step>> {
        let Planning { project, hooks, conn, report } = cx;
        let mut planned = Vec::new();
        let mut changed = Vec::new();
        for app in apps {
            let applied = ledger::applied(conn, &app.name).await?;
            refuse_dirty(&app.name, &applied)?;
            let ids: Vec<_> = applied.iter().map(|row| row.migration_id.clone()).collect();
            let to_reverse = plan::backwards(&ids, target)
                .map_err(|source| Error::Plan { app: app.name.clone(), source })?;
            if to_reverse.is_empty() {
                continue;
            }
            let files = source::discover(app)?;
            changed.extend(project.changed_files(app, &files, &applied)?);
            planned.push((*app, applied, to_reverse, files));
        }
        refuse_changed(changed.clone(), self.allow_changed, hooks, report)?;
        // Each migration runs the component that was applied: its file while that holds
        // the same bytes, else the one stored with its ledger row.
        // The folder for components taken from the database, made when the first is.
        let mut stored_dir: Option<std::sync::Arc<tempfile::TempDir>> = None;
        let limit = project.runtime.limits().component_bytes;
        let mut to_load = Vec::new();
        let mut per_app = Vec::new();
        for (app, applied, to_reverse, mut files) in planned {
            let mut missing = Vec::new();
            for id in &to_reverse {
                let row = applied.iter().find(|row| &row.migration_id == id).expect("planned");
                let file = files.iter().position(|f| &f.id == id).map(|at| files.swap_remove(at));
                let differs = changed.iter().any(|c| c.app == app.name && c.id == id.as_str());
                if let Some(file) = &file
                    && !differs
                {
                    to_load.push((app, file.clone(), false));
                    continue;
                }
                match ledger::artefact(conn, &row.checksum, limit).await? {
                    Some(bytes) => {
                        let slug = file.as_ref().map_or("stored", |f| f.slug.as_str());
                        let dir = match &stored_dir {
                            Some(dir) => dir.clone(),
                            None => {
                                let dir = tempfile::tempdir()
                                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                                stored_dir.insert(std::sync::Arc::new(dir)).clone()
                            }
                        };
                        let path = dir.path().join(format!("{id}_{slug}.wasm"));
                        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
                        let why =
                            if file.is_some() { "its file changed" } else { "its file is gone" };
                        report.notes.push(format!(
                            "app {} migration {id}: {why}; ran the component stored when it was \
                             applied (sha256 {})",
                            app.name, row.checksum
                        ));
                        let stored =
                            source::MigrationFile { id: id.clone(), slug: slug.into(), path };
                        to_load.push((app, stored, true));
                    }
                    // Changed and allowed, with nothing stored: the file it is.
                    None if file.is_some() => to_load.push((app, file.expect("some"), false)),
                    None => missing.push(id.to_string()),
                }
            }
            if !missing.is_empty() {
                return Err(Error::MissingFiles { app: app.name.clone(), ids: missing.join(", ") });
            }
            per_app.push((app.name.clone(), to_reverse.len()));
        }
        // Only the range is loaded, every app's together so that compiling uses every core.
        let migrations =
            project.load_all(to_load.iter().map(|(app, file, _)| (*app, file))).await?;
        // A migration with no way back on this backend is refused before anything changes.
        let dialect = conn.dialect();
        if let Some(m) = migrations.iter().find(|m| !m.reversible_on(dialect)) {
            let reason = LoadReason::Irreversible { dialect: dialect.name() };
            return Err(LoadError::new(&m.app, m.id.as_str(), &m.path, reason).into());
        }
        let stored: Vec<bool> = to_load.iter().map(|(.., stored)| *stored).collect();
        let steps: Vec<Step> = migrations
            .into_iter()
            .zip(stored)
            .map(|(migration, stored)| Step {
                migration,
                direction: Direction::Backwards,
                // A component from the database has no file of the app to delete.
                delete_file: self.clean && !stored,
                _stored: if stored { stored_dir.clone() } else { None },
            })
            .collect();
        if !steps.is_empty() && !self.preview {
            confirm(hooks, self.auto_agree, question(&per_app, steps.len()))?;
        }
        Ok(steps)
    }
}

/// `Reverse N migration(s) of APP?`, or for several apps the total and each app's count.
fn question(per_app: &[(String, usize)], total: usize) -> Question {
    let prompt = match per_app {
        [(app, _)] => format!("Reverse {total} migration(s) of {app}?"),
        several => {
            let apps: Vec<String> =
                several.iter().map(|(app, count)| format!("{app}: {count}")).collect();
            format!("Reverse {total} migration(s) of {} apps ({})?", several.len(), apps.join(", "))
        }
    };
    Question { prompt, details: Vec::new() }
}
