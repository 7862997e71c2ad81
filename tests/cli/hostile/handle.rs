//! Hostile migrations that attack through their one capability, the database handle:
//! ending or rolling back the host's transaction, reaching host files, changing wasmig's
//! ledger, writing during a preview, and making the host hold or wait without bound.
//!
//! The attacks are played by one scripted guest (`tests/guests/hostile-sql-script`, and
//! its non-transactional twin) that reads its statements from a table the test fills, so
//! every spelling runs on every backend it applies to.

use std::sync::mpsc;
use std::time::Duration;

use wasmig::backend::{Access, Connection};

use super::*;
use crate::support::{Backend, backend, block_on};

const SCRIPT: &str = "hostile-sql-script";
const OUTSIDE: &str = "hostile-sql-script-outside";

/// A project whose first migration is applied, with the scripted guest `guest` pending as
/// the second, playing `steps` (op, SQL), and an empty table `hostile_rows (n)`.
fn scripted(guest: &str, config: &str, steps: &[(&str, String)]) -> TestProject {
    let project = project_configured(guest, config);
    project.execute("CREATE TABLE hostile_script (step INTEGER, op VARCHAR(20), body TEXT)");
    project.execute("CREATE TABLE hostile_rows (n INTEGER)");
    for (step, (op, sql)) in steps.iter().enumerate() {
        let sql = sql.replace('\'', "''");
        project.execute(&format!("INSERT INTO hostile_script VALUES ({step}, '{op}', '{sql}')"));
    }
    project
}

/// Each SQL of `sqls` as a step that the migration tries and whose refusal it ignores.
fn tries(op: &'static str, sqls: &[String]) -> Vec<(&'static str, String)> {
    sqls.iter().map(|sql| (op, sql.clone())).collect()
}

/// How many of the migration's log lines report a refusal.
fn refusals(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|line| line.starts_with("  [") && line.contains("refused by wasmig"))
        .count()
}

fn rows(project: &TestProject) -> Vec<Vec<String>> {
    project.query("SELECT n FROM hostile_rows ORDER BY n")
}

/// Every spelling of transaction control the backend accepts.
fn transaction_control() -> Vec<String> {
    let mut sqls: Vec<String> = [
        "COMMIT",
        "commit",
        "  /* a comment */ Commit",
        "-- a comment\nROLLBACK",
        "rollback",
        "END",
        "SELECT 1; COMMIT",
        "SAVEPOINT s",
        "RELEASE SAVEPOINT s",
        "ROLLBACK TO SAVEPOINT s",
        "BEGIN",
    ]
    .map(String::from)
    .to_vec();
    match backend() {
        Backend::Sqlite => sqls.extend(["end transaction", "BEGIN IMMEDIATE"].map(String::from)),
        Backend::Postgres => {
            sqls.extend(["ABORT", "START TRANSACTION", "COMMIT AND CHAIN"].map(String::from))
        }
        Backend::Mysql => sqls.extend(
            ["/*!COMMIT*/", "SET autocommit = 1", "START TRANSACTION", "XA START 'x'"]
                .map(String::from),
        ),
    }
    sqls
}

/// The steps of an attack on the transaction: a row, every spelling (refusals ignored),
/// another row (and, where DDL is transactional, a table) — then `last`.
fn around_the_transaction(last: (&'static str, String)) -> Vec<(&'static str, String)> {
    let mut steps = vec![("execute", "INSERT INTO hostile_rows VALUES (1)".to_string())];
    steps.extend(tries("try", &transaction_control()));
    steps.push(("execute", "INSERT INTO hostile_rows VALUES (2)".to_string()));
    if transactional_ddl() {
        steps.push(("execute", "CREATE TABLE hostile_escaped (x INTEGER)".to_string()));
    }
    steps.push(last);
    steps
}

#[test]
fn transaction_control_is_refused_and_a_failing_migration_still_rolls_back_whole() {
    let steps = around_the_transaction(("fail", "failed after the attempts".into()));
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &steps);
    let run = refused(&project, &["forwards", "a"], "failed after the attempts", HOST_MIB);
    assert_eq!(refusals(&run.stderr), transaction_control().len(), "{}", run.stderr);
    assert!(run.error().contains("rolled back"), "{}", run.stderr);
    assert!(rows(&project).is_empty(), "a row escaped the rollback: {:?}", rows(&project));
}

