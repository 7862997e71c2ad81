//! The library API, used the way an embedding application would.

use wasmig::{
    BackwardsMigrationManager, CheckMigrationManager, Direction, Error, Failure,
    ForwardsMigrationManager, LimitHit, MigrationError, MigrationStatus, Outcome, Project,
    Resolution, Rollback, RunReport, Silent, StopKind, run_backwards,
};

use crate::support::{TestProject, sample_ids, stdout};

#[tokio::test(flavor = "current_thread")]
async fn managers_apply_check_and_reverse() {
    let test = TestProject::sample();
    let project = Project::load(&test.path().join("wasmig.toml"), None).unwrap();
    let (auth, blog) = (sample_ids("auth"), sample_ids("blog"));

    let result = ForwardsMigrationManager::new("all").run(&project).await;
    assert!(result.success, "{}", result.message);
    assert_eq!(result.message, format!("applied {} migration(s)", crate::support::sample_total()));

    let statuses =
        CheckMigrationManager::new("auth").get_migration_statuses(&project).await.unwrap();
    assert_eq!(statuses.len(), auth.len());
    assert!(statuses.iter().all(|s: &MigrationStatus| s.has_ran && s.app_name == "auth"));
    assert_eq!(statuses[0].migration_id, auth[0]);

    let mut manager = BackwardsMigrationManager::new("blog");
    manager.migration_id = Some("all".into());
    manager.auto_agree = true;
    let result = manager.run(&project).await;
    assert!(result.success, "{}", result.message);
    assert_eq!(result.message, format!("reversed {} migration(s)", blog.len()));

    let result = run_backwards(&project, "blog", Some("20991231000000"), true, false, false).await;
    assert!(!result.success);
    assert!(result.message.contains("has not been applied"), "{}", result.message);

    let statuses =
        CheckMigrationManager::new("all").get_migration_statuses(&project).await.unwrap();
    // comments (applied, depending on blog) stays: backwards reverses one app only.
    let comments = sample_ids("comments").len();
    assert_eq!(statuses.iter().filter(|s| s.has_ran).count(), auth.len() + comments);
}

const FIRST: &str = "20240101000000";
const SECOND: &str = "20240102000000";
const THIRD: &str = "20240103000000";

/// A project with app `a`: a good migration, then `guest` as the second, then a good one.
fn failing_project(guest: &str, limits: &str) -> (TestProject, Project) {
    let test = TestProject::empty(&format!("[apps.a]\nmigrations = \"migrations/a\"\n{limits}"));
    test.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    test.install_guest("a", &format!("{SECOND}_bad"), guest);
    test.install_guest("a", &format!("{THIRD}_never"), "typed-values");
    let url =
        (crate::support::backend() != crate::support::Backend::Sqlite).then(|| test.database_url());
    let project = Project::load(&test.path().join("wasmig.toml"), url).unwrap();
    (test, project)
}

/// The report of a failed forwards run: which completed, which failed, which were skipped.
fn assert_failed_second(report: &RunReport) -> &MigrationError {
    assert!(!report.success());
    let outcomes: Vec<(&str, Outcome)> =
        report.migrations.iter().map(|m| (m.migration_id.as_str(), m.outcome)).collect();
    assert_eq!(
        outcomes,
        [(FIRST, Outcome::Applied), (SECOND, Outcome::Failed), (THIRD, Outcome::Skipped)]
    );
    assert_eq!(report.completed().count(), 1);
    assert_eq!(report.failed_migration().unwrap().migration_id, SECOND);
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind(), "migration");
    let migration = error.migration().unwrap();
    assert_eq!((migration.app.as_str(), migration.id.as_str()), ("a", SECOND));
    assert_eq!(migration.direction, Direction::Forwards);
    assert_eq!(migration.rollback, Rollback::Done);
    assert!(
        report.summary().ends_with(&format!("completed before the failure: a {FIRST}")),
        "{}",
        report.summary()
    );
    migration
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_run_reports_what_completed_and_a_typed_error() {
    let (_test, project) = failing_project("failing-forwards", "");
    let report = ForwardsMigrationManager::new("a").run_with(&project, &Silent).await;
    let error = assert_failed_second(&report);
    assert_eq!(error.failure, Failure::Guest("deliberate failure".into()));

    let (_test, project) = failing_project("panicking", "");
    let report = ForwardsMigrationManager::new("a").run_with(&project, &Silent).await;
    let Failure::Stopped(stop) = &assert_failed_second(&report).failure else {
        panic!("{:?}", report.error)
    };
    assert_eq!(stop.kind, StopKind::Panic);
    assert!(stop.message.contains("boom"), "{}", stop.message);

    let (_test, project) =
        failing_project("hostile-statement-flood", "[limits]\nstatements = 50\n");
    let report = ForwardsMigrationManager::new("a").run_with(&project, &Silent).await;
    let Failure::Stopped(stop) = &assert_failed_second(&report).failure else {
        panic!("{:?}", report.error)
    };
    assert_eq!(stop.kind, StopKind::Limit(LimitHit::Statements { limit: 50 }));
}

