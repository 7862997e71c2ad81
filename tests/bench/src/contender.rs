//! The programs compared on workload A, and how each runs one cycle: every migration
//! forwards, then every migration backwards, from an empty database, as two commands.

use std::env;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::measure::{self, Execution, Stdout};
use crate::workload::{self, FloorHistory, FloorJournal, FloorScripts, Migration, Project};

/// The wasmig binary under test.
#[derive(Debug)]
pub struct Wasmig {
    pub binary: PathBuf,
}

impl Wasmig {
    /// `wasmig ARGS` in `project` with its compile cache at `cache`, and nothing from the
    /// bench's own environment that could change what it does: the database comes from the
    /// project's default (`wasmig.db` beside `wasmig.toml`), and no colour codes are written.
    pub fn command(&self, project: &Path, cache: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(project)
            .env("NO_COLOR", "1")
            .env("WASMIG_CACHE_DIR", cache)
            .env_remove("DATABASE_URL");
        command
    }

    /// Runs `wasmig ARGS` and measures it; a nonzero exit is an error.
    pub fn run(&self, project: &Path, cache: &Path, args: &[&str]) -> Result<Execution> {
        measure::run(self.command(project, cache, args), None, Stdout::Keep)
    }

    /// How many migrations `wasmig check --format json` reports as applied, out of how many.
    pub fn count_applied(&self, project: &Path, cache: &Path) -> Result<(usize, usize)> {
        let check = self.run(project, cache, &["check", "--format", "json"])?;
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&check.stdout)
            .context("`wasmig check` printed no JSON array")?;
        let applied = rows.iter().filter(|row| row["has_ran"] == true).count();
        Ok((applied, rows.len()))
    }

    /// An untimed cycle that checks, through `check`, that every migration was applied and
    /// then reverted: a wasmig that did nothing quickly must not pass for a fast one.
    pub fn checked_cycle(&self, project: &Project, cache: &Path) -> Result<()> {
        let expected = project.migrations.len();
        remove_database(&project.root.join("wasmig.db"))?;
        self.run(&project.root, cache, &["forwards", "all", "-y"])?;
        let (applied, listed) = self.count_applied(&project.root, cache)?;
        ensure!(
            (applied, listed) == (expected, expected),
            "after `forwards all`, `check` lists {applied} of {listed} migrations as applied; \
             expected all {expected}"
        );
        self.run(&project.root, cache, &["backwards", "all", "-y"])?;
        let (applied, _) = self.count_applied(&project.root, cache)?;
        ensure!(applied == 0, "after `backwards all`, `check` still lists {applied} as applied");
        Ok(())
    }

    /// One cycle of `project` from an empty database.
    fn cycle(&self, project: &Project, cache: &Path) -> Result<Cycle> {
        remove_database(&project.root.join("wasmig.db"))?;
        let forwards = self.run(&project.root, cache, &["forwards", "all", "-y"])?;
        let backwards = self.run(&project.root, cache, &["backwards", "all", "-y"])?;
        Ok(Cycle::of(&forwards, &backwards))
    }
}

/// One measured cycle.
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    /// The two commands' wall times added up; resetting the database between cycles and
    /// the bench's own bookkeeping are not counted.
    pub wall: Duration,
    /// Peak resident set of the forwards command, KiB.
    pub forwards_max_rss_kib: u64,
}

impl Cycle {
    fn of(forwards: &Execution, backwards: &Execution) -> Cycle {
        Cycle { wall: forwards.wall + backwards.wall, forwards_max_rss_kib: forwards.max_rss_kib }
    }
}

/// A way of applying and reverting workload A.
#[derive(Debug)]
pub enum Contender {
    /// wasmig with a compile cache filled beforehand: the everyday case on a developer's
    /// machine or a CI job that keeps its cache.
    WasmigWarm { cache: PathBuf },
    /// The same, on a twin of the project over the same files whose `wasmig.toml` stores
    /// no components (`[history] store_artefacts = false`): what the sandbox costs on its
    /// own, without the history wasmig keeps by default.
    WasmigWarmUnstored { cache: PathBuf, project: Project },
    /// wasmig with an empty compile cache (a fresh folder in `caches` per cycle): the first
    /// run on a machine, where every component is compiled.
    WasmigCold { caches: PathBuf },
    /// The `sqlite3` shell replaying the same statements and ledger rows: what SQLite
    /// itself costs, with no migration tool in between.
    Floor {
        sqlite3: PathBuf,
        database: PathBuf,
        scripts: FloorScripts,
        history: FloorHistory,
        journal: FloorJournal,
    },
    /// sqlx-cli on the same statements as reversible SQL migrations: a mainstream
    /// migration tool for comparison.
    SqlxCli { sqlx: PathBuf, folder: PathBuf, database: PathBuf },
}