#[test]
fn transaction_control_is_refused_and_a_migration_ignoring_it_commits_once() {
    let steps = around_the_transaction(("query", "SELECT 1".into()));
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &steps);
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    let stderr = crate::support::stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(refusals(&stderr), transaction_control().len(), "{stderr}");
    assert_eq!(rows(&project), [["1"], ["2"]]);
    assert_eq!(project.ledger(), [format!("a {BENIGN}"), format!("a {HOSTILE}")]);
    assert!(project.dirty().is_empty());
}

#[test]
fn a_preview_cannot_end_its_read_only_transaction_or_write() {
    let mut steps = tries("try", &transaction_control());
    let mut writes: Vec<String> = [
        "INSERT INTO hostile_rows VALUES (9)",
        "insert into hostile_rows values (9)",
        "CREATE TABLE hostile_previewed (x INTEGER)",
        "SELECT 1; DELETE FROM hostile_rows",
        "DELETE FROM hostile_rows",
        "DROP TABLE hostile_rows",
        "UPDATE hostile_rows SET n = 0",
    ]
    .map(String::from)
    .to_vec();
    let file = tempfile::tempdir().unwrap();
    let attached = file.path().join("preview.db");
    if backend() == Backend::Sqlite {
        writes.push(format!("ATTACH DATABASE '{}' AS p", attached.display()));
        writes.push("PRAGMA query_only = OFF".into());
    }
    steps.extend(tries("try_query", &writes));
    steps.push(("query", "SELECT count(*) FROM hostile_rows".into()));
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &steps);
    project.execute("INSERT INTO hostile_rows VALUES (1)");
    let before = project.snapshot();
    let output = project.wasmig().args(["forwards", "a", "--preview"]).output().unwrap();
    let (stdout, stderr) = (crate::support::stdout(&output), crate::support::stderr(&output));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(refusals(&stderr), transaction_control().len() + writes.len(), "{stderr}");
    assert!(
        !stdout.to_ascii_uppercase().contains("COMMIT"),
        "a refused statement was recorded: {stdout}"
    );
    assert_eq!(project.snapshot(), before, "the preview changed the schema or ledger");
    assert_eq!(rows(&project), [["1"]]);
    assert!(!attached.exists(), "the preview created a host file");
}

#[test]
fn sqlite_statements_cannot_reach_host_files() {
    if backend() != Backend::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (evil, copy) = (dir.path().join("evil.db"), dir.path().join("copy.db"));
    let sqls = [
        format!("ATTACH DATABASE '{}' AS evil", evil.display()),
        format!("attach '{}' as evil", evil.display()),
        format!("/* x */ ATTACH 'file:{}?mode=rwc' AS evil", evil.display()),
        "CREATE TABLE evil.t (x INTEGER)".to_string(),
        "DETACH DATABASE evil".to_string(),
        format!("VACUUM INTO '{}'", copy.display()),
        format!("vacuum main into '{}'", copy.display()),
        format!("SELECT 1; VACUUM INTO '{}'", copy.display()),
        "SELECT load_extension('/tmp/x')".to_string(),
        "PRAGMA writable_schema = ON".to_string(),
    ];
    // Non-transactional, where VACUUM could run at all.
    let project = scripted(OUTSIDE, &config(ROOMY_CPU_SECONDS), &tries("try", &sqls));
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    let stderr = crate::support::stderr(&output);
    assert!(output.status.success(), "{stderr}");
    // `CREATE TABLE evil.t` fails as SQLite's own error: there is no `evil`.
    assert_eq!(refusals(&stderr), sqls.len() - 1, "{stderr}");
    assert!(!evil.exists() && !copy.exists(), "a statement wrote a host file");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Static spellings of a change to wasmig's own tables.
fn ledger_changes() -> Vec<String> {
    let mut sqls: Vec<String> = [
        "DELETE FROM wasmig_migrations",
        "delete from WASMIG_MIGRATIONS where 1 = 1",
        "UPDATE \"wasmig_migrations\" SET checksum = 'forged'",
        "INSERT INTO wasmig_migrations (app_name, migration_id, description, checksum) VALUES ('a', '1', 'x', 'x')",
        "DROP TABLE wasmig_migrations",
        "ALTER TABLE wasmig_migrations ADD COLUMN x INTEGER",
        "CREATE TEMPORARY TABLE wasmig_migrations (id INTEGER)",
        "SELECT 1; DELETE FROM wasmig_migrations",
    ]
    .map(String::from)
    .to_vec();
    match backend() {
        Backend::Mysql => sqls.push("DELETE FROM `wasmig_migrations`".into()),
        Backend::Sqlite => sqls.push("DELETE FROM [wasmig_migrations]".into()),
        Backend::Postgres => {
            sqls.push("DELETE FROM public.wasmig_migrations".into());
            sqls.push("SET search_path = pg_temp".into());
        }
    }
    sqls
}

#[test]
fn wasmig_tables_are_refused_to_a_migration() {
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &tries("try", &ledger_changes()));
    let before =
        project.query("SELECT id, app_name, migration_id, checksum FROM wasmig_migrations");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    let stderr = crate::support::stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(refusals(&stderr), ledger_changes().len(), "{stderr}");
    let after = project.query("SELECT id, app_name, migration_id, checksum FROM wasmig_migrations");
    assert_eq!(after[..1], before[..], "the applied row changed");
    assert_eq!(project.ledger(), [format!("a {BENIGN}"), format!("a {HOSTILE}")]);
}

