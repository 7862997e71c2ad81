//! `wasmig-bench`: what running migrations as WebAssembly components costs.
//!
//! ```text
//! cargo run --release -p wasmig-bench -- [--n 200] [--runs 5] [--check-n 1000] [--json PATH]
//! ```
//!
//! It builds `wasmig` in release mode (or takes `--wasmig PATH`) and one small guest component
//! (tests/guests/bench-table: create a table, insert ten rows, create an index; drop both),
//! installs that component as many migrations with distinct bytes in temporary projects, and
//! measures, on SQLite:
//!
//! - **A**: `forwards all` then `backwards all` of `--n` migrations from an empty database, by
//!   wasmig with a warm compile cache (also with stored components turned off), wasmig with a
//!   cold one, the floor (the same statements and ledger rows replayed by the `sqlite3`
//!   shell, one transaction per migration), the floor that also stores each component with
//!   its ledger row as wasmig does by default (also with its journal kept as wasmig keeps
//!   it), and sqlx-cli on the same statements as reversible SQL migrations (when `sqlx` is
//!   installed);
//! - **B**: `check --format json` over `--check-n` pending migrations in five apps, warm cache;
//! - the peak resident memory of wasmig's `forwards all` over both projects;
//! - **C**: `forwards all` of `--fleet-n` migrations on each of `--fleet-targets` SQLite
//!   databases: one wasmig fleet run (`--targets`) against a shell loop running wasmig once
//!   per database, and a shell loop of sqlx-cli when it is installed;
//! - **D**: SQL migrations, which wasmig assembles itself: `build all` over `--assemble-n` of
//!   them, `forwards all` + `backwards all` of `--sql-n` warm and cold against the floors,
//!   and on PostgreSQL a generated history of `--corpus-n` migrations against `psql` (see
//!   `sql.rs`).
//!
//! Each figure is the median of `--runs` runs (at least five). The contenders of A run
//! interleaved, one cycle each per round, so a slow spell of the machine (another build, a
//! thermal throttle, a cache flush) lands on all of them instead of on whichever ran then.
//! `--quick` (one run, 20 and 100 migrations) is a smoke test whose figures mean little.

mod cargo_build;
mod contender;
mod fleet;
mod measure;
mod report;
mod sql;
mod workload;

use std::fs;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use clap::{CommandFactory, Parser, error::ErrorKind};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cargo_build::Workspace;
use crate::contender::{Contender, Wasmig, find_on_path, remove_database};
use crate::measure::{Stdout, Summary};
use crate::report::{Contenders, PeakRss, Ratios, Report};
use crate::workload::{FloorHistory, FloorJournal, Project};

/// Fewer runs give a median that is mostly noise.
const MIN_RUNS: usize = 5;

/// The apps of workload B.
const CHECK_APPS: [&str; 5] = ["app1", "app2", "app3", "app4", "app5"];

const SQLX_INSTALL: &str = "cargo install sqlx-cli --version 0.9.0 --no-default-features \
                            --features sqlite,completions --locked";

/// Times wasmig against the sqlite3 shell and sqlx-cli on the same migrations.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Migrations in workload A (forwards all + backwards all) [default: 200, 20 with --quick]
    #[arg(long, value_name = "N")]
    n: Option<usize>,

    /// Migrations in workload B (check), spread over five apps [default: 1000, 100 with --quick]
    #[arg(long, value_name = "N")]
    check_n: Option<usize>,

    /// Timed runs of each figure, at least 5 [default: 5, 1 with --quick]
    #[arg(long, value_name = "RUNS")]
    runs: Option<usize>,

    /// Smoke test: small workloads and one run; the figures are not meaningful
    #[arg(long)]
    quick: bool,

    /// Measure this wasmig binary instead of building one with `cargo build --release`
    #[arg(long, value_name = "PATH")]
    wasmig: Option<PathBuf>,

    /// Also write the figures to PATH as JSON
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,

    /// Databases of workload C (a fleet) [default: 200, 5 with --quick]; 0 skips it
    #[arg(long, value_name = "N")]
    fleet_targets: Option<usize>,

    /// Migrations per database in workload C [default: 20, 5 with --quick]
    #[arg(long, value_name = "N")]
    fleet_n: Option<usize>,

    /// SQL migrations of workload D's assembly figure [default: 1000, 100 with --quick]
    #[arg(long, value_name = "N")]
    assemble_n: Option<usize>,

    /// SQL migrations of workload D's forwards + backwards [default: 200, 20 with --quick]
    #[arg(long, value_name = "N")]
    sql_n: Option<usize>,

    /// Migrations of workload D's PostgreSQL history [default: 400, 40 with --quick]; 0 skips it
    #[arg(long, value_name = "N")]
    corpus_n: Option<usize>,

    /// Keep the generated projects, scripts and databases, and print where they are
    #[arg(long)]
    keep: bool,
}

