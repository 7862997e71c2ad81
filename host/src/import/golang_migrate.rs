//! golang-migrate's folder: `<version>_<title>.up.<ext>` and `<version>_<title>.down.<ext>`,
//! of which SQL (`.sql`) converts. golang-migrate records the version as an unsigned integer
//! in `schema_migrations`, beside its `dirty` flag, and has no transaction of its own: its
//! PostgreSQL guide wraps each file in `BEGIN;` ... `COMMIT;`, which the import removes since
//! wasmig runs every migration in a transaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};
use super::text;

#[derive(Default)]
struct Pair {
    up: Vec<(PathBuf, String)>,
    down: Vec<(PathBuf, String)>,
}

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Numeric);
    let mut versions: BTreeMap<u64, Pair> = BTreeMap::new();
    for entry in found::list(from)? {
        let parsed = entry.name.as_deref().filter(|_| !entry.is_dir).and_then(parse_name);
        let Some((version, title, up, extension)) = parsed else {
            if !entry.is_dir {
                found.ignored.push(entry.path);
            }
            continue;
        };
        let Ok(version) = version.parse::<u64>() else {
            found.skip(entry.path, format!("version {version} does not fit 64 bits"));
            continue;
        };
        if extension != "sql" {
            found.skip(entry.path, format!("a `.{extension}` migration is not SQL"));
            continue;
        }
        let pair = versions.entry(version).or_default();
        let side = if up { &mut pair.up } else { &mut pair.down };
        side.push((entry.path, title.to_string()));
    }
    for (version, pair) in versions {
        convert(&mut found, version, pair)?;
    }
    Ok(found)
}

/// Splits `<digits>_<title>.<up|down>.<extension>` as golang-migrate's pattern does: the
/// title is as long as it can be, so the last `.up.` or `.down.` is the direction.
fn parse_name(name: &str) -> Option<(&str, &str, bool, &str)> {
    let (version, rest) = name.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let up = rest.rfind(".up.").map(|at| (at, true, 4));
    let down = rest.rfind(".down.").map(|at| (at, false, 6));
    let (at, is_up, marker) = match (up, down) {
        (Some(up), Some(down)) => {
            if up.0 > down.0 {
                up
            } else {
                down
            }
        }
        (one, other) => one.or(other)?,
    };
    Some((version, &rest[..at], is_up, &rest[at + marker..]))
}

fn convert(found: &mut Found, version: u64, pair: Pair) -> Result<(), ImportError> {
    if pair.up.len() > 1 || pair.down.len() > 1 {
        for (path, _) in pair.up.iter().chain(&pair.down) {
            found.skip(
                path.clone(),
                format!("version {version} has more than one file per direction"),
            );
        }
        return Ok(());
    }
    let Some((up_path, title)) = pair.up.into_iter().next() else {
        for (path, _) in pair.down {
            found.skip(path, "a down file without an up file");
        }
        return Ok(());
    };
    let mut notes = Vec::new();
    let Some(up) = read_unwrapped(found, &up_path, "up", &mut notes)? else { return Ok(()) };
    let down = match pair.down.into_iter().next() {
        Some((path, _)) => match read_unwrapped(found, &path, "down", &mut notes)? {
            Some(sql) => Some(sql),
            None => return Ok(()),
        },
        None => None,
    };
    found.migrations.push(Migration {
        source: up_path,
        version: Version::digits(version.to_string(), &version.to_string()),
        name: title,
        up,
        down,
        no_transaction: false,
        notes,
    });
    Ok(())
}

