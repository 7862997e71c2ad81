//! Many runners at once, and runners killed at random moments: schema and ledger must
//! always agree, and a rerun must complete.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Backend, TestProject, backend, stderr};

/// How many migrations the crash project has: copies of one component, each creating a
/// table named after its ID.
const MIGRATIONS: u64 = 12;

fn ids() -> Vec<String> {
    (1..=MIGRATIONS).map(|n| format!("2024010100{n:04}")).collect()
}

fn crash_project() -> TestProject {
    let project = TestProject::empty("[apps.a]\nmigrations = \"migrations/a\"\n");
    for id in ids() {
        project.install_guest("a", &format!("{id}_table"), "crash-table");
    }
    project
}

/// A small deterministic generator, so a failing run can be reproduced.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// What the schema and the ledger say about each migration; panics where they disagree.
/// Returns the applied IDs and the dirty one, if any.
fn assert_consistent(project: &TestProject, context: &str) -> (Vec<String>, Option<String>) {
    let tables = project.tables();
    let ledger: Vec<String> =
        project.ledger().into_iter().map(|row| row["a ".len()..].to_string()).collect();
    let dirty: Vec<String> =
        project.dirty().into_iter().map(|row| row["a ".len()..].to_string()).collect();
    assert!(dirty.len() <= 1, "{context}: more than one dirty migration: {dirty:?}");
    if backend() != Backend::Mysql {
        assert!(dirty.is_empty(), "{context}: transactional DDL leaves nothing dirty: {dirty:?}");
    }
    for id in ids() {
        let table = format!("t_{id}");
        let exists = tables.contains(&table);
        let rows_ok = || project.query(&format!("SELECT COUNT(*) FROM {table}"))[0][0] == "1";
        let applied = ledger.contains(&id);
        if dirty.contains(&id) {
            assert!(!exists || rows_ok(), "{context}: dirty {id} is half-applied");
        } else if applied {
            assert!(
                exists && rows_ok(),
                "{context}: {id} is in the ledger but its table is not complete"
            );
        } else {
            assert!(!exists, "{context}: {id} is not in the ledger but its table exists");
        }
    }
    (ledger, dirty.into_iter().next())
}

fn spawn(project: &TestProject, args: &[&str]) -> Child {
    project
        .wasmig_std()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn runs_killed_at_random_moments_leave_schema_and_ledger_in_agreement() {
    let project = crash_project();
    let forwards = ["forwards", "all"];
    let backwards = ["backwards", "a", "all", "-y"];

    // How long one migration takes in an uninterrupted run, from the gaps between the
    // lines that report them.
    let per_migration = |args: &[&str]| {
        let mut child = spawn(&project, args);
        let mut reported = Vec::new();
        let started = Instant::now();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if line.starts_with("applied a ") || line.starts_with("reversed a ") {
                reported.push(started.elapsed());
            }
        }
        assert!(child.wait().unwrap().success(), "{args:?}");
        assert_eq!(reported.len(), MIGRATIONS as usize, "{args:?}");
        (reported[reported.len() - 1] - reported[0]) / (MIGRATIONS as u32 - 1)
    };
    let (forwards_step, backwards_step) = (per_migration(&forwards), per_migration(&backwards));

    let seed = 0x5eed_0000 + backend() as u64;
    let mut rng = XorShift(seed);
    let mut partial = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    for kill in 0..50 {
        assert!(Instant::now() < deadline, "seed {seed:#x}: kill {kill} ran out of time");
        let (args, step) = if kill % 2 == 0 {
            (&forwards[..], forwards_step)
        } else {
            (&backwards[..], backwards_step)
        };
        // Kill after a random number of migrations completed, a random part of the way
        // into the next one: wherever the machine's speed puts the run, the kill lands
        // inside it.
        let completed = rng.below(MIGRATIONS);
        let delay = rng.below(step.as_millis() as u64 + 1);
        let mut child = spawn(&project, args);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = 0;
        while seen < completed {
            match lines.next() {
                Some(line)
                    if line.as_ref().is_ok_and(|l| {
                        l.starts_with("applied a ") || l.starts_with("reversed a ")
                    }) =>
                {
                    seen += 1
                }
                Some(_) => {}
                None => break,
            }
        }
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL; the run may have finished already.
        child.wait().unwrap();
        project.settle();

        let context = format!(
            "seed {seed:#x}, kill {kill} ({}) {delay} ms after {completed} migration(s)",
            args[0]
        );
        let (applied, dirty) = assert_consistent(&project, &context);
        if !applied.is_empty() && applied.len() < MIGRATIONS as usize {
            partial += 1;
        }
        if let Some(id) = dirty {
            // Reported, and blocking, until resolved by what the schema shows.
            let output = project.wasmig().args(["forwards", "all"]).output().unwrap();
            assert!(stderr(&output).contains(&format!("migration {id} is dirty")), "{context}");
            let outcome = if project.tables().contains(&format!("t_{id}")) {
                "--applied"
            } else {
                "--reversed"
            };
            project.wasmig().args(["resolve", "a", &id, outcome, "-y"]).assert().success();
            assert_consistent(&project, &format!("{context}, resolved"));
        }
    }
    assert!(
        partial >= 5,
        "seed {seed:#x}: only {partial} kills landed mid-run; the test is not testing"
    );

    // A rerun completes, both ways.
    project.wasmig().args(forwards).assert().success();
    assert_eq!(assert_consistent(&project, "final forwards").0.len(), MIGRATIONS as usize);
    project.wasmig().args(backwards).assert().success();
    assert!(assert_consistent(&project, "final backwards").0.is_empty());
}

#[test]
fn eight_concurrent_runners_apply_and_reverse_each_migration_exactly_once() {
    let project = crash_project();
    for args in [&["forwards", "all"][..], &["backwards", "a", "all", "-y"][..]] {
        let children: Vec<Child> = (0..8).map(|_| spawn(&project, args)).collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        }
        let (applied, dirty) = assert_consistent(&project, &format!("after 8 x {args:?}"));
        assert!(dirty.is_none());
        let expected = if args[0] == "forwards" { MIGRATIONS as usize } else { 0 };
        assert_eq!(applied.len(), expected, "{args:?}");
        let mut unique = applied.clone();
        unique.dedup();
        assert_eq!(unique, applied, "each migration recorded once");
    }
}

#[test]
fn an_atomic_batch_killed_part_way_leaves_nothing_applied() {
    if backend() == Backend::Mysql {
        return; // --atomic is refused there.
    }
    let project = crash_project();
    let mut rng = XorShift(0xa70_0000 + backend() as u64);
    for kill in 0..5 {
        // Killed once some migrations of the batch have finished, before its commit.
        let finished = 1 + rng.below(MIGRATIONS - 2);
        let mut child = spawn(&project, &["forwards", "all", "--atomic"]);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = 0;
        while seen < finished {
            let line = lines.next().expect("the run ended before the kill").unwrap();
            if line.starts_with("applied a ") {
                seen += 1;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        project.settle();
        let context = format!("kill {kill} after {finished} of the batch");
        let (applied, _) = assert_consistent(&project, &context);
        assert!(applied.is_empty(), "{context}: {applied:?} stayed applied");
        assert!(project.tables().iter().all(|t| !t.starts_with("t_")), "{context}");
    }
    let output = project.wasmig().args(["forwards", "all", "--atomic"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(assert_consistent(&project, "after the rerun").0, ids());
}
