//! The run lock: one runner at a time per database; check and preview take none.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use wasmig::Silent;
use wasmig::backend::{Access, Connection};

use crate::support::{TestProject, block_on, stderr};

/// Holds the run lock of `project`'s database on another thread for `hold`.
fn hold_lock(project: &TestProject, hold: Duration) -> std::thread::JoinHandle<()> {
    let url = project.database_url();
    let (taken, wait) = mpsc::channel();
    let holder = std::thread::spawn(move || {
        block_on(async move {
            let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
            wasmig::lock::acquire(&mut conn, Duration::from_secs(5), &Silent).await.unwrap();
            taken.send(()).unwrap();
            tokio::time::sleep(hold).await;
            // Closing the connection releases the lock.
            conn.close().await;
        })
    });
    wait.recv().unwrap();
    holder
}

#[test]
fn a_runner_gives_up_after_the_lock_timeout_and_changes_nothing() {
    let project = TestProject::sample();
    let holder = hold_lock(&project, Duration::from_secs(4));
    let started = Instant::now();
    let output =
        project.wasmig().args(["--lock-timeout", "1", "forwards", "all"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("waiting for another wasmig run to finish"), "{err}");
    assert!(err.contains("still holds the lock"), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(project.ledger().is_empty());

    // Reading needs no lock.
    project.wasmig().args(["check"]).assert().success();
    project
        .wasmig()
        .args(["forwards", "all", "--preview"])
        .assert()
        .success()
        .stderr(contains("waiting").not());
    holder.join().unwrap();
}

#[test]
fn a_waiting_runner_proceeds_once_the_lock_is_released() {
    let project = TestProject::sample();
    let holder = hold_lock(&project, Duration::from_millis(1500));
    let started = Instant::now();
    let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("waiting for another wasmig run to finish"));
    assert!(started.elapsed() >= Duration::from_millis(1000), "it waited");
    assert_eq!(project.ledger().len(), crate::support::sample_total());
    holder.join().unwrap();
}
