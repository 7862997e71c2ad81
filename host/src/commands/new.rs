//! `wasmig new`: scaffold the source of a migration in an app's folder, from the template
//! of its language ([`crate::build`]), which `wasmig build` compiles as it is.

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use crate::build::Language;
use crate::build::scaffold::{NewSource, fresh_id, slugify};
use crate::config::Settings;
use crate::error::{Error, Result};

/// What `new` created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewReport {
    /// The app.
    pub app_name: String,
    /// The fresh migration ID.
    pub migration_id: String,
    /// The language of the source.
    pub language: Language,
    /// The migration's source: a crate folder, a `.py`, a `.js` or an `.up.sql` file.
    pub source: PathBuf,
    /// The component file the build must produce, where wasmig looks for it.
    pub component: PathBuf,
    /// The commands that build the source into the component (none for SQL).
    pub build_commands: Vec<String>,
}

/// Creates the source of a new migration in the app's folder with a fresh ID from `now`
/// (UTC, `YYYYMMDDHHMMSS`, later than every existing ID of the app): for Rust the crate
/// `<ID>_<slug>/`, for Python `<ID>_<slug>.py`, for JavaScript `<ID>_<slug>.js`, for SQL
/// `<ID>_<slug>.up.sql` and `<ID>_<slug>.down.sql`.
pub fn new_migration(
    settings: &Settings,
    app_name: &str,
    name: &str,
    language: Language,
    now: OffsetDateTime,
) -> Result<NewReport> {
    let app = settings.app(app_name)?;
    let slug = slugify(name);
    if slug.is_empty() {
        return Err(Error::Usage(format!("migration name `{name}` has no letters or digits")));
    }
    std::fs::create_dir_all(&app.dir).map_err(|e| Error::io(&app.dir, e))?;
    let id = fresh_id(&app.dir, now)?;
    let stem = format!("{id}_{slug}");
    let new = NewSource { dir: &app.dir, app: &app.name, stem: &stem, id: &id, slug: &slug, name };
    let source = language.scaffold(&new)?;
    // A SQL migration is its own component: nothing builds it.
    let (component, build_commands) = match language {
        Language::Sql => (source.clone(), Vec::new()),
        _ => (app.dir.join(format!("{stem}.wasm")), vec![format!("wasmig build {}", app.name)]),
    };
    Ok(NewReport {
        app_name: app.name.clone(),
        migration_id: id.to_string(),
        language,
        source,
        component,
        build_commands,
    })
}
