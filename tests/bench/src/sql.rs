//! Workload D: SQL migrations, which wasmig assembles into components itself.
//!
//! - assembling: `wasmig build all` over `--assemble-n` SQL migrations (it assembles every
//!   one and says there is nothing to build);
//! - `forwards all` then `backwards all` of `--sql-n` SQL migrations carrying workload A's
//!   statements, by wasmig warm and cold, against the `sqlite3` floors of workload A;
//! - on PostgreSQL (when it answers and `psql` is installed): `forwards all` of a generated
//!   history of `--corpus-n` migrations of the kinds real projects accumulate (extensions,
//!   tables with foreign keys, indexes, views, PL/pgSQL functions, triggers, enum types, `DO`
//!   blocks, data), by warm wasmig against `psql` replaying the same files with ledger rows
//!   in one session.

use std::fmt::{self, Write as _};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use sha2::{Digest, Sha256};

use crate::contender::{self, Contender, Wasmig, find_on_path};
use crate::measure::{self, Stdout, Summary};
use crate::workload::{self, FloorHistory, FloorJournal};

/// The sizes of workload D.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub assemble_n: usize,
    pub n: usize,
    pub corpus_n: usize,
    pub runs: usize,
}

/// The figures of workload D.
#[derive(Debug)]
pub struct Figures {
    pub shape: Shape,
    /// `wasmig build all` over `assemble_n` SQL migrations.
    pub assemble: Summary,
    /// Each contender's forwards + backwards cycle of `n` SQL migrations.
    pub cycles: Vec<(&'static str, Summary)>,
    pub corpus: Option<Corpus>,
}

/// The PostgreSQL history's figures.
#[derive(Debug)]
pub struct Corpus {
    pub migrations: usize,
    pub statements: usize,
    pub wasmig_warm: Summary,
    pub wasmig_warm_unstored: Summary,
    pub psql: Summary,
}

impl Figures {
    fn cycle(&self, label: &str) -> Option<&Summary> {
        self.cycles.iter().find(|(name, _)| *name == label).map(|(_, summary)| summary)
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, label: &str, s: &Summary| {
            writeln!(
                f,
                "{label:<30} {:>9.1} ms {:>9.1} ms {:>9.1} ms",
                s.median_ms, s.min_ms, s.max_ms
            )
        };
        let Shape { assemble_n, n, runs, .. } = self.shape;
        writeln!(f, "D: SQL migrations; median, min, max of {runs} run(s)\n")?;
        row(f, &format!("build all, {assemble_n} assembled"), &self.assemble)?;
        writeln!(f, "\nforwards all + backwards all of {n} SQL migrations, interleaved:")?;
        for (label, summary) in &self.cycles {
            row(f, label, summary)?;
        }
        writeln!(f)?;
        let ratio = |f: &mut fmt::Formatter<'_>, of: &str, to: &str, target: &str| {
            if let (Some(a), Some(b)) = (self.cycle(of), self.cycle(to)) {
                let target =
                    if target.is_empty() { String::new() } else { format!(" (target {target})") };
                writeln!(f, "{of} / {to}: {:.2}x{target}", a.median_ms / b.median_ms)?;
            }
            Ok(())
        };
        ratio(f, "wasmig cold", "floor (sqlite3)", "<= 1.3x")?;
        ratio(f, "wasmig warm", "floor (sqlite3)", "<= 1.1x")?;
        ratio(f, "wasmig cold", "floor + stored components", "")?;
        ratio(f, "wasmig warm", "floor + stored components", "")?;
        if let Some(c) = &self.corpus {
            writeln!(
                f,
                "\nPostgreSQL: forwards all of a history of {} migrations ({} statements):",
                c.migrations, c.statements
            )?;
            row(f, "wasmig warm", &c.wasmig_warm)?;
            row(f, "wasmig warm, nothing stored", &c.wasmig_warm_unstored)?;
            row(f, "psql, one session", &c.psql)?;
            writeln!(
                f,
                "\nwasmig warm / psql: {:.2}x (target <= 1.1x); nothing stored / psql: {:.2}x",
                c.wasmig_warm.median_ms / c.psql.median_ms,
                c.wasmig_warm_unstored.median_ms / c.psql.median_ms
            )?;
        }
        Ok(())
    }
}