/// The validated command line.
#[derive(Debug)]
struct Settings {
    fleet_targets: usize,
    fleet_n: usize,
    sql: sql::Shape,
    n: usize,
    check_n: usize,
    runs: usize,
    wasmig: Option<PathBuf>,
    json: Option<PathBuf>,
    keep: bool,
}

impl Settings {
    fn from_args(args: Args) -> Result<Settings, clap::Error> {
        let invalid = |message: &str| Args::command().error(ErrorKind::ValueValidation, message);
        let (n, check_n, runs) = if args.quick { (20, 100, 1) } else { (200, 1000, MIN_RUNS) };
        let (fleet_targets, fleet_n) = if args.quick { (5, 5) } else { (200, 20) };
        let (assemble_n, sql_n, corpus_n) =
            if args.quick { (100, 20, 40) } else { (1000, 200, 400) };
        let settings = Settings {
            fleet_targets: args.fleet_targets.unwrap_or(fleet_targets),
            fleet_n: args.fleet_n.unwrap_or(fleet_n).max(1),
            sql: sql::Shape {
                assemble_n: args.assemble_n.unwrap_or(assemble_n).max(1),
                n: args.sql_n.unwrap_or(sql_n).max(1),
                corpus_n: args.corpus_n.unwrap_or(corpus_n),
                runs: args.runs.unwrap_or(runs),
            },
            n: args.n.unwrap_or(n),
            check_n: args.check_n.unwrap_or(check_n),
            runs: args.runs.unwrap_or(runs),
            wasmig: args.wasmig,
            json: args.json,
            keep: args.keep,
        };
        if settings.runs < MIN_RUNS && !args.quick {
            return Err(invalid("--runs must be at least 5 (use --quick for a smoke test)"));
        }
        if settings.n == 0 || settings.check_n == 0 || settings.runs == 0 {
            return Err(invalid("--n, --check-n and --runs must be at least 1"));
        }
        Ok(settings)
    }
}