fn read_unwrapped(
    found: &mut Found,
    path: &Path,
    direction: &str,
    notes: &mut Vec<String>,
) -> Result<Option<String>, ImportError> {
    match found::read_sql(path)? {
        Ok(sql) => Ok(Some(match text::unwrap_transaction(&sql) {
            Some(unwrapped) => {
                notes.push(format!(
                    "the BEGIN and COMMIT around its {direction} file are removed: wasmig runs \
                     it in a transaction"
                ));
                unwrapped
            }
            None => sql,
        })),
        Err(reason) => {
            found.skip(path, reason);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::testing::{Folder, plan_of};
    use super::parse_name;

    #[test]
    fn names_split_at_the_last_direction() {
        assert_eq!(parse_name("1_a.up.sql"), Some(("1", "a", true, "sql")));
        assert_eq!(parse_name("2_a.down.b.up.sql"), Some(("2", "a.down.b", true, "sql")));
        assert_eq!(parse_name("3_.down.json"), Some(("3", "", false, "json")));
        assert_eq!(parse_name("x_a.up.sql"), None);
        assert_eq!(parse_name("4_a.sql"), None);
    }

    #[test]
    fn converts_pairs_and_unwraps_the_tutorials_transaction() {
        let folder = Folder::new();
        folder.file(
            "1_create_users_table.up.sql",
            "BEGIN;\n\nCREATE TYPE enum_mood AS ENUM ('happy', 'sad');\nCREATE TABLE users (id serial PRIMARY KEY, mood enum_mood);\n\nCOMMIT;\n",
        );
        folder.file(
            "1_create_users_table.down.sql",
            "BEGIN;\nDROP TABLE users;\nDROP TYPE enum_mood;\nCOMMIT;\n",
        );
        folder.file("2_seed.up.sql", "INSERT INTO users (mood) VALUES ('happy');\n");
        folder.file("1500360784_add_index.up.sql", "CREATE INDEX users_mood ON users (mood);\n");
        folder.file("1500360784_add_index.down.sql", "-- irreversible in practice\n");
        let plan = plan_of(Tool::GolangMigrate, &folder);
        folder.assert_files(
            &plan,
            &[
                (
                    "00000001_create_users_table.up.sql",
                    "-- wasmig:origin golang-migrate 1\n\nCREATE TYPE enum_mood AS ENUM ('happy', 'sad');\nCREATE TABLE users (id serial PRIMARY KEY, mood enum_mood);\n\n",
                ),
                ("00000001_create_users_table.down.sql", "DROP TABLE users;\nDROP TYPE enum_mood;\n"),
                ("00000002_seed.up.sql", "-- wasmig:origin golang-migrate 2\nINSERT INTO users (mood) VALUES ('happy');\n"),
                (
                    "1500360784_add_index.up.sql",
                    "-- wasmig:origin golang-migrate 1500360784\nCREATE INDEX users_mood ON users (mood);\n",
                ),
                ("1500360784_add_index.down.sql", "-- irreversible in practice\n"),
            ],
        );
        assert_eq!(plan.mapping[0].notes.len(), 2);
        assert!(!plan.mapping[1].reversible, "a missing down file stays missing");
        assert!(plan.mapping[2].reversible);
    }

    #[test]
    fn refuses_other_languages_and_orphans() {
        let folder = Folder::new();
        folder.file("1_init.up.sql", "SELECT 1;\n");
        folder.file("2_users.up.json", "[{\"create\": \"users\"}]\n");
        folder.file("3_gone.down.sql", "DROP TABLE gone;\n");
        folder.file("4_a.up.sql", "SELECT 4;\n");
        folder.file("04_b.up.sql", "SELECT 4;\n");
        folder.file("99999999999999999999_big.up.sql", "SELECT 5;\n");
        let plan = plan_of(Tool::GolangMigrate, &folder);
        let skipped = folder.skipped(&plan);
        let files: Vec<&str> = skipped.iter().map(|(file, _)| file.as_str()).collect();
        assert_eq!(
            files,
            [
                "04_b.up.sql",
                "2_users.up.json",
                "3_gone.down.sql",
                "4_a.up.sql",
                "99999999999999999999_big.up.sql"
            ]
        );
        assert!(skipped[1].1.contains("not SQL"));
        assert!(skipped[4].1.contains("64 bits"));
        assert!(super::super::write(&plan).is_err());
        folder.assert_app_empty();
    }
}
