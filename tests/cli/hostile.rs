//! The hostile suite: migrations that try to escape the sandbox, hang the run or exhaust
//! the host. Each must fail with an error naming the cause and exit status 1, the host
//! must neither panic nor abort, the schema and ledger must be exactly as before, and the
//! host process must stay under a memory bound (its peak RSS, read from `/proc` while it runs).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestProject, components, transactional_ddl};

mod handle;

/// A project with one app and a `[limits]` table giving calls `cpu_seconds`; every other
/// limit has its default.
fn config(cpu_seconds: u64) -> String {
    format!("[apps.a]\nmigrations = \"migrations/a\"\n\n[limits]\ncpu_seconds = {cpu_seconds}\n")
}

/// Short budgets keep the suite fast.
const CPU_SECONDS: u64 = 2;
/// For the floods: moving a statement or a write across the boundary counts as the guest's
/// time, so the short CPU budget must not be what stops them on a busy machine.
const ROOMY_CPU_SECONDS: u64 = 20;
const BENIGN: &str = "20240101000000";
const HOSTILE: &str = "20240102000000";

/// What the host itself may take (wasmtime, Cranelift compiling a component, the database
/// driver, a bounded log and bounded SQL); a guest may add its linear memory on top.
const HOST_MIB: u64 = 192;
/// The default `[limits] memory_mib`.
const GUEST_MEMORY_MIB: u64 = 256;
/// The default `[limits] sql_mib`: every statement is kept, so the host holds this much.
const SQL_MIB: u64 = 64;
/// The default `[limits] query_mib`: the host holds this much of a query's result.
const QUERY_MIB: u64 = 64;

/// A finished `wasmig` run.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the process, MiB.
    peak_mib: u64,
    elapsed: Duration,
}

impl Run {
    /// The `error: ...` line.
    fn error(&self) -> &str {
        self.stderr.lines().find(|line| line.starts_with("error: ")).unwrap_or_default()
    }
}

/// Runs `command`, reads its output, and follows its peak RSS (`VmHWM`, the high-water
/// mark of its own address space) until it exits. `VmHWM` only grows, so polling it every
/// few milliseconds misses at most the growth of the last few milliseconds before exit.
/// (`wait4`'s `ru_maxrss` is no use here: Linux carries the parent's high-water mark
/// across the fork and exec into the child's.) A run that outlives a minute means the
/// sandbox failed to stop its guest: it is killed and the test fails.
fn measured(mut command: Command) -> Run {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wasmig");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            pipe.read_to_end(&mut text).expect("read a pipe");
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let proc_status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&proc_status).ok().as_deref().and_then(vm_hwm) {
            peak_kib = peak_kib.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait for wasmig") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wasmig still running after a minute: the sandbox did not stop its guest");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        peak_mib: peak_kib.div_ceil(1024),
        elapsed: started.elapsed(),
    }
}

/// `VmHWM` of a `/proc/PID/status`, in KiB.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A project whose first migration (the `typed-values` guest: one table, one row) is
/// applied, with the hostile guest `guest` installed as its second.
fn project_with(guest: &str) -> TestProject {
    project_configured(guest, &config(CPU_SECONDS))
}

/// The same with another config.
fn project_configured(guest: &str, config: &str) -> TestProject {
    let project = TestProject::empty(config);
    project.install_guest("a", &format!("{BENIGN}_typed_values"), "typed-values");
    project.wasmig().args(["forwards", "a"]).assert().success();
    project.install_guest("a", &format!("{HOSTILE}_hostile"), guest);
    project
}

/// The end of a long output, for assertion messages.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    &text[start..]
}

/// Whether the host itself panicked: a panic message outside the guest's log lines
/// (which are indented and prefixed with the migration).
fn host_panicked(stderr: &str) -> bool {
    stderr.lines().any(|line| line.contains("panicked") && !line.starts_with("  ["))
}

