//! dbmate's folder: `<version>_<name>.sql` files (the version is the leading digits) with a
//! `-- migrate:up` and a `-- migrate:down` section, each directive taking options such as
//! `transaction:false`. dbmate records the version's digits as text in `schema_migrations`
//! and runs files in file-name order.

use std::path::Path;

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};
use super::text;

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Text);
    for entry in found::list(from)? {
        if entry.is_dir {
            continue;
        }
        // dbmate reads files named `<digits>...sql`.
        let parsed = entry.name.as_deref().and_then(|name| {
            let stem = name.strip_suffix(".sql")?;
            let digits = stem.len() - stem.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            (digits > 0).then(|| (stem[..digits].to_string(), stem[digits..].to_string()))
        });
        let Some((version, rest)) = parsed else {
            found.ignored.push(entry.path);
            continue;
        };
        let sql = match found::read_sql(&entry.path)? {
            Ok(sql) => sql,
            Err(reason) => {
                found.skip(entry.path, reason);
                continue;
            }
        };
        match sections(&sql) {
            Ok(sections) => {
                let mut notes = Vec::new();
                if sections.up_no_transaction != sections.down_no_transaction {
                    notes.push(format!(
                        "only its {} section has transaction:false; wasmig runs the whole \
                         migration without a transaction",
                        if sections.up_no_transaction { "up" } else { "down" }
                    ));
                }
                found.migrations.push(Migration {
                    source: entry.path,
                    version: Version::digits(version.clone(), &version),
                    // What separates the name from the digits is not part of it.
                    name: rest.trim_start_matches(|c: char| !c.is_alphanumeric()).to_string(),
                    up: sections.up,
                    down: Some(sections.down),
                    no_transaction: sections.up_no_transaction || sections.down_no_transaction,
                    notes,
                });
            }
            Err(reason) => found.skip(entry.path, reason),
        }
    }
    found.sort_and_refuse_duplicates(
        |a, b| a.source.file_name().cmp(&b.source.file_name()),
        |a, b| a.version.recorded == b.version.recorded,
    );
    Ok(found)
}

#[derive(Debug, PartialEq, Eq)]
struct Sections {
    up: String,
    down: String,
    up_no_transaction: bool,
    down_no_transaction: bool,
}

/// A directive line (`-- migrate:up` or `-- migrate:down`, then options) as dbmate matches
/// it: at the start of the line, `--`, optional spaces, the directive, then the end of the
/// line or a space.
fn directive(line: &str) -> Option<(bool, &str)> {
    let rest = text::bare(line).strip_prefix("--")?.trim_start();
    let (up, options) = if let Some(options) = rest.strip_prefix("migrate:up") {
        (true, options)
    } else {
        (false, rest.strip_prefix("migrate:down")?)
    };
    (options.is_empty() || options.starts_with(char::is_whitespace)).then_some((up, options))
}

fn no_transaction(options: &str) -> bool {
    options.split_whitespace().any(|option| option == "transaction:false")
}

/// Splits a dbmate file as dbmate does: only blank and comment lines before `-- migrate:up`,
/// then exactly one down section after it. A file of several up/down pairs is refused:
/// dbmate runs each pair on its own, wasmig runs a migration as one.
fn sections(sql: &str) -> Result<Sections, String> {
    let mut before = String::new();
    let mut up: Option<String> = None;
    let mut down: Option<String> = None;
    let (mut up_no_transaction, mut down_no_transaction) = (false, false);
    for (index, line) in sql.split_inclusive('\n').enumerate() {
        let number = index + 1;
        match (directive(line), &mut up, &mut down) {
            (Some((true, options)), None, _) => {
                up = Some(String::new());
                up_no_transaction = no_transaction(options);
            }
            (Some((true, _)), Some(_), _) => {
                return Err(format!(
                    "line {number}: a second `-- migrate:up`; dbmate runs each section of such a \
                     file on its own, wasmig would run them as one migration"
                ));
            }
            (Some((false, _)), None, _) => {
                return Err(format!("line {number}: `-- migrate:down` before `-- migrate:up`"));
            }
            (Some((false, options)), Some(_), None) => {
                down = Some(String::new());
                down_no_transaction = no_transaction(options);
            }
            (Some((false, _)), Some(_), Some(_)) => {
                return Err(format!("line {number}: a second `-- migrate:down`"));
            }
            (None, None, _) if text::is_blank_or_comment(line) => before.push_str(line),
            (None, None, _) => {
                return Err(format!("line {number}: a statement before `-- migrate:up`"));
            }
            (None, Some(up), None) => up.push_str(line),
            (None, Some(_), Some(down)) => down.push_str(line),
        }
    }
    let Some(up) = up else {
        return Err("it has no `-- migrate:up` section (dbmate refuses it)".to_string());
    };
    let Some(down) = down else {
        return Err("it has no `-- migrate:down` section (dbmate refuses it)".to_string());
    };
    Ok(Sections {
        up: trim_blank_lines(&(before + &up)),
        down: trim_blank_lines(&down),
        up_no_transaction,
        down_no_transaction,
    })
}

