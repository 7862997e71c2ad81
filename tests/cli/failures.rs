use predicates::str::contains;

use crate::support::{Backend, TestProject, backend, stderr, transactional_ddl};

const CONFIG: &str = r#"
[apps.a]
migrations = "migrations/a"

[apps.b]
migrations = "migrations/b"
depends_on = ["a"]
"#;

const FIRST: &str = "20240101000000";
const SECOND: &str = "20240102000000";

fn project() -> TestProject {
    TestProject::empty(CONFIG)
}

#[test]
fn a_backwards_that_fails_half_way_leaves_schema_and_ledger_exactly_as_before() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    project.install_guest("a", &format!("{SECOND}_two_tables"), "failing-backwards");
    project.wasmig().args(["forwards", "all"]).assert().success();
    let before = project.snapshot();
    assert_eq!(project.ledger().len(), 2);

    let output = project.wasmig().args(["backwards", "a", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(&format!("a {SECOND} backwards failed")), "{err}");
    if !transactional_ddl() {
        // MySQL commits DDL as it goes: the half-done reversal is kept and marked dirty.
        assert!(err.contains("marked dirty"), "{err}");
        assert_eq!(project.dirty(), [format!("a {SECOND}")]);
        assert_dirty_blocks_runs(&project, SECOND);
        return;
    }
    assert!(err.contains("rolled back"), "{err}");
    assert!(err.contains("completed before the failure: none"), "{err}");
    assert_eq!(project.snapshot(), before);
}

#[test]
fn a_failing_forwards_is_rolled_back_and_the_run_stops() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    project.install_guest("a", &format!("{SECOND}_fails"), "failing-forwards");
    project.install_guest("b", "20240103000000_never", "non-transactional");
    let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("deliberate failure"), "{err}");
    assert!(err.contains(&format!("completed before the failure: a {FIRST}")), "{err}");
    if !transactional_ddl() {
        assert!(err.contains("marked dirty"), "{err}");
        assert_eq!(project.ledger(), [format!("a {FIRST}"), format!("a {SECOND}")]);
        assert_eq!(project.dirty(), [format!("a {SECOND}")]);
        assert_dirty_blocks_runs(&project, SECOND);
        return;
    }
    assert_eq!(project.ledger(), [format!("a {FIRST}")]);
    let tables_after_first = project.tables();
    // Only the first migration's table and the ledger: the failed one left nothing.
    assert_eq!(tables_after_first.len(), 2, "{tables_after_first:?}");
}

#[test]
fn a_panicking_migration_reports_its_message_and_changes_nothing() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_panics"), "panicking");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("boom"), "{err}");
    assert!(err.contains(&format!("a {FIRST} forwards failed")), "{err}");
    if !transactional_ddl() {
        assert_eq!(project.dirty(), [format!("a {FIRST}")]);
        return;
    }
    assert!(project.ledger().is_empty());
    assert_eq!(project.tables(), ["wasmig_migrations"]);
}

#[test]
fn typed_values_round_trip_through_the_database_handle() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    project.wasmig().args(["backwards", "a", "-y"]).assert().success();
    assert_eq!(project.tables(), ["wasmig_migrations"]);
}

#[test]
fn a_non_transactional_migration_says_so() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_outside"), "non-transactional");
    project
        .wasmig()
        .args(["forwards", "a"])
        .assert()
        .success()
        .stderr(contains("(non-transactional)"));
    assert_eq!(project.ledger(), [format!("a {FIRST}")]);
    project.wasmig().args(["backwards", "a", "-y"]).assert().success();
    assert!(project.ledger().is_empty());
}

#[test]
fn backwards_all_apps_stops_at_the_first_failing_app() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    project.install_guest("b", &format!("{SECOND}_two_tables"), "failing-backwards");
    project.wasmig().args(["forwards", "all"]).assert().success();
    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "all", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("b {SECOND} backwards failed")),
        "{}",
        stderr(&output)
    );
    if !transactional_ddl() {
        // b's half-done reversal stays, marked dirty; a was not touched.
        assert_eq!(project.ledger(), [format!("a {FIRST}"), format!("b {SECOND}")]);
        assert_eq!(project.dirty(), [format!("b {SECOND}")]);
        assert!(project.tables().contains(&"typed_values".to_string()));
        return;
    }
    assert_eq!(project.snapshot(), before, "app a was not reversed after b failed");
}

#[test]
fn a_badly_named_component_file_is_an_error_naming_it() {
    let project = project();
    project.install_guest("a", "create_things", "typed-values");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("app a:")
            && err.contains("create_things.wasm")
            && err.contains("<ID>_<slug>.wasm"),
        "{err}"
    );
}

#[test]
fn backwards_refuses_when_an_applied_migrations_file_is_missing() {
    // Without the components stored in the database, the file is what runs.
    let project = TestProject::empty(&format!("{CONFIG}\n[history]\nstore_artefacts = false\n"));
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    let second = project.install_guest("a", &format!("{SECOND}_outside"), "non-transactional");
    project.wasmig().args(["forwards", "a"]).assert().success();
    std::fs::remove_file(second).unwrap();
    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "a", "all", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("component file missing for applied migration(s) {SECOND}")),
        "{err}"
    );
    assert_eq!(project.snapshot(), before);
}

