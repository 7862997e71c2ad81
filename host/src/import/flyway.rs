//! Flyway's folder, sub-folders included: versioned `V<version>__<description>.sql`, their
//! undo `U<version>__<description>.sql`, and `<file>.sql.conf` beside a script with
//! `executeInTransaction=false`. Versions are dotted (`1.1`, or `1_1` for the same) and
//! recorded as text in `flyway_schema_history`. Repeatable (`R__`) and baseline (`B`)
//! migrations and callbacks have no wasmig equivalent, so they are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::found::{self, Found, Migration, Order, Version};
use super::ids::flyway_parts;

/// Flyway's callback events: a script named after one runs around a command, not once.
const CALLBACKS: &[&str] = &[
    "beforeMigrate",
    "beforeEachMigrate",
    "beforeEachMigrateStatement",
    "afterEachMigrateStatement",
    "afterEachMigrateStatementError",
    "afterEachMigrate",
    "afterEachMigrateError",
    "afterMigrate",
    "afterMigrateApplied",
    "afterVersioned",
    "afterMigrateError",
    "beforeRepeatables",
    "beforeUndo",
    "beforeEachUndo",
    "beforeEachUndoStatement",
    "afterEachUndoStatement",
    "afterEachUndoStatementError",
    "afterEachUndo",
    "afterEachUndoError",
    "afterUndo",
    "afterUndoError",
    "beforeClean",
    "afterClean",
    "afterCleanError",
    "beforeInfo",
    "afterInfo",
    "afterInfoError",
    "beforeValidate",
    "afterValidate",
    "afterValidateError",
    "beforeBaseline",
    "afterBaseline",
    "afterBaselineError",
    "beforeRepair",
    "afterRepair",
    "afterRepairError",
    "beforeCreateSchema",
    "createSchema",
    "beforeConnect",
    "afterConnect",
];

struct Script {
    path: PathBuf,
    version: String,
    parts: Vec<String>,
    description: String,
}

pub(crate) fn read(from: &Path) -> Result<Found, ImportError> {
    let mut found = Found::new(Order::Dotted);
    let mut versioned: Vec<Script> = Vec::new();
    let mut undo: BTreeMap<Vec<String>, Vec<Script>> = BTreeMap::new();
    for entry in found::walk(from)? {
        let Some(name) = entry.name.as_deref() else {
            found.ignored.push(entry.path);
            continue;
        };
        // Flyway matches the `.sql` suffix in any case; `.sql.conf` files go with their script.
        let Some(stem) = name
            .len()
            .checked_sub(4)
            .and_then(|cut| name.get(cut..)?.eq_ignore_ascii_case(".sql").then(|| &name[..cut]))
        else {
            if !name.to_ascii_lowercase().ends_with(".sql.conf") {
                found.ignored.push(entry.path);
            }
            continue;
        };
        let (head, description) = stem.split_once("__").unwrap_or((stem, ""));
        if CALLBACKS.contains(&head) {
            found.skip(entry.path, "a Flyway callback runs around every command, not once");
            continue;
        }
        let Some(kind) = head.chars().next() else {
            found.ignored.push(entry.path);
            continue;
        };
        let version = &head[kind.len_utf8()..];
        match kind {
            'R' if version.is_empty() && stem.contains("__") => {
                found.skip(
                    entry.path,
                    "a repeatable migration runs again whenever it changes; wasmig runs a \
                     migration once",
                );
                continue;
            }
            'B' if flyway_parts(version).is_some() => {
                found.skip(
                    entry.path,
                    "a baseline migration stands in for the versions before it on a new \
                     database; wasmig has no such migration",
                );
                continue;
            }
            'V' | 'U' => {}
            _ => {
                found.ignored.push(entry.path);
                continue;
            }
        }
        // Flyway's default passes over misnamed scripts without running them.
        let Some(parts) = flyway_parts(version) else {
            found.ignored.push(entry.path);
            continue;
        };
        let script = Script {
            path: entry.path,
            version: version.replace('_', "."),
            parts,
            description: description.to_string(),
        };
        if kind == 'V' {
            versioned.push(script);
        } else {
            undo.entry(script.parts.clone()).or_default().push(script);
        }
    }
    for script in versioned {
        let undo_scripts = undo.remove(&script.parts).unwrap_or_default();
        convert(&mut found, script, undo_scripts)?;
    }
    for (_, scripts) in undo {
        for script in scripts {
            found.skip(script.path, format!("an undo script without a V{} script", script.version));
        }
    }
    found.sort_and_refuse_duplicates(
        |a, b| compare(&a.version.parts, &b.version.parts),
        |a, b| a.version.parts == b.version.parts,
    );
    Ok(found)
}

