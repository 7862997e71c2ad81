//! `wasmig verify`: proves, on a scratch database of the same backend, that each
//! migration's `backwards` is the inverse of its `forwards`.

use serde::Serialize;

use super::{BackwardsMigrationManager, ForwardsMigrationManager, Project};
use crate::backend::{Access, Connection, Scratch, redact};
use crate::config::App;
use crate::error::{Error, LoadReason, Result};
use crate::report::{RunReport, Silent};
use crate::source;

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The scratch database (its password hidden).
    pub scratch: String,
    /// The migrations proven reversible, in the order they were applied.
    pub verified: Vec<Verified>,
    /// The migrations with no way back on this backend (a SQL migration without a down
    /// file for it): applied and left applied, since they cannot be reversed, unproven.
    pub irreversible: Vec<Verified>,
    /// The first migration that is not, if one is not.
    pub failure: Option<Divergence>,
}

/// A migration whose `backwards` restored the schema and whose `forwards` then gave the
/// same schema again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub app_name: String,
    pub migration_id: String,
    pub description: String,
}

/// Where a migration's reversal went wrong, with the schema difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub app_name: String,
    pub migration_id: String,
    /// `backwards` (it did not restore the schema from before the migration) or
    /// `forwards_again` (applying it again gave another schema than the first time).
    pub stage: Stage,
    /// Schema lines the expected state has and the actual lacks (`- ...`), then lines the
    /// actual has and the expected lacks (`+ ...`).
    pub diff: Vec<String>,
}

/// Which comparison failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Backwards,
    ForwardsAgain,
}

impl Divergence {
    /// One line saying what went wrong.
    pub fn message(&self) -> String {
        let what = match self.stage {
            Stage::Backwards => "its backwards did not restore the schema from before it",
            Stage::ForwardsAgain => "applying it again gave another schema than the first time",
        };
        format!("app {} migration {}: {what}", self.app_name, self.migration_id)
    }
}

/// Verifies the migrations of `app_name` (or of every app, for `all`) on `scratch_url`,
/// or on a scratch database created beside the target and dropped afterwards. Apps the
/// selected one comes after in app order are applied first, unverified.
pub async fn verify(
    project: &Project,
    app_name: &str,
    scratch_url: Option<String>,
) -> Result<VerifyReport> {
    let selected = project.settings.select(app_name)?;
    let last = selected.last().map(|app| app.name.clone()).unwrap_or_default();
    let upto = project.settings.apps.iter().position(|app| app.name == last).unwrap_or(0);
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let scratch = match scratch_url {
        Some(url) => Scratch::given(url),
        None => Scratch::create(&project.settings.database_url, dir.path()).await?,
    };
    let mut settings = project.settings.clone();
    settings.database_url = scratch.url.clone();
    let on_scratch = Project::new(settings)?;
    let mut report = VerifyReport {
        scratch: redact(&scratch.url),
        verified: Vec::new(),
        irreversible: Vec::new(),
        failure: None,
    };
    let mut result = Ok(());
    for app in &project.settings.apps[..=upto] {
        let verifying = selected.iter().any(|s| s.name == app.name);
        result = if verifying {
            verify_app(&on_scratch, app, &mut report).await
        } else {
            ran(forwards(app, "all").run_with(&on_scratch, &Silent).await).map(drop)
        };
        if result.is_err() || report.failure.is_some() {
            break;
        }
    }
    let removed = scratch.remove().await;
    result?;
    removed?;
    Ok(report)
}

async fn verify_app(on_scratch: &Project, app: &App, report: &mut VerifyReport) -> Result<()> {
    let url = &on_scratch.settings.database_url;
    for file in source::discover(app)? {
        let id = file.id.to_string();
        let before = schema(url).await?;
        let applied = ran(forwards(app, &id).run_with(on_scratch, &Silent).await)?;
        let after = schema(url).await?;
        let description = applied.migrations.first().map(|m| m.description.clone());
        let entry = Verified {
            app_name: app.name.clone(),
            migration_id: id.clone(),
            description: description.unwrap_or_default(),
        };
        let mut backwards = BackwardsMigrationManager::new(&app.name);
        backwards.auto_agree = true;
        match ran(backwards.run_with(on_scratch, &Silent).await) {
            // Refused before anything changed: it stays applied for the ones after it.
            Err(e)
                if e.load()
                    .is_some_and(|l| matches!(l.reason, LoadReason::Irreversible { .. })) =>
            {
                report.irreversible.push(entry);
                continue;
            }
            other => other?,
        };
        let reversed = schema(url).await?;
        let divergence = |stage, expected: &[String], actual: &[String]| Divergence {
            app_name: app.name.clone(),
            migration_id: id.clone(),
            stage,
            diff: diff(expected, actual),
        };
        if reversed != before {
            report.failure = Some(divergence(Stage::Backwards, &before, &reversed));
            return Ok(());
        }
        ran(forwards(app, &id).run_with(on_scratch, &Silent).await)?;
        let again = schema(url).await?;
        if again != after {
            report.failure = Some(divergence(Stage::ForwardsAgain, &after, &again));
            return Ok(());
        }
        report.verified.push(entry);
    }
    Ok(())
}

fn forwards(app: &App, migration_id: &str) -> ForwardsMigrationManager {
    let mut manager = ForwardsMigrationManager::new(&app.name);
    manager.migration_id = migration_id.to_string();
    manager.auto_agree = true;
    manager
}

/// The report of a run that succeeded, or its error.
fn ran(report: RunReport) -> Result<RunReport> {
    match report.error {
        None => Ok(report),
        Some(e) => Err(e),
    }
}

/// The schema of the scratch database, wasmig's own tables left out.
async fn schema(url: &str) -> Result<Vec<String>> {
    let mut conn = Connection::open(url, Access::ReadOnly).await?;
    let schema = conn.schema().await;
    conn.close().await;
    schema.map_err(|e| Error::database("cannot read the scratch database's schema", e))
}

fn diff(expected: &[String], actual: &[String]) -> Vec<String> {
    let missing = expected.iter().filter(|line| !actual.contains(line)).map(|l| format!("- {l}"));
    let extra = actual.iter().filter(|line| !expected.contains(line)).map(|l| format!("+ {l}"));
    missing.chain(extra).collect()
}
