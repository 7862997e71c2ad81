//! Generating the bench's inputs: wasmig projects, the equivalent `sqlite3` scripts and the
//! equivalent sqlx-cli migrations.
//!
//! All three carry exactly the statements of the `guest_bench_table` component
//! (tests/guests/bench-table), so the contenders differ only in how they get those
//! statements to SQLite and keep their ledger.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use sha2::{Digest, Sha256};

/// The ID of migration `k` is `FIRST_ID + k`: 14 digits, like `wasmig new` writes.
const FIRST_ID: u64 = 20_240_101_000_000;

/// The guest's description (`export_migration!` in tests/guests/bench-table); the floor
/// writes it into its ledger rows as wasmig does.
const DESCRIPTION: &str = "Bench table";

/// Rows the guest inserts into each table.
const ROWS: u32 = 10;

/// The name of the custom section that makes each copy of the component distinct.
const SECTION_NAME: &str = "wasmig-bench";

/// wasmig's compression level for the components it stores (`ZSTD_LEVEL` in host/src/ledger.rs).
const ZSTD_LEVEL: i32 = 1;

/// The table wasmig keeps applied components in, as its SQLite backend creates it.
const FLOOR_ARTEFACTS: &str = "CREATE TABLE IF NOT EXISTS wasmig_artefacts (\
checksum TEXT PRIMARY KEY, size INTEGER NOT NULL, zstd BLOB NOT NULL)";

/// The ledger of the floor: the columns, key and defaults of wasmig's SQLite ledger, so
/// the floor pays for the same bookkeeping row per migration.
const FLOOR_LEDGER: &str = "CREATE TABLE IF NOT EXISTS wasmig_migrations (\
id INTEGER PRIMARY KEY AUTOINCREMENT, app_name TEXT NOT NULL, migration_id TEXT NOT NULL, \
description TEXT NOT NULL, checksum TEXT NOT NULL, \
applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), \
dirty INTEGER NOT NULL DEFAULT 0, UNIQUE(app_name, migration_id))";

/// One migration as the bench installed it.
#[derive(Debug, Clone)]
pub struct Migration {
    pub app: String,
    pub id: String,
    /// sha256 hex of the component file, as wasmig's ledger stores it.
    pub checksum: String,
    /// The component file.
    pub path: PathBuf,
}

impl Migration {
    /// The statements the guest's `forwards` emits.
    pub fn forwards_sql(&self) -> [String; 3] {
        let id = &self.id;
        let values: Vec<String> = (1..=ROWS).map(|n| format!("({n},'row {n}')")).collect();
        [
            format!("CREATE TABLE t_{id} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
            format!("INSERT INTO t_{id} (id, name) VALUES {}", values.join(",")),
            format!("CREATE INDEX i_{id} ON t_{id} (name)"),
        ]
    }

    /// The statements the guest's `backwards` emits.
    pub fn backwards_sql(&self) -> [String; 2] {
        let id = &self.id;
        [format!("DROP INDEX i_{id}"), format!("DROP TABLE t_{id}")]
    }
}

/// A wasmig project on disk: `wasmig.toml` and one folder of components per app.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    /// In app order, then ID order (the order `forwards all` applies them).
    pub migrations: Vec<Migration>,
}