/// SQL that deletes the ledger's rows without naming the table in its text.
fn dynamic_ledger_delete() -> Vec<(&'static str, String)> {
    match backend() {
        Backend::Postgres => vec![(
            "execute",
            "DO $$ BEGIN EXECUTE 'DELETE FROM wasm' || 'ig_migrations'; END $$".into(),
        )],
        Backend::Mysql => vec![
            (
                "execute",
                "CREATE PROCEDURE hostile_p() BEGIN SET @s = CONCAT('DELETE FROM wasm', \
                 'ig_migrations'); PREPARE x FROM @s; EXECUTE x; END"
                    .into(),
            ),
            ("execute", "CALL hostile_p()".into()),
        ],
        Backend::Sqlite => {
            unreachable!("SQLite has no dynamic SQL; its authorizer sees every table")
        }
    }
}

#[test]
fn a_ledger_change_through_dynamic_sql_is_caught_before_commit() {
    if backend() != Backend::Postgres {
        return;
    }
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &dynamic_ledger_delete());
    let run = refused(&project, &["forwards", "a"], "changed wasmig's ledger", HOST_MIB);
    assert!(run.error().contains(&format!("a {HOSTILE} forwards failed")), "{}", run.stderr);
    assert!(run.error().contains("rolled back"), "{}", run.stderr);
}

#[test]
fn a_ledger_change_outside_a_transaction_leaves_the_migration_dirty() {
    if backend() == Backend::Sqlite {
        return;
    }
    let project = scripted(OUTSIDE, &config(ROOMY_CPU_SECONDS), &dynamic_ledger_delete());
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    let stderr = crate::support::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    assert!(error.contains("changed wasmig's ledger"), "{stderr}");
    assert!(error.contains("marked dirty"), "{stderr}");
    assert_eq!(project.dirty(), [format!("a {HOSTILE}")]);
}

#[test]
fn a_huge_query_result_is_cut_off_at_query_mib() {
    let big = match backend() {
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 300000) \
             SELECT i, hex(zeroblob(500)) FROM n"
        }
        Backend::Postgres => "SELECT i, repeat('x', 1000) FROM generate_series(1, 300000) AS i",
        Backend::Mysql => {
            "SELECT REPEAT('x', 1000) FROM \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b, \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c, \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) d, \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) f, \
             (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2) e"
        }
    };
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &[("query", big.to_string())]);
    // The host holds at most query_mib of the result on top of itself.
    let run = refused(&project, &["forwards", "a"], "[limits] query_mib", HOST_MIB + 2 * QUERY_MIB);
    assert!(run.error().contains("larger than 64 MiB"), "{}", run.stderr);
}