/// Flyway's order: part by part as integers, a missing part counting as zero.
fn compare(a: &[String], b: &[String]) -> std::cmp::Ordering {
    let number = |parts: &[String], index: usize| {
        let part = parts.get(index).map_or("0", String::as_str);
        (part.len(), part.to_string())
    };
    (0..a.len().max(b.len()))
        .map(|index| number(a, index).cmp(&number(b, index)))
        .find(|ordering| ordering.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn convert(found: &mut Found, script: Script, undo: Vec<Script>) -> Result<(), ImportError> {
    if undo.len() > 1 {
        for other in undo.iter() {
            found.skip(
                other.path.clone(),
                format!("another undo script is for V{}", script.version),
            );
        }
        return Ok(());
    }
    let Some((up, up_settings)) = read_script(found, &script.path)? else { return Ok(()) };
    let mut notes = Vec::new();
    let mut no_transaction = !up_settings.in_transaction;
    let mut down = None;
    if let Some(undo) = undo.into_iter().next() {
        let Some((sql, settings)) = read_script(found, &undo.path)? else { return Ok(()) };
        if settings.in_transaction == no_transaction {
            notes.push(format!(
                "only its {} script has executeInTransaction=false; wasmig runs the whole \
                 migration without a transaction",
                if no_transaction { "versioned" } else { "undo" }
            ));
            no_transaction = true;
        }
        down = Some(sql);
    }
    found.migrations.push(Migration {
        source: script.path,
        version: Version { recorded: script.version, parts: script.parts },
        name: script.description,
        up,
        down,
        no_transaction,
        notes,
    });
    Ok(())
}

/// What a script's `.sql.conf` says.
struct Settings {
    in_transaction: bool,
}

/// A script's SQL and settings; `None` when either cannot be converted (then it is listed).
fn read_script(found: &mut Found, path: &Path) -> Result<Option<(String, Settings)>, ImportError> {
    let conf = PathBuf::from(format!("{}.conf", path.display()));
    let (settings, placeholders) = match read_conf(&conf)? {
        Ok(read) => read,
        Err(reason) => {
            found.skip(conf, reason);
            return Ok(None);
        }
    };
    let sql = match found::read_sql(path)? {
        Ok(sql) => sql,
        Err(reason) => {
            found.skip(path, reason);
            return Ok(None);
        }
    };
    if placeholders && sql.contains("${") {
        // Flyway fills `${name}` from its configuration when it runs the script.
        found.skip(
            path,
            "it holds a Flyway placeholder `${...}`, filled in from Flyway's configuration \
             when it runs",
        );
        return Ok(None);
    }
    Ok(Some((sql, settings)))
}

/// The settings of a `.sql.conf` file (none: the defaults) and whether placeholders are
/// replaced, or why the file cannot be converted.
fn read_conf(path: &Path) -> Result<Result<(Settings, bool), String>, ImportError> {
    let mut settings = Settings { in_transaction: true };
    let mut placeholders = true;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Ok((settings, placeholders)));
        }
        Err(source) => return Err(ImportError::ReadFile { path: path.to_path_buf(), source }),
    };
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Ok(Err(format!("line {}: `{line}` is not key=value", index + 1)));
        };
        let (key, value) = (key.trim(), value.trim());
        let flag = || match value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("line {}: {key} is `{value}`, not true or false", index + 1)),
        };
        match key {
            "executeInTransaction" => match flag() {
                Ok(value) => settings.in_transaction = value,
                Err(reason) => return Ok(Err(reason)),
            },
            "placeholderReplacement" => match flag() {
                Ok(value) => placeholders = value,
                Err(reason) => return Ok(Err(reason)),
            },
            "encoding"
                if value.eq_ignore_ascii_case("UTF-8") || value.eq_ignore_ascii_case("UTF8") => {}
            "encoding" => return Ok(Err(format!("encoding {value}: only UTF-8 converts"))),
            "shouldExecute" => {
                return Ok(Err(
                    "shouldExecute decides when Flyway runs it; a converted migration always runs"
                        .to_string(),
                ));
            }
            _ => {
                return Ok(Err(format!(
                    "line {}: `{key}` is no script setting Flyway knows",
                    index + 1
                )));
            }
        }
    }
    Ok(Ok((settings, placeholders)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Folder, plan_of};
    use super::super::{IdRule, Tool};

    #[test]
    fn converts_versions_undo_scripts_and_script_settings() {
        let folder = Folder::new();
        folder.file(
            "V1__Create_person_table.sql",
            "CREATE TABLE person (id INT NOT NULL, name VARCHAR(100));\n",
        );
        folder.file("U1__Create_person_table.sql", "DROP TABLE person;\n");
        folder.file("V1_1__Add_people.sql", "INSERT INTO person (id, name) VALUES (1, 'Axel');\n");
        folder.file(
            "2024/V1.2__Index_names.sql",
            "CREATE INDEX CONCURRENTLY person_name ON person (name);\n",
        );
        folder.file(
            "2024/V1.2__Index_names.sql.conf",
            "# built without locking\nexecuteInTransaction=false\n",
        );
        folder.file("V1.10__Tenth.sql", "SELECT 10;\n");
        folder.file("README.md", "migrations");
        folder.file("notes€.t", "a name whose last four bytes split a character");
        let plan = plan_of(Tool::Flyway, &folder);
        assert_eq!(plan.id_rule, IdRule::Parts { widths: vec![1, 2] });
        folder.assert_files(
            &plan,
            &[
                (
                    "00000100_create_person_table.up.sql",
                    "-- wasmig:description Create person table\n-- wasmig:origin flyway 1\nCREATE TABLE person (id INT NOT NULL, name VARCHAR(100));\n",
                ),
                ("00000100_create_person_table.down.sql", "DROP TABLE person;\n"),
                (
                    "00000101_add_people.up.sql",
                    "-- wasmig:description Add people\n-- wasmig:origin flyway 1.1\nINSERT INTO person (id, name) VALUES (1, 'Axel');\n",
                ),
                (
                    "00000102_index_names.up.sql",
                    "-- wasmig:description Index names\n-- wasmig:no-transaction\n-- wasmig:origin flyway 1.2\nCREATE INDEX CONCURRENTLY person_name ON person (name);\n",
                ),
                (
                    "00000110_tenth.up.sql",
                    "-- wasmig:description Tenth\n-- wasmig:origin flyway 1.10\nSELECT 10;\n",
                ),
            ],
        );
        let versions: Vec<&str> = plan.mapping.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, ["1", "1.1", "1.2", "1.10"]);
        assert_eq!(plan.mapping[1].description, "Add people");
        assert_eq!(plan.ignored, [folder.path("README.md"), folder.path("notes€.t")]);
    }

    #[test]
    fn integer_versions_are_plain_numbers() {
        let folder = Folder::new();
        folder.file("V1__init.sql", "SELECT 1;\n");
        folder.file("V002__next.sql", "SELECT 2;\n");
        let plan = plan_of(Tool::Flyway, &folder);
        assert_eq!(plan.id_rule, IdRule::Number);
        let ids: Vec<&str> = plan.mapping.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["00000001", "00000002"]);
        assert_eq!(plan.mapping[1].version, "002", "Flyway records the version as written");
    }

    #[test]
    fn refuses_repeatables_baselines_callbacks_placeholders_and_conditions() {
        let folder = Folder::new();
        folder.file("V1__init.sql", "CREATE TABLE t (id int);\n");
        folder.file("R__refresh_view.sql", "CREATE OR REPLACE VIEW v AS SELECT * FROM t;\n");
        folder.file("B2__baseline.sql", "CREATE TABLE t (id int);\n");
        folder.file("afterMigrate.sql", "ANALYZE;\n");
        folder.file("V3__grant.sql", "GRANT SELECT ON t TO ${reader};\n");
        folder.file("V4__maybe.sql", "SELECT 4;\n");
        folder.file("V4__maybe.sql.conf", "shouldExecute=${flyway:environment}==prod\n");
        folder.file("U9__orphan.sql", "SELECT 9;\n");
        folder.file("V1.0__again.sql", "SELECT 1;\n");
        let plan = plan_of(Tool::Flyway, &folder);
        let skipped = folder.skipped(&plan);
        let files: Vec<&str> = skipped.iter().map(|(file, _)| file.as_str()).collect();
        assert_eq!(
            files,
            [
                "B2__baseline.sql",
                "R__refresh_view.sql",
                "U9__orphan.sql",
                "V1.0__again.sql",
                "V1__init.sql",
                "V3__grant.sql",
                "V4__maybe.sql.conf",
                "afterMigrate.sql",
            ]
        );
        assert!(skipped[1].1.contains("repeatable"), "{}", skipped[1].1);
        assert!(skipped[3].1.contains("version 1.0 is also"), "{}", skipped[3].1);
        assert!(skipped[5].1.contains("placeholder"));
        assert!(skipped[6].1.contains("shouldExecute"));
        assert!(super::super::write(&plan).is_err());
        folder.assert_app_empty();
    }

    #[test]
    fn placeholders_are_kept_where_replacement_is_off() {
        let folder = Folder::new();
        folder.file(
            "V1__js.sql",
            "CREATE FUNCTION f() RETURNS text AS $$ return `${1}` $$ LANGUAGE plv8;\n",
        );
        folder.file("V1__js.sql.conf", "placeholderReplacement=false\nencoding=UTF-8\n");
        let plan = plan_of(Tool::Flyway, &folder);
        assert!(plan.is_complete(), "{:?}", plan.skipped);
    }
}
