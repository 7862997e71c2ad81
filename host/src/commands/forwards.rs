//! `wasmig forwards`: apply pending migrations.

use super::{
    Planning, Project, Question, Request, confirm, refuse_changed, refuse_dirty, run_request,
};
use crate::config::{App, Settings};
use crate::error::{Error, Result};
use crate::executor::Step;
use crate::ledger;
use crate::plan::{self, Direction, Target};
use crate::report::{Batch, Hooks, Mode, RunReport};
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
    /// Report the SQL instead of running it.
    pub preview: bool,
    /// Do not ask before faking more than one migration.
    pub auto_agree: bool,
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

impl ForwardsMigrationManager {
    /// A manager for `app_name` with the defaults: every pending migration, for real.
    pub fn new(app_name: impl Into<String>) -> Self {
        ForwardsMigrationManager {
            app_name: app_name.into(),
            migration_id: "all".into(),
            fake: false,
            preview: false,
            auto_agree: false,
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
}

impl Request for ForwardsMigrationManager {
    fn mode(&self) -> Mode {
        if self.preview {
            Mode::Preview
        } else if self.fake {
            Mode::Fake
        } else {
            Mode::Live
        }
    }

    fn batch(&self) -> Option<Batch> {
        Batch::of(self.dry_run, self.atomic)
    }

    fn nothing_to_do(&self) -> &'static str {
        "no migrations to run"
    }

    fn select<'s>(&self, settings: &'s Settings) -> Result<(Vec<&'s App>, Target)> {
        let apps = settings.select(&self.app_name)?;
        if self.app_name == "all" && self.migration_id != "all" {
            return Err(Error::Usage(format!(
                "forwards all applies every pending migration: a MIGRATION_ID (`{}`) needs a single app",
                self.migration_id
            )));
        }
        let target = Target::parse(&self.migration_id)
            .map_err(|source| Error::Plan { app: self.app_name.clone(), source })?;
        Ok((apps, target))
    }

    async fn plan(&self, cx: Planning<'_>, apps: &[&App], target: &Target) -> Result<Vec<Step>> {
        let Planning { project, hooks, conn, report } = cx;
        let mut to_load = Vec::new();
        let mut changed = Vec::new();
        for app in apps {
            let files = source::discover(app)?;
            let rows = ledger::applied(conn, &app.name).await?;
            refuse_dirty(&app.name, &rows)?;
            changed.extend(project.changed_files(app, &files, &rows)?);
            let applied: Vec<_> = rows.into_iter().map(|row| row.migration_id).collect();
            let ids: Vec<_> = files.iter().map(|f| f.id.clone()).collect();
            let plan = plan::forwards(&ids, &applied, target)
                .map_err(|source| Error::Plan { app: app.name.clone(), source })?;
            match plan {
                plan::Forwards::AlreadyApplied(id) => {
                    report.notes.push(format!("app {}: migration {id} has already run", app.name));
                }
                plan::Forwards::Apply(to_apply) => to_load.extend(
                    files.into_iter().filter(|f| to_apply.contains(&f.id)).map(|f| (*app, f)),
                ),
            }
        }
        refuse_changed(changed, self.allow_changed, hooks, report)?;
        // Every app's migrations are loaded together, so that compiling uses every core.
        let loaded = project.load_all(to_load.iter().map(|(app, file)| (*app, file))).await?;
        let steps: Vec<Step> = loaded
            .into_iter()
            .map(|migration| Step {
                migration,
                direction: Direction::Forwards,
                delete_file: false,
                _stored: None,
            })
            .collect();
        if self.fake && steps.len() > 1 {
            let prompt = format!("Fake {} migration(s) of {}?", steps.len(), self.app_name);
            confirm(hooks, self.auto_agree, Question { prompt, details: Vec::new() })?;
        }
        Ok(steps)
    }
}
