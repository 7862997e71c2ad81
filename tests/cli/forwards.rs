use predicates::str::contains;

use crate::support::{TestProject, sample_ids, stderr, stdout};

#[test]
fn forwards_all_applies_every_app_in_dependency_order() {
    let project = TestProject::sample();
    let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "progress goes to stderr");

    assert_eq!(project.ledger(), crate::support::sample_ledger());
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

/// Each line of a run names the migration and ends with its duration:
/// `applied auth 20240101090000: Create the users table (3.1 ms)`.
#[test]
fn each_applied_line_shows_its_duration() {
    let project = TestProject::sample();
    let output = project.wasmig().args(["forwards", "auth"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|line| line.starts_with("applied auth ")).collect();
    assert_eq!(lines.len(), sample_ids("auth").len(), "{err}");
    for line in lines {
        let (_, took) = line.rsplit_once(" (").unwrap_or_else(|| panic!("no duration: {line}"));
        let took = took.strip_suffix(')').unwrap();
        let (number, unit) = took.split_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(number.parse::<f64>().is_ok() && ["ms", "s"].contains(&unit), "{line}");
    }
    // Not a terminal: plain lines, no progress bar redrawn in place.
    assert!(!err.contains('\r') && !err.contains("\u{1b}["), "{err:?}");
}

/// On a terminal, a run of more than three migrations draws a progress bar on stderr;
/// `NO_COLOR` keeps it colourless. `script` (util-linux) gives the run a pseudo-terminal.
#[test]
fn a_progress_bar_is_drawn_only_on_a_terminal() {
    let project = TestProject::sample();
    let total = crate::support::sample_total();
    assert!(total > 3, "the sample project is large enough for a bar");
    let wasmig = assert_cmd::cargo::cargo_bin("wasmig");
    let command = format!("{} forwards all", wasmig.display());
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]).current_dir(project.path());
    script.env_remove("DATABASE_URL").env("NO_COLOR", "1").env("TERM", "xterm");
    if crate::support::backend() != crate::support::Backend::Sqlite {
        script.env("DATABASE_URL", project.database_url());
    }
    let output = script.output().expect("`script` from util-linux runs the pseudo-terminal");
    let screen = stdout(&output);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains(&format!("/{total}")), "a bar counting to {total}: {screen:?}");
    assert!(screen.contains(&format!("applied {total} migration(s)")), "{screen:?}");
    assert!(!screen.contains("\u{1b}[36m"), "NO_COLOR: no colour in {screen:?}");
    assert_eq!(project.ledger().len(), total);
}
