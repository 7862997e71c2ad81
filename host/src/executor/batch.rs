//! A batch (`--atomic`, `--dry-run`): every step in one transaction, begun before the first
//! and committed or rolled back after the last, and when a set of steps cannot share one.

use super::{Executor, Step};
use crate::backend::Connection;
use crate::error::{Error, Result};
use crate::report::{Batch, Outcome, RunReport};

impl Executor<'_> {
    /// Commits the batch's transaction, or rolls it back (a dry run, or a failure); what
    /// ran is then reported as rolled back.
    pub(super) async fn end_batch(&mut self, batch: Batch, report: &mut RunReport) {
        if batch == Batch::Atomic && report.error.is_none() {
            match self.conn().commit().await {
                Ok(()) => return,
                Err(e) => {
                    report.error = Some(Error::database("cannot commit the batch", e));
                }
            }
        }
        if let Err(e) = self.conn().rollback().await
            && report.error.is_none()
        {
            report.error = Some(Error::database("cannot roll the dry run back", e));
        }
        for migration in &mut report.migrations {
            if matches!(migration.outcome, Outcome::Applied | Outcome::Reversed) {
                migration.outcome = Outcome::RolledBack;
            }
        }
    }
}

/// Why `steps` cannot share one transaction on `conn`, if they cannot: DDL that commits
/// implicitly (MySQL), or a migration that runs outside a transaction.
pub(crate) fn refuse_batch(batch: Batch, conn: &Connection, steps: &[Step]) -> Result<()> {
    let flag = match batch {
        Batch::Atomic => "--atomic",
        Batch::DryRun => "--dry-run",
    };
    if !conn.capabilities().transactional_ddl {
        return Err(Error::Usage(format!(
            "{flag} needs one transaction around every migration, and {} commits each DDL \
             statement implicitly, so it could not be undone; nothing was changed",
            conn.dialect().name()
        )));
    }
    if let Some(step) = steps.iter().find(|step| !step.migration.transactional) {
        let m = &step.migration;
        return Err(Error::Usage(format!(
            "{flag}: app {} migration {} runs outside a transaction, so it cannot share the \
             batch's; nothing was changed",
            m.app, m.id
        )));
    }
    Ok(())
}