/// Runs `wasmig ARGS` and checks what every hostile run must show: exit status exactly 1
/// (no abort, no signal), no host panic, the schema and ledger unchanged, nothing leaked
/// to stdout, and a peak RSS under `bound_mib`. The error line must contain `cause`.
fn refused(project: &TestProject, args: &[&str], cause: &str, bound_mib: u64) -> Run {
    let before = project.snapshot();
    let mut command = project.wasmig_std();
    command.args(args).env("WASMIG_TEST_SECRET", "hunter2");
    let run = measured(command);
    eprintln!(
        "{args:?}: {} in {:.2} s, peak RSS {} MiB: {}",
        run.status,
        run.elapsed.as_secs_f64(),
        run.peak_mib,
        run.error()
    );
    assert_eq!(run.status.signal(), None, "killed by a signal: {}", tail(&run.stderr));
    assert_eq!(run.status.code(), Some(1), "{}", tail(&run.stderr));
    assert!(!host_panicked(&run.stderr), "the host panicked: {}", tail(&run.stderr));
    assert!(run.error().contains(cause), "expected `{cause}` in: {}", tail(&run.stderr));
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    for secret in ["hunter2", "root:x:0:0", "WASMIG_TEST_SECRET"] {
        assert!(!run.stderr.contains(secret), "{secret} leaked: {}", tail(&run.stderr));
    }
    if run.error().contains("marked dirty") {
        // MySQL commits DDL implicitly, so wasmig marks every migration it runs there dirty
        // until it succeeds (see docs/history.md): the failed one stays dirty. Saying
        // it never happened must restore the exact state from before.
        assert!(!transactional_ddl(), "only MySQL leaves a failed migration dirty");
        assert_eq!(project.dirty(), [format!("a {HOSTILE}")]);
        project.wasmig().args(["resolve", "a", HOSTILE, "--reversed", "-y"]).assert().success();
    }
    assert_eq!(project.snapshot(), before, "the schema or ledger changed");
    assert!(
        run.peak_mib <= bound_mib,
        "the host peaked at {} MiB, over {bound_mib} MiB",
        run.peak_mib
    );
    run
}

/// `forwards a` of a project with `guest` as its pending migration; the failure must name
/// the migration and direction, and say it was rolled back.
fn forwards_refused(guest: &str, cause: &str, bound_mib: u64) -> Run {
    forwards_refused_with(guest, &config(CPU_SECONDS), cause, bound_mib)
}

fn forwards_refused_with(guest: &str, config: &str, cause: &str, bound_mib: u64) -> Run {
    let project = project_configured(guest, config);
    let run = refused(&project, &["forwards", "a"], cause, bound_mib);
    assert!(run.error().contains(&format!("a {HOSTILE} forwards failed: ")), "{}", run.stderr);
    assert!(run.error().contains("rolled back"), "{}", run.stderr);
    run
}

/// `forwards a` of a project with `guest` pending must fail while loading it, before
/// anything runs.
fn load_refused(guest: &str, cause: &str) -> Run {
    let project = project_with(guest);
    let run = refused(&project, &["forwards", "a"], cause, HOST_MIB);
    assert!(run.error().contains(&format!("app a migration {HOSTILE} (")), "{}", run.stderr);
    assert!(!run.stderr.contains("forwards failed"), "it ran: {}", run.stderr);
    run
}

#[test]
fn an_endless_loop_runs_out_of_cpu_budget() {
    let run = forwards_refused(
        "hostile-infinite-loop",
        &format!("out of CPU budget: ran guest code for more than {CPU_SECONDS} s"),
        HOST_MIB,
    );
    assert!(run.error().contains("[limits] cpu_seconds"), "{}", run.stderr);
    assert!(run.error().contains("wasm backtrace: "), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(CPU_SECONDS + 8), "{:?}", run.elapsed);
}