/// Measures workload D; `postgres` is the server for the corpus (skipped with a note when
/// it or `psql` is missing).
pub fn measure(
    wasmig: &Wasmig,
    work: &Path,
    shape: Shape,
    postgres: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Figures> {
    let assemble = assemble(wasmig, work, shape)?;
    let cycles = cycles(wasmig, work, shape)?;
    let corpus = match (postgres, find_on_path("psql")) {
        (Some(url), Some(psql)) => Some(corpus(wasmig, &psql, url, work, shape)?),
        (None, _) => {
            let why = "no server answers (WASMIG_BENCH_POSTGRES_URL), or --corpus-n 0";
            crate::note(notes, format!("D: the PostgreSQL history skipped: {why}"));
            None
        }
        (_, None) => {
            crate::note(notes, "D: the PostgreSQL history skipped: `psql` is not on PATH".into());
            None
        }
    };
    Ok(Figures { shape, assemble, cycles, corpus })
}

fn assemble(wasmig: &Wasmig, work: &Path, shape: Shape) -> Result<Summary> {
    let project = workload::write_sql_project(&work.join("d-assemble"), "d", shape.assemble_n)?;
    let cache = crate::create_dir(&work.join("d-assemble-cache"))?;
    let mut walls = Vec::with_capacity(shape.runs);
    for run in 0..=shape.runs {
        eprintln!("D: run {run}/{}: build all ({} SQL migrations)", shape.runs, shape.assemble_n);
        let mut command = wasmig.command(&project.root, &cache, &["build", "all"]);
        command.args(["--format", "json"]);
        let execution = measure::run(command, None, Stdout::Keep)?;
        let report = String::from_utf8_lossy(&execution.stdout);
        ensure!(
            report.matches("not_needed").count() == shape.assemble_n,
            "`wasmig build all` did not report every SQL migration as assembled: {report}"
        );
        // Run 0 warms the page cache and is not counted.
        if run > 0 {
            walls.push(execution.wall);
        }
    }
    Summary::of(&walls).context("no build runs")
}

fn cycles(wasmig: &Wasmig, work: &Path, shape: Shape) -> Result<Vec<(&'static str, Summary)>> {
    let project = workload::write_sql_project(&work.join("d"), "d", shape.n)?;
    let mut contenders = vec![
        Contender::WasmigWarm { cache: crate::create_dir(&work.join("d-cache-warm"))? },
        Contender::WasmigCold { caches: crate::create_dir(&work.join("d-cache-cold"))? },
    ];
    if let Some(sqlite3) = find_on_path("sqlite3") {
        for (name, history) in [
            ("d-floor", FloorHistory::LedgerOnly),
            ("d-floor-stored", FloorHistory::StoredComponents),
        ] {
            let folder = crate::create_dir(&work.join(name))?;
            let journal = FloorJournal::Default;
            contenders.push(Contender::floor(
                &sqlite3,
                &folder,
                &project.migrations,
                history,
                journal,
            )?);
        }
    }
    let cycles = contender::interleave(wasmig, &project, &contenders, shape.runs, "D")?;
    contenders
        .iter()
        .zip(&cycles)
        .map(|(c, cycles)| {
            let walls: Vec<Duration> = cycles.iter().map(|cycle| cycle.wall).collect();
            Ok((c.label(), Summary::of(&walls).context("no runs")?))
        })
        .collect()
}

/// The database the corpus is applied to, created afresh before every run.
const CORPUS_DB: &str = "wasmig_bench_corpus";

fn corpus(wasmig: &Wasmig, psql: &Path, url: &str, work: &Path, shape: Shape) -> Result<Corpus> {
    let server = url.rsplit_once('/').map_or(url, |(server, _)| server);
    let target = format!("{server}/{CORPUS_DB}");
    let root = crate::create_dir(&work.join("d-corpus"))?;
    let history = write_corpus(&root, shape.corpus_n)?;
    let stored = format!("database_url = \"{target}\"\n[apps.shop]\nmigrations = \"migrations\"\n");
    fs::write(root.join("wasmig.toml"), &stored).context("cannot write the corpus wasmig.toml")?;
    let twin = crate::create_dir(&work.join("d-corpus-unstored"))?;
    let folder = root.join("migrations");
    fs::write(
        twin.join("wasmig.toml"),
        format!(
            "database_url = \"{target}\"\n[apps.shop]\nmigrations = '{}'\n\
             [history]\nstore_artefacts = false\n",
            folder.display()
        ),
    )
    .context("cannot write the corpus twin's wasmig.toml")?;
    let script = root.join("replay.sql");
    fs::write(&script, psql_script(&history)).context("cannot write the psql script")?;
    let cache = crate::create_dir(&work.join("d-corpus-cache"))?;

    let reset = || -> Result<()> {
        let mut command = Command::new(psql);
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
        command.args(["-c", &format!("DROP DATABASE IF EXISTS {CORPUS_DB}")]);
        command.args(["-c", &format!("CREATE DATABASE {CORPUS_DB}")]);
        measure::run(command, None, Stdout::Discard).map(drop)
    };
    let run_wasmig = |project: &Path| -> Result<Duration> {
        reset()?;
        let mut command = wasmig.command(project, &cache, &["forwards", "all", "-y"]);
        command.env_remove("DATABASE_URL");
        Ok(measure::run(command, None, Stdout::Discard)?.wall)
    };
    let run_psql = || -> Result<Duration> {
        reset()?;
        let mut command = Command::new(psql);
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &target, "-f"]).arg(&script);
        Ok(measure::run(command, None, Stdout::Discard)?.wall)
    };

    // Untimed: fills the cache and checks that wasmig applies every migration.
    eprintln!("D: warm-up: the PostgreSQL history ({} migrations)", history.len());
    run_wasmig(&root)?;
    let check = wasmig.run(&root, &cache, &["check", "--format", "json"])?;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&check.stdout)?;
    let applied = rows.iter().filter(|row| row["has_ran"] == true).count();
    ensure!(applied == history.len(), "the corpus: {applied} of {} applied", history.len());
    run_psql()?;

    let (mut warm, mut unstored, mut replay) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=shape.runs {
        eprintln!("D: run {run}/{}: the PostgreSQL history", shape.runs);
        warm.push(run_wasmig(&root)?);
        unstored.push(run_wasmig(&twin)?);
        replay.push(run_psql()?);
    }
    let mut drop_db = Command::new(psql);
    drop_db.args(["-X", "-q", "-d", url, "-c", &format!("DROP DATABASE IF EXISTS {CORPUS_DB}")]);
    measure::run(drop_db, None, Stdout::Discard)?;
    Ok(Corpus {
        migrations: history.len(),
        statements: history.iter().map(|m| m.statements).sum(),
        wasmig_warm: Summary::of(&warm).context("no runs")?,
        wasmig_warm_unstored: Summary::of(&unstored).context("no runs")?,
        psql: Summary::of(&replay).context("no runs")?,
    })
}

