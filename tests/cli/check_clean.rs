use predicates::str::contains;

use crate::support::{TestProject, sample_ids, stderr, stdout};

#[test]
fn check_json_lists_every_file_in_app_then_id_order_with_the_contract_keys() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth"]).assert().success();
    let before = project.snapshot();
    let output = project.wasmig().args(["check", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let statuses: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let statuses = statuses.as_array().unwrap();
    let (auth, blog) = (sample_ids("auth"), sample_ids("blog"));
    let comments = sample_ids("comments");
    assert_eq!(statuses.len(), auth.len() + blog.len() + comments.len());
    for (i, status) in statuses.iter().enumerate() {
        let object = status.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort();
        // The four keys of the contract, and `dirty`.
        assert_eq!(keys, ["app_name", "description", "dirty", "has_ran", "migration_id", "state"]);
        assert_eq!(object["dirty"], false);
        let (app, id, ran) = if i < auth.len() {
            ("auth", &auth[i], true)
        } else if i < auth.len() + blog.len() {
            ("blog", &blog[i - auth.len()], false)
        } else {
            ("comments", &comments[i - auth.len() - blog.len()], false)
        };
        assert_eq!(object["app_name"], app);
        assert_eq!(object["migration_id"], id.as_str());
        assert_eq!(object["has_ran"], ran);
        assert!(!object["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(project.snapshot(), before, "check never changes the database");
}

#[test]
fn check_table_has_a_header_and_a_row_per_migration() {
    let project = TestProject::sample();
    let output = project.wasmig().args(["check", "blog"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    for header in ["app_name", "migration_id", "description", "has_ran"] {
        assert!(table.contains(header), "{table}");
    }
    for id in sample_ids("blog") {
        let row =
            table.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("{id} in {table}"));
        assert!(row.contains("blog") && row.contains("false"), "{row}");
    }
    assert!(!table.contains("auth"), "only the selected app: {table}");
    assert!(project.untouched(), "check creates nothing");
}

#[test]
fn check_can_fail_a_ci_job_while_migrations_are_pending() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth"]).assert().success();
    project.wasmig().args(["check", "--fail-on-pending"]).assert().code(1).stderr(contains(
        format!("{} migration(s) pending", sample_ids("blog").len() + sample_ids("comments").len()),
    ));
    project.wasmig().args(["check", "auth", "--fail-on-pending"]).assert().success();
    project.wasmig().args(["forwards", "all"]).assert().success();
    project.wasmig().args(["check", "--fail-on-pending"]).assert().success();
}

#[test]
fn clean_removes_only_that_apps_rows_without_files() {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "all"]).assert().success();
    let blog = sample_ids("blog");
    let gone = blog.last().unwrap();
    std::fs::remove_file(project.component("blog", gone)).unwrap();

    project
        .wasmig()
        .args(["check"])
        .assert()
        .success()
        .stderr(contains(format!("without a component file: {gone}")));
    project
        .wasmig()
        .args(["clean", "auth", "-y"])
        .assert()
        .success()
        .stderr(contains("no ledger rows"));

    let before = project.snapshot();
    project
        .wasmig()
        .args(["clean", "blog"])
        .write_stdin("\n")
        .assert()
        .code(1)
        .stderr(contains("not proceeding"));
    assert_eq!(project.snapshot(), before);

    let output = project.wasmig().args(["clean", "blog", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("blog {gone}\n"));
    let ledger = project.ledger();
    assert!(!ledger.contains(&format!("blog {gone}")));
    assert_eq!(ledger.len(), crate::support::sample_total() - 1);
}