#[test]
fn a_huge_error_message_is_cut() {
    let project = scripted(SCRIPT, &config(ROOMY_CPU_SECONDS), &[("error_mib", "50".into())]);
    // The message is lifted out of the guest's memory before it is cut.
    let run = refused(
        &project,
        &["forwards", "a"],
        "more bytes cut by wasmig",
        HOST_MIB + GUEST_MEMORY_MIB,
    );
    assert!(run.stderr.len() < 64 << 10, "{} bytes of stderr", run.stderr.len());
}

#[test]
fn statement_seconds_stops_a_statement_inside_the_database() {
    let slow = match backend() {
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        }
        Backend::Postgres => "SELECT pg_sleep(30)",
        Backend::Mysql => "SELECT SLEEP(30)",
    };
    let config = format!("{}statement_seconds = 1\n", config(ROOMY_CPU_SECONDS));
    let project = scripted(SCRIPT, &config, &[("query", slow.to_string())]);
    let run = refused(&project, &["forwards", "a"], "[limits] statement_seconds", HOST_MIB);
    assert!(run.elapsed < Duration::from_secs(20), "took {:?}", run.elapsed);
}

#[test]
fn lock_wait_seconds_fails_a_migration_waiting_on_a_busy_table() {
    let config = format!("{}lock_wait_seconds = 1\n", config(ROOMY_CPU_SECONDS));
    let steps = [("execute", "UPDATE hostile_rows SET n = 5".to_string())];
    let project = scripted(SCRIPT, &config, &steps);
    project.execute("INSERT INTO hostile_rows VALUES (1)");
    // Another session holds the row (SQLite: the whole database) until the run is over.
    let (locked, release) = (mpsc::channel(), mpsc::channel::<()>());
    let url = project.database_url();
    let holder = std::thread::spawn(move || {
        block_on(async move {
            let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
            let lock = match backend() {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                _ => "BEGIN",
            };
            conn.execute(lock, &[]).await.unwrap();
            if backend() != Backend::Sqlite {
                conn.query("SELECT n FROM hostile_rows FOR UPDATE", &[]).await.unwrap();
            }
            locked.0.send(()).unwrap();
            release.1.recv().unwrap();
            conn.execute("ROLLBACK", &[]).await.unwrap();
            conn.close().await;
        })
    });
    locked.1.recv().unwrap();
    let cause = match backend() {
        // The host's own BEGIN waits on the file lock.
        Backend::Sqlite => "database is locked",
        _ => "[limits] lock_wait_seconds",
    };
    let mut command = project.wasmig_std();
    command.args(["forwards", "a"]);
    let run = measured(command);
    release.0.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.error().contains(cause), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    if backend() == Backend::Mysql {
        project.wasmig().args(["resolve", "a", HOSTILE, "--reversed", "-y"]).assert().success();
    }
    assert_eq!(project.ledger(), [format!("a {BENIGN}")]);
    assert_eq!(rows(&project), [["1"]]);
}

#[test]
fn a_huge_description_is_cut_before_it_reaches_the_output_or_the_ledger() {
    let project = project_configured("hostile-long-description", &config(ROOMY_CPU_SECONDS));
    let mut command = project.wasmig_std();
    command.args(["forwards", "a"]);
    let run = measured(command);
    assert_eq!(run.status.code(), Some(0), "{}", tail(&run.stderr));
    assert!(run.stderr.len() < 16 << 10, "{} bytes of stderr", run.stderr.len());
    assert!(run.stderr.contains("more bytes cut by wasmig"), "{}", tail(&run.stderr));
    assert!(run.peak_mib <= HOST_MIB + GUEST_MEMORY_MIB, "peaked at {} MiB", run.peak_mib);
    let stored = project.query(&format!(
        "SELECT description FROM wasmig_migrations WHERE migration_id = '{HOSTILE}'"
    ));
    let description = &stored[0][0];
    assert!(description.len() <= (1 << 10) + 64, "{} bytes stored", description.len());
    assert!(description.starts_with("ddd"), "{description}");
}
