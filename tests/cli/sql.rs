//! SQL migrations: `<ID>_<slug>.up.sql` and `.down.sql` files (with per-backend variants)
//! that wasmig assembles into components itself, run like any other migration: applied,
//! previewed, reversed (from the files or from the stored component), refused where they
//! cannot go back, mixed with compiled migrations in ID order.

use crate::support::{Backend, TestProject, backend, stderr, stdout};

const CONFIG: &str = "[apps.a]\nmigrations = \"migrations/a\"\n";

/// Writes a file into app `a`.
fn write(project: &TestProject, name: &str, text: &str) {
    project.write_file("a", name, text.as_bytes());
}

/// A table, then a routine and a trigger written for each backend, the way each one's
/// client delimits their bodies.
fn write_schema(project: &TestProject) {
    write(
        project,
        "20240102000000_create_notes.up.sql",
        "-- wasmig:description Create the notes table\n\
         -- The table every later migration uses.\n\
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, touched INTEGER);\n\
         INSERT INTO notes (id, body) VALUES (1, 'it''s; a -- note');\n",
    );
    write(project, "20240102000000_create_notes.down.sql", "DROP TABLE notes;\n");
    write(
        project,
        "20240103000000_touch_trigger.up.sqlite.sql",
        "CREATE TRIGGER notes_touch AFTER UPDATE OF body ON notes\n\
         BEGIN\n  UPDATE notes SET touched = 1 WHERE id = NEW.id;\nEND;\n",
    );
    write(
        project,
        "20240103000000_touch_trigger.up.postgres.sql",
        "CREATE FUNCTION notes_touch() RETURNS trigger AS $$\n\
         BEGIN\n  NEW.touched := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n\
         CREATE TRIGGER notes_touch BEFORE UPDATE OF body ON notes\n\
         FOR EACH ROW EXECUTE FUNCTION notes_touch();\n\
         DO $body$ BEGIN PERFORM 1; END $body$;\n",
    );
    write(
        project,
        "20240103000000_touch_trigger.up.mysql.sql",
        "CREATE TRIGGER notes_touch BEFORE UPDATE ON notes\n\
         FOR EACH ROW BEGIN\n  SET NEW.touched = 1;\nEND;\n\
         DELIMITER //\n\
         CREATE PROCEDURE notes_count() BEGIN SELECT COUNT(*) FROM notes; END//\n\
         DELIMITER ;\n",
    );
    // Something for every backend, so the plain file is required but unused here.
    write(project, "20240103000000_touch_trigger.up.sql", "SELECT 1;\n");
    let down = match backend() {
        Backend::Sqlite => "DROP TRIGGER notes_touch;\n",
        Backend::Postgres => "DROP TRIGGER notes_touch ON notes;\nDROP FUNCTION notes_touch();\n",
        Backend::Mysql => "DROP TRIGGER notes_touch;\nDROP PROCEDURE notes_count;\n",
    };
    write(project, &format!("20240103000000_touch_trigger.down.{}.sql", backend_name()), down);
}

/// A project of [`write_schema`] and, after it, a data migration with no down file.
fn with_an_irreversible_seed() -> TestProject {
    let project = TestProject::empty(CONFIG);
    write_schema(&project);
    write(
        &project,
        "20240104000000_seed.up.sql",
        "INSERT INTO notes (id, body) VALUES (2, 'seed');\n",
    );
    project
}

fn backend_name() -> &'static str {
    match backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::Mysql => "mysql",
    }
}

