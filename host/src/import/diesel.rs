//! diesel's folder: one folder per migration, `<VERSION>_<name>/` holding `up.sql`, an
//! optional `down.sql` and an optional `metadata.toml` (`run_in_transaction = false`).
//! diesel records the folder's version with its dashes removed (`2024-01-01-000000` ->
//! `20240101000000`) as text in `__diesel_schema_migrations` and orders versions as text.

use std::path::Path;

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Text);
    for entry in found::list(from)? {
        if !entry.is_dir {
            found.ignored.push(entry.path);
            continue;
        }
        let children = found::list(&entry.path)?;
        // diesel passes over empty folders.
        if children.is_empty() {
            found.ignored.push(entry.path);
            continue;
        }
        let Some(name) = entry.name.as_deref() else {
            found.skip(entry.path, "its name is not UTF-8");
            continue;
        };
        let (version, title) = name.split_once('_').unwrap_or((name, ""));
        let digits = version.replace('-', "");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            found.skip(
                entry.path,
                format!("version `{version}` is not digits and dashes, so it has no wasmig ID"),
            );
            continue;
        }
        let up = entry.path.join("up.sql");
        if !up.is_file() {
            found.skip(entry.path, "it has no up.sql (diesel refuses such a folder)");
            continue;
        }
        let mut notes = Vec::new();
        let no_transaction = match transaction_setting(&entry.path.join("metadata.toml"))? {
            Ok(Setting::Absent) | Ok(Setting::Set(true)) => false,
            Ok(Setting::Set(false)) => true,
            Ok(Setting::Unset) => {
                notes.push(
                    "its metadata.toml does not set run_in_transaction, which diesel reads as \
                     false"
                        .to_string(),
                );
                true
            }
            Err(reason) => {
                found.skip(entry.path.join("metadata.toml"), reason);
                continue;
            }
        };
        let up_sql = match found::read_sql(&up)? {
            Ok(sql) => sql,
            Err(reason) => {
                found.skip(up, reason);
                continue;
            }
        };
        let down = entry.path.join("down.sql");
        let down_sql = if down.is_file() {
            match found::read_sql(&down)? {
                Ok(sql) => Some(sql),
                Err(reason) => {
                    found.skip(down, reason);
                    continue;
                }
            }
        } else {
            None
        };
        found.migrations.push(Migration {
            source: entry.path.clone(),
            version: Version::digits(digits.clone(), &digits),
            name: title.to_string(),
            up: up_sql,
            down: down_sql,
            no_transaction,
            notes,
        });
    }
    found.sort_and_refuse_duplicates(
        |a, b| a.version.recorded.cmp(&b.version.recorded),
        |a, b| a.version.recorded == b.version.recorded,
    );
    Ok(found)
}

/// What a migration's `metadata.toml` says about `run_in_transaction`.
enum Setting {
    /// No `metadata.toml`: a transaction.
    Absent,
    Set(bool),
    /// The file lacks the key, which diesel reads as `false` (the field's default).
    Unset,
}