#[test]
fn an_endless_loop_is_stopped_in_a_preview_too() {
    let project = project_with("hostile-infinite-loop");
    let run = refused(&project, &["forwards", "a", "--preview"], "out of CPU budget", HOST_MIB);
    assert!(run.error().contains(&format!("a {HOSTILE} forwards failed")), "{}", run.stderr);
}

#[test]
fn a_loop_of_database_calls_hits_the_statement_limit() {
    // Time in the database does not count against the CPU budget: the statement limit is
    // what stops this one.
    forwards_refused_with(
        "hostile-host-loop",
        &config(ROOMY_CPU_SECONDS),
        "host limit hit: more than 100000 statements in one call ([limits] statements)",
        HOST_MIB,
    );
}

#[test]
fn a_memory_bomb_runs_out_of_memory() {
    let run = forwards_refused_with(
        "hostile-memory-bomb",
        &config(ROOMY_CPU_SECONDS),
        "out of memory: linear memory would grow to",
        HOST_MIB + GUEST_MEMORY_MIB,
    );
    assert!(
        run.error().contains("over the limit of 256 MiB ([limits] memory_mib)"),
        "{}",
        run.stderr
    );
}

#[test]
fn unbounded_recursion_is_a_stack_overflow() {
    let run = forwards_refused("hostile-deep-recursion", "stack overflow", HOST_MIB);
    assert!(run.error().contains("descend"), "the backtrace names the function: {}", run.stderr);
}

#[test]
fn reading_etc_passwd_finds_no_file() {
    forwards_refused("hostile-read-passwd", "cannot read /etc/passwd: ", HOST_MIB);
}

#[test]
fn listing_the_root_finds_nothing() {
    forwards_refused("hostile-list-root", "cannot list /: ", HOST_MIB);
}

#[test]
fn the_environment_and_arguments_are_empty() {
    // `refused` gives wasmig a secret in its environment and checks it never shows up.
    forwards_refused(
        "hostile-env-args",
        "found no environment variables and no arguments",
        HOST_MIB,
    );
}

// A component may import wasi:sockets (Python's runtime always does): the sandbox is what
// keeps the network closed, so each probe runs and is denied.

#[test]
fn a_tcp_connection_is_denied() {
    let run = forwards_refused("hostile-tcp-connect", "cannot connect: ", HOST_MIB);
    assert!(!run.stderr.contains("connected to"), "{}", run.stderr);
}

#[test]
fn a_udp_datagram_is_denied() {
    forwards_refused("hostile-udp", "cannot send a datagram: ", HOST_MIB);
}

#[test]
fn name_resolution_is_denied() {
    forwards_refused("hostile-dns", "cannot resolve localhost: ", HOST_MIB);
}

/// The probes again in Python and JavaScript: the same assertions as the Rust ones.
#[test]
fn python_and_javascript_probes_are_denied_too() {
    if !crate::support::polyglot() {
        return;
    }
    let probes = [
        ("py-hostile-tcp", "cannot connect: "),
        ("py-hostile-udp", "cannot send a datagram: "),
        ("py-hostile-dns", "cannot resolve localhost: "),
        ("py-hostile-read-passwd", "cannot read /etc/passwd: "),
        ("py-hostile-env", "found no environment variables and no arguments"),
        // componentize-js keeps `fetch` with the HTTP feature left out: calling it aborts
        // the guest, which the host reports as a trap and rolls back.
        ("js-hostile-network", "unreachable code reached (the guest aborted)"),
        ("js-hostile-files-env", "found no files, no environment variables and no arguments"),
    ];
    for (guest, cause) in probes {
        // Python's and JavaScript's runtimes start slower than Rust's: a roomier budget.
        let project = project_configured(guest, &config(ROOMY_CPU_SECONDS));
        // Compiling a 12-18 MB component once is not what the memory bound is about:
        // `check` fills the compile cache first.
        project.wasmig().args(["check"]).assert().success();
        let run = refused(&project, &["forwards", "a"], cause, HOST_MIB);
        assert!(run.error().contains(&format!("a {HOSTILE} forwards failed: ")), "{}", run.stderr);
        assert!(run.error().contains("rolled back"), "{}", run.stderr);
        assert!(!run.stderr.contains("connected to"), "{guest}: {}", run.stderr);
    }
}

