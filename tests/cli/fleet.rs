//! A fleet: one command over many databases, each with its own lock, plan and outcome.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Backend, TestDatabase, TestProject, backend, sample_ids, stderr};

/// Only the SQLite run of the suite runs the fleet tests: they span the backends
/// themselves.
fn sqlite_run() -> bool {
    backend() == Backend::Sqlite
}

fn total() -> usize {
    sample_ids("auth").len() + sample_ids("blog").len()
}

/// `n` SQLite files in the project folder, as `(name, url)`.
fn sqlite_targets(project: &TestProject, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let path = project.path().join(format!("tenant_{i:03}.db"));
            (format!("tenant_{i:03}"), format!("sqlite://{}", path.display()))
        })
        .collect()
}

/// Writes a TOML targets file.
fn targets_file(project: &TestProject, targets: &[(String, String)]) -> String {
    let text: String = targets
        .iter()
        .map(|(name, url)| format!("[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"))
        .collect();
    let path = project.path().join("targets.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The ledger of one target: `app id` per row in run order.
fn ledger(url: &str) -> Vec<String> {
    let url = url.to_string();
    crate::support::block_on(async move {
        let mut conn = wasmig::backend::Connection::open(&url, wasmig::backend::Access::ReadOnly)
            .await
            .unwrap();
        let rows = conn
            .query("SELECT app_name, migration_id FROM wasmig_migrations ORDER BY id", &[])
            .await
            .map(|rows| rows.rows)
            .unwrap_or_default();
        conn.close().await;
        rows.iter()
            .map(|row| {
                row.iter()
                    .map(|v| match v {
                        wasmig::Value::Text(t) => t.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    })
}

#[test]
fn a_mixed_fleet_of_115_databases_is_applied_and_reversed_in_one_command() {
    if !sqlite_run() {
        return;
    }
    let project = TestProject::sample_rust();
    let mut targets = sqlite_targets(&project, 100);
    let mut servers = Vec::new();
    for (backend, count) in [(Backend::Postgres, 10), (Backend::Mysql, 5)] {
        for i in 0..count {
            let Some(database) = TestDatabase::on_server(backend) else { break };
            targets.push((format!("{backend:?}_{i}").to_lowercase(), database.url.clone()));
            servers.push(database);
        }
    }
    let file = targets_file(&project, &targets);
    let output = project.wasmig().args(["--targets", &file, "forwards", "all"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "fleet of {} target(s): {} succeeded, 0 failed",
            targets.len(),
            targets.len()
        )),
        "{err}"
    );
    for (name, url) in &targets {
        assert_eq!(ledger(url).len(), total(), "target {name}");
    }
    assert!(project.untouched(), "the project's own database is not a target");

    let output = project
        .wasmig()
        .args(["--targets", &file, "--format", "json", "backwards", "all", "-y"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let reported = document["targets"].as_array().unwrap();
    assert_eq!(reported.len(), targets.len());
    for (entry, (name, url)) in reported.iter().zip(&targets) {
        assert_eq!(entry["name"], name.as_str());
        assert_eq!(entry["outcome"], "succeeded");
        assert_eq!(entry["reversed"], total());
        assert!(ledger(url).is_empty(), "target {name}");
    }
}

#[test]
fn failing_and_unreachable_targets_do_not_stop_the_others_and_a_rerun_resumes() {
    if !sqlite_run() {
        return;
    }
    let project = TestProject::sample_rust();
    let mut targets = sqlite_targets(&project, 4);
    targets.insert(1, ("unreachable".into(), "postgres://nobody@127.0.0.1:1/none".into()));
    // A table in the way: the first auth migration fails on this one.
    let (blocked_name, blocked_url) = targets[3].clone();
    crate::support::block_on(async move {
        let mut conn =
            wasmig::backend::Connection::open(&blocked_url, wasmig::backend::Access::ReadWrite)
                .await
                .unwrap();
        conn.execute("CREATE TABLE users (id INTEGER)", &[]).await.unwrap();
        conn.close().await;
    });
    let file = targets_file(&project, &targets);
    let output = project
        .wasmig()
        .args(["--targets", &file, "--format", "json", "forwards", "all"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("fleet of 5 target(s): 3 succeeded, 2 failed"), "{err}");
    assert!(err.contains("target unreachable: failed: database: cannot connect"), "{err}");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let by_name = |name: &str| {
        document["targets"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone()
    };
    let blocked = by_name(&blocked_name);
    assert_eq!(blocked["outcome"], "failed");
    assert_eq!(blocked["failed_migration"]["app_name"], "auth");
    assert_eq!(blocked["failed_migration"]["migration_id"], sample_ids("auth")[0].as_str());
    for (name, url) in &targets {
        if name != "unreachable" && *name != blocked_name {
            assert_eq!(by_name(name)["outcome"], "succeeded");
            assert_eq!(ledger(url).len(), total(), "{name}");
        }
    }
    // Rerun without the unreachable one, the table gone: only what is pending runs.
    targets.remove(1);
    let blocked_url = targets[2].1.clone();
    crate::support::block_on(async move {
        let mut conn =
            wasmig::backend::Connection::open(&blocked_url, wasmig::backend::Access::ReadWrite)
                .await
                .unwrap();
        conn.execute("DROP TABLE users", &[]).await.unwrap();
        conn.close().await;
    });
    let file = targets_file(&project, &targets);
    let output = project.wasmig().args(["--targets", &file, "forwards", "all"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(err.matches(&format!("applied {} migration(s)", total())).count(), 1, "{err}");
    assert!(err.contains("no migrations to run"), "{err}");
    for (name, url) in &targets {
        assert_eq!(ledger(url).len(), total(), "{name}");
    }
}

#[test]
fn fail_fast_starts_no_target_after_a_failure_and_a_dirty_target_is_skipped_not_fixed() {
    if !sqlite_run() {
        return;
    }
    let project = TestProject::sample_rust();
    let targets = sqlite_targets(&project, 3);
    // The first target is dirty: an earlier run died in a migration that cannot roll back.
    project
        .wasmig()
        .args(["--database-url", &targets[0].1, "forwards", "auth", "1"])
        .assert()
        .success();
    let url = targets[0].1.clone();
    crate::support::block_on(async move {
        let mut conn = wasmig::backend::Connection::open(&url, wasmig::backend::Access::ReadWrite)
            .await
            .unwrap();
        conn.execute("UPDATE wasmig_migrations SET dirty = 1", &[]).await.unwrap();
        conn.close().await;
    });
    let file = targets_file(&project, &targets);
    let output = project
        .wasmig()
        .args(["--targets", &file, "--concurrency", "1", "--fail-fast", "forwards", "all"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("target tenant_000: dirty, skipped: "), "{err}");
    assert!(err.contains("target tenant_001: not run (--fail-fast)"), "{err}");
    assert!(err.contains("1 dirty (skipped), 2 not run"), "{err}");
    assert_eq!(ledger(&targets[0].1).len(), 1, "the dirty target was left as it was");
    // Without --fail-fast the others go on.
    let output = project.wasmig().args(["--targets", &file, "forwards", "all"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("2 succeeded, 0 failed, 1 dirty (skipped)"), "{err}");
}

#[test]
fn a_fleet_never_works_on_more_targets_at_once_than_its_concurrency() {
    if backend() != Backend::Postgres {
        return;
    }
    // Six PostgreSQL targets whose one migration waits in the database, two at a time:
    // the server's own view must never show more than two of wasmig's sessions waiting
    // (a closed session can linger in the view a moment, so only the waiting ones count).
    let project = TestProject::empty("[apps.a]\nmigrations = \"migrations/a\"\n");
    project.install_guest("a", "20240101000000_script", "hostile-sql-script");
    let databases: Vec<TestDatabase> =
        (0..6).map(|_| TestDatabase::on_server(Backend::Postgres).unwrap()).collect();
    let mut names = Vec::new();
    for database in &databases {
        let url = database.url.clone();
        names.push(url.rsplit('/').next().unwrap().to_string());
        crate::support::block_on(async move {
            let mut conn =
                wasmig::backend::Connection::open(&url, wasmig::backend::Access::ReadWrite)
                    .await
                    .unwrap();
            conn.execute("CREATE TABLE hostile_script (step INTEGER, op TEXT, body TEXT)", &[])
                .await
                .unwrap();
            conn.execute(
                "INSERT INTO hostile_script VALUES (1, 'query', 'SELECT 1 FROM pg_sleep(0.5)')",
                &[],
            )
            .await
            .unwrap();
            conn.close().await;
        });
    }
    let targets: Vec<(String, String)> =
        names.iter().zip(&databases).map(|(n, d)| (n.clone(), d.url.clone())).collect();
    let file = targets_file(&project, &targets);
    let mut child = project
        .wasmig_std()
        .args(["--targets", &file, "--concurrency", "2", "forwards", "all"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let admin = databases[0].url.clone();
    let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let mut most = 0;
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(60) {
        let (admin, sql) = (
            admin.clone(),
            format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wasmig' \
                 AND state = 'active' AND query LIKE '%pg_sleep%' \
                 AND pid <> pg_backend_pid() AND datname IN ({list})"
            ),
        );
        let count = crate::support::block_on(async move {
            let mut conn =
                wasmig::backend::Connection::open(&admin, wasmig::backend::Access::ReadOnly)
                    .await
                    .unwrap();
            let rows = conn.query(&sql, &[]).await.unwrap();
            conn.close().await;
            match rows.rows[0][0] {
                wasmig::Value::Integer(n) => n,
                _ => 0,
            }
        });
        most = most.max(count);
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(status.success(), "{err}");
    assert!(most <= 2, "{most} targets at once");
    assert_eq!(most, 2, "the fleet never ran two targets at once");
}

#[test]
fn a_fleet_killed_part_way_completes_on_rerun_with_nothing_applied_twice() {
    if !sqlite_run() {
        return;
    }
    // Transactional migrations only: a kill inside a non-transactional one leaves its
    // target dirty, and a dirty target is skipped, not repaired.
    let project = TestProject::empty("[apps.a]\nmigrations = \"migrations/a\"\n");
    let ids: Vec<String> = (1..=5).map(|n| format!("2024010100{n:04}")).collect();
    for id in &ids {
        project.install_guest("a", &format!("{id}_table"), "crash-table");
    }
    let targets = sqlite_targets(&project, 30);
    let file = targets_file(&project, &targets);
    let mut child = project
        .wasmig_std()
        .args(["--targets", &file, "--concurrency", "4", "forwards", "all"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut ended = 0;
    while ended < 10 {
        let line = lines.next().expect("the fleet ended before the kill").unwrap();
        if line.starts_with('[') {
            ended += 1;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = targets.iter().filter(|(_, url)| ledger(url).len() == ids.len()).count();
    assert!((10..30).contains(&done), "{done} targets complete at the kill");
    let output = project.wasmig().args(["--targets", &file, "forwards", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let expected: Vec<String> = ids.iter().map(|id| format!("a {id}")).collect();
    for (name, url) in &targets {
        assert_eq!(ledger(url), expected, "{name}");
    }
}

#[test]
fn verify_runs_beside_every_target_and_touches_none() {
    if !sqlite_run() {
        return;
    }
    let project = TestProject::sample_rust();
    let targets = sqlite_targets(&project, 3);
    // One URL per line, with a comment and a blank line.
    let lines: Vec<&str> = targets.iter().map(|(_, url)| url.as_str()).collect();
    let file = project.path().join("targets.txt");
    std::fs::write(&file, format!("# tenants\n\n{}\n", lines.join("\n"))).unwrap();
    let file = file.display().to_string();
    let output = project.wasmig().args(["--targets", &file, "verify"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(err.matches(&format!(": verified {} migration(s)", total())).count(), 3, "{err}");
    for (_, url) in &targets {
        assert!(ledger(url).is_empty());
    }
    // Commands of one database refuse a fleet.
    let output = project.wasmig().args(["--targets", &file, "clean", "auth"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("`clean` takes one database"), "{}", stderr(&output));
}

#[test]
fn a_targets_table_in_the_config_makes_the_project_a_fleet_unless_one_database_is_named() {
    if !sqlite_run() {
        return;
    }
    let project = TestProject::sample_rust();
    let config = project.path().join("wasmig.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // Relative paths, relative to the config file.
    std::fs::write(
        &config,
        format!(
            "{text}\n[targets]\nnorth = \"sqlite://north.db\"\nsouth = \"sqlite://south.db\"\n"
        ),
    )
    .unwrap();
    let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("fleet of 2 target(s): 2 succeeded"), "{err}");
    for name in ["north", "south"] {
        let url = format!("sqlite://{}", project.path().join(format!("{name}.db")).display());
        assert_eq!(ledger(&url).len(), total(), "{name}");
    }
    assert!(project.untouched(), "the default database is not a target");
    // Naming one database runs on it alone.
    let own = project.database_url();
    let output =
        project.wasmig().args(["--database-url", &own, "forwards", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("fleet of"), "{}", stderr(&output));
    assert_eq!(ledger(&own).len(), total());
    // Commands that use no database run once, as in any project.
    for args in [&["build", "all"][..], &["cache", "fill"], &["new", "auth", "add index"]] {
        let output = project.wasmig().args(args).output().unwrap();
        let err = stderr(&output);
        assert!(output.status.success(), "{args:?}: {err}");
        assert!(!err.contains("fleet of") && !err.contains("takes one database"), "{err}");
    }
    let created = std::fs::read_dir(project.path().join("migrations/auth"))
        .unwrap()
        .filter(|entry| {
            entry.as_ref().unwrap().file_name().to_string_lossy().ends_with("_add_index")
        })
        .count();
    assert_eq!(created, 1, "`new` scaffolded the migration");
}
