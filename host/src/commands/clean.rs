//! `wasmig clean`: forget ledger rows whose component file is gone.

use serde::Serialize;

use super::{Project, Question, confirm};
use crate::error::{Error, Result};
use crate::ledger::{self, LedgerRow};
use crate::report::Hooks;
use crate::source;

/// A ledger row `clean` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedRow {
    /// Its app.
    pub app_name: String,
    /// Its migration ID.
    pub migration_id: String,
    /// The description recorded when it was applied.
    pub description: String,
}

/// What `clean` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// The app.
    pub app_name: String,
    /// The rows removed (none when every applied migration still has its file).
    pub removed: Vec<RemovedRow>,
}

/// Removes the ledger rows of `app_name` whose migration file no longer exists, in one
/// transaction, after asking `hooks` unless `auto_agree`.
pub async fn clean(
    project: &Project,
    app_name: &str,
    auto_agree: bool,
    hooks: &dyn Hooks,
) -> Result<CleanReport> {
    let app = project.settings.app(app_name)?;
    let files = source::discover(app)?;
    let mut conn = project.connect_to_run(false, hooks).await?;
    let cleaned = async {
        let orphans: Vec<LedgerRow> = ledger::applied(&mut conn, &app.name)
            .await?
            .into_iter()
            .filter(|row| !files.iter().any(|f| f.id == row.migration_id))
            .collect();
        let removed: Vec<RemovedRow> = orphans
            .iter()
            .map(|row| RemovedRow {
                app_name: row.app_name.clone(),
                migration_id: row.migration_id.to_string(),
                description: row.description.clone(),
            })
            .collect();
        if removed.is_empty() {
            return Ok(removed);
        }
        let question = Question {
            prompt: format!(
                "Remove {} ledger row(s) of {app_name} whose migration file is gone?",
                removed.len()
            ),
            details: removed
                .iter()
                .map(|row| format!("{} {}: {}", row.app_name, row.migration_id, row.description))
                .collect(),
        };
        confirm(hooks, auto_agree, question)?;
        conn.begin().await.map_err(|e| Error::database("cannot begin a transaction", e))?;
        for row in &orphans {
            if let Err(e) =
                ledger::remove(&mut conn, &app.name, &row.migration_id, ledger::Artefacts::Unknown)
                    .await
            {
                let _ = conn.rollback().await;
                return Err(e);
            }
        }
        conn.commit().await.map_err(|e| Error::database("cannot commit", e))?;
        Ok(removed)
    }
    .await;
    conn.close().await;
    Ok(CleanReport { app_name: app_name.to_string(), removed: cleaned? })
}
