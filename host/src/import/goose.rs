//! goose's folder: `<version>_<name>.sql` files with a `-- +goose Up` section, an optional
//! `-- +goose Down` section, `-- +goose StatementBegin` / `StatementEnd` around statements
//! with semicolons inside, and `-- +goose NO TRANSACTION`. goose records the version as an
//! integer in `goose_db_version`. Go migrations (`<version>_<name>.go`) cannot be converted.

use std::path::Path;

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};
use super::text;

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Numeric);
    for entry in found::list(from)? {
        if entry.is_dir {
            continue;
        }
        // goose reads `<positive integer>_<anything>.sql` and `.go`; it passes over the rest.
        let parsed = entry.name.as_deref().and_then(|name| {
            let (stem, is_go) = match (name.strip_suffix(".sql"), name.strip_suffix(".go")) {
                (Some(stem), _) => (stem, false),
                (_, Some(stem)) if !name.ends_with("_test.go") => (stem, true),
                _ => return None,
            };
            let (version, title) = stem.split_once('_')?;
            let value: i64 = version.parse().ok().filter(|value| *value > 0)?;
            Some((value, title.to_string(), is_go))
        });
        let Some((version, title, is_go)) = parsed else {
            found.ignored.push(entry.path);
            continue;
        };
        if is_go {
            found.skip(entry.path, "a Go migration is code, not SQL, and cannot be converted");
            continue;
        }
        let sql = match found::read_sql(&entry.path)? {
            Ok(sql) => sql,
            Err(reason) => {
                found.skip(entry.path, reason);
                continue;
            }
        };
        match sections(&sql) {
            Ok(sections) => found.migrations.push(Migration {
                source: entry.path,
                version: Version::digits(version.to_string(), &version.to_string()),
                name: title,
                up: sections.up,
                down: sections.down,
                no_transaction: sections.no_transaction,
                notes: Vec::new(),
            }),
            Err(reason) => found.skip(entry.path, reason),
        }
    }
    found.sort_and_refuse_duplicates(
        |a, b| version_value(a).cmp(&version_value(b)),
        |a, b| version_value(a) == version_value(b),
    );
    Ok(found)
}

fn version_value(migration: &Migration) -> i64 {
    migration.version.recorded.parse().unwrap_or(0)
}

/// A goose file split into wasmig's up and down SQL.
#[derive(Debug, PartialEq, Eq)]
struct Sections {
    up: String,
    down: Option<String>,
    no_transaction: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Before,
    Up,
    Down,
}

/// Follows goose's parser: comments may precede `-- +goose Up`, statements may not;
/// `StatementBegin`/`End` become `-- wasmig:begin`/`end`; the other annotations go. A file
/// with `-- +goose ENVSUB ON` is refused: goose fills `${VAR}` from its environment when it
/// runs, which a converted file cannot do.
fn sections(sql: &str) -> Result<Sections, String> {
    let mut section = Section::Before;
    let mut in_block = false;
    let mut no_transaction = false;
    let (mut before, mut up, mut down) = (String::new(), String::new(), None::<String>);
    for (index, line) in sql.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let bare = text::bare(line);
        if bare.trim_start().starts_with("--") && bare.contains("+goose") {
            if bare.starts_with([' ', '\t']) {
                return Err(format!("line {number}: goose refuses an indented annotation"));
            }
            let annotation = bare.replace("--", "").replacen("+goose", "", 1);
            let annotation = annotation.trim().to_ascii_uppercase();
            let target = match section {
                Section::Before => &mut before,
                Section::Up => &mut up,
                Section::Down => down.get_or_insert_with(String::new),
            };
            match annotation.as_str() {
                "UP" if section == Section::Before => section = Section::Up,
                "DOWN" if section == Section::Up && !in_block => {
                    section = Section::Down;
                    down = Some(String::new());
                }
                "STATEMENTBEGIN" if section != Section::Before && !in_block => {
                    in_block = true;
                    target.push_str("-- wasmig:begin\n");
                }
                "STATEMENTEND" if in_block => {
                    in_block = false;
                    target.push_str("-- wasmig:end\n");
                }
                "NO TRANSACTION" => no_transaction = true,
                "ENVSUB OFF" => {}
                "ENVSUB ON" => {
                    return Err(format!(
                        "line {number}: ENVSUB ON fills in environment variables when goose \
                         runs, which a converted file cannot do"
                    ));
                }
                _ => {
                    return Err(format!("line {number}: goose refuses `{}` here", bare.trim()));
                }
            }
            continue;
        }
        match section {
            Section::Before if text::is_blank_or_comment(line) => before.push_str(line),
            Section::Before => {
                return Err(format!("line {number}: a statement before `-- +goose Up`"));
            }
            Section::Up => up.push_str(line),
            Section::Down => down.get_or_insert_with(String::new).push_str(line),
        }
    }
    if section == Section::Before {
        return Err("it has no `-- +goose Up` annotation (goose refuses it)".to_string());
    }
    if in_block {
        return Err("a `-- +goose StatementBegin` has no StatementEnd".to_string());
    }
    let up = trim_blank_lines(&(before + &up));
    Ok(Sections { up, down: down.map(|down| trim_blank_lines(&down)), no_transaction })
}

