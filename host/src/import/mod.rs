//! `wasmig import`: another migration tool's folder converted into wasmig SQL migrations in
//! an app's folder, with the tool's versions kept as IDs in the same order.
//!
//! One file per tool reads that tool's layout into versions, names and SQL freed of the
//! tool's markers (`found`); `ids` turns the versions into IDs, `files` writes each
//! migration's `.up.sql` (opened by its `-- wasmig:` directives) and `.down.sql`, and
//! [`write()`] puts them into the app's folder, all or none. [`plan`] does everything but
//! write, so `--dry-run` and the report show exactly what would be written.

use std::path::Path;

mod dbmate;
mod diesel;
mod error;
mod files;
mod flyway;
mod found;
mod golang_migrate;
mod goose;
mod ids;
mod refinery;
mod report;
mod sqlx;
#[cfg(test)]
mod testing;
mod text;
mod tool;
mod write;

pub use error::ImportError;
pub use files::{origin_line, parse_origin_line};
pub use found::Skipped;
pub use ids::{IdRule, origin_id};
pub use report::{ImportPlan, Mapping, PlannedFile};
pub use tool::Tool;
pub use write::write;

/// What importing `tool`'s folder `from` into the app folder `app_dir` would write. Files
/// that cannot be converted are listed in the plan's `skipped` (then [`write()`] refuses it);
/// an unreadable folder, IDs that cannot keep the tool's order, a file that exists already or
/// an ID the app already uses are errors.
pub fn plan(tool: Tool, from: &Path, app_dir: &Path) -> Result<ImportPlan, ImportError> {
    let mut found = match tool {
        Tool::Sqlx => sqlx::read(from)?,
        Tool::Diesel => diesel::read(from)?,
        Tool::GolangMigrate => golang_migrate::read(from)?,
        Tool::Goose => goose::read(from)?,
        Tool::Dbmate => dbmate::read(from)?,
        Tool::Flyway => flyway::read(from)?,
        Tool::Refinery => refinery::read(from)?,
    };
    if found.migrations.is_empty() && found.skipped.is_empty() {
        return Err(ImportError::NoMigrations { tool, path: from.to_path_buf() });
    }
    found.skipped.sort_by(|a, b| a.file.cmp(&b.file));
    found.ignored.sort();
    let (id_rule, ids) = ids::assign(tool, found.order, &found.migrations)?;
    let mut files = Vec::new();
    let mut mapping = Vec::new();
    for (migration, id) in found.migrations.into_iter().zip(ids) {
        let (converted, entry) = files::convert(tool, migration, id, app_dir);
        files.extend(converted);
        mapping.push(entry);
    }
    write::check_targets(app_dir, &files, &mapping)?;
    Ok(ImportPlan {
        tool,
        from: from.to_path_buf(),
        app_dir: app_dir.to_path_buf(),
        id_rule,
        mapping,
        files,
        skipped: found.skipped,
        ignored: found.ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::testing::{Folder, plan_of};
    use super::*;

    fn sqlx_folder() -> Folder {
        let folder = Folder::new();
        folder.file("1_create_users.up.sql", "CREATE TABLE users (id int);\n");
        folder.file("1_create_users.down.sql", "DROP TABLE users;\n");
        folder.file("2_add_email.sql", "ALTER TABLE users ADD COLUMN email text;\n");
        folder
    }

    #[test]
    fn an_existing_target_file_is_an_error_before_anything_is_written() {
        let folder = sqlx_folder();
        folder.app_file("00000002_add_email.up.sql", "-- mine\n");
        let error = plan(Tool::Sqlx, &folder.from(), &folder.app()).unwrap_err();
        assert!(
            matches!(&error, ImportError::TargetExists { path } if path.ends_with("00000002_add_email.up.sql"))
        );
        assert_eq!(std::fs::read_dir(folder.app()).unwrap().count(), 1);
    }

    #[test]
    fn an_id_the_app_uses_is_an_error_whatever_the_file() {
        for existing in ["0000001_other.wasm", "00000001_crate", "1_other.py", "00000002_x.up.sql"]
        {
            let folder = sqlx_folder();
            if existing.contains('.') {
                folder.app_file(existing, "");
            } else {
                std::fs::create_dir_all(folder.app().join(existing)).unwrap();
            }
            let error = plan(Tool::Sqlx, &folder.from(), &folder.app()).unwrap_err();
            let ImportError::IdTaken { existing: path, .. } = &error else {
                panic!("{existing}: {error}");
            };
            assert!(path.ends_with(existing), "{error}");
            assert!(error.to_string().contains("is taken by"), "{error}");
        }
    }

    #[test]
    fn write_checks_again_and_writes_nothing_when_a_target_appeared() {
        let folder = sqlx_folder();
        let plan = plan_of(Tool::Sqlx, &folder);
        folder.app_file("00000002_add_email.up.sql", "-- mine\n");
        let error = write(&plan).unwrap_err();
        assert!(matches!(error, ImportError::TargetExists { .. }), "{error}");
        assert_eq!(std::fs::read_dir(folder.app()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_removes_what_it_had_written() {
        let folder = sqlx_folder();
        let mut plan = plan_of(Tool::Sqlx, &folder);
        // The last file cannot be written: its folder does not exist.
        plan.files.last_mut().unwrap().path = folder.app().join("missing").join("x.up.sql");
        let error = write(&plan).unwrap_err();
        assert!(matches!(error, ImportError::Write { .. }), "{error}");
        folder.assert_app_empty();
    }

    #[test]
    fn a_folder_without_migrations_is_an_error() {
        let folder = Folder::new();
        folder.file("README.md", "nothing here");
        let error = plan(Tool::Goose, &folder.from(), &folder.app()).unwrap_err();
        assert!(matches!(error, ImportError::NoMigrations { tool: Tool::Goose, .. }), "{error}");
        let missing = folder.from().join("nope");
        let error = plan(Tool::Sqlx, &missing, &folder.app()).unwrap_err();
        assert!(matches!(error, ImportError::ReadFolder { .. }), "{error}");
        assert!(error.to_string().contains("nope"), "{error}");
    }

    #[test]
    fn files_that_wasmig_would_misread_are_refused() {
        let folder = Folder::new();
        folder.file("1_a.sql", "-- wasmig:description sneaky\nSELECT 1;\n");
        folder.bytes("2_b.sql", b"SELECT '\xff';\n");
        folder.bytes("3_c.sql", "\u{feff}SELECT 3;\n".as_bytes());
        let plan = plan_of(Tool::Sqlx, &folder);
        let skipped = folder.skipped(&plan);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].1.contains("line 1 already holds a `-- wasmig:` directive"));
        assert!(skipped[1].1.contains("not UTF-8"));
        assert_eq!(plan.files[0].contents, "-- wasmig:origin sqlx 3\nSELECT 3;\n");
    }

    #[test]
    fn the_plan_serializes_with_ids_as_text() {
        let folder = sqlx_folder();
        let plan = plan_of(Tool::Sqlx, &folder);
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["tool"], "sqlx");
        assert_eq!(json["id_rule"]["rule"], "number");
        assert_eq!(json["mapping"][0]["id"], "00000001");
        assert_eq!(json["mapping"][0]["version"], "1");
        assert_eq!(json["files"][1]["contents"], "DROP TABLE users;\n");
    }
}