/// Writes a wasmig project at `root` with `count` migrations spread evenly over `apps`
/// (contiguous runs of IDs, the first apps taking one more when `count` does not divide).
///
/// Every file is `component` plus a custom section naming `workload` and the migration's
/// number: a content-addressed compile cache keyed by sha256 then holds one entry per
/// migration, as it would for a real project, instead of compiling one shared component
/// once and serving every other migration from that entry. The workload name keeps two
/// projects from sharing entries too.
pub fn write_project(
    root: &Path,
    workload: &str,
    apps: &[&str],
    count: usize,
    component: &[u8],
) -> Result<Project> {
    let mut config = String::new();
    let mut migrations = Vec::with_capacity(count);
    let mut k = 0;
    for (index, app) in apps.iter().enumerate() {
        let folder = format!("migrations/{app}");
        writeln!(config, "[apps.{app}]\nmigrations = \"{folder}\"\n")?;
        let dir = root.join(&folder);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let in_app = count / apps.len() + usize::from(index < count % apps.len());
        for _ in 0..in_app {
            k += 1;
            let id = (FIRST_ID + k as u64).to_string();
            let bytes = tagged(component, &format!("{workload} {k}"));
            let path = dir.join(format!("{id}_bench_{k}.wasm"));
            fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            let checksum = hex::encode(Sha256::digest(&bytes));
            migrations.push(Migration { app: (*app).to_owned(), id, checksum, path });
        }
    }
    let config_path = root.join("wasmig.toml");
    fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok(Project { root: root.to_owned(), migrations })
}

/// Writes a wasmig project at `root` of one app, `app`, with `count` SQL migrations
/// (`<ID>_bench_<k>.up.sql` and `.down.sql`) carrying the guest's statements, which wasmig
/// assembles into components itself. Each [`Migration`] names its up file, and its
/// checksum is that file's: the floors write it into their ledger rows (and store the up
/// file, a little smaller than the assembled component, as the stored one).
pub fn write_sql_project(root: &Path, app: &str, count: usize) -> Result<Project> {
    let folder = format!("migrations/{app}");
    let dir = root.join(&folder);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut migrations = Vec::with_capacity(count);
    for k in 1..=count {
        let id = (FIRST_ID + k as u64).to_string();
        let up = dir.join(format!("{id}_bench_{k}.up.sql"));
        let mut migration =
            Migration { app: app.to_owned(), id, checksum: String::new(), path: up.clone() };
        let mut text = format!("-- wasmig:description {DESCRIPTION}\n");
        for statement in migration.forwards_sql() {
            writeln!(text, "{statement};")?;
        }
        let down: String =
            migration.backwards_sql().iter().map(|statement| format!("{statement};\n")).collect();
        fs::write(&up, &text).with_context(|| format!("cannot write {}", up.display()))?;
        let down_path = dir.join(format!("{}_bench_{k}.down.sql", migration.id));
        fs::write(&down_path, down)
            .with_context(|| format!("cannot write {}", down_path.display()))?;
        migration.checksum = hex::encode(Sha256::digest(text.as_bytes()));
        migrations.push(migration);
    }
    let config_path = root.join("wasmig.toml");
    fs::write(&config_path, format!("[apps.{app}]\nmigrations = \"{folder}\"\n"))
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok(Project { root: root.to_owned(), migrations })
}

/// A second project at `root` over the migration folders of `project` (the same files,
/// so the same compile cache entries and folder records), whose `wasmig.toml` stores no
/// components (`[history] store_artefacts = false`): wasmig then keeps only the ledger
/// rows, as the plain floor does. Its database is its own.
pub fn unstored_twin(project: &Project, root: &Path) -> Result<Project> {
    let mut config = String::new();
    let mut last_app = None;
    for migration in &project.migrations {
        if last_app == Some(&migration.app) {
            continue;
        }
        last_app = Some(&migration.app);
        let folder = migration.path.parent().context("a migration file has a folder")?;
        // TOML's literal string: the path as it is, backslashes and all, but no quote.
        ensure!(!folder.to_string_lossy().contains('\''), "{} has a quote", folder.display());
        writeln!(config, "[apps.{}]\nmigrations = '{}'\n", migration.app, folder.display())?;
    }
    config.push_str("[history]\nstore_artefacts = false\n");
    fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let path = root.join("wasmig.toml");
    fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Project { root: root.to_owned(), migrations: project.migrations.clone() })
}

