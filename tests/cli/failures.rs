use predicates::str::contains;

use crate::support::{TestProject, components, stderr};

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
    assert_eq!(project.snapshot(), before, "app a was not reversed after b failed");
}

#[test]
fn invalid_components_fail_the_run_before_anything_changes() {
    let real = std::fs::read(&components().guests["typed-values"]).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("random bytes", b"these are not wasm bytes".to_vec(), "not a WebAssembly component"),
        ("core module", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        ("truncated", real[..real.len() / 2].to_vec(), "invalid component"),
        ("empty", Vec::new(), "not a WebAssembly component"),
    ];
    for (case, bytes, expected) in cases {
        let project = project();
        project.install_guest("a", &format!("{FIRST}_fine"), "typed-values");
        let bad = project.write_file("a", &format!("{SECOND}_bad.wasm"), &bytes);
        let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{case}");
        let err = stderr(&output);
        assert!(
            err.contains(&format!("app a migration {SECOND} ({})", bad.display())),
            "{case}: {err}"
        );
        assert!(err.contains(expected), "{case}: {err}");
        assert_eq!(err.lines().count(), 1, "{case}: one error line: {err}");
        assert!(project.ledger().is_empty(), "{case}");
        assert!(project.tables().is_empty(), "{case}: {:?}", project.tables());
    }
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
    let project = project();
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
    assert!(env_db.exists() && !project.database_exists());
    project
        .wasmig()
        .env("DATABASE_URL", format!("sqlite://{}", env_db.display()))
        .args(["--database-url", &format!("sqlite://{}", flag_db.display()), "forwards", "a"])
        .assert()
        .success();
    assert!(flag_db.exists() && !project.database_exists());
    project
        .wasmig()
        .args(["--database-url", "oracle://x", "check"])
        .assert()
        .code(1)
        .stderr(contains("unsupported database URL"));
}