#[tokio::test(flavor = "current_thread")]
async fn without_hooks_a_confirmation_is_declined_and_nothing_changes() {
    let test = TestProject::sample();
    let url =
        (crate::support::backend() != crate::support::Backend::Sqlite).then(|| test.database_url());
    let project = Project::load(&test.path().join("wasmig.toml"), url).unwrap();
    let applied = ForwardsMigrationManager::new("all").run_with(&project, &Silent).await;
    assert!(applied.success(), "{}", applied.summary());
    let before = test.snapshot();
    let report = BackwardsMigrationManager::new("blog").run_with(&project, &Silent).await;
    assert!(matches!(report.error, Some(Error::Declined)), "{:?}", report.error);
    assert!(report.migrations.is_empty());
    assert_eq!(test.snapshot(), before);
}

/// The library writes nothing to stdout or stderr and reads nothing from stdin: a child
/// process running every command through the API (successes, a failure, a declined
/// question, a preview) is watched from outside.
#[test]
fn the_library_prints_nothing() {
    let test = TestProject::sample();
    test.install_guest("blog", "29991231000000_fails", "failing-forwards");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "library::library_calls_in_a_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WASMIG_LIBRARY_CHILD", test.path())
        .env("WASMIG_LIBRARY_CHILD_URL", test.database_url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A library that read stdin would find a yes here.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"y\ny\ny\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let (out, err) = (stdout(&output), crate::support::stderr(&output));
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains("1 passed"), "the child ran the calls: {out}");
    // Everything the test harness itself prints, and nothing else.
    let harness = |line: &&str| {
        line.is_empty()
            || line.starts_with("running ")
            || line.starts_with("test ")
            || line.starts_with("test result:")
            || line.starts_with("successes:")
            || line.starts_with("    library::")
    };
    let foreign: Vec<&str> = out.lines().filter(|line| !harness(line)).collect();
    assert!(foreign.is_empty(), "printed on stdout: {foreign:?}");
    assert_eq!(err, "", "printed on stderr");
}

/// Run only as the child of [`the_library_prints_nothing`], which names the project.
#[test]
#[ignore = "run in a child process by the_library_prints_nothing"]
fn library_calls_in_a_child() {
    let dir = std::path::PathBuf::from(std::env::var_os("WASMIG_LIBRARY_CHILD").unwrap());
    let url = std::env::var("WASMIG_LIBRARY_CHILD_URL").unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio.block_on(async {
        let project = Project::load(&dir.join("wasmig.toml"), Some(url.clone())).unwrap();
        let mut preview = ForwardsMigrationManager::new("auth");
        preview.preview = true;
        assert!(preview.run_with(&project, &Silent).await.success());
        let run = ForwardsMigrationManager::new("all").run_with(&project, &Silent).await;
        assert!(!run.success(), "the last blog migration fails");
        if url.starts_with("mysql") {
            // Its DDL committed, so it was left dirty.
            let reversed = Resolution::Reversed;
            wasmig::resolve(&project, "blog", "29991231000000", reversed, true, &Silent)
                .await
                .unwrap();
        }
        CheckMigrationManager::new("all").get_migration_statuses(&project).await.unwrap();
        let declined = BackwardsMigrationManager::new("auth").run_with(&project, &Silent).await;
        assert!(matches!(declined.error, Some(Error::Declined)));
        let mut all = BackwardsMigrationManager::new("all");
        all.auto_agree = true;
        assert!(all.run_with(&project, &Silent).await.success());
        let cleaned = wasmig::clean(&project, "blog", true, &Silent).await.unwrap();
        assert!(cleaned.removed.is_empty());
    });
}