/// A section without the blank lines that separated it from the annotations.
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
    use super::{Sections, sections};

    const FUNCTION: &str = "\
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();

-- +goose Down
DROP TRIGGER posts_touch ON posts;
-- +goose StatementBegin
DROP FUNCTION touch();
-- +goose StatementEnd
";

    #[test]
    fn statement_blocks_become_wasmig_blocks() {
        let folder = Folder::new();
        folder.file(
            "00001_create_posts.sql",
            "-- Posts and their authors.\n-- +goose Up\nCREATE TABLE posts (id serial PRIMARY KEY, updated_at timestamptz);\n\n-- +goose Down\nDROP TABLE posts;\n",
        );
        folder.file("00002_touch_trigger.sql", FUNCTION);
        folder.file(
            "20240301100000_index_posts.sql",
            "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY posts_updated ON posts (updated_at);\n",
        );
        folder.file("00003_backfill.go", "package migrations\n");
        folder.file("helpers.go", "package migrations\n");
        let plan = plan_of(Tool::Goose, &folder);
        assert_eq!(folder.skipped(&plan).len(), 1);
        assert_eq!(folder.skipped(&plan)[0].0, "00003_backfill.go");
        assert!(super::super::write(&plan).is_err(), "a Go migration stops the import");
        folder.assert_app_empty();

        std::fs::remove_file(folder.path("00003_backfill.go")).unwrap();
        let plan = plan_of(Tool::Goose, &folder);
        folder.assert_files(
            &plan,
            &[
                (
                    "00000001_create_posts.up.sql",
                    "-- wasmig:origin goose 1\n-- Posts and their authors.\nCREATE TABLE posts (id serial PRIMARY KEY, updated_at timestamptz);\n",
                ),
                ("00000001_create_posts.down.sql", "DROP TABLE posts;\n"),
                (
                    "00000002_touch_trigger.up.sql",
                    "-- wasmig:origin goose 2\n-- wasmig:begin\nCREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n-- wasmig:end\nCREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();\n",
                ),
                (
                    "00000002_touch_trigger.down.sql",
                    "DROP TRIGGER posts_touch ON posts;\n-- wasmig:begin\nDROP FUNCTION touch();\n-- wasmig:end\n",
                ),
                (
                    "20240301100000_index_posts.up.sql",
                    "-- wasmig:no-transaction\n-- wasmig:origin goose 20240301100000\nCREATE INDEX CONCURRENTLY posts_updated ON posts (updated_at);\n",
                ),
            ],
        );
        assert!(!plan.mapping[2].reversible, "no Down section: irreversible");
        assert_eq!(plan.ignored, [folder.path("helpers.go")]);
    }

    #[test]
    fn an_empty_down_section_is_a_down_file_with_nothing_to_run() {
        let parsed = sections("-- +goose up\nSELECT 1;\n-- +goose down\n").unwrap();
        assert_eq!(
            parsed,
            Sections { up: "SELECT 1;\n".into(), down: Some(String::new()), no_transaction: false }
        );
    }

    #[test]
    fn refuses_what_goose_refuses_and_environment_substitution() {
        let refused = |sql: &str| sections(sql).unwrap_err();
        assert!(refused("-- nothing yet\n").contains("no `-- +goose Up`"));
        assert!(refused("SELECT 1;\n-- +goose Up\n").contains("line 1: a statement before"));
        assert!(refused("-- +goose Up\n-- +goose Up\n").contains("line 2"));
        assert!(refused("-- +goose Down\n").contains("line 1"));
        assert!(
            refused("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n")
                .contains("no StatementEnd")
        );
        assert!(refused("-- +goose Up\n  -- +goose StatementBegin\n").contains("indented"));
        assert!(refused("-- +goose Up\n-- +goose StatementEnd\n").contains("line 2"));
        assert!(
            refused("-- +goose ENVSUB ON\n-- +goose Up\nSELECT '${X}';\n").contains("environment")
        );
        assert!(refused("-- +goose Up\n-- +goose Sideways\n").contains("Sideways"));
    }

    #[test]
    fn duplicate_versions_are_refused() {
        let folder = Folder::new();
        folder.file("1_a.sql", "-- +goose Up\nSELECT 1;\n");
        folder.file("001_b.sql", "-- +goose Up\nSELECT 1;\n");
        folder.file("2_c.sql", "-- +goose Up\nSELECT 2;\n");
        let plan = plan_of(Tool::Goose, &folder);
        let files: Vec<String> = folder.skipped(&plan).into_iter().map(|(file, _)| file).collect();
        assert_eq!(files, ["001_b.sql", "1_a.sql"]);
        assert_eq!(plan.mapping.len(), 1);
    }
}
