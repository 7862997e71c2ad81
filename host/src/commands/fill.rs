//! `wasmig cache fill`: compile the components of the selected apps into the compile cache
//! ahead of the run that needs them, on a machine without the database: a container image
//! or a CI job then ships the compiled code, and the first `forwards` where the migrations
//! run compiles nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Project;
use crate::error::{Error, LoadError, LoadReason, Result};
use crate::source;

/// Whether a component had to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FillOutcome {
    /// Compiled, validated and described now, and stored in the cache.
    Compiled,
    /// The cache held it already.
    Cached,
}

/// One migration's component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilledMigration {
    /// The app.
    pub app_name: String,
    /// The migration's ID.
    pub migration_id: String,
    /// The component file.
    pub component: PathBuf,
    /// Compiled now, or cached already.
    pub outcome: FillOutcome,
}

/// What `cache fill` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillReport {
    /// The cache folder.
    pub cache_dir: PathBuf,
    /// Every component of the selected apps, in app order then ID order.
    pub migrations: Vec<FilledMigration>,
    /// How long it took.
    #[serde(rename = "duration_ms", serialize_with = "crate::report::milliseconds")]
    pub duration: Duration,
}

impl FillReport {
    /// How many components were compiled.
    pub fn compiled(&self) -> usize {
        self.migrations.iter().filter(|m| m.outcome == FillOutcome::Compiled).count()
    }
}

/// Compiles, validates and describes every component of the apps `app_name` selects
/// (`all`: every app) that the compile cache does not hold yet, several at once on all
/// cores, exactly as a run would before its first migration. The database is not touched.
/// The first component that fails to load, or that the cache cannot store, is the error
/// (it names the app, the migration and the file); what was stored before it stays in the
/// cache. A cache folder that cannot be written is an error before anything is compiled.
pub async fn fill_cache(project: &Project, app_name: &str) -> Result<FillReport> {
    let started = Instant::now();
    let Some(cache) = project.runtime.cache() else {
        return Err(Error::Usage(
            "the compile cache is off (--no-cache, or no cache folder): nothing to fill".into(),
        ));
    };
    let cache_dir = cache.dir().to_path_buf();
    cache.ensure_writable()?;
    let apps = project.settings.select(app_name)?;
    let mut files = Vec::new();
    for app in apps {
        files.extend(source::discover(app)?.into_iter().map(|file| (app, file)));
    }
    let loaded = project.load_all(files.iter().map(|(app, file)| (*app, file))).await?;
    // A store that fails after the folder proved writable (a full disk) is only logged by
    // the cache: here it is the command's failure.
    if let Some(migration) = loaded.iter().find(|migration| !migration.in_cache()) {
        let reason = LoadReason::NotCached { cache_dir };
        let error =
            LoadError::new(&migration.app, &migration.id.to_string(), &migration.path, reason);
        return Err(error.into());
    }
    let migrations = loaded
        .into_iter()
        .map(|migration| FilledMigration {
            app_name: migration.app,
            migration_id: migration.id.to_string(),
            component: migration.path,
            outcome: if migration.compiled { FillOutcome::Compiled } else { FillOutcome::Cached },
        })
        .collect();
    Ok(FillReport { cache_dir, migrations, duration: started.elapsed() })
}
