//! What the CLI tests share: building the guest components once, temp projects, and a look
//! into the database afterwards.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use assert_cmd::cargo::CommandCargoExt;
use tempfile::TempDir;
use wasmig::Value;
use wasmig::db::{Access, Connection};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// Built components: the sample migrations by `<app>/<ID>_<slug>`, test guests by folder name.
#[derive(Debug)]
pub struct Components {
    pub samples: BTreeMap<String, PathBuf>,
    pub guests: BTreeMap<String, PathBuf>,
}

fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).expect("read Cargo.toml");
    let table: toml::Table = text.parse().expect("parse Cargo.toml");
    table["package"]["name"].as_str().expect("package.name").to_string()
}

fn crates_in(pattern_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(pattern_dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("Cargo.toml").is_file());
    dirs.sort();
    dirs
}

/// Builds every sample migration and test guest for wasm32-wasip2, once per test process.
pub fn components() -> &'static Components {
    static BUILT: OnceLock<Components> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = root();
        let mut samples = Vec::new();
        for app_dir in crates_in_any(&root.join("sample-migrations/migrations")) {
            for krate in crates_in(&app_dir) {
                samples.push((app_dir.file_name().unwrap().to_string_lossy().into_owned(), krate));
            }
        }
        let guests = crates_in(&root.join("tests/guests"));
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.current_dir(&root).args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
        ]);
        for dir in samples.iter().map(|(_, d)| d).chain(&guests) {
            cargo.args(["-p", &package_name(&dir.join("Cargo.toml"))]);
        }
        let status = cargo.status().expect("run cargo");
        assert!(
            status.success(),
            "building the guest components failed (is wasm32-wasip2 installed?)"
        );

        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("wasm32-wasip2/release");
        let artefact = |dir: &Path| {
            let path = target
                .join(format!("{}.wasm", package_name(&dir.join("Cargo.toml")).replace('-', "_")));
            assert!(path.is_file(), "missing {}", path.display());
            path
        };
        Components {
            samples: samples
                .iter()
                .map(|(app, dir)| {
                    (format!("{app}/{}", dir.file_name().unwrap().to_string_lossy()), artefact(dir))
                })
                .collect(),
            guests: guests
                .iter()
                .map(|dir| (dir.file_name().unwrap().to_string_lossy().into_owned(), artefact(dir)))
                .collect(),
        }
    })
}

fn crates_in_any(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// A copy of the sample project in a temp dir, with its components built and a fresh
/// SQLite database.
pub struct TestProject {
    pub dir: TempDir,
}

impl TestProject {
    /// The sample project with every sample migration.
    pub fn sample() -> Self {
        let project = Self::empty(
            &std::fs::read_to_string(root().join("sample-migrations/wasmig.toml")).unwrap(),
        );
        for (key, path) in &components().samples {
            let (app, stem) = key.split_once('/').unwrap();
            project.install(app, stem, path);
        }
        project
    }

    /// A project with this config and no migrations (app folders created).
    pub fn empty(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wasmig.toml"), config).unwrap();
        let table: toml::Table = config.parse().unwrap();
        if let Some(apps) = table.get("apps").and_then(|a| a.as_table()) {
            for app in apps.values() {
                std::fs::create_dir_all(dir.path().join(app["migrations"].as_str().unwrap()))
                    .unwrap();
            }
        }
        TestProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The folder of `app` (by the sample layout).
    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.path().join("migrations").join(app)
    }

    /// Copies a component into `app` as `<stem>.wasm`.
    pub fn install(&self, app: &str, stem: &str, component: &Path) -> PathBuf {
        let target = self.app_dir(app).join(format!("{stem}.wasm"));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(component, &target).unwrap();
        target
    }

    /// Copies the test guest `name` into `app` as `<stem>.wasm`.
    pub fn install_guest(&self, app: &str, stem: &str, name: &str) -> PathBuf {
        let component =
            components().guests.get(name).unwrap_or_else(|| panic!("no test guest {name}"));
        self.install(app, stem, component)
    }

    /// Writes raw bytes as a component file.
    pub fn write_file(&self, app: &str, file: &str, bytes: &[u8]) -> PathBuf {
        let target = self.app_dir(app).join(file);
        std::fs::write(&target, bytes).unwrap();
        target
    }

    /// `wasmig` in the project folder, with no DATABASE_URL from the outside.
    pub fn wasmig(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.wasmig_std())
    }

    /// The same as a plain `std::process::Command`.
    pub fn wasmig_std(&self) -> Command {
        let mut cmd = Command::cargo_bin("wasmig").unwrap();
        cmd.current_dir(self.path()).env_remove("DATABASE_URL").env("NO_COLOR", "1");
        cmd
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.path().join("wasmig.db").display())
    }

    pub fn database_exists(&self) -> bool {
        self.path().join("wasmig.db").exists()
    }

    /// Runs a read-only query and gives the rows as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let url = self.database_url();
        let sql = sql.to_string();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let mut conn = Connection::open(&url, Access::ReadOnly).await.unwrap();
            let rows =
                conn.query(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {}", e.message));
            conn.close().await;
            rows.rows.into_iter().map(|row| row.iter().map(text).collect()).collect()
        })
    }

    /// The ledger: `app id` per row, in run order. Empty when there is no ledger.
    pub fn ledger(&self) -> Vec<String> {
        if !self.tables().contains(&"wasmig_migrations".to_string()) {
            return Vec::new();
        }
        self.query("SELECT app_name, migration_id FROM wasmig_migrations ORDER BY id")
            .into_iter()
            .map(|row| row.join(" "))
            .collect()
    }

    /// User tables (not SQLite's own), sorted.
    pub fn tables(&self) -> Vec<String> {
        if !self.database_exists() {
            return Vec::new();
        }
        self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .into_iter()
            .map(|mut row| row.remove(0))
            .collect()
    }

    /// The whole schema and ledger, to compare before and after an operation.
    pub fn snapshot(&self) -> Vec<Vec<String>> {
        if !self.database_exists() {
            return Vec::new();
        }
        let mut snapshot = self.query("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name");
        if self.tables().contains(&"wasmig_migrations".to_string()) {
            snapshot.extend(self.query(
                "SELECT id, app_name, migration_id, checksum FROM wasmig_migrations ORDER BY id",
            ));
        }
        snapshot
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(n) => n.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(t) => t.clone(),
        Value::Blob(b) => format!("x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Value::Boolean(b) => b.to_string(),
    }
}

/// stdout of a finished command as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The IDs of the sample migrations of `app`, in ID order.
pub fn sample_ids(app: &str) -> Vec<String> {
    let mut ids: Vec<String> = components()
        .samples
        .keys()
        .filter_map(|key| key.strip_prefix(&format!("{app}/")))
        .map(|stem| stem.split_once('_').expect("<ID>_<slug>").0.to_string())
        .collect();
    ids.sort();
    ids
}

impl TestProject {
    /// The component file of migration `id` of `app`.
    pub fn component(&self, app: &str, id: &str) -> PathBuf {
        std::fs::read_dir(self.app_dir(app))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == "wasm")
                    && p.file_name().unwrap().to_string_lossy().starts_with(&format!("{id}_"))
            })
            .unwrap_or_else(|| panic!("no component {app} {id}"))
    }
}