/// `component` followed by a component-level custom section `wasmig-bench` whose payload
/// is `payload`. Custom sections may appear anywhere in a component and change nothing it
/// does, only its bytes.
fn tagged(component: &[u8], payload: &str) -> Vec<u8> {
    let mut contents = Vec::new();
    leb128_u32(&mut contents, SECTION_NAME.len());
    contents.extend_from_slice(SECTION_NAME.as_bytes());
    contents.extend_from_slice(payload.as_bytes());

    let mut bytes = component.to_vec();
    bytes.push(0); // section id 0: custom
    leb128_u32(&mut bytes, contents.len());
    bytes.extend_from_slice(&contents);
    bytes
}

/// Appends `value` as an unsigned LEB128 number (the lengths are small: a u32 always fits).
fn leb128_u32(out: &mut Vec<u8>, value: usize) {
    let mut value = value;
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// The two scripts of the floor: what a hand-written migrator calling SQLite directly
/// would do, one transaction per migration with its ledger row, no sandbox at all.
#[derive(Debug)]
pub struct FloorScripts {
    pub forwards: PathBuf,
    pub backwards: PathBuf,
}

/// What the floor keeps besides its ledger rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorHistory {
    /// Nothing: the floor the targets are stated against.
    LedgerOnly,
    /// Each migration's component too, compressed as wasmig compresses it, in wasmig's
    /// artefacts table and in the same transaction, removed with its ledger row: the
    /// history wasmig keeps by default (`[history] store_artefacts`).
    StoredComponents,
}

/// How the floor's connection journals its transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorJournal {
    /// The `sqlite3` shell's default (`delete`): each transaction creates its journal and
    /// deletes it again.
    Default,
    /// The journal kept between transactions (`PRAGMA journal_mode = PERSIST`), as
    /// wasmig's own SQLite connection keeps it (host/src/backend/sqlite.rs).
    Kept,
}

/// Writes `forwards.sql` and `backwards.sql` for the `sqlite3` shell into `dir`.
pub fn write_floor_scripts(
    dir: &Path,
    migrations: &[Migration],
    history: FloorHistory,
    journal: FloorJournal,
) -> Result<FloorScripts> {
    let stored = history == FloorHistory::StoredComponents;
    // Stop at the first error with a nonzero exit, as a failing migration would. The
    // journal mode is the connection's, so each script sets it.
    let mut start = String::from(".bail on\n");
    if journal == FloorJournal::Kept {
        start.push_str("PRAGMA journal_mode = PERSIST;\n");
    }
    let mut forwards = format!("{start}{FLOOR_LEDGER};\n");
    if stored {
        writeln!(forwards, "{FLOOR_ARTEFACTS};")?;
    }
    for migration in migrations {
        forwards.push_str("BEGIN;\n");
        for statement in migration.forwards_sql() {
            writeln!(forwards, "{statement};")?;
        }
        writeln!(
            forwards,
            "INSERT INTO wasmig_migrations (app_name, migration_id, description, checksum) \
             VALUES ('{}', '{}', '{DESCRIPTION}', '{}');",
            migration.app, migration.id, migration.checksum
        )?;
        if stored {
            let bytes = fs::read(&migration.path)
                .with_context(|| format!("cannot read {}", migration.path.display()))?;
            let zstd = zstd::bulk::compress(&bytes, ZSTD_LEVEL)
                .with_context(|| format!("cannot compress {}", migration.path.display()))?;
            writeln!(
                forwards,
                "INSERT INTO wasmig_artefacts (checksum, size, zstd) VALUES ('{}', {}, X'{}') \
                 ON CONFLICT (checksum) DO NOTHING;",
                migration.checksum,
                bytes.len(),
                hex::encode(zstd)
            )?;
        }
        forwards.push_str("COMMIT;\n");
    }

    let mut backwards = start;
    for migration in migrations.iter().rev() {
        backwards.push_str("BEGIN;\n");
        for statement in migration.backwards_sql() {
            writeln!(backwards, "{statement};")?;
        }
        if stored {
            writeln!(
                backwards,
                "DELETE FROM wasmig_artefacts WHERE checksum = '{}';",
                migration.checksum
            )?;
        }
        writeln!(
            backwards,
            "DELETE FROM wasmig_migrations WHERE app_name = '{}' AND migration_id = '{}';\nCOMMIT;",
            migration.app, migration.id
        )?;
    }

    let scripts =
        FloorScripts { forwards: dir.join("forwards.sql"), backwards: dir.join("backwards.sql") };
    fs::write(&scripts.forwards, forwards).context("cannot write the floor's forwards script")?;
    fs::write(&scripts.backwards, backwards)
        .context("cannot write the floor's backwards script")?;
    Ok(scripts)
}

