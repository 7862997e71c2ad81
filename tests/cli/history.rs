//! History you can trust: a changed applied file is refused, `check` tells each
//! migration's state, and `--dry-run` and `--atomic` run a selection in one transaction.

use crate::support::{
    Backend, TestProject, backend, sample_ids, stderr, stdout, transactional_ddl,
};

fn applied() -> TestProject {
    let project = TestProject::sample_rust();
    project.wasmig().args(["forwards", "all"]).assert().success();
    project
}

/// Copies the component of `from` over the file of `over` (both blog migrations).
fn swap(project: &TestProject, from: &str, over: &str) {
    let bytes = std::fs::read(project.component("blog", from)).unwrap();
    std::fs::write(project.component("blog", over), bytes).unwrap();
}

fn error_line(output: &std::process::Output) -> String {
    stderr(output).lines().find(|l| l.starts_with("error: ")).unwrap_or_default().to_string()
}

#[test]
fn forwards_and_backwards_refuse_a_changed_applied_file_naming_both_checksums() {
    let project = applied();
    let blog = sample_ids("blog");
    let (first, last) = (&blog[0], blog.last().unwrap());
    swap(&project, last, first);
    let before = project.snapshot();
    for args in [vec!["forwards", "all"], vec!["backwards", "blog", "all", "-y"]] {
        let output = project.wasmig().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        let error = error_line(&output);
        assert!(error.contains("changed since they were applied"), "{error}");
        assert!(error.contains(&format!("blog {first} (applied sha256 ")), "{error}");
        assert!(error.contains("file sha256 "), "{error}");
        assert!(error.contains("--allow-changed"), "{error}");
        assert_eq!(project.snapshot(), before, "{args:?} changed something");
    }
    // JSON names the kind.
    let output = project.wasmig().args(["--format", "json", "forwards", "all"]).output().unwrap();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["kind"], "changed");
    // Allowed, it goes on with a warning: the last blog migration is reversed.
    let output =
        project.wasmig().args(["backwards", "blog", "-y", "--allow-changed"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: "), "{}", stderr(&output));
    assert!(!project.ledger().contains(&format!("blog {last}")));
}

#[test]
fn check_tells_applied_pending_changed_and_missing() {
    let project = applied();
    let blog = sample_ids("blog");
    project.wasmig().args(["backwards", "blog", "-y"]).assert().success();
    // blog: first changed, second missing, last pending, the rest applied.
    swap(&project, blog.last().unwrap(), &blog[0]);
    let gone = project.component("blog", &blog[1]);
    std::fs::remove_file(&gone).unwrap();
    let output = project.wasmig().args(["check", "blog", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let states: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["migration_id"].as_str().unwrap().into(), r["state"].as_str().unwrap().into()))
        .collect();
    let mut expected: Vec<(String, String)> =
        blog.iter().map(|id| (id.clone(), "applied".to_string())).collect();
    expected[0].1 = "changed".into();
    expected[1].1 = "missing".into();
    expected.last_mut().unwrap().1 = "pending".into();
    assert_eq!(states, expected);
    let missing = &rows[1];
    assert_eq!(missing["has_ran"], true);
    assert!(!missing["description"].as_str().unwrap().is_empty(), "from the ledger");

    let output = project.wasmig().args(["check", "blog"]).output().unwrap();
    let table = stdout(&output);
    assert!(
        table.contains("state") && table.contains("changed") && table.contains("missing"),
        "{table}"
    );

    // Gating CI: changed and missing fail as pending does.
    project.wasmig().args(["forwards", "blog", "--allow-changed"]).assert().success();
    let output = project.wasmig().args(["check", "blog", "--fail-on-pending"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("2 migration(s) pending"), "{}", stderr(&output));
}

/// A project with the sample auth app applied and blog pending.
fn auth_applied() -> TestProject {
    let project = TestProject::sample_rust();
    project.wasmig().args(["forwards", "auth"]).assert().success();
    project
}

#[test]
fn dry_run_runs_everything_and_leaves_schema_and_ledger_as_they_were() {
    let project = auth_applied();
    let dry_run = |args: &[&str]| {
        let before = project.snapshot();
        let output = project.wasmig().args(args).output().unwrap();
        if !transactional_ddl() {
            assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
            assert!(
                error_line(&output).contains("--dry-run needs one transaction"),
                "{}",
                stderr(&output)
            );
            assert!(error_line(&output).contains("mysql commits each DDL"), "{}", stderr(&output));
        } else {
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            let err = stderr(&output);
            assert!(err.contains("(dry run)"), "{err}");
            assert!(err.contains("rolled back; nothing changed"), "{err}");
        }
        assert_eq!(project.snapshot(), before, "{args:?} changed something");
    };
    dry_run(&["forwards", "blog", "--dry-run"]);
    project.wasmig().args(["forwards", "blog"]).assert().success();
    dry_run(&["backwards", "blog", "all", "-y", "--dry-run"]);
    project.wasmig().args(["backwards", "blog", "all", "-y"]).assert().success();
    let output = project
        .wasmig()
        .args(["--format", "json", "forwards", "blog", "--dry-run"])
        .output()
        .unwrap();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    if transactional_ddl() {
        assert_eq!(document["batch"], "dry_run");
        let outcomes: Vec<&str> = document["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, vec!["rolled_back"; sample_ids("blog").len()]);
    }
}

#[test]
fn atomic_applies_a_batch_whole_or_not_at_all() {
    let project = auth_applied();
    let before = project.snapshot();
    // The last blog migration fails: nothing of the batch stays.
    let blog = sample_ids("blog");
    let last = project.component("blog", blog.last().unwrap());
    let failing = &crate::support::components().guests["failing-forwards"];
    std::fs::copy(failing, &last).unwrap();
    let output = project.wasmig().args(["forwards", "blog", "--atomic"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    if transactional_ddl() {
        assert!(stderr(&output).contains("the whole batch was rolled back"), "{}", stderr(&output));
    } else {
        assert!(
            error_line(&output).contains("--atomic needs one transaction"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(project.snapshot(), before, "part of the batch stayed");

    if !transactional_ddl() {
        return;
    }
    // Without the failing one, the whole batch commits.
    std::fs::remove_file(&last).unwrap();
    let output = project.wasmig().args(["forwards", "blog", "--atomic"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        project.ledger().iter().filter(|row| row.starts_with("blog ")).count(),
        blog.len() - 1
    );
}

#[test]
fn atomic_refuses_a_non_transactional_migration_in_range() {
    if backend() == Backend::Mysql {
        return;
    }
    let project = auth_applied();
    project.wasmig().args(["backwards", "auth", "all", "-y"]).assert().success();
    let before = project.snapshot();
    let output = project.wasmig().args(["forwards", "auth", "--atomic"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = error_line(&output);
    assert!(error.contains("runs outside a transaction"), "{error}");
    assert!(error.contains(&format!("app auth migration {}", sample_ids("auth")[2])), "{error}");
    assert_eq!(project.snapshot(), before);
}

/// The schema and ledger of a sample project with only auth applied: what reversing all of
/// blog must come back to.
fn auth_only_snapshot() -> Vec<Vec<String>> {
    auth_applied().snapshot()
}

#[test]
fn backwards_runs_the_stored_component_when_the_file_is_gone() {
    let project = applied();
    let blog = sample_ids("blog");
    let stored = project.query("SELECT count(*) FROM wasmig_artefacts");
    let distinct = sample_ids("auth").len() + blog.len();
    assert_eq!(stored, [[distinct.to_string()]], "one stored component per migration");
    // What a rollback to an older release looks like: the newer files are gone.
    for id in &blog {
        std::fs::remove_file(project.component("blog", id)).unwrap();
    }
    let output = project.wasmig().args(["backwards", "blog", "all", "-y"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("its file is gone; ran the component stored when it was applied"),
        "{err}"
    );
    assert_eq!(strip_ids(project.snapshot()), strip_ids(auth_only_snapshot()));
    // Their stored components went with their rows.
    let stored = project.query("SELECT count(*) FROM wasmig_artefacts");
    assert_eq!(stored, [[sample_ids("auth").len().to_string()]]);
}

#[test]
fn backwards_with_allow_changed_runs_what_was_applied_and_says_so() {
    let project = applied();
    let blog = sample_ids("blog");
    let (seed, slugs) = (&blog[2], blog.last().unwrap());
    // Another migration's component over the applied one (the fault this guards against:
    // the seed's backwards would delete tags a still-applied migration inserted).
    swap(&project, seed, slugs);
    let output =
        project.wasmig().args(["backwards", "blog", "-y", "--allow-changed"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(&format!("migration {slugs}: its file changed; ran the component stored")),
        "{err}"
    );
    // The applied slugs migration was reversed: its column is gone, the seeded tags stay.
    // Each test has a database of its own on a shared server: only this one's `posts`.
    let columns = match backend() {
        Backend::Sqlite => project.query("SELECT name FROM pragma_table_info('posts')"),
        Backend::Postgres => project.query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'posts'",
        ),
        Backend::Mysql => project.query(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = 'posts'",
        ),
    };
    assert!(columns.iter().any(|c| c[0] == "title"), "{columns:?}");
    assert!(!columns.iter().any(|c| c[0] == "slug"), "{columns:?}");
    assert_ne!(project.query("SELECT count(*) FROM tags"), [["0"]], "the seeded tags stay");
}

#[test]
fn without_stored_components_a_missing_file_is_still_refused() {
    let project = TestProject::sample_rust();
    let config = project.path().join("wasmig.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[history]\nstore_artefacts = false\n")).unwrap();
    project.wasmig().args(["forwards", "all"]).assert().success();
    assert_eq!(project.query("SELECT count(*) FROM wasmig_artefacts"), [["0"]]);
    let last = sample_ids("blog").last().unwrap().clone();
    std::fs::remove_file(project.component("blog", &last)).unwrap();
    let before = project.snapshot();
    let output = project.wasmig().args(["backwards", "blog", "-y"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(error_line(&output).contains("component file missing"), "{}", stderr(&output));
    assert_eq!(project.snapshot(), before);
}

/// A snapshot without the ledger's run-order keys, which differ between projects.
fn strip_ids(snapshot: Vec<Vec<String>>) -> Vec<Vec<String>> {
    snapshot
        .into_iter()
        .map(
            |row| {
                if row.len() == 5 && row[0].parse::<i64>().is_ok() {
                    row[1..].to_vec()
                } else {
                    row
                }
            },
        )
        .collect()
}

#[test]
fn verify_proves_the_sample_project_reversible_on_a_scratch_database() {
    // Every app, the Python and JavaScript ones too.
    let project = TestProject::sample();
    let output = project.wasmig().args(["verify"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let total = crate::support::components().samples.len();
    assert!(err.contains(&format!("verified {total} migration(s) on ")), "{err}");
    for id in sample_ids("blog") {
        assert!(err.contains(&format!("verified blog {id}: ")), "{err}");
    }
    assert!(project.untouched(), "verify touched the target database");
}

#[test]
fn verify_names_the_migration_whose_backwards_forgets_an_index_with_a_diff() {
    let project = TestProject::empty("[apps.a]\nmigrations = \"migrations/a\"\n");
    project.install_guest("a", "20240101000000_typed_values", "typed-values");
    project.install_guest("a", "20240102000000_forgets_index", "forgets-index");
    let output = project.wasmig().args(["verify", "a"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("verified a 20240101000000: "), "{err}");
    let error = error_line(&output);
    assert!(
        error.contains("app a migration 20240102000000: its backwards did not restore the schema"),
        "{err}"
    );
    let diff: Vec<&str> = err.lines().filter(|l| l.starts_with("  + ")).collect();
    assert!(!diff.is_empty() && diff.iter().all(|l| l.contains("typed_values_integer")), "{err}");
    assert!(project.untouched(), "verify touched the target database");

    let output = project.wasmig().args(["--format", "json", "verify", "a"]).output().unwrap();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["success"], false);
    assert_eq!(document["error"]["kind"], "not_reversible");
    assert_eq!(document["failure"]["stage"], "backwards");
    assert_eq!(document["failure"]["migration_id"], "20240102000000");
    assert_eq!(document["verified"].as_array().unwrap().len(), 1);
}