#[test]
fn python_and_javascript_clocks_stand_still_and_randomness_is_seeded() {
    if !crate::support::polyglot() {
        return;
    }
    for guest in ["py-hostile-clock-random", "js-hostile-clock-random"] {
        let project = TestProject::empty(&config(ROOMY_CPU_SECONDS));
        project.install_guest("a", "20240101000000_probe", guest);
        project.install_guest("a", "20240102000000_probe_again", guest);
        project.wasmig().args(["check"]).assert().success();
        let before = project.snapshot();
        let preview = || {
            let mut command = project.wasmig_std();
            command.args(["forwards", "a", "--preview"]);
            let run = measured(command);
            assert_eq!(run.status.code(), Some(0), "{guest}: {}", run.stderr);
            assert!(!host_panicked(&run.stderr), "{}", run.stderr);
            assert!(run.peak_mib <= HOST_MIB, "{guest}: peak {} MiB", run.peak_mib);
            run.stdout
        };
        let first = preview();
        assert_eq!(first, preview(), "{guest}: two previews differ");
        assert_eq!(project.snapshot(), before);
        let probes: Vec<&str> = first.lines().filter(|line| line.starts_with("SELECT")).collect();
        assert_eq!(probes.len(), 2, "{guest}: {first}");
        for probe in &probes {
            assert!(
                probe.starts_with("SELECT 946684800 AS wall_seconds, 0 AS slept_nanos"),
                "{guest}: {probe}"
            );
        }
        assert_ne!(probes[0], probes[1], "{guest}: the same randomness under two IDs: {first}");
    }
}

#[test]
fn an_import_outside_the_allowlist_is_refused_at_load() {
    load_refused("hostile-evil-import", "imports evil:pkg/iface, which a migration may not use");
}

#[test]
fn a_component_of_another_world_is_refused_at_load() {
    load_refused("hostile-wrong-world", "does not export the wasmig:migration world");
}

#[test]
fn an_endless_describe_stops_the_load() {
    let run = load_refused("hostile-describe-loop", "describe failed: out of CPU budget");
    assert!(run.elapsed < Duration::from_secs(CPU_SECONDS + 8), "{:?}", run.elapsed);
}