/// One migration of the corpus as written.
#[derive(Debug)]
struct CorpusMigration {
    id: String,
    description: String,
    text: String,
    statements: usize,
}

/// Writes `count` migrations into `root/migrations`, cycling through the kinds a real
/// PostgreSQL history accumulates; each builds on objects made before it.
fn write_corpus(root: &Path, count: usize) -> Result<Vec<CorpusMigration>> {
    let dir = crate::create_dir(&root.join("migrations"))?;
    let mut written = Vec::with_capacity(count);
    let extensions = ["pgcrypto", "citext", "hstore", "pg_trgm", "uuid-ossp"];
    for k in 0..count {
        let id = (20_250_101_000_000 + k as u64).to_string();
        // After the extensions, groups of eight around one table each.
        let j = k.saturating_sub(extensions.len());
        let t = j / 8;
        let (slug, statements): (String, Vec<String>) = match (k, j % 8) {
            (k, _) if k < extensions.len() => (
                format!("extension_{}", extensions[k].replace('-', "_")),
                vec![format!("CREATE EXTENSION IF NOT EXISTS \"{}\"", extensions[k])],
            ),
            (_, 0) => (
                format!("create_items_{t}"),
                vec![
                    format!(
                        "CREATE TABLE items_{t} (\n  id BIGSERIAL PRIMARY KEY,\n  name TEXT NOT NULL,\n  \
                         price NUMERIC(12, 2) NOT NULL DEFAULT 0 CHECK (price >= 0),\n  \
                         created_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n  parent_id BIGINT{}\n)",
                        if t == 0 {
                            String::new()
                        } else {
                            format!(" REFERENCES items_{} (id)", t - 1)
                        }
                    ),
                    format!("COMMENT ON TABLE items_{t} IS 'Items, group {t}; it''s generated'"),
                ],
            ),
            (_, 1) => (
                format!("index_items_{t}"),
                vec![
                    format!("CREATE INDEX items_{t}_name ON items_{t} (lower(name))"),
                    format!("CREATE INDEX items_{t}_created ON items_{t} (created_at DESC)"),
                ],
            ),
            (_, 2) => (
                format!("seed_items_{t}"),
                vec![format!(
                    "INSERT INTO items_{t} (name, price)\nSELECT 'item ' || n, n * 1.5 FROM generate_series(1, 200) AS n"
                )],
            ),
            (_, 3) => (
                format!("view_items_{t}"),
                vec![format!(
                    "CREATE VIEW items_{t}_priced AS\nSELECT id, name, price, price * 1.2 AS gross\nFROM items_{t} WHERE price > 10"
                )],
            ),
            (_, 4) => (
                format!("function_items_{t}"),
                vec![format!(
                    "CREATE FUNCTION items_{t}_total(min_price NUMERIC) RETURNS NUMERIC AS $$\n\
                     DECLARE\n  total NUMERIC;\nBEGIN\n  SELECT coalesce(sum(price), 0) INTO total\n  \
                     FROM items_{t} WHERE price >= min_price; -- a ';' in a comment\n  RETURN total;\nEND;\n\
                     $$ LANGUAGE plpgsql STABLE"
                )],
            ),
            (_, 5) => (
                format!("trigger_items_{t}"),
                vec![
                    format!("ALTER TABLE items_{t} ADD COLUMN updated_at TIMESTAMPTZ"),
                    format!(
                        "CREATE FUNCTION items_{t}_touch() RETURNS trigger AS $body$\nBEGIN\n  \
                         NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql"
                    ),
                    format!(
                        "CREATE TRIGGER items_{t}_touch BEFORE UPDATE ON items_{t}\n\
                         FOR EACH ROW EXECUTE FUNCTION items_{t}_touch()"
                    ),
                ],
            ),
            (_, 6) => (
                format!("status_items_{t}"),
                vec![
                    format!("CREATE TYPE items_{t}_status AS ENUM ('draft', 'live', 'gone')"),
                    format!(
                        "ALTER TABLE items_{t} ADD COLUMN status items_{t}_status NOT NULL DEFAULT 'draft'"
                    ),
                ],
            ),
            _ => (
                format!("backfill_items_{t}"),
                vec![format!(
                    "DO $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM items_{t}) THEN\n    \
                     UPDATE items_{t} SET status = 'live' WHERE price > 100;\n  END IF;\nEND\n$$"
                )],
            ),
        };
        let description = slug.replace('_', " ");
        let mut text = format!("-- wasmig:description {description}\n");
        for statement in &statements {
            writeln!(text, "{statement};")?;
        }
        let path = dir.join(format!("{id}_{slug}.up.sql"));
        fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(CorpusMigration { id, description, text, statements: statements.len() });
    }
    Ok(written)
}