/// Hooks that call `act` once, when the run is planned: after every migration of the run
/// was loaded and validated, before the first one's code is mapped again to run it.
struct WhenPlanned<F: Fn() + Send + Sync>(F, std::sync::Once);

impl<F: Fn() + Send + Sync> wasmig::Hooks for WhenPlanned<F> {
    fn event(&self, event: wasmig::Event<'_>) {
        if let wasmig::Event::Planned { .. } = event {
            self.1.call_once(&self.0);
        }
    }
}

/// App `a` with two migrations and its own compile cache; the project and the cache folder.
fn cached_project() -> (TestProject, Project, std::path::PathBuf) {
    let test = TestProject::empty("[apps.a]\nmigrations = \"migrations/a\"\n");
    test.install_guest("a", &format!("{FIRST}_values"), "typed-values");
    test.install_guest("a", &format!("{SECOND}_table"), "non-transactional");
    let url =
        (crate::support::backend() != crate::support::Backend::Sqlite).then(|| test.database_url());
    let mut settings = wasmig::Settings::load(&test.path().join("wasmig.toml"), url).unwrap();
    let cache = test.path().join("cache");
    settings.cache_dir = Some(cache.clone());
    (test, Project::new(settings).unwrap(), cache)
}

#[tokio::test(flavor = "current_thread")]
async fn a_compile_cache_emptied_after_validation_costs_a_recompile_not_the_run() {
    let (test, project, cache) = cached_project();
    // A first round trip leaves both compiled and validated in the cache.
    assert!(ForwardsMigrationManager::new("a").run_with(&project, &Silent).await.success());
    let mut back = BackwardsMigrationManager::new("a");
    (back.migration_id, back.auto_agree) = (Some("all".into()), true);
    assert!(back.run_with(&project, &Silent).await.success());

    let hooks = WhenPlanned(|| std::fs::remove_dir_all(&cache).unwrap(), std::sync::Once::new());
    let report = ForwardsMigrationManager::new("a").run_with(&project, &hooks).await;
    assert!(report.success(), "{:?}", report.error);
    assert_eq!(report.completed().count(), 2);
    assert!(report.migrations.iter().all(|m| m.compiled), "both compiled again");
    assert!(hooks.1.is_completed());
    assert_eq!(test.ledger().len(), 2);
}

/// Runs app `a` forwards with its second migration's file swapped by `swap` once the run
/// is planned, and checks the swap is refused naming the migration, with only the first
/// migration applied: the swapped one changed nothing, not even a dirty row.
async fn assert_swap_refused(test: &TestProject, project: &Project, swap: impl Fn() + Send + Sync) {
    let hooks = WhenPlanned(swap, std::sync::Once::new());
    let report = ForwardsMigrationManager::new("a").run_with(project, &hooks).await;
    assert!(hooks.1.is_completed());
    assert!(!report.success());
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind(), "load", "{error}");
    let message = error.to_string();
    assert!(message.contains(SECOND), "{message}");
    assert!(message.contains("changed after it was validated"), "{message}");
    let ledger = test.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_file_swapped_after_validation_is_refused_before_it_runs_when_the_cache_has_it() {
    let (test, project, _cache) = cached_project();
    // The cache keeps the validated code; only the file that would be stored is swapped.
    // The second migration cannot be rolled back, so it must be refused before it runs.
    let swap = || drop(test.install_guest("a", &format!("{SECOND}_table"), "failing-forwards"));
    assert_swap_refused(&test, &project, swap).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_file_swapped_after_validation_is_refused_when_the_cache_has_lost_it() {
    let (test, project, cache) = cached_project();
    let swap = || {
        std::fs::remove_dir_all(&cache).unwrap();
        test.install_guest("a", &format!("{SECOND}_table"), "failing-forwards");
    };
    assert_swap_refused(&test, &project, swap).await;
}