fn trim_blank_lines(section: &str) -> String {
    let lines: Vec<&str> = section.split_inclusive('\n').collect();
    let blank = |line: &&str| line.trim().is_empty();
    let Some(first) = lines.iter().position(|line| !blank(line)) else { return String::new() };
    let last = lines.iter().rposition(|line| !blank(line)).unwrap_or(first);
    lines[first..=last].concat()
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::testing::{Folder, plan_of};
    use super::sections;

    #[test]
    fn converts_sections_and_transaction_options() {
        let folder = Folder::new();
        folder.file(
            "20240101120000_create_users.sql",
            "-- migrate:up\ncreate table users (\n  id serial primary key,\n  name text not null\n);\n\n-- migrate:down\ndrop table users;\n\n",
        );
        folder.file(
            "20240102120000_users_name_index.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_name ON users (name);\n\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY users_name;\n",
        );
        folder.file(
            "20240103120000_seed.sql",
            "-- migrate:up\nINSERT INTO users (name) VALUES ('root');\n-- migrate:down\n",
        );
        folder.file("schema.sql", "-- dumped by dbmate\n");
        let plan = plan_of(Tool::Dbmate, &folder);
        folder.assert_files(
            &plan,
            &[
                (
                    "20240101120000_create_users.up.sql",
                    "-- wasmig:origin dbmate 20240101120000\ncreate table users (\n  id serial primary key,\n  name text not null\n);\n",
                ),
                ("20240101120000_create_users.down.sql", "drop table users;\n"),
                (
                    "20240102120000_users_name_index.up.sql",
                    "-- wasmig:no-transaction\n-- wasmig:origin dbmate 20240102120000\nCREATE INDEX CONCURRENTLY users_name ON users (name);\n",
                ),
                ("20240102120000_users_name_index.down.sql", "DROP INDEX CONCURRENTLY users_name;\n"),
                (
                    "20240103120000_seed.up.sql",
                    "-- wasmig:origin dbmate 20240103120000\nINSERT INTO users (name) VALUES ('root');\n",
                ),
                ("20240103120000_seed.down.sql", ""),
            ],
        );
        assert!(plan.mapping.iter().all(|m| m.reversible), "dbmate's down section is required");
        assert!(plan.mapping[1].notes.is_empty());
        assert_eq!(plan.ignored, [folder.path("schema.sql")]);
    }

    #[test]
    fn versions_keep_their_digits_as_dbmate_records_them() {
        let folder = Folder::new();
        folder.file("001_init.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\n");
        folder.file(
            "002-second.sql",
            "-- migrate:up transaction:false\nSELECT 2;\n-- migrate:down\n",
        );
        let plan = plan_of(Tool::Dbmate, &folder);
        assert_eq!(plan.mapping[0].version, "001");
        assert_eq!(plan.mapping[0].id.as_str(), "00000001");
        assert_eq!(plan.mapping[1].slug, "second");
        assert!(plan.mapping[1].notes[0].contains("only its up section"));
        assert!(
            plan.files[2]
                .contents
                .starts_with("-- wasmig:no-transaction\n-- wasmig:origin dbmate 002\n")
        );
    }

    #[test]
    fn refuses_what_dbmate_refuses_and_several_sections() {
        let refused = |sql: &str| sections(sql).unwrap_err();
        assert!(refused("-- nothing yet\n").contains("no `-- migrate:up`"));
        assert!(refused("-- migrate:up\nSELECT 1;\n").contains("no `-- migrate:down`"));
        assert!(refused("CREATE TYPE t;\n-- migrate:up\n").contains("line 1: a statement"));
        assert!(refused("-- migrate:down\n-- migrate:up\n").contains("line 1"));
        let twice =
            "-- migrate:up\nA;\n-- migrate:down\nB;\n-- migrate:up\nC;\n-- migrate:down\nD;\n";
        assert!(refused(twice).contains("line 5: a second"));
        // `migrate:upgrade` is no directive, so this has no up section.
        assert!(refused("-- migrate:upgrade\n").contains("no `-- migrate:up`"));
    }
}
