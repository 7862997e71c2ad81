//! `wasmig new`: scaffold the source of a migration: a Rust guest crate, a Python module or
//! a JavaScript module, each from a template that `wasmig build` compiles as it is.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::build::Language;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::source::{MigrationId, parse_file_name};

/// What `new` created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewReport {
    /// The app.
    pub app_name: String,
    /// The fresh migration ID.
    pub migration_id: String,
    /// The language of the source.
    pub language: Language,
    /// The migration's source: a crate folder, a `.py` or a `.js` file.
    pub source: PathBuf,
    /// The component file the build must produce, where wasmig looks for it.
    pub component: PathBuf,
    /// The commands that build the source into the component.
    pub build_commands: Vec<String>,
}

/// Creates the source of a new migration in the app's folder with a fresh ID from `now`
/// (UTC, `YYYYMMDDHHMMSS`, later than every existing ID of the app): for Rust the crate
/// `<ID>_<slug>/`, for Python `<ID>_<slug>.py`, for JavaScript `<ID>_<slug>.js`.
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
    let component = app.dir.join(format!("{stem}.wasm"));
    let source = match language {
        Language::Rust => rust_crate(&app.dir, &app.name, &stem, &id, &slug, name)?,
        Language::Python => {
            let path = app.dir.join(format!("{stem}.py"));
            write_new(&path, &python_module(&id, name))?;
            path
        }
        Language::Js => {
            let path = app.dir.join(format!("{stem}.js"));
            write_new(&path, &js_module(&id, name))?;
            path
        }
    };
    Ok(NewReport {
        app_name: app.name.clone(),
        migration_id: id.to_string(),
        language,
        source,
        component,
        build_commands: vec![format!("wasmig build {}", app.name)],
    })
}

/// `name` as the text of a double-quoted string literal (Rust, Python and JavaScript
/// agree on these escapes).
fn quoted(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r")
}

fn rust_crate(
    dir: &Path,
    app: &str,
    stem: &str,
    id: &MigrationId,
    slug: &str,
    name: &str,
) -> Result<PathBuf> {
    let crate_dir = dir.join(stem);
    let package = format!("{}_{stem}", app.replace('-', "_"));
    let in_workspace = enclosing_workspace_with_sdk(dir);
    let dependency = if in_workspace.is_some() {
        "wasmig-guest.workspace = true\n".to_string()
    } else {
        // A crate of its own: not part of whatever workspace lies above it.
        format!("wasmig-guest = \"{}\"\n\n[workspace]\n", env!("CARGO_PKG_VERSION"))
    };
    let manifest = format!(
        "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{dependency}"
    );
    let type_name = camel_case(slug);
    let description = quoted(name);
    let lib = format!(
        r#"//! Migration {id}: {name}

use wasmig_guest::{{Db, Migration, Result}};

struct {type_name};

impl Migration for {type_name} {{
    fn forwards(db: &Db) -> Result<()> {{
        // Emit the SQL of this change, e.g.
        // db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)", &[])?;
        let _ = db;
        Ok(())
    }}

    fn backwards(db: &Db) -> Result<()> {{
        // Undo exactly what `forwards` did, e.g.
        // db.execute("DROP TABLE example", &[])?;
        let _ = db;
        Ok(())
    }}
}}

wasmig_guest::export_migration!({type_name}, description = "{description}");
"#
    );
    std::fs::create_dir_all(crate_dir.join("src")).map_err(|e| Error::io(&crate_dir, e))?;
    write_new(&crate_dir.join("Cargo.toml"), &manifest)?;
    write_new(&crate_dir.join("src").join("lib.rs"), &lib)?;
    Ok(crate_dir)
}

fn python_module(id: &MigrationId, name: &str) -> String {
    let description = quoted(name);
    format!(
        r#""""Migration {id}: {name}"""

from wasmig import Db, migration


# componentize-py looks for the class named Migration.
@migration("{description}", transactional=True)
class Migration:
    def forwards(self, db: Db) -> None:
        # Emit the SQL of this change, e.g.
        # db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)")
        pass

    def backwards(self, db: Db) -> None:
        # Undo exactly what forwards did, e.g.
        # db.execute("DROP TABLE example")
        pass
"#
    )
}

fn js_module(id: &MigrationId, name: &str) -> String {
    let description = quoted(name);
    format!(
        r#"// Migration {id}: {name}

import {{ defineMigration }} from "./wasmig.js";

export const migration = defineMigration({{
  description: "{description}",
  transactional: true,

  forwards(db) {{
    // Emit the SQL of this change, e.g.
    // db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)");
  }},

  backwards(db) {{
    // Undo exactly what forwards did, e.g.
    // db.execute("DROP TABLE example");
  }},
}});
"#
    )
}

fn write_new(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(contents.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Lowercase ASCII letters and digits, runs of anything else as one `_`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_string()
}

fn camel_case(slug: &str) -> String {
    let camel: String = slug
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if camel.starts_with(|c: char| c.is_ascii_digit()) { format!("M{camel}") } else { camel }
}

/// `now` as `YYYYMMDDHHMMSS`, or one more than the largest ID already in `dir` (as a
/// component or a source folder) if that is not larger.
fn fresh_id(dir: &Path, now: OffsetDateTime) -> Result<MigrationId> {
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year][month][day][hour][minute][second]"))
        .map_err(|e| Error::NewId(e.to_string()))?;
    let mut id: u128 = stamp.parse().map_err(|_| Error::NewId(format!("bad timestamp {stamp}")))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let component_name = if name.ends_with(".wasm") { name } else { format!("{name}.wasm") };
        if let Ok((existing, _)) = parse_file_name(&component_name)
            && let Ok(existing) = existing.as_str().parse::<u128>()
        {
            id = id.max(existing + 1);
        }
    }
    MigrationId::parse(&id.to_string()).map_err(Error::NewId)
}

/// The root folder of a Cargo workspace above `dir` that provides `wasmig-guest`, if any.
fn enclosing_workspace_with_sdk(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|folder| {
        let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).ok()?;
        let table: toml::Table = manifest.parse().ok()?;
        let provides = table.get("workspace")?.get("dependencies")?.get("wasmig-guest").is_some();
        provides.then(|| folder.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_type_names() {
        assert_eq!(slugify("Add tags to posts!"), "add_tags_to_posts");
        assert_eq!(slugify("  --  "), "");
        assert_eq!(camel_case("add_tags"), "AddTags");
        assert_eq!(camel_case("2fa"), "M2fa");
    }

    #[test]
    fn fresh_ids_come_after_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(fresh_id(dir.path(), now).unwrap().as_str(), "20231114221320");
        std::fs::create_dir(dir.path().join("20991231000000_future")).unwrap();
        assert_eq!(fresh_id(dir.path(), now).unwrap().as_str(), "20991231000001");
    }
}
