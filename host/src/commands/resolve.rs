//! `wasmig resolve`: settle a dirty migration after the schema was repaired by hand.

use super::{Project, confirm};
use crate::error::{Error, Result};
use crate::ledger;
use crate::plan::{PlanError, Target};

/// What the schema looks like after the repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The migration's changes are in place: keep it as applied.
    Applied,
    /// They are not: forget the migration, so it is pending again.
    Reversed,
}

/// Clears the dirty mark of `migration_id` of `app_name`: keeps the row as applied, or
/// removes it. Asks first unless `auto_agree`.
pub async fn resolve(
    project: &Project,
    app_name: &str,
    migration_id: &str,
    resolution: Resolution,
    auto_agree: bool,
) -> Result<String> {
    let app = project.settings.app(app_name)?;
    let plan_error = |source| Error::Plan { app: app_name.to_string(), source };
    let Target::Id(id) = Target::parse(migration_id).map_err(plan_error)? else {
        return Err(plan_error(PlanError::InvalidTarget(migration_id.to_string())));
    };
    let (mut conn, _lock) = project.connect_to_run(false).await?;
    let rows = ledger::applied(&mut conn, &app.name).await?;
    let Some(row) = rows.iter().find(|row| row.migration_id == id) else {
        return Err(Error::Usage(format!("app {app_name}: migration {id} is not in the ledger")));
    };
    if !row.dirty {
        return Err(Error::Usage(format!("app {app_name}: migration {id} is not dirty")));
    }
    let question = match resolution {
        Resolution::Applied => format!("Mark {app_name} {id} as applied?"),
        Resolution::Reversed => format!("Forget {app_name} {id} so it is pending again?"),
    };
    if !auto_agree && !confirm(&question) {
        return Err(Error::Declined);
    }
    match resolution {
        Resolution::Applied => ledger::set_dirty(&mut conn, &app.name, &id, false).await?,
        Resolution::Reversed => ledger::remove(&mut conn, &app.name, &id).await?,
    }
    conn.close().await;
    Ok(match resolution {
        Resolution::Applied => format!("app {app_name}: migration {id} is applied"),
        Resolution::Reversed => format!("app {app_name}: migration {id} is pending again"),
    })
}