#[test]
fn unknown_apps_config_errors_and_usage_errors() {
    let project = project();
    project
        .wasmig()
        .args(["forwards", "nope"])
        .assert()
        .code(1)
        .stderr(contains("unknown app `nope` (apps: a, b)"));
    project
        .wasmig()
        .args(["check", "nope"])
        .assert()
        .code(1)
        .stderr(contains("unknown app `nope`"));
    project.wasmig().args(["frobnicate"]).assert().code(2);
    project.wasmig().args(["forwards"]).assert().code(2);
    project.wasmig().args(["check", "--format", "xml"]).assert().code(2);

    project
        .wasmig()
        .args(["--config", "missing.toml", "check"])
        .assert()
        .code(1)
        .stderr(contains("missing.toml: cannot read config"));
    std::fs::write(
        project.path().join("cycle.toml"),
        "[apps.x]\nmigrations = \"x\"\ndepends_on = [\"x\"]\n",
    )
    .unwrap();
    project
        .wasmig()
        .args(["--config", "cycle.toml", "check"])
        .assert()
        .code(1)
        .stderr(contains("dependency cycle"));
}

#[test]
fn database_url_comes_from_the_flag_then_the_environment_then_the_file() {
    if backend() != Backend::Sqlite {
        eprintln!(
            "skipped on {:?}: this test is about SQLite files; it runs in the SQLite pass",
            backend()
        );
        return;
    }
    let project = project();
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    let env_db = project.path().join("env.db");
    let flag_db = project.path().join("flag.db");
    project
        .wasmig()
        .env("DATABASE_URL", format!("sqlite://{}", env_db.display()))
        .args(["forwards", "a"])
        .assert()
        .success();
    assert!(env_db.exists() && project.untouched());
    project
        .wasmig()
        .env("DATABASE_URL", format!("sqlite://{}", env_db.display()))
        .args(["--database-url", &format!("sqlite://{}", flag_db.display()), "forwards", "a"])
        .assert()
        .success();
    assert!(flag_db.exists() && project.untouched());
    project
        .wasmig()
        .args(["--database-url", "oracle://x", "check"])
        .assert()
        .code(1)
        .stderr(contains("unsupported database URL"));
}

/// A dirty migration blocks forwards and backwards, shows in `check`, and `resolve` settles it.
fn assert_dirty_blocks_runs(project: &TestProject, id: &str) {
    for args in [&["forwards", "all"][..], &["backwards", "a", "-y"][..]] {
        let output = project.wasmig().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = stderr(&output);
        assert!(err.contains(&format!("app a: migration {id} is dirty")), "{err}");
        assert!(err.contains(&format!("wasmig resolve a {id} --applied")), "{err}");
    }
    let output = project.wasmig().args(["check", "--format", "json"]).output().unwrap();
    let statuses: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let dirty: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["dirty"] == true)
        .map(|s| s["migration_id"].as_str().unwrap())
        .collect();
    assert_eq!(dirty, [id]);
    project.wasmig().args(["check", "--fail-on-pending"]).assert().code(1);

    project.wasmig().args(["resolve", "a", id, "--applied", "-y"]).assert().success();
    assert!(project.dirty().is_empty());
    project
        .wasmig()
        .args(["resolve", "a", id, "--applied", "-y"])
        .assert()
        .code(1)
        .stderr(contains("is not dirty"));
}

#[test]
fn a_failing_non_transactional_migration_is_left_dirty_until_resolved() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_half"), "failing-non-transactional");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("failed after creating half_done"), "{err}");
    assert!(err.contains("marked dirty"), "{err}");
    assert_eq!(project.dirty(), [format!("a {FIRST}")]);
    assert!(project.tables().contains(&"half_done".to_string()));
    assert_dirty_blocks_runs(&project, FIRST);
    assert_eq!(project.ledger(), [format!("a {FIRST}")], "resolved as applied");
}

#[test]
fn resolving_a_dirty_migration_as_reversed_makes_it_pending_again() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_half"), "failing-non-transactional");
    project.wasmig().args(["forwards", "a"]).assert().code(1);
    // The user repairs the schema by undoing the half-done change...
    project.execute("DROP TABLE half_done");
    project
        .wasmig()
        .args(["resolve", "a", FIRST, "--reversed"])
        .write_stdin("n\n")
        .assert()
        .code(1);
    assert_eq!(project.dirty(), [format!("a {FIRST}")]);
    project.wasmig().args(["resolve", "a", FIRST, "--reversed", "-y"]).assert().success();
    assert!(project.ledger().is_empty());
    // ...and the migration is pending again.
    project.wasmig().args(["check", "--fail-on-pending"]).assert().code(1);
    project.wasmig().args(["resolve", "a", FIRST]).assert().code(2);
}

#[test]
fn a_failed_statement_is_a_value_the_migration_may_recover_from() {
    let project = project();
    project.install_guest("a", &format!("{FIRST}_recovering"), "recovering");
    let output = project.wasmig().args(["forwards", "a"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(project.query("SELECT id FROM recovered"), [["1"]]);
    assert_eq!(project.ledger(), [format!("a {FIRST}")]);
}
