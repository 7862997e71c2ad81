//! sqlx-cli's folder: `<VERSION>_<DESCRIPTION>.sql` (forward only) or `<VERSION>_<DESCRIPTION>.up.sql`
//! with an optional `.down.sql`; a file that starts with `-- no-transaction` runs without a
//! transaction. sqlx records the version as a 64-bit integer in `_sqlx_migrations`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};

const NO_TRANSACTION: &str = "-- no-transaction";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Up,
    Down,
}

struct File {
    path: PathBuf,
    kind: Kind,
    name: String,
}

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Numeric);
    let mut versions: BTreeMap<i64, Vec<File>> = BTreeMap::new();
    for entry in found::list(from)? {
        let Some(name) = entry.name.as_deref().filter(|_| !entry.is_dir) else {
            if !entry.is_dir {
                found.ignored.push(entry.path);
            }
            continue;
        };
        // sqlx reads `<VERSION>_<REST>` where REST ends in `.sql`; anything else it ignores.
        let Some((version, rest)) = name.split_once('_').filter(|(_, rest)| rest.ends_with(".sql"))
        else {
            found.ignored.push(entry.path);
            continue;
        };
        let Some(version) = parse_version(version) else {
            found.skip(
                entry.path,
                format!("`{version}` is not an integer version (sqlx refuses such a file)"),
            );
            continue;
        };
        let (kind, name) = if let Some(name) = rest.strip_suffix(".up.sql") {
            (Kind::Up, name)
        } else if let Some(name) = rest.strip_suffix(".down.sql") {
            (Kind::Down, name)
        } else {
            (Kind::Simple, rest.strip_suffix(".sql").unwrap_or(rest))
        };
        versions.entry(version).or_default().push(File {
            path: entry.path,
            kind,
            name: name.to_string(),
        });
    }
    for (version, files) in versions {
        pair(&mut found, version, files)?;
    }
    Ok(found)
}

