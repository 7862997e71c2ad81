//! refinery's folder, sub-folders included: `V<version>__<name>.sql` and
//! `U<version>__<name>.sql`. `U` is refinery's *unversioned* migration (not an undo): it may
//! be added below versions already applied and is applied all the same, which is how wasmig
//! treats every pending migration. refinery has no down migrations, records the integer
//! version in `refinery_schema_history`, and has no no-transaction marker in its releases;
//! the `-- refinery:noTransaction` line that forks use is honoured. Rust migrations
//! (`V<version>__<name>.rs`) cannot be converted.

use std::path::Path;

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};
use super::text;

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Numeric);
    for entry in found::walk(from)? {
        let Some((unversioned, version, name, is_rust)) =
            entry.name.as_deref().and_then(parse_name)
        else {
            // refinery passes over a file that does not match its pattern, with a warning.
            found.ignored.push(entry.path);
            continue;
        };
        if is_rust {
            found.skip(entry.path, "a Rust migration is code, not SQL, and cannot be converted");
            continue;
        }
        let Ok(value) = version.parse::<i64>() else {
            found.skip(
                entry.path,
                format!("version {version} is not an integer (refinery refuses it)"),
            );
            continue;
        };
        let sql = match found::read_sql(&entry.path)? {
            Ok(sql) => sql,
            Err(reason) => {
                found.skip(entry.path, reason);
                continue;
            }
        };
        let (up, no_transaction) = without_marker(&sql);
        let mut notes = Vec::new();
        if unversioned {
            notes.push(
                "refinery's unversioned (U) migration: wasmig applies it like any pending one"
                    .to_string(),
            );
        }
        found.migrations.push(Migration {
            source: entry.path,
            version: Version::digits(value.to_string(), &value.to_string()),
            name: name.to_string(),
            up,
            down: None,
            no_transaction,
            notes,
        });
    }
    found.sort_and_refuse_duplicates(|a, b| value(a).cmp(&value(b)), |a, b| value(a) == value(b));
    Ok(found)
}

fn value(migration: &Migration) -> i64 {
    migration.version.recorded.parse().unwrap_or(0)
}

/// Splits `[U|V]<digits>[.<digits>]__<word characters>.<sql|rs>` as refinery's pattern does:
/// (unversioned, version, name, is Rust).
fn parse_name(name: &str) -> Option<(bool, &str, &str, bool)> {
    let (stem, is_rust) = match (name.strip_suffix(".sql"), name.strip_suffix(".rs")) {
        (Some(stem), _) => (stem, false),
        (_, Some(stem)) => (stem, true),
        _ => return None,
    };
    let unversioned = match stem.chars().next()? {
        'U' => true,
        'V' => false,
        _ => return None,
    };
    let (version, title) = stem[1..].split_once("__")?;
    let (whole, fraction) = version.split_once('.').unwrap_or((version, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let word = |c: char| c.is_alphanumeric() || c == '_';
    (digits(whole) && digits(fraction) && !title.is_empty() && title.chars().all(word)).then_some((
        unversioned,
        version,
        title,
        is_rust,
    ))
}

/// The SQL without its `-- refinery:noTransaction` line, and whether it had one.
fn without_marker(sql: &str) -> (String, bool) {
    let marker = |line: &str| {
        let line = text::bare(line);
        let rest = line.trim_start_matches('-');
        line.len() - rest.len() >= 2
            && rest.strip_prefix(' ').unwrap_or(rest) == "refinery:noTransaction"
    };
    let mut found = false;
    let mut kept = String::with_capacity(sql.len());
    for line in sql.split_inclusive('\n') {
        if marker(line) {
            found = true;
        } else {
            kept.push_str(line);
        }
    }
    (kept, found)
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::testing::{Folder, plan_of};
    use super::parse_name;

    #[test]
    fn names_follow_refinerys_pattern() {
        assert_eq!(parse_name("V1__initial.sql"), Some((false, "1", "initial", false)));
        assert_eq!(
            parse_name("U20240504090301__add_cars.sql"),
            Some((true, "20240504090301", "add_cars", false))
        );
        assert_eq!(parse_name("V4__add_year.rs"), Some((false, "4", "add_year", true)));
        assert_eq!(parse_name("V1.5__dotted.sql"), Some((false, "1.5", "dotted", false)));
        assert_eq!(parse_name("V1__with-dash.sql"), None);
        assert_eq!(parse_name("R__view.sql"), None);
        assert_eq!(parse_name("V1_initial.sql"), None);
    }

    #[test]
    fn converts_versioned_and_unversioned_migrations() {
        let folder = Folder::new();
        folder.file(
            "V1-2/V1__initial.sql",
            "CREATE TABLE persons (id int, name varchar(255), city varchar(255));\n",
        );
        folder.file(
            "V1-2/V2__add_cars_and_motos_table.sql",
            "CREATE TABLE cars (id int, name varchar(255));\nCREATE TABLE motos (id int, name varchar(255));\n",
        );
        folder.file(
            "V3__index_cars.sql",
            "-- refinery:noTransaction\nCREATE INDEX CONCURRENTLY cars_name ON cars (name);\n",
        );
        folder.file("U0__merge_out_of_order.sql", "ALTER TABLE persons ADD COLUMN age int;\n");
        let plan = plan_of(Tool::Refinery, &folder);
        folder.assert_files(
            &plan,
            &[
                (
                    "00000000_merge_out_of_order.up.sql",
                    "-- wasmig:origin refinery 0\nALTER TABLE persons ADD COLUMN age int;\n",
                ),
                (
                    "00000001_initial.up.sql",
                    "-- wasmig:origin refinery 1\nCREATE TABLE persons (id int, name varchar(255), city varchar(255));\n",
                ),
                (
                    "00000002_add_cars_and_motos_table.up.sql",
                    "-- wasmig:origin refinery 2\nCREATE TABLE cars (id int, name varchar(255));\nCREATE TABLE motos (id int, name varchar(255));\n",
                ),
                (
                    "00000003_index_cars.up.sql",
                    "-- wasmig:no-transaction\n-- wasmig:origin refinery 3\nCREATE INDEX CONCURRENTLY cars_name ON cars (name);\n",
                ),
            ],
        );
        assert!(plan.mapping.iter().all(|m| !m.reversible), "refinery has no down migrations");
        assert!(plan.mapping[0].notes[0].contains("unversioned"));
    }

    #[test]
    fn refuses_rust_migrations_dotted_versions_and_repeats() {
        let folder = Folder::new();
        folder.file("V1__initial.rs", "pub fn migration() -> String { String::new() }\n");
        folder.file("V2__a.sql", "SELECT 2;\n");
        folder.file("U2__b.sql", "SELECT 2;\n");
        folder.file("V3.1__dotted.sql", "SELECT 3;\n");
        folder.file("V4__ok.sql", "SELECT 4;\n");
        let plan = plan_of(Tool::Refinery, &folder);
        let files: Vec<String> = folder.skipped(&plan).into_iter().map(|(file, _)| file).collect();
        assert_eq!(files, ["U2__b.sql", "V1__initial.rs", "V2__a.sql", "V3.1__dotted.sql"]);
        assert!(super::super::write(&plan).is_err());
        folder.assert_app_empty();
    }
}
