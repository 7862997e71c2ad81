use std::process::Stdio;

use predicates::str::contains;

use crate::support::{TestProject, sample_ids, stderr, stdout};

fn applied() -> TestProject {
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "all"]).assert().success();
    project
}

fn ledger_of(project: &TestProject, app: &str) -> Vec<String> {
    project.ledger().into_iter().filter(|row| row.starts_with(&format!("{app} "))).collect()
}

#[test]
fn backwards_defaults_to_the_most_recently_applied_migration() {
    let project = applied();
    let blog = sample_ids("blog");
    let output = project.wasmig().args(["backwards", "blog", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let expected: Vec<String> =
        blog[..blog.len() - 1].iter().map(|id| format!("blog {id}")).collect();
    assert_eq!(ledger_of(&project, "blog"), expected);
    assert_eq!(ledger_of(&project, "auth").len(), sample_ids("auth").len(), "other app untouched");
    assert!(stderr(&output).contains(&format!("reversed blog {}", blog.last().unwrap())));
}

#[test]
fn backwards_follows_run_order_not_id_order() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    // Apply (as fakes) every auth migration but the first, then the first: its ID is the
    // smallest but it ran last.
    let first = project.component("auth", &auth[0]);
    let aside = project.path().join("aside.wasm");
    std::fs::rename(&first, &aside).unwrap();
    project.wasmig().args(["forwards", "auth", "--fake", "-y"]).assert().success();
    std::fs::rename(&aside, &first).unwrap();
    project.wasmig().args(["forwards", "auth", "--fake"]).assert().success();
    assert_eq!(project.ledger().last().unwrap(), &format!("auth {}", auth[0]));

    let output = project.wasmig().args(["backwards", "auth", "--preview"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sql = stdout(&output);
    assert!(sql.starts_with(&format!("-- auth {} backwards: ", auth[0])), "{sql}");
    assert_eq!(sql.matches("-- auth ").count(), 1, "{sql}");
}

#[test]
fn backwards_all_reverses_every_applied_migration_of_the_app_newest_first() {
    let project = applied();
    let blog = sample_ids("blog");
    let output = project.wasmig().args(["backwards", "blog", "all", "-y"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(ledger_of(&project, "blog").is_empty());
    assert!(!project.tables().contains(&"posts".to_string()), "{:?}", project.tables());
    assert!(project.tables().contains(&"users".to_string()));
    let err = stderr(&output);
    let positions: Vec<usize> =
        blog.iter().map(|id| err.find(&format!("reversed blog {id}")).expect("reversed")).collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "newest first: {err}");
}

#[test]
fn backwards_to_an_id_reverses_it_and_everything_applied_after() {
    let project = applied();
    let blog = sample_ids("blog");
    project.wasmig().args(["backwards", "blog", &blog[1], "-y"]).assert().success();
    assert_eq!(ledger_of(&project, "blog"), [format!("blog {}", blog[0])]);
}

#[test]
fn backwards_to_an_unapplied_id_lists_the_valid_ones_and_changes_nothing() {
    let project = TestProject::sample();
    let auth = sample_ids("auth");
    project.wasmig().args(["forwards", "auth", "1"]).assert().success();
    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "auth", &auth[1], "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!(
            "migration {} has not been applied; applied IDs: {}",
            auth[1], auth[0]
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(project.snapshot(), before);
}

#[test]
fn backwards_with_nothing_applied_succeeds() {
    let project = TestProject::sample();
    project
        .wasmig()
        .args(["backwards", "auth"])
        .assert()
        .success()
        .stderr(contains("no migrations to reverse"));
    project
        .wasmig()
        .args(["backwards", "all"])
        .assert()
        .success()
        .stderr(contains("no migrations to reverse"));
}

#[test]
fn declining_the_prompt_changes_nothing() {
    let project = applied();
    let before = project.snapshot();
    for answer in ["n\n", "\n", "", "nope\n", "yess\n"] {
        let output =
            project.wasmig().args(["backwards", "blog"]).write_stdin(answer).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "answer {answer:?}");
        let err = stderr(&output);
        assert!(err.contains("Reverse 1 migration(s) of blog? [y/N]"), "{err}");
        assert!(err.contains("not proceeding"), "{err}");
        assert_eq!(project.snapshot(), before, "answer {answer:?}");
    }
    // End of input without a single byte (stdin closed).
    let output =
        project.wasmig_std().args(["backwards", "blog"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not proceeding"));
    assert_eq!(project.snapshot(), before);
}

#[test]
fn yes_in_any_case_confirms() {
    let project = applied();
    let blog = sample_ids("blog").len();
    for (i, answer) in ["y\n", "YES\n", " Yes \n"].iter().enumerate() {
        project.wasmig().args(["backwards", "blog"]).write_stdin(*answer).assert().success();
        assert_eq!(ledger_of(&project, "blog").len(), blog - i - 1, "answer {answer:?}");
    }
}

#[test]
fn clean_deletes_the_component_files_of_reversed_migrations() {
    let project = applied();
    let blog = sample_ids("blog");
    let last = project.component("blog", blog.last().unwrap());
    let first = project.component("blog", &blog[0]);
    project.wasmig().args(["backwards", "blog", "--clean", "-y"]).assert().success();
    assert!(!last.exists(), "reversed migration's file deleted");
    assert!(first.exists(), "others kept");
}

#[test]
fn preview_prints_backwards_sql_newest_first_and_touches_nothing() {
    let project = applied();
    let blog = sample_ids("blog");
    let before = project.snapshot();
    let files_before = std::fs::read_dir(project.app_dir("blog")).unwrap().count();
    let output = project
        .wasmig()
        .args(["backwards", "blog", "all", "--preview", "--clean"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sql = stdout(&output);
    let positions: Vec<usize> = blog
        .iter()
        .map(|id| {
            sql.find(&format!("-- blog {id} backwards: "))
                .unwrap_or_else(|| panic!("{id} in {sql}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "newest first: {sql}");
    assert!(sql.contains("DROP TABLE"), "{sql}");
    assert!(!stderr(&output).contains("[y/N]"), "preview needs no prompt");
    assert_eq!(project.snapshot(), before);
    assert_eq!(std::fs::read_dir(project.app_dir("blog")).unwrap().count(), files_before);
}

#[test]
fn backwards_all_apps_reverses_in_reverse_app_order_after_one_prompt() {
    let project = applied();
    let (auth, blog) = (sample_ids("auth").len(), sample_ids("blog").len());
    let comments = sample_ids("comments").len();
    let (apps, counts) = if comments > 0 {
        (3, format!("comments: {comments}, blog: {blog}, auth: {auth}"))
    } else {
        (2, format!("blog: {blog}, auth: {auth}"))
    };

    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "all"]).write_stdin("n\n").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "Reverse {} migration(s) of {apps} apps ({counts})? [y/N]",
            auth + blog + comments
        )),
        "{err}"
    );
    assert_eq!(project.snapshot(), before);

    let output = project.wasmig().args(["backwards", "all"]).write_stdin("y\n").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.matches("[y/N]").count(), 1, "one prompt: {err}");
    assert!(err.rfind("reversed blog").unwrap() < err.find("reversed auth").unwrap(), "{err}");
    assert!(project.ledger().is_empty());
    assert_eq!(project.tables(), ["wasmig_migrations"]);
}

#[test]
fn backwards_all_apps_refuses_a_specific_id() {
    let project = applied();
    let before = project.snapshot();
    let id = sample_ids("auth")[0].clone();
    for target in [id.as_str(), "1"] {
        let output = project.wasmig().args(["backwards", "all", target, "-y"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains("use `all`"), "{}", stderr(&output));
    }
    assert_eq!(project.snapshot(), before);
}

#[test]
fn backwards_all_apps_validates_every_app_before_changing_anything() {
    let project = applied();
    // blog is reversed first; its newest migration's file no longer holds what was
    // applied, so nothing happens.
    let blog = sample_ids("blog");
    let broken = project.component("blog", blog.last().unwrap());
    std::fs::write(&broken, b"\0asm garbage").unwrap();
    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "all", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(&format!("blog {} (applied sha256", blog.last().unwrap())), "{err}");
    assert_eq!(project.snapshot(), before, "validated before changing anything");
}

#[test]
fn backwards_all_apps_preview_covers_every_app_in_reverse_order_and_deletes_nothing() {
    let project = applied();
    let before = project.snapshot();
    let files_before: usize = crate::support::SAMPLE_APPS
        .iter()
        .map(|app| std::fs::read_dir(project.app_dir(app)).unwrap().count())
        .sum();
    let output =
        project.wasmig().args(["backwards", "all", "--preview", "--clean"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sql = stdout(&output);
    assert_eq!(sql.matches(" backwards: ").count(), crate::support::sample_total(), "{sql}");
    let last_blog = sql.rfind("-- blog ").unwrap();
    let first_auth = sql.find("-- auth ").unwrap();
    assert!(last_blog < first_auth, "blog (the dependent app) first: {sql}");
    assert!(!stderr(&output).contains("[y/N]"));
    assert_eq!(project.snapshot(), before);
    let files_after: usize = crate::support::SAMPLE_APPS
        .iter()
        .map(|app| std::fs::read_dir(project.app_dir(app)).unwrap().count())
        .sum();
    assert_eq!(files_after, files_before);
}
