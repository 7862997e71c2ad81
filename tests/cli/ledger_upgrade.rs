//! The ledger's own layout: a ledger written by an older wasmig (without `source_digest`
//! and without `wasmig_ledger_version`) is read as it is by `check` and `--preview`, and
//! brought up to date by the first command that writes, under the run lock; a ledger of a
//! newer layout is refused.

use crate::support::{Backend, TestProject, backend, stderr};

const CONFIG: &str = "[apps.a]\nmigrations = \"migrations/a\"\n";

fn write(project: &TestProject, name: &str, text: &str) {
    project.write_file("a", name, text.as_bytes());
}

/// The columns of the ledger table, sorted.
fn ledger_columns(project: &TestProject) -> Vec<String> {
    let sql = match backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info('wasmig_migrations') ORDER BY 1",
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'wasmig_migrations' ORDER BY 1"
        }
        Backend::Mysql => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = 'wasmig_migrations' ORDER BY 1"
        }
    };
    project.query(sql).into_iter().map(|mut row| row.remove(0)).collect()
}

fn has_version_table(project: &TestProject) -> bool {
    let sql = match backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE name = 'wasmig_ledger_version'".to_string()
        }
        _ => "SELECT table_name FROM information_schema.tables \
              WHERE table_name = 'wasmig_ledger_version'"
            .to_string(),
    };
    !project.query(&sql).is_empty()
}

/// A project with one migration applied by a wasmig of ledger layout 1: applied by this
/// one, then the layout taken back to what that wasmig wrote.
fn project_with_an_old_ledger() -> TestProject {
    let project = TestProject::empty(CONFIG);
    write(&project, "20240101000000_notes.up.sql", "CREATE TABLE notes (body TEXT);\n");
    write(&project, "20240101000000_notes.down.sql", "DROP TABLE notes;\n");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    project.execute("ALTER TABLE wasmig_migrations DROP COLUMN source_digest");
    project.execute("DROP TABLE wasmig_ledger_version");
    assert!(!ledger_columns(&project).contains(&"source_digest".to_string()));
    project
}

#[test]
fn an_old_ledger_is_read_unchanged_and_upgraded_by_the_first_write() {
    let project = project_with_an_old_ledger();
    write(&project, "20240102000000_tags.up.sql", "CREATE TABLE tags (name TEXT);\n");
    write(&project, "20240102000000_tags.down.sql", "DROP TABLE tags;\n");
    let old_columns = ledger_columns(&project);

    // Reading commands leave it as it is.
    let output = project.wasmig().args(["check", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ran: Vec<bool> = rows.as_array().unwrap().iter().map(|r| r["has_ran"] == true).collect();
    assert_eq!(ran, [true, false], "{rows}");
    let output = project.wasmig().args(["forwards", "a", "--preview"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(ledger_columns(&project), old_columns, "a reading command changed the ledger");
    assert!(!has_version_table(&project));

    // The first write upgrades it, then records the new migration with its digest.
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(ledger_columns(&project).contains(&"source_digest".to_string()));
    let version = project.query("SELECT version FROM wasmig_ledger_version");
    assert_eq!(version, [["2"]]);
    let digests = project.query(
        "SELECT migration_id, COALESCE(source_digest, 'none') FROM wasmig_migrations ORDER BY id",
    );
    assert_eq!(digests[0], ["20240101000000", "none"], "{digests:?}");
    assert_eq!(digests[1][0], "20240102000000");
    assert!(digests[1][1].starts_with("sql sha256:"), "{digests:?}");

    // What the old wasmig recorded still reverses.
    let output = project.wasmig().args(["backwards", "a", "all", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(project.ledger().is_empty());
    assert!(!project.tables().contains(&"notes".to_string()));
}

#[test]
fn a_ledger_of_a_newer_layout_is_refused_and_left_as_it_is() {
    let project = TestProject::empty(CONFIG);
    write(&project, "20240101000000_notes.up.sql", "CREATE TABLE notes (body TEXT);\n");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    project.execute("UPDATE wasmig_ledger_version SET version = 99");
    write(&project, "20240102000000_tags.up.sql", "CREATE TABLE tags (name TEXT);\n");
    let before = project.snapshot();

    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("layout 99") && error.contains("newer wasmig"), "{error}");
    assert_eq!(project.snapshot(), before);
}