/// Writes the same migrations as sqlx-cli reversible migrations into `dir/migrations`
/// (sqlx-cli's default source folder): `<ID>_bench_<k>.up.sql` and `.down.sql`.
pub fn write_sqlx_migrations(dir: &Path, migrations: &[Migration]) -> Result<()> {
    let folder = dir.join("migrations");
    fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    for (k, migration) in (1..).zip(migrations) {
        let stem = folder.join(format!("{}_bench_{k}", migration.id));
        let up: String = migration.forwards_sql().iter().map(|s| format!("{s};\n")).collect();
        let down: String = migration.backwards_sql().iter().map(|s| format!("{s};\n")).collect();
        fs::write(stem.with_extension("up.sql"), up).context("cannot write an sqlx migration")?;
        fs::write(stem.with_extension("down.sql"), down)
            .context("cannot write an sqlx migration")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_matches_the_spec_examples() {
        let encode = |value| {
            let mut out = Vec::new();
            leb128_u32(&mut out, value);
            out
        };
        assert_eq!(encode(0), [0x00]);
        assert_eq!(encode(127), [0x7f]);
        assert_eq!(encode(128), [0x80, 0x01]);
        assert_eq!(encode(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn tagged_appends_one_custom_section() {
        let bytes = tagged(b"COMPONENT", "a 7");
        let section = &bytes[b"COMPONENT".len()..];
        // id, size, name length, name, payload
        assert_eq!(section[0], 0);
        assert_eq!(usize::from(section[1]), 1 + SECTION_NAME.len() + 3);
        assert_eq!(usize::from(section[2]), SECTION_NAME.len());
        assert!(section.ends_with(b"wasmig-bencha 7"));
    }

    #[test]
    fn project_spreads_migrations_over_apps() {
        let dir = tempfile::tempdir().unwrap();
        let project = write_project(dir.path(), "b", &["app1", "app2"], 5, b"C").unwrap();
        let apps: Vec<&str> = project.migrations.iter().map(|m| m.app.as_str()).collect();
        assert_eq!(apps, ["app1", "app1", "app1", "app2", "app2"]);
        assert_eq!(project.migrations[0].id, "20240101000001");
        assert!(dir.path().join("migrations/app2/20240101000005_bench_5.wasm").is_file());
        let config = fs::read_to_string(dir.path().join("wasmig.toml")).unwrap();
        assert!(config.contains("[apps.app2]\nmigrations = \"migrations/app2\""));
        let checksums: std::collections::HashSet<_> =
            project.migrations.iter().map(|m| &m.checksum).collect();
        assert_eq!(checksums.len(), 5, "every file has its own bytes");
    }

    #[test]
    fn the_unstored_twin_runs_the_same_files_and_stores_no_components() {
        let dir = tempfile::tempdir().unwrap();
        let project =
            write_project(&dir.path().join("a"), "a", &["app1", "app2"], 3, b"C").unwrap();
        let twin = unstored_twin(&project, &dir.path().join("twin")).unwrap();
        assert_eq!(twin.root, dir.path().join("twin"));
        let paths = |p: &Project| p.migrations.iter().map(|m| m.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(&twin), paths(&project));
        let config = fs::read_to_string(dir.path().join("twin/wasmig.toml")).unwrap();
        let folder = |app: &str| dir.path().join("a/migrations").join(app).display().to_string();
        let expected = format!(
            "[apps.app1]\nmigrations = '{}'\n\n[apps.app2]\nmigrations = '{}'\n\n\
             [history]\nstore_artefacts = false\n",
            folder("app1"),
            folder("app2")
        );
        assert_eq!(config, expected);
    }

    #[test]
    fn the_stored_floor_keeps_each_component_as_wasmig_compresses_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = write_project(dir.path(), "f", &["app"], 2, b"COMPONENT").unwrap();
        let plain = write_floor_scripts(
            dir.path(),
            &project.migrations,
            FloorHistory::LedgerOnly,
            FloorJournal::Default,
        )
        .unwrap();
        let forwards = fs::read_to_string(&plain.forwards).unwrap();
        assert!(!forwards.contains("wasmig_artefacts"), "{forwards}");

        let stored = dir.path().join("stored");
        fs::create_dir(&stored).unwrap();
        let scripts = write_floor_scripts(
            &stored,
            &project.migrations,
            FloorHistory::StoredComponents,
            FloorJournal::Default,
        )
        .unwrap();
        let forwards = fs::read_to_string(&scripts.forwards).unwrap();
        let backwards = fs::read_to_string(&scripts.backwards).unwrap();
        for migration in &project.migrations {
            let bytes = fs::read(&migration.path).unwrap();
            let insert = forwards
                .lines()
                .find(|line| {
                    line.starts_with("INSERT INTO wasmig_artefacts")
                        && line.contains(&migration.checksum)
                })
                .expect("one artefact row per migration");
            let blob = insert.split("X'").nth(1).unwrap().split('\'').next().unwrap();
            let zstd = hex::decode(blob).unwrap();
            assert_eq!(zstd::bulk::decompress(&zstd, bytes.len()).unwrap(), bytes);
            assert!(insert.contains(&format!(", {}, X'", bytes.len())), "{insert}");
            let delete =
                format!("DELETE FROM wasmig_artefacts WHERE checksum = '{}';", migration.checksum);
            assert!(backwards.contains(&delete), "{backwards}");
        }
        // Each artefact row is inside its migration's transaction.
        let transaction = forwards.split("BEGIN;").nth(1).unwrap();
        assert!(
            transaction.contains("INSERT INTO wasmig_artefacts")
                && transaction.ends_with("COMMIT;\n")
        );
    }

    #[test]
    fn a_floor_that_keeps_its_journal_sets_it_before_anything_else_in_both_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let project = write_project(dir.path(), "j", &["app"], 2, b"COMPONENT").unwrap();
        let pragma = "PRAGMA journal_mode = PERSIST;";
        for (journal, kept) in [(FloorJournal::Default, false), (FloorJournal::Kept, true)] {
            let folder = dir.path().join(format!("{journal:?}"));
            fs::create_dir(&folder).unwrap();
            let scripts = write_floor_scripts(
                &folder,
                &project.migrations,
                FloorHistory::StoredComponents,
                journal,
            )
            .unwrap();
            for script in [&scripts.forwards, &scripts.backwards] {
                let text = fs::read_to_string(script).unwrap();
                let second = text.lines().nth(1).unwrap();
                assert_eq!(second == pragma, kept, "{journal:?}: {text}");
                assert_eq!(text.matches(pragma).count(), usize::from(kept), "{journal:?}");
            }
        }
    }

    #[test]
    fn statements_match_the_guest() {
        let migration = Migration {
            app: "bench".into(),
            id: "20240101000001".into(),
            checksum: "x".into(),
            path: PathBuf::new(),
        };
        let [create, insert, index] = migration.forwards_sql();
        assert_eq!(
            create,
            "CREATE TABLE t_20240101000001 (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        );
        assert!(insert.starts_with("INSERT INTO t_20240101000001 (id, name) VALUES (1,'row 1'),"));
        assert!(insert.ends_with(",(10,'row 10')"));
        assert_eq!(index, "CREATE INDEX i_20240101000001 ON t_20240101000001 (name)");
    }
}
