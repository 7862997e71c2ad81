//! Workload C: one migration set applied to a fleet of SQLite databases, by one wasmig
//! fleet run, by a shell loop running wasmig once per database, and by a shell loop of
//! sqlx-cli (when installed).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::contender::Wasmig;
use crate::measure::{self, Stdout, Summary};
use crate::workload;

/// The figures of workload C.
#[derive(Debug)]
pub struct Figures {
    pub targets: usize,
    pub migrations: usize,
    pub fleet: Summary,
    pub wasmig_loop: Summary,
    pub sqlx_loop: Option<Summary>,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "C: forwards all of {} migrations on each of {} SQLite databases; median of {} interleaved run(s)\n",
            self.migrations, self.targets, self.fleet.runs
        )?;
        let row = |f: &mut std::fmt::Formatter<'_>, label: &str, s: &Summary| {
            writeln!(
                f,
                "{label:<30} {:>9.1} ms {:>9.1} ms {:>9.1} ms",
                s.median_ms, s.min_ms, s.max_ms
            )
        };
        row(f, "wasmig fleet (--targets)", &self.fleet)?;
        row(f, "shell loop of wasmig", &self.wasmig_loop)?;
        if let Some(sqlx) = &self.sqlx_loop {
            row(f, "shell loop of sqlx-cli", sqlx)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "wasmig loop / fleet       {:>8.2}x",
            self.wasmig_loop.median_ms / self.fleet.median_ms
        )?;
        if let Some(sqlx) = &self.sqlx_loop {
            writeln!(
                f,
                "sqlx-cli loop / fleet     {:>8.2}x",
                sqlx.median_ms / self.fleet.median_ms
            )?;
        }
        Ok(())
    }
}

/// Measures workload C with `targets` databases of `migrations` migrations each.
pub fn measure(
    wasmig: &Wasmig,
    sqlx: Option<&Path>,
    component: &[u8],
    work: &Path,
    (targets, migrations, runs): (usize, usize, usize),
) -> Result<Figures> {
    let project = workload::write_project(&work.join("c"), "c", &["bench"], migrations, component)?;
    let cache = create(&work.join("cache-c"))?;
    let databases = work.join("c-databases");
    let urls: Vec<String> = (0..targets)
        .map(|i| format!("sqlite://{}", databases.join(format!("t{i:04}.db")).display()))
        .collect();
    let targets_file = work.join("c-targets.txt");
    fs::write(&targets_file, urls.join("\n") + "\n").context("cannot write the targets file")?;
    let mut wasmig_loop = String::from("set -e\n");
    for url in &urls {
        writeln!(wasmig_loop, "\"$WASMIG\" --database-url '{url}' forwards all -y > /dev/null")?;
    }
    let wasmig_script = work.join("c-wasmig-loop.sh");
    fs::write(&wasmig_script, wasmig_loop).context("cannot write the loop script")?;
    let sqlx_script = match sqlx {
        Some(sqlx) => {
            let folder = create(&work.join("c-sqlx"))?;
            workload::write_sqlx_migrations(&folder, &project.migrations)?;
            let mut script = String::from("set -e\n");
            for url in &urls {
                writeln!(
                    script,
                    "'{}' migrate run --source '{}' --database-url '{url}?mode=rwc' > /dev/null",
                    sqlx.display(),
                    folder.join("migrations").display()
                )?;
            }
            let path = work.join("c-sqlx-loop.sh");
            fs::write(&path, script).context("cannot write the sqlx loop script")?;
            Some(path)
        }
        None => None,
    };

    let fleet_args = ["--targets", &targets_file.display().to_string(), "forwards", "all", "-y"]
        .map(String::from);
    let fleet = || {
        let args: Vec<&str> = fleet_args.iter().map(String::as_str).collect();
        let mut command = wasmig.command(&project.root, &cache, &args);
        command.stderr(std::process::Stdio::null());
        command
    };
    let shell = |script: &Path| {
        let mut command = Command::new("bash");
        command
            .arg(script)
            .current_dir(&project.root)
            .env("WASMIG", &wasmig.binary)
            .env("WASMIG_CACHE_DIR", &cache)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL");
        command
    };
    let fresh = || -> Result<()> {
        if databases.exists() {
            fs::remove_dir_all(&databases).context("cannot remove the fleet's databases")?;
        }
        create(&databases).map(drop)
    };

    eprintln!("C: warm-up: wasmig fleet");
    fresh()?;
    measure::run(fleet(), None, Stdout::Discard)?;
    let applied = fs::read_dir(&databases)?.count();
    ensure!(
        applied >= targets,
        "the fleet run left {applied} database files for {targets} targets"
    );
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for run in 1..=runs {
        eprintln!(
            "C: run {run}/{runs}: wasmig fleet, wasmig loop{}",
            if sqlx_script.is_some() { ", sqlx-cli loop" } else { "" }
        );
        fresh()?;
        samples[0].push(measure::run(fleet(), None, Stdout::Discard)?.wall);
        fresh()?;
        samples[1].push(measure::run(shell(&wasmig_script), None, Stdout::Discard)?.wall);
        if let Some(script) = &sqlx_script {
            fresh()?;
            samples[2].push(measure::run(shell(script), None, Stdout::Discard)?.wall);
        }
    }
    Ok(Figures {
        targets,
        migrations,
        fleet: Summary::of(&samples[0]).context("no fleet runs")?,
        wasmig_loop: Summary::of(&samples[1]).context("no loop runs")?,
        sqlx_loop: Summary::of(&samples[2]),
    })
}

fn create(path: &Path) -> Result<PathBuf> {
    fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path.to_owned())
}