/// `run_in_transaction` as diesel reads it from `metadata.toml`, or why the file cannot be
/// converted. A file diesel cannot read it silently replaces by the defaults; the import
/// refuses it instead, since what its author meant is unknown.
fn transaction_setting(path: &Path) -> Result<Result<Setting, String>, ImportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Ok(Setting::Absent));
        }
        Err(source) => return Err(ImportError::ReadFile { path: path.to_path_buf(), source }),
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(table) => table,
        Err(error) => {
            return Ok(Err(format!(
                "it is not valid TOML (diesel would ignore it and use a transaction): {}",
                error.message()
            )));
        }
    };
    Ok(match table.get("run_in_transaction") {
        None => Ok(Setting::Unset),
        Some(toml::Value::Boolean(value)) => Ok(Setting::Set(*value)),
        Some(other) => Err(format!(
            "run_in_transaction is {other}, not true or false (diesel would ignore the file)"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Folder, plan_of};
    use super::super::{IdRule, Tool};

    const SETUP_UP: &str = "CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$\nBEGIN\n    EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s\n                    FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);\nEND;\n$$ LANGUAGE plpgsql;\n";

    #[test]
    fn converts_folders_with_metadata() {
        let folder = Folder::new();
        folder.file("00000000000000_diesel_initial_setup/up.sql", SETUP_UP);
        folder.file(
            "00000000000000_diesel_initial_setup/down.sql",
            "DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);\n",
        );
        folder.file(
            "2024-01-01-120000_create_posts/up.sql",
            "CREATE TABLE posts (id SERIAL PRIMARY KEY);",
        );
        folder.file("2024-01-01-120000_create_posts/down.sql", "DROP TABLE posts;\n");
        folder.file(
            "2024-02-01-080000_index_posts/up.sql",
            "CREATE INDEX CONCURRENTLY posts_id ON posts (id);\n",
        );
        folder.file("2024-02-01-080000_index_posts/metadata.toml", "run_in_transaction = false\n");
        folder.file(".keep", "");
        std::fs::create_dir(folder.path("empty")).unwrap();
        let plan = plan_of(Tool::Diesel, &folder);
        assert_eq!(plan.id_rule, IdRule::Number);
        folder.assert_files(
            &plan,
            &[
                (
                    "00000000_diesel_initial_setup.up.sql",
                    &format!("-- wasmig:origin diesel 00000000000000\n{SETUP_UP}"),
                ),
                (
                    "00000000_diesel_initial_setup.down.sql",
                    "DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);\n",
                ),
                (
                    "20240101120000_create_posts.up.sql",
                    "-- wasmig:origin diesel 20240101120000\nCREATE TABLE posts (id SERIAL PRIMARY KEY);\n",
                ),
                ("20240101120000_create_posts.down.sql", "DROP TABLE posts;\n"),
                (
                    "20240201080000_index_posts.up.sql",
                    "-- wasmig:no-transaction\n-- wasmig:origin diesel 20240201080000\nCREATE INDEX CONCURRENTLY posts_id ON posts (id);\n",
                ),
            ],
        );
        let sources: Vec<String> =
            plan.mapping.iter().map(|m| folder.relative(&m.source)).collect();
        assert_eq!(
            sources,
            [
                "00000000000000_diesel_initial_setup",
                "2024-01-01-120000_create_posts",
                "2024-02-01-080000_index_posts"
            ]
        );
        assert_eq!(plan.mapping[2].version, "20240201080000");
        assert!(!plan.mapping[2].reversible && !plan.mapping[2].transactional);
        assert_eq!(plan.ignored, [folder.path("empty")]);
    }

    #[test]
    fn metadata_without_the_key_means_no_transaction_as_in_diesel() {
        let folder = Folder::new();
        folder.file("2024-01-01-000000_a/up.sql", "SELECT 1;\n");
        folder.file("2024-01-01-000000_a/metadata.toml", "# nothing set\n");
        let plan = plan_of(Tool::Diesel, &folder);
        assert!(!plan.mapping[0].transactional);
        assert!(plan.mapping[0].notes[0].contains("reads as false"));
    }

    #[test]
    fn refuses_unreadable_metadata_and_folders_without_up_sql() {
        let folder = Folder::new();
        folder.file("2024-01-01-000000_a/up.sql", "SELECT 1;\n");
        folder.file("2024-01-01-000000_a/metadata.toml", "run_in_transaction = \"no\"\n");
        folder.file("2024-01-02-000000_b/down.sql", "SELECT 1;\n");
        folder.file("2024-01-03-000000_c/up.sql", "SELECT 1;\n");
        folder.file("2024-01-03-000000_c/metadata.toml", "run_in_transaction = \n");
        folder.file("next_d/up.sql", "SELECT 1;\n");
        let plan = plan_of(Tool::Diesel, &folder);
        let skipped = folder.skipped(&plan);
        let files: Vec<&str> = skipped.iter().map(|(file, _)| file.as_str()).collect();
        assert_eq!(
            files,
            [
                "2024-01-01-000000_a/metadata.toml",
                "2024-01-02-000000_b",
                "2024-01-03-000000_c/metadata.toml",
                "next_d"
            ]
        );
        assert!(skipped[0].1.contains("not true or false"), "{}", skipped[0].1);
        assert!(skipped[1].1.contains("no up.sql"));
        assert!(skipped[2].1.contains("not valid TOML"));
        assert!(skipped[3].1.contains("not digits"));
        assert!(super::super::write(&plan).is_err());
        folder.assert_app_empty();
    }

    #[test]
    fn mixed_version_lengths_keep_diesels_text_order() {
        let folder = Folder::new();
        // diesel's newer form adds a four-digit counter; text order is what diesel runs.
        folder.file("2025-01-01-000000-0000_new_form/up.sql", "SELECT 1;\n");
        folder.file("2025-06-01-000000_old_form/up.sql", "SELECT 2;\n");
        let plan = plan_of(Tool::Diesel, &folder);
        assert_eq!(plan.id_rule, IdRule::TrailingZeros { width: 18 });
        let ids: Vec<String> = plan.mapping.iter().map(|m| m.id.to_string()).collect();
        assert_eq!(ids, ["202501010000000000", "202506010000000000"]);
        assert_eq!(plan.mapping[1].version, "20250601000000");
    }
}