#[test]
fn sql_migrations_apply_mixed_with_components_and_reverse_from_their_files() {
    let project = TestProject::empty(CONFIG);
    project.install_guest("a", "20240101000000_bench", "bench-table");
    write_schema(&project);

    let check = project.wasmig().args(["check", "--format", "json"]).output().unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let rows: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let descriptions: Vec<&str> =
        rows.as_array().unwrap().iter().map(|r| r["description"].as_str().unwrap()).collect();
    assert_eq!(descriptions, ["Bench table", "Create the notes table", "touch trigger"]);

    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(project.ledger(), ["a 20240101000000", "a 20240102000000", "a 20240103000000"]);
    assert_eq!(project.query("SELECT body FROM notes"), [["it's; a -- note"]]);
    // The trigger's body ran as one statement: it fires.
    project.execute("UPDATE notes SET body = 'changed' WHERE id = 1");
    assert_eq!(project.query("SELECT touched FROM notes"), [["1"]]);

    let output =
        project.wasmig().args(["backwards", "a", "20240102000000", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(project.ledger(), ["a 20240101000000"]);
    assert!(!project.tables().contains(&"notes".to_string()));
}

#[test]
fn a_preview_prints_each_statement_of_the_files_for_the_backend() {
    let project = TestProject::empty(CONFIG);
    write_schema(&project);
    let output = project.wasmig().args(["forwards", "a", "--preview"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let script = stdout(&output);
    let first = "-- a 20240102000000 forwards: Create the notes table\n\
                 CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, touched INTEGER);\n\
                 INSERT INTO notes (id, body) VALUES (1, 'it''s; a -- note');\n";
    assert!(script.starts_with(first), "{script}");
    // A routine's body goes to the database as one statement with the rest of it.
    let trigger = match backend() {
        Backend::Sqlite => {
            "\nCREATE TRIGGER notes_touch AFTER UPDATE OF body ON notes\n\
             BEGIN\n  UPDATE notes SET touched = 1 WHERE id = NEW.id;\nEND;\n"
        }
        Backend::Postgres => {
            "\nCREATE FUNCTION notes_touch() RETURNS trigger AS $$\n\
             BEGIN\n  NEW.touched := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n\
             CREATE TRIGGER notes_touch BEFORE UPDATE OF body ON notes\n\
             FOR EACH ROW EXECUTE FUNCTION notes_touch();\n\
             DO $body$ BEGIN PERFORM 1; END $body$;\n"
        }
        Backend::Mysql => {
            "\nCREATE TRIGGER notes_touch BEFORE UPDATE ON notes\n\
             FOR EACH ROW BEGIN\n  SET NEW.touched = 1;\nEND;\n\
             CREATE PROCEDURE notes_count() BEGIN SELECT COUNT(*) FROM notes; END;\n"
        }
    };
    let second = format!("-- a 20240103000000 forwards: touch trigger{trigger}");
    assert_eq!(script, format!("{first}{second}"));
    assert!(project.untouched(), "a preview changes nothing");
}

#[test]
fn a_sql_migration_without_a_down_file_is_refused_before_anything_changes() {
    let project = with_an_irreversible_seed();
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let before = project.snapshot();

    let output = project.wasmig().args(["backwards", "a", "all", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("migration 20240104000000")
            && error.contains("20240104000000_seed.up.sql")
            && error.contains("irreversible"),
        "{error}"
    );
    assert_eq!(project.snapshot(), before, "nothing changed");

    let output =
        project.wasmig().args(["backwards", "a", "1", "--format", "json", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["load"]["reason"], "irreversible", "{json}");
}

#[test]
fn a_failing_statement_names_its_file_and_line_and_rolls_the_migration_back() {
    let project = TestProject::empty(CONFIG);
    write_schema(&project);
    write(
        &project,
        "20240104000000_bad_seed.up.sql",
        "INSERT INTO notes (id, body) VALUES (2, 'kept?');\n\n\
         INSERT INTO no_such_table VALUES (1);\n",
    );
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(error.contains("20240104000000_bad_seed.up.sql line 3: "), "{error}");
    assert_eq!(project.query("SELECT COUNT(*) FROM notes"), [["1"]], "rolled back");
    let applied = ["a 20240102000000", "a 20240103000000"];
    if backend() == Backend::Mysql {
        // MySQL commits DDL as it goes, so a failed migration is marked dirty there.
        assert_eq!(project.dirty(), ["a 20240104000000"]);
        assert_eq!(project.ledger()[..2], applied);
    } else {
        assert_eq!(project.ledger(), applied);
    }
}

#[test]
fn a_stored_sql_migration_reverses_after_its_files_are_gone_and_clean_deletes_them() {
    let project = TestProject::empty(CONFIG);
    write_schema(&project);
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    for entry in std::fs::read_dir(project.app_dir("a")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("20240103000000") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let output = project.wasmig().args(["backwards", "a", "1", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("its file is gone"), "{}", stderr(&output));
    assert_eq!(project.ledger(), ["a 20240102000000"]);

    let output = project.wasmig().args(["backwards", "a", "1", "--clean", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let left: Vec<_> = std::fs::read_dir(project.app_dir("a")).unwrap().collect();
    assert!(left.is_empty(), "--clean deletes the .up.sql and .down.sql files: {left:?}");
}

#[test]
fn the_same_files_assemble_to_the_same_component_whatever_their_line_endings() {
    let checksum = |text: &str| {
        let project = TestProject::empty(CONFIG);
        write(&project, "20240101000000_t.up.sql", text);
        write(&project, "20240101000000_t.down.sql", "DROP TABLE t;\n");
        let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        project.query("SELECT checksum FROM wasmig_migrations")[0][0].clone()
    };
    let lf = checksum("-- wasmig:description T\nCREATE TABLE t (id INTEGER);\n");
    let crlf = checksum("-- wasmig:description T\r\nCREATE TABLE t (id INTEGER);\r\n");
    assert_eq!(lf, crlf);
    assert_eq!(lf.len(), 64);
    assert_ne!(lf, checksum("-- wasmig:description T\nCREATE TABLE t (id BIGINT);\n"));
}

#[test]
fn bad_sql_files_are_one_error_naming_the_file_and_nothing_runs() {
    let project = TestProject::empty(CONFIG);
    write(&project, "20240101000000_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    write(&project, "20240102000000_b.up.sql", "-- wasmig:transactional\nSELECT 1;\n");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.contains("20240102000000_b.up.sql") && error.contains("line 1: unknown directive"),
        "{error}"
    );
    assert!(project.tables().is_empty(), "nothing ran: {:?}", project.tables());

    std::fs::remove_file(project.app_dir("a").join("20240102000000_b.up.sql")).unwrap();
    write(&project, "20240102000000_b.up.sql", "SELECT 'never ends;\n");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("line 1: a quote or a comment never ends"),
        "{}",
        stderr(&output)
    );

    std::fs::remove_file(project.app_dir("a").join("20240102000000_b.up.sql")).unwrap();
    project.install_guest("a", "20240101000000_dup", "bench-table");
    let output = project.wasmig().args(["check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("duplicate migration ID 20240101000000"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn new_writes_sql_files_that_apply_and_build_has_nothing_to_do() {
    let project = TestProject::empty(CONFIG);
    let output = project.wasmig().args(["new", "a", "Add tags", "--lang", "sql"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing to build"), "{}", stderr(&output));
    let mut names: Vec<String> = std::fs::read_dir(project.app_dir("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert!(names[0].ends_with("_add_tags.down.sql") && names[1].ends_with("_add_tags.up.sql"));
    let up = std::fs::read_to_string(project.app_dir("a").join(&names[1])).unwrap();
    std::fs::write(project.app_dir("a").join(&names[1]), up + "CREATE TABLE tags (name TEXT);\n")
        .unwrap();

    let output = project.wasmig().args(["build", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["migrations"][0]["outcome"], "not_needed", "{json}");
    assert_eq!(json["migrations"][0]["language"], "sql", "{json}");

    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(project.tables().contains(&"tags".to_string()));
    let check = project.wasmig().args(["check", "--format", "json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(rows[0]["description"], "Add tags");
    assert_eq!(rows[0]["has_ran"], true);
}

#[test]
fn a_no_transaction_migration_runs_outside_a_transaction() {
    let project = TestProject::empty(CONFIG);
    write(&project, "20240101000000_t.up.sql", "CREATE TABLE t (id INTEGER);\n");
    write(
        &project,
        "20240102000000_index.up.sql",
        "-- wasmig:no-transaction\nCREATE INDEX t_id ON t (id);\n",
    );
    write(
        &project,
        "20240102000000_index.up.postgres.sql",
        "CREATE INDEX CONCURRENTLY t_id ON t (id);\n",
    );
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("(non-transactional)"), "{}", stderr(&output));
    assert_eq!(project.ledger(), ["a 20240101000000", "a 20240102000000"]);
}

#[test]
fn verify_reports_an_irreversible_migration_and_goes_on_with_the_next() {
    let project = with_an_irreversible_seed();
    write(&project, "20240105000000_tags.up.sql", "CREATE TABLE tags (name TEXT);\n");
    write(&project, "20240105000000_tags.down.sql", "DROP TABLE tags;\n");
    let before = project.snapshot();

    let output = project.wasmig().args(["verify", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids = |key: &str| -> Vec<String> {
        let list = json[key].as_array().unwrap_or_else(|| panic!("{key} in {json}"));
        list.iter().map(|m| m["migration_id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids("verified"), ["20240102000000", "20240103000000", "20240105000000"], "{json}");
    assert_eq!(ids("irreversible"), ["20240104000000"], "{json}");

    let output = project.wasmig().args(["verify"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("irreversible a 20240104000000"), "{text}");
    assert!(text.contains("1 irreversible migration(s) applied but not verified"), "{text}");
    assert_eq!(project.snapshot(), before, "verify touched the target database");
}