#[test]
fn a_sleep_is_abandoned_by_the_watchdog() {
    let run = forwards_refused("hostile-sleep", "out of CPU budget: spent more than 2 s", HOST_MIB);
    assert!(run.error().contains("blocked in a WASI call"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(CPU_SECONDS + 8), "{:?}", run.elapsed);
}

#[test]
fn a_flood_of_sql_hits_the_sql_byte_limit() {
    forwards_refused_with(
        "hostile-sql-flood",
        &config(ROOMY_CPU_SECONDS),
        "host limit hit: more than 64 MiB of SQL in one call ([limits] sql_mib)",
        HOST_MIB + SQL_MIB,
    );
}

#[test]
fn a_million_statements_hit_the_statement_limit() {
    forwards_refused_with(
        "hostile-statement-flood",
        &config(ROOMY_CPU_SECONDS),
        "host limit hit: more than 100000 statements in one call",
        HOST_MIB,
    );
}

#[test]
fn a_panic_after_writes_is_reported_and_rolled_back() {
    let project = project_with("hostile-panic-after-writes");
    let run = refused(
        &project,
        &["forwards", "a"],
        "guest panic: gave up half-way: 3 rows written (at tests/guests/hostile-panic-after-writes/src/lib.rs:",
        HOST_MIB,
    );
    assert!(run.error().contains("rolled back"), "{}", run.stderr);
    assert_eq!(project.query("SELECT COUNT(*) FROM typed_values"), [["1"]]);
}

#[test]
fn exiting_is_not_success() {
    let project = project_with("hostile-exit");
    refused(
        &project,
        &["forwards", "a"],
        "the migration called exit(0) instead of returning",
        HOST_MIB,
    );
    assert_eq!(project.ledger(), [format!("a {BENIGN}")]);
}

#[test]
fn a_log_flood_is_kept_bounded_and_its_panic_still_reported() {
    // Writing 100 MiB through WASI takes a second or two of the guest's time.
    let run = forwards_refused_with(
        "hostile-log-flood",
        &config(ROOMY_CPU_SECONDS),
        "guest panic: flooded the log with ",
        HOST_MIB,
    );
    assert!(run.error().contains("hostile-log-flood/src/lib.rs"), "{}", run.error());
    assert!(run.stderr.len() < 1 << 20, "{} bytes of stderr", run.stderr.len());
    assert!(run.stderr.contains("more bytes of output not shown"), "{}", tail(&run.stderr));
}

#[test]
fn clocks_stand_still_and_randomness_is_seeded_per_migration() {
    let project = TestProject::empty(&config(CPU_SECONDS));
    project.install_guest("a", "20240101000000_probe", "hostile-clock-random");
    project.install_guest("a", "20240102000000_probe_again", "hostile-clock-random");
    let before = project.snapshot();
    let preview = || {
        let mut command = project.wasmig_std();
        command.args(["forwards", "a", "--preview"]);
        let run = measured(command);
        assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
        assert!(!host_panicked(&run.stderr), "{}", run.stderr);
        assert!(run.peak_mib <= HOST_MIB, "peak {} MiB", run.peak_mib);
        run.stdout
    };
    let first = preview();
    assert_eq!(first, preview(), "two previews differ");
    assert_eq!(project.snapshot(), before);

    let probes: Vec<&str> = first.lines().filter(|line| line.starts_with("SELECT")).collect();
    assert_eq!(probes.len(), 2, "{first}");
    for probe in &probes {
        // The wall clock reads 2000-01-01T00:00:00Z and a 20 ms sleep takes no time.
        assert!(probe.starts_with("SELECT 946684800 AS wall_seconds, 0 AS slept_nanos"), "{probe}");
    }
    // Randomness is seeded by the migration: the same component under two IDs sees
    // different hash keys.
    assert_ne!(probes[0].split("AS hash").next(), None);
    assert_ne!(probes[0], probes[1], "{first}");
}

#[test]
fn invalid_artefacts_are_refused_before_anything_runs() {
    let real = std::fs::read(&components().guests["typed-values"]).unwrap();
    let mut noise = vec![0u8; 4096];
    let mut state: u32 = 0x2545_f491;
    for byte in &mut noise {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *byte = state.to_le_bytes()[0];
    }
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("random bytes", noise, "not a WebAssembly component"),
        ("text", b"these are not wasm bytes".to_vec(), "not a WebAssembly component"),
        ("core module", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        ("truncated", real[..real.len() / 2].to_vec(), "invalid component"),
        ("empty", Vec::new(), "not a WebAssembly component"),
        (
            "oversized",
            [real.clone(), vec![0; 2 << 20]].concat(),
            "over the limit of 1 MiB ([limits] component_mib)",
        ),
    ];
    for (case, bytes, expected) in cases {
        let project = TestProject::empty(&format!("{}component_mib = 1\n", config(CPU_SECONDS)));
        project.install_guest("a", &format!("{BENIGN}_fine"), "typed-values");
        let bad = project.write_file("a", &format!("{HOSTILE}_bad.wasm"), &bytes);
        let run = refused(&project, &["forwards", "all"], expected, HOST_MIB);
        assert!(
            run.error().contains(&format!("app a migration {HOSTILE} ({})", bad.display())),
            "{case}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{case}: one error line: {}", run.stderr);
        assert!(project.ledger().is_empty(), "{case}");
        assert!(project.tables().is_empty(), "{case}: {:?}", project.tables());
    }
}