fn main() -> Result<()> {
    let settings = Settings::from_args(Args::parse()).unwrap_or_else(|error| error.exit());
    let workspace = Workspace::locate()?;
    let binary = match &settings.wasmig {
        Some(path) => {
            ensure!(path.is_file(), "--wasmig {}: no such file", path.display());
            // Absolute: wasmig runs with the project as its working directory.
            path.canonicalize().with_context(|| format!("cannot resolve {}", path.display()))?
        }
        None => workspace.build_wasmig()?,
    };
    let wasmig = Wasmig { binary };
    let component = workspace.build_guest()?;
    let work = tempfile::Builder::new()
        .prefix("wasmig-bench-")
        .disable_cleanup(settings.keep)
        .tempdir()
        .context("cannot create a temporary directory")?;
    if settings.keep {
        eprintln!("generated files go to {} and are kept", work.path().display());
    }
    let mut notes = Vec::new();

    let (forwards_backwards_ms, forwards_n_warm) =
        forwards_backwards(&settings, &wasmig, &component, work.path(), &mut notes)?;
    let (check_ms, forwards_check_n_warm) =
        check_and_memory(&settings, &wasmig, &component, work.path())?;

    let report = Report {
        date: OffsetDateTime::now_utc().replace_nanosecond(0)?.format(&Rfc3339)?,
        nproc: thread::available_parallelism().map_or(1, NonZero::get),
        wasmig: wasmig.binary.display().to_string(),
        n: settings.n,
        check_n: settings.check_n,
        runs: settings.runs,
        ratios: Ratios::of(&forwards_backwards_ms),
        forwards_backwards_ms,
        check_ms,
        peak_rss_kib: PeakRss { forwards_check_n_warm, forwards_n_warm },
        notes,
    };
    println!("\n{report}");
    if settings.fleet_targets > 0 {
        let sqlx = sqlx_cli(&mut Vec::new())?;
        let shape = (settings.fleet_targets, settings.fleet_n, settings.runs);
        let figures = fleet::measure(&wasmig, sqlx.as_deref(), &component, work.path(), shape)?;
        println!("{figures}");
    }
    {
        let postgres = sql::postgres_url().filter(|_| settings.sql.corpus_n > 0);
        let figures =
            sql::measure(&wasmig, work.path(), settings.sql, postgres.as_deref(), &mut Vec::new())?;
        println!("{figures}");
    }
    if let Some(path) = &settings.json {
        let json = serde_json::to_string_pretty(&report)? + "\n";
        fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Workload A: every contender's forwards + backwards cycle, interleaved. Returns the
/// summaries and the peak RSS of warm wasmig's forwards command (highest of the runs).
fn forwards_backwards(
    settings: &Settings,
    wasmig: &Wasmig,
    component: &[u8],
    work: &Path,
    notes: &mut Vec<String>,
) -> Result<(Contenders, u64)> {
    let project = workload::write_project(&work.join("a"), "a", &["bench"], settings.n, component)?;
    let unstored = workload::unstored_twin(&project, &work.join("a-unstored"))?;
    // One warm cache for both: they run the same files.
    let warm_cache = create_dir(&work.join("cache-warm"))?;
    let mut contenders = vec![
        Contender::WasmigWarm { cache: warm_cache.clone() },
        Contender::WasmigWarmUnstored { cache: warm_cache, project: unstored },
        Contender::WasmigCold { caches: create_dir(&work.join("cache-cold"))? },
    ];
    match find_on_path("sqlite3") {
        Some(sqlite3) => {
            let floors = [
                ("floor", FloorHistory::LedgerOnly, FloorJournal::Default),
                ("floor-stored", FloorHistory::StoredComponents, FloorJournal::Default),
                ("floor-stored-kept", FloorHistory::StoredComponents, FloorJournal::Kept),
            ];
            for (name, history, journal) in floors {
                let folder = create_dir(&work.join(name))?;
                let floor =
                    Contender::floor(&sqlite3, &folder, &project.migrations, history, journal)?;
                contenders.push(floor);
            }
        }
        None => note(notes, "floor skipped: `sqlite3` is not on PATH".to_owned()),
    }
    if let Some(sqlx) = sqlx_cli(notes)? {
        let folder = create_dir(&work.join("sqlx"))?;
        workload::write_sqlx_migrations(&folder, &project.migrations)?;
        contenders.push(Contender::SqlxCli { sqlx, database: folder.join("sqlx.db"), folder });
    }

    let cycles = contender::interleave(wasmig, &project, &contenders, settings.runs, "A")?;

    let mut figures = Contenders {
        wasmig_warm: None,
        wasmig_warm_unstored: None,
        wasmig_cold: None,
        floor: None,
        floor_stored_components: None,
        floor_stored_journal_kept: None,
        sqlx_cli: None,
    };
    let mut forwards_n_warm = 0;
    for (contender, cycles) in contenders.iter().zip(&cycles) {
        let walls: Vec<Duration> = cycles.iter().map(|cycle| cycle.wall).collect();
        let summary = Summary::of(&walls);
        match contender {
            Contender::WasmigWarm { .. } => {
                figures.wasmig_warm = summary;
                forwards_n_warm =
                    cycles.iter().map(|cycle| cycle.forwards_max_rss_kib).max().unwrap_or(0);
            }
            Contender::WasmigWarmUnstored { .. } => figures.wasmig_warm_unstored = summary,
            Contender::WasmigCold { .. } => figures.wasmig_cold = summary,
            Contender::Floor { history: FloorHistory::LedgerOnly, .. } => figures.floor = summary,
            Contender::Floor {
                history: FloorHistory::StoredComponents,
                journal: FloorJournal::Default,
                ..
            } => figures.floor_stored_components = summary,
            Contender::Floor {
                history: FloorHistory::StoredComponents,
                journal: FloorJournal::Kept,
                ..
            } => figures.floor_stored_journal_kept = summary,
            Contender::SqlxCli { .. } => figures.sqlx_cli = summary,
        }
    }
    Ok((figures, forwards_n_warm))
}

/// Workload B: `check --format json` over a project of several apps, all pending, warm
/// cache; then the peak RSS of `forwards all -y` over the same project, warm. Returns the
/// check summary and that peak in KiB.
fn check_and_memory(
    settings: &Settings,
    wasmig: &Wasmig,
    component: &[u8],
    work: &Path,
) -> Result<(Summary, u64)> {
    let project: Project =
        workload::write_project(&work.join("b"), "b", &CHECK_APPS, settings.check_n, component)?;
    let cache = create_dir(&work.join("cache-b"))?;
    // wasmig trusts what it recorded about a file only once the file has not changed for
    // two seconds (a change within the same clock tick could keep its size and times);
    // files of a real project are older than that.
    thread::sleep(Duration::from_millis(2100));

    // The untimed warm-up, which also checks that `check` sees every migration as pending.
    eprintln!("B: warm-up: check");
    let (applied, listed) = wasmig.count_applied(&project.root, &cache)?;
    ensure!(
        (applied, listed) == (0, settings.check_n),
        "`check` lists {listed} migrations, {applied} applied; expected {} pending",
        settings.check_n
    );
    let mut walls = Vec::with_capacity(settings.runs);
    for run in 1..=settings.runs {
        eprintln!("B: run {run}/{}: check", settings.runs);
        let command = wasmig.command(&project.root, &cache, &["check", "--format", "json"]);
        walls.push(measure::run(command, None, Stdout::Discard)?.wall);
    }
    let check = Summary::of(&walls).context("no check runs")?;

    // `check` need not compile anything, so a full cycle first makes sure every component
    // is in the cache; the measured forwards then starts from an empty database again.
    eprintln!("B: peak RSS: forwards all ({} migrations)", settings.check_n);
    wasmig.checked_cycle(&project, &cache)?;
    remove_database(&project.root.join("wasmig.db"))?;
    let forwards = wasmig.run(&project.root, &cache, &["forwards", "all", "-y"])?;
    Ok((check, forwards.max_rss_kib))
}

/// The installed sqlx-cli, if it has what the bench needs; otherwise says why it is skipped.
fn sqlx_cli(notes: &mut Vec<String>) -> Result<Option<PathBuf>> {
    let Some(sqlx) = find_on_path("sqlx") else {
        note(
            notes,
            format!("sqlx-cli skipped: `sqlx` is not on PATH; install with `{SQLX_INSTALL}`"),
        );
        return Ok(None);
    };
    // `--target-version 0` (revert everything in one command) is how the bench reverts.
    let help = Command::new(&sqlx)
        .args(["migrate", "revert", "--help"])
        .output()
        .with_context(|| format!("cannot run {}", sqlx.display()))?;
    if !String::from_utf8_lossy(&help.stdout).contains("--target-version") {
        note(
            notes,
            format!(
                "sqlx-cli skipped: {} has no `migrate revert --target-version`; install with `{SQLX_INSTALL}`",
                sqlx.display()
            ),
        );
        return Ok(None);
    }
    Ok(Some(sqlx))
}

/// Prints a note now and keeps it for the report.
fn note(notes: &mut Vec<String>, note: String) {
    eprintln!("note: {note}");
    notes.push(note);
}

fn create_dir(path: &Path) -> Result<PathBuf> {
    fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path.to_owned())
}