/// The corpus as one `psql` script: each migration's file and its ledger row in a
/// transaction of its own, as wasmig applies them.
fn psql_script(history: &[CorpusMigration]) -> String {
    let mut script = String::from(
        "CREATE TABLE IF NOT EXISTS wasmig_migrations (id BIGSERIAL PRIMARY KEY, \
         app_name TEXT NOT NULL, migration_id TEXT NOT NULL, description TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
         dirty BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE (app_name, migration_id));\n",
    );
    for m in history {
        let checksum = hex::encode(Sha256::digest(m.text.as_bytes()));
        script.push_str("BEGIN;\n");
        script.push_str(&m.text);
        script.push_str(&format!(
            "INSERT INTO wasmig_migrations (app_name, migration_id, description, checksum) \
             VALUES ('shop', '{}', '{}', '{checksum}');\nCOMMIT;\n",
            m.id, m.description
        ));
    }
    script
}

/// The PostgreSQL server the corpus runs on, if it answers: `WASMIG_BENCH_POSTGRES_URL`,
/// else the test suite's default.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("WASMIG_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let psql = find_on_path("psql")?;
    let probe = Command::new(psql).args(["-X", "-q", "-d", &url, "-c", "SELECT 1"]).output();
    probe.is_ok_and(|output| output.status.success()).then_some(url)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_corpus_has_every_kind_and_each_statement_once_in_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let history = write_corpus(dir.path(), 40).unwrap();
        assert_eq!(history.len(), 40);
        let all: String = history.iter().map(|m| m.text.as_str()).collect();
        for kind in [
            "CREATE EXTENSION",
            "REFERENCES",
            "CREATE VIEW",
            "$$ LANGUAGE plpgsql",
            "CREATE TRIGGER",
            "CREATE TYPE",
            "DO $$",
            "generate_series",
        ] {
            assert!(all.contains(kind), "no {kind} in the corpus");
        }
        let files = fs::read_dir(dir.path().join("migrations")).unwrap().count();
        assert_eq!(files, 40);
        let script = psql_script(&history);
        assert_eq!(script.matches("BEGIN;\n").count(), 40);
        assert_eq!(script.matches("INSERT INTO wasmig_migrations").count(), 40);
    }

    #[test]
    fn a_sql_project_holds_an_up_and_a_down_file_per_migration() {
        let dir = tempfile::tempdir().unwrap();
        let project = workload::write_sql_project(dir.path(), "d", 3).unwrap();
        assert_eq!(project.migrations.len(), 3);
        let first = &project.migrations[0];
        let up = fs::read_to_string(&first.path).unwrap();
        assert!(up.starts_with("-- wasmig:description Bench table\nCREATE TABLE t_"), "{up}");
        let down = PathBuf::from(first.path.to_string_lossy().replace(".up.sql", ".down.sql"));
        assert!(fs::read_to_string(down).unwrap().starts_with("DROP INDEX i_"));
    }
}