impl Contender {
    /// A floor replaying `migrations` with `sqlite3`, its scripts and database in `folder`.
    pub fn floor(
        sqlite3: &Path,
        folder: &Path,
        migrations: &[Migration],
        history: FloorHistory,
        journal: FloorJournal,
    ) -> Result<Contender> {
        let scripts = workload::write_floor_scripts(folder, migrations, history, journal)?;
        Ok(Contender::Floor {
            sqlite3: sqlite3.to_owned(),
            database: folder.join("floor.db"),
            scripts,
            history,
            journal,
        })
    }

    /// The row name in the report.
    pub fn label(&self) -> &'static str {
        match self {
            Contender::WasmigWarm { .. } => "wasmig warm",
            Contender::WasmigWarmUnstored { .. } => "wasmig warm, nothing stored",
            Contender::WasmigCold { .. } => "wasmig cold",
            Contender::Floor { history: FloorHistory::LedgerOnly, .. } => "floor (sqlite3)",
            Contender::Floor {
                history: FloorHistory::StoredComponents,
                journal: FloorJournal::Default,
                ..
            } => "floor + stored components",
            Contender::Floor {
                history: FloorHistory::StoredComponents,
                journal: FloorJournal::Kept,
                ..
            } => "floor + stored, journal kept",
            Contender::SqlxCli { .. } => "sqlx-cli",
        }
    }

    /// The project this contender runs: its own twin, or the shared `project`.
    fn project<'p>(&'p self, project: &'p Project) -> &'p Project {
        match self {
            Contender::WasmigWarmUnstored { project: twin, .. } => twin,
            _ => project,
        }
    }

    /// Runs one cycle of `project` (or its equivalent) and measures it.
    pub fn cycle(&self, wasmig: &Wasmig, project: &Project) -> Result<Cycle> {
        let project = self.project(project);
        match self {
            Contender::WasmigWarm { cache } | Contender::WasmigWarmUnstored { cache, .. } => {
                wasmig.cycle(project, cache)
            }
            Contender::WasmigCold { caches } => {
                // Created and removed outside the timed commands.
                let cache = tempfile::tempdir_in(caches).context("cannot create a cache dir")?;
                wasmig.cycle(project, cache.path())
            }
            Contender::Floor { sqlite3, database, scripts, .. } => {
                remove_database(database)?;
                let run = |script: &Path| {
                    let mut command = Command::new(sqlite3);
                    command.arg(database);
                    measure::run(command, Some(script), Stdout::Keep)
                };
                Ok(Cycle::of(&run(&scripts.forwards)?, &run(&scripts.backwards)?))
            }
            Contender::SqlxCli { sqlx, folder, database } => {
                remove_database(database)?;
                let url = format!("sqlite://{}?mode=rwc", database.display());
                let run = |args: &[&str]| {
                    let mut command = Command::new(sqlx);
                    command
                        .arg("migrate")
                        .args(args)
                        .args(["--database-url", &url])
                        .current_dir(folder)
                        .env_remove("DATABASE_URL");
                    measure::run(command, None, Stdout::Keep)
                };
                let forwards = run(&["run"])?;
                let backwards = run(&["revert", "--target-version", "0"])?;
                Ok(Cycle::of(&forwards, &backwards))
            }
        }
    }

    /// The untimed first cycle. For warm wasmig it fills the cache and checks that wasmig
    /// really applies and reverts every migration.
    pub fn warm_up(&self, wasmig: &Wasmig, project: &Project) -> Result<()> {
        match self {
            Contender::WasmigWarm { cache } | Contender::WasmigWarmUnstored { cache, .. } => {
                wasmig.checked_cycle(self.project(project), cache)
            }
            _ => self.cycle(wasmig, project).map(drop),
        }
    }
}

/// Runs every contender's untimed warm-up, then `runs` rounds of one cycle each (so a slow
/// spell of the machine lands on all of them), and gives each contender's cycles.
pub fn interleave(
    wasmig: &Wasmig,
    project: &Project,
    contenders: &[Contender],
    runs: usize,
    workload: &str,
) -> Result<Vec<Vec<Cycle>>> {
    for contender in contenders {
        eprintln!("{workload}: warm-up: {}", contender.label());
        contender.warm_up(wasmig, project).with_context(|| contender.label())?;
    }
    let mut cycles = vec![Vec::new(); contenders.len()];
    for run in 1..=runs {
        for (contender, cycles) in contenders.iter().zip(&mut cycles) {
            eprintln!("{workload}: run {run}/{runs}: {}", contender.label());
            cycles.push(contender.cycle(wasmig, project).with_context(|| contender.label())?);
        }
    }
    Ok(cycles)
}

/// Deletes a SQLite database and every file SQLite or wasmig keeps beside it.
pub fn remove_database(database: &Path) -> Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm", ".lock"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(error)
                    .with_context(|| format!("cannot delete {}", Path::new(&path).display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The first executable file called `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| {
        fs::metadata(candidate)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
}
