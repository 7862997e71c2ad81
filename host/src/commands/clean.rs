//! `wasmig clean`: forget ledger rows whose component file is gone.

use super::{Project, confirm};
use crate::error::{Error, Result};
use crate::ledger;
use crate::source;

/// Removes the ledger rows of `app_name` whose migration file no longer exists, after a
/// prompt unless `auto_agree`. Lists the removed rows on stdout.
pub async fn clean(project: &Project, app_name: &str, auto_agree: bool) -> Result<String> {
    let app = project.settings.app(app_name)?;
    let files = source::discover(app)?;
    let (mut conn, _lock) = project.connect_to_run(false).await?;
    let orphans: Vec<_> = ledger::applied(&mut conn, &app.name)
        .await?
        .into_iter()
        .filter(|row| !files.iter().any(|f| f.id == row.migration_id))
        .collect();
    if orphans.is_empty() {
        conn.close().await;
        return Ok(format!("app {app_name}: no ledger rows without a migration file"));
    }
    for row in &orphans {
        eprintln!("  {} {}: {}", row.app_name, row.migration_id, row.description);
    }
    let question = format!(
        "Remove {} ledger row(s) of {app_name} whose migration file is gone?",
        orphans.len()
    );
    if !auto_agree && !confirm(&question) {
        conn.close().await;
        return Err(Error::Declined);
    }
    conn.begin().await.map_err(|e| Error::database("cannot begin a transaction", e))?;
    for row in &orphans {
        if let Err(e) = ledger::remove(&mut conn, &app.name, &row.migration_id).await {
            let _ = conn.rollback().await;
            return Err(e);
        }
    }
    conn.commit().await.map_err(|e| Error::database("cannot commit", e))?;
    conn.close().await;
    for row in &orphans {
        println!("{} {}", row.app_name, row.migration_id);
    }
    Ok(format!("removed {} ledger row(s) of {app_name}", orphans.len()))
}