/// A version as sqlx parses it: ASCII digits that fit an `i64`.
fn parse_version(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// The one migration the files of `version` make: a forward-only file, or an up file with an
/// optional down file.
fn pair(found: &mut Found, version: i64, files: Vec<File>) -> Result<(), ImportError> {
    let of = |kind| files.iter().filter(move |file| file.kind == kind);
    let (simple, up, down) =
        (of(Kind::Simple).count(), of(Kind::Up).count(), of(Kind::Down).count());
    if simple + up == 0 {
        for file in &files {
            found.skip(file.path.clone(), "a down file without an up file");
        }
        return Ok(());
    }
    if simple + up > 1 || down > 1 || (simple == 1 && down == 1) {
        let names: Vec<String> = files.iter().map(|file| file.path.display().to_string()).collect();
        for file in &files {
            found.skip(
                file.path.clone(),
                format!("version {version} is shared by {}", names.join(", ")),
            );
        }
        return Ok(());
    }
    let main = files.iter().find(|file| file.kind != Kind::Down).unwrap_or(&files[0]);
    let Some((up_sql, up_no_tx)) = read_marked(found, &main.path)? else { return Ok(()) };
    let mut down = None;
    let mut down_no_tx = false;
    if let Some(file) = files.iter().find(|file| file.kind == Kind::Down) {
        let Some((sql, no_tx)) = read_marked(found, &file.path)? else { return Ok(()) };
        down = Some(sql);
        down_no_tx = no_tx;
    }
    let mut notes = Vec::new();
    if up_no_tx != down_no_tx && down.is_some() {
        notes.push(format!(
            "only its {} file starts with `-- no-transaction`; wasmig runs the whole migration \
             without a transaction",
            if up_no_tx { "up" } else { "down" }
        ));
    }
    found.migrations.push(Migration {
        source: main.path.clone(),
        version: Version::digits(version.to_string(), &version.to_string()),
        name: main.name.clone(),
        up: up_sql,
        down,
        no_transaction: up_no_tx || down_no_tx,
        notes,
    });
    Ok(())
}

/// A file's SQL without sqlx's `-- no-transaction` first line, and whether it had one; `None`
/// when it cannot be converted (then it is listed).
fn read_marked(found: &mut Found, path: &Path) -> Result<Option<(String, bool)>, ImportError> {
    let sql = match found::read_sql(path)? {
        Ok(sql) => sql,
        Err(reason) => {
            found.skip(path, reason);
            return Ok(None);
        }
    };
    // sqlx looks only at the very start of the file.
    if !sql.starts_with(NO_TRANSACTION) {
        return Ok(Some((sql, false)));
    }
    let rest = sql.split_once('\n').map_or("", |(_, rest)| rest);
    Ok(Some((rest.to_string(), true)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Folder, plan_of};
    use super::super::{ImportError, Tool};

    const USERS_UP: &str = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL);\n";

    #[test]
    fn converts_reversible_and_forward_only_files() {
        let folder = Folder::new();
        folder.file("20240101120000_create_users.up.sql", USERS_UP);
        folder.file("20240101120000_create_users.down.sql", "DROP TABLE users;\n");
        folder.file(
            "20240102090000_touch_function.sql",
            "CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n",
        );
        folder.file("README.md", "notes");
        let plan = plan_of(Tool::Sqlx, &folder);
        assert!(plan.is_complete());
        folder.assert_files(
            &plan,
            &[
                (
                    "20240101120000_create_users.up.sql",
                    &format!("-- wasmig:origin sqlx 20240101120000\n{USERS_UP}"),
                ),
                ("20240101120000_create_users.down.sql", "DROP TABLE users;\n"),
                (
                    "20240102090000_touch_function.up.sql",
                    "-- wasmig:origin sqlx 20240102090000\nCREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n",
                ),
            ],
        );
        assert_eq!(plan.mapping[0].description, "create users");
        assert!(plan.mapping[0].reversible);
        assert!(!plan.mapping[1].reversible, "a forward-only file stays irreversible");
        assert_eq!(plan.ignored, [folder.path("README.md")]);
    }

    #[test]
    fn no_transaction_first_line_becomes_the_directive() {
        let folder = Folder::new();
        folder.file(
            "0003_index_emails.up.sql",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n",
        );
        folder.file(
            "0003_index_emails.down.sql",
            "-- no-transaction\nDROP INDEX CONCURRENTLY users_email;\n",
        );
        let plan = plan_of(Tool::Sqlx, &folder);
        folder.assert_files(
            &plan,
            &[
                (
                    "00000003_index_emails.up.sql",
                    "-- wasmig:no-transaction\n-- wasmig:origin sqlx 3\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n",
                ),
                ("00000003_index_emails.down.sql", "DROP INDEX CONCURRENTLY users_email;\n"),
            ],
        );
        assert_eq!(plan.mapping[0].version, "3");
        assert!(!plan.mapping[0].transactional);
        assert!(plan.mapping[0].notes.is_empty(), "{:?}", plan.mapping[0].notes);
    }

    #[test]
    fn refuses_bad_versions_orphan_downs_and_shared_versions() {
        let folder = Folder::new();
        folder.file("1_ok.sql", "SELECT 1;\n");
        folder.file("v2_bad.sql", "SELECT 2;\n");
        folder.file("3_orphan.down.sql", "SELECT 3;\n");
        folder.file("4_a.sql", "SELECT 4;\n");
        folder.file("04_b.up.sql", "SELECT 4;\n");
        let plan = plan_of(Tool::Sqlx, &folder);
        let reasons = folder.skipped(&plan);
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].0 == "04_b.up.sql" && reasons[0].1.contains("version 4 is shared"));
        assert_eq!(
            reasons[1],
            ("3_orphan.down.sql".into(), "a down file without an up file".into())
        );
        assert!(reasons[2].0 == "4_a.sql");
        assert!(reasons[3].0 == "v2_bad.sql" && reasons[3].1.contains("not an integer"));
        let error = super::super::write(&plan).unwrap_err();
        assert!(matches!(error, ImportError::Unconvertible { count: 4, .. }), "{error}");
        folder.assert_app_empty();
    }
}
