//! `wasmig resolve`: settle a dirty migration after the schema was repaired by hand.

use serde::Serialize;

use super::{Project, Question, confirm};
use crate::error::{Error, Result};
use crate::ledger;
use crate::plan::{PlanError, Target};
use crate::report::Hooks;

/// What the schema looks like after the repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The migration's changes are in place: keep it as applied.
    Applied,
    /// They are not: forget the migration, so it is pending again.
    Reversed,
}

/// What `resolve` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolveReport {
    /// The app.
    pub app_name: String,
    /// The migration that was dirty.
    pub migration_id: String,
    /// How it was settled.
    pub resolution: Resolution,
}

impl ResolveReport {
    /// What happened, in words.
    pub fn summary(&self) -> String {
        let ResolveReport { app_name, migration_id, .. } = self;
        match self.resolution {
            Resolution::Applied => format!("app {app_name}: migration {migration_id} is applied"),
            Resolution::Reversed => {
                format!("app {app_name}: migration {migration_id} is pending again")
            }
        }
    }
}

/// Clears the dirty mark of `migration_id` of `app_name`: keeps the row as applied, or
/// removes it. Asks `hooks` first unless `auto_agree`.
pub async fn resolve(
    project: &Project,
    app_name: &str,
    migration_id: &str,
    resolution: Resolution,
    auto_agree: bool,
    hooks: &dyn Hooks,
) -> Result<ResolveReport> {
    let app = project.settings.app(app_name)?;
    let plan_error = |source| Error::Plan { app: app_name.to_string(), source };
    let Target::Id(id) = Target::parse(migration_id).map_err(plan_error)? else {
        return Err(plan_error(PlanError::InvalidTarget(migration_id.to_string())));
    };
    let mut conn = project.connect_to_run(false, hooks).await?;
    let resolved = async {
        let rows = ledger::applied(&mut conn, &app.name).await?;
        let Some(row) = rows.iter().find(|row| row.migration_id == id) else {
            return Err(Error::Usage(format!(
                "app {app_name}: migration {id} is not in the ledger"
            )));
        };
        if !row.dirty {
            return Err(Error::Usage(format!("app {app_name}: migration {id} is not dirty")));
        }
        let prompt = match resolution {
            Resolution::Applied => format!("Mark {app_name} {id} as applied?"),
            Resolution::Reversed => format!("Forget {app_name} {id} so it is pending again?"),
        };
        confirm(hooks, auto_agree, Question { prompt, details: Vec::new() })?;
        match resolution {
            Resolution::Applied => ledger::set_dirty(&mut conn, &app.name, &id, false).await,
            Resolution::Reversed => {
                ledger::remove(&mut conn, &app.name, &id, ledger::Artefacts::Unknown).await
            }
        }
    }
    .await;
    conn.close().await;
    resolved.map(|()| ResolveReport {
        app_name: app_name.to_string(),
        migration_id: id.to_string(),
        resolution,
    })
}
