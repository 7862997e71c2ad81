use predicates::str::contains;

use crate::support::{TestProject, sample_ids, stderr, stdout};

#[test]
fn forwards_all_applies_every_app_in_dependency_order() {
    let project = TestProject::sample();
    let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "progress goes to stderr");

    let expected: Vec<String> = sample_ids("auth")
        .iter()
        .map(|id| format!("auth {id}"))
        .chain(sample_ids("blog").iter().map(|id| format!("blog {id}")))
        .collect();
    assert_eq!(project.ledger(), expected);
    let err = stderr(&output);
    let first_blog = err.find("applied blog").expect("blog applied");
    let last_auth = err.rfind("applied auth").expect("auth applied");
    assert!(last_auth < first_blog, "{err}");
    assert!(project.tables().contains(&"users".to_string()), "{:?}", project.tables());
    assert!(project.tables().contains(&"posts".to_string()), "{:?}", project.tables());

    // Nothing left: a second run changes nothing and says so.
    let before = project.snapshot();
    project
        .wasmig()
        .args(["forwards", "all"])
        .assert()
        .success()
        .stderr(contains("no migrations to run"));
    assert_eq!(project.snapshot(), before);
}

#[test]
fn forwards_one_applies_only_the_next_pending_migration() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    project.wasmig().args(["forwards", "auth", "1"]).assert().success();
    assert_eq!(project.ledger(), [format!("auth {}", auth[0])]);
    project.wasmig().args(["forwards", "auth", "1"]).assert().success();
    assert_eq!(project.ledger(), [format!("auth {}", auth[0]), format!("auth {}", auth[1])]);
}

#[test]
fn forwards_to_an_id_applies_up_to_and_including_it() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    let blog = sample_ids("blog");
    project.wasmig().args(["forwards", "auth"]).assert().success();
    project.wasmig().args(["forwards", "blog", &blog[1]]).assert().success();
    let ledger = project.ledger();
    assert_eq!(ledger.len(), auth.len() + 2);
    assert_eq!(ledger[auth.len()..], [format!("blog {}", blog[0]), format!("blog {}", blog[1])]);
}

#[test]
fn forwards_to_an_applied_id_reports_it_and_succeeds() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    project.wasmig().args(["forwards", "auth"]).assert().success();
    let before = project.snapshot();
    project
        .wasmig()
        .args(["forwards", "auth", &auth[0]])
        .assert()
        .success()
        .stderr(contains(format!("migration {} has already run", auth[0])));
    assert_eq!(project.snapshot(), before);
}

#[test]
fn forwards_to_an_unknown_id_fails_even_when_nothing_is_pending() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth"]).assert().success();
    let before = project.snapshot();
    let output = project.wasmig().args(["forwards", "auth", "20991231000000"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("app auth: unknown migration ID 20991231000000; valid IDs: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear error line: {err}");
    assert_eq!(project.snapshot(), before);
}

#[test]
fn forwards_rejects_a_malformed_target_and_an_id_for_all_apps() {
    let project = TestProject::sample();
    project
        .wasmig()
        .args(["forwards", "auth", "latest"])
        .assert()
        .code(1)
        .stderr(contains("not a migration target"));
    project
        .wasmig()
        .args(["forwards", "all", "1"])
        .assert()
        .code(1)
        .stderr(contains("needs a single app"));
    assert!(project.ledger().is_empty());
}

#[test]
fn fake_records_without_running_and_asks_first_for_several() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");

    project
        .wasmig()
        .args(["forwards", "auth", "--fake"])
        .write_stdin("n\n")
        .assert()
        .code(1)
        .stderr(contains("not proceeding"));
    assert!(project.ledger().is_empty());

    project
        .wasmig()
        .args(["forwards", "auth", "--fake"])
        .write_stdin("y\n")
        .assert()
        .success()
        .stderr(contains(format!("Fake {} migration(s) of auth? [y/N]", auth.len())));
    assert_eq!(project.ledger().len(), auth.len());
    assert!(!project.tables().contains(&"users".to_string()), "fake must not run the migration");
}

#[test]
fn fake_of_one_migration_needs_no_prompt() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth", "1", "--fake"]).assert().success();
    assert_eq!(project.ledger().len(), 1);
}

#[test]
fn preview_prints_the_sql_and_changes_nothing() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    let output = project.wasmig().args(["forwards", "auth", "--preview"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sql = stdout(&output);
    for id in &auth {
        assert!(sql.contains(&format!("-- auth {id} forwards: ")), "{sql}");
    }
    assert!(sql.contains("CREATE TABLE"), "{sql}");
    // Every migration's section is a header comment followed by statements ending in `;`.
    for section in sql.split("-- auth ").skip(1) {
        let (_, body) = section.split_once('\n').unwrap();
        assert!(body.trim().is_empty() || body.trim_end().ends_with(';'), "{section}");
    }
    assert!(sql.starts_with("-- auth "), "{sql}");
    assert!(project.untouched(), "preview must not even create the database");

    // The same preview twice is byte-identical.
    let again = project.wasmig().args(["forwards", "auth", "--preview"]).output().unwrap();
    assert_eq!(stdout(&again), sql);
}

#[test]
fn preview_with_an_existing_database_creates_no_ledger() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth", "1", "--fake"]).assert().success();
    // Drop the ledger the fake created, leaving an existing but ledger-less database.
    let url = project.database_url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conn = wasmig::backend::Connection::open(&url, wasmig::backend::Access::ReadWrite)
            .await
            .unwrap();
        conn.execute("DROP TABLE wasmig_migrations", &[]).await.unwrap();
        conn.close().await;
    });
    project.wasmig().args(["forwards", "all", "--preview"]).assert().success();
    assert!(project.tables().is_empty(), "{:?}", project.tables());
}
