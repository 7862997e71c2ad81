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
use wasmig::backend::{Access, Connection};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// Cargo's target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// The compile cache the suite's wasmig runs share (content-addressed, so sharing it
/// across tests, processes and backends is what it is for). Tests of the cache itself use
/// a folder of their own.
pub fn shared_cache() -> PathBuf {
    target_dir().join("wasmig-test-cache")
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

/// The folders directly in `dir`, sorted.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The crate folders directly in `dir`, sorted.
fn crates_in(dir: &Path) -> Vec<PathBuf> {
    subdirs(dir).into_iter().filter(|d| d.join("Cargo.toml").is_file()).collect()
}

/// Where CI installs componentize-js (`.ci/run`): used when `WASMIG_COMPONENTIZE_JS` is
/// not set.
pub fn local_componentize_js() -> PathBuf {
    target_dir().join("tools/componentize-js/node_modules/.bin/componentize-js")
}

/// `wasmig --config CONFIG build APP --format json`, with the componentizers the suite uses.
pub fn wasmig_build(config: &Path, app: &str) -> std::process::Output {
    let mut wasmig = Command::cargo_bin("wasmig").unwrap();
    wasmig.args(["--format", "json", "--config"]).arg(config).args(["build", app]);
    // A crate outside this workspace still shares its target folder (and its built
    // dependencies).
    wasmig.env("CARGO_TARGET_DIR", target_dir());
    if std::env::var_os("WASMIG_COMPONENTIZE_JS").is_none() && local_componentize_js().is_file() {
        wasmig.env("WASMIG_COMPONENTIZE_JS", local_componentize_js());
    }
    wasmig.output().expect("run wasmig build")
}

/// The components `wasmig build` reported for each app of the project at `config`, by
/// `<app>/<ID>_<slug>`. An app whose toolchain is missing is skipped with a message, except
/// with `CI=true`, where every toolchain must be there.
fn build_project(config: &Path) -> BTreeMap<String, PathBuf> {
    let text = std::fs::read_to_string(config).expect("read wasmig.toml");
    let table: toml::Table = text.parse().expect("parse wasmig.toml");
    let mut built = BTreeMap::new();
    for app in table["apps"].as_table().expect("[apps]").keys() {
        let output = wasmig_build(config, app);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
        if !output.status.success() {
            let error = &report["error"];
            if error["kind"] == "toolchain" && std::env::var("CI").as_deref() != Ok("true") {
                eprintln!(
                    "note: skipping the {app} migrations of {}: {}",
                    config.display(),
                    error["message"].as_str().unwrap_or_default()
                );
                continue;
            }
            panic!("wasmig build {app} of {} failed: {}", config.display(), stderr(&output));
        }
        for migration in report["migrations"].as_array().expect("migrations") {
            let component = PathBuf::from(migration["component"].as_str().unwrap());
            let stem = component.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(component.is_file(), "missing {}", component.display());
            built.insert(format!("{app}/{stem}"), component);
        }
    }
    built
}

/// Builds every sample migration (through `wasmig build`) and every test guest, once per
/// test process: the Rust guests with one cargo call, the Python and JavaScript ones
/// (`tests/guests/<ID>_<slug>.py|js`, by their slug with dashes: `py-hostile-tcp`) with
/// `wasmig build`. Unchanged Python and JavaScript sources are not built again.
pub fn components() -> &'static Components {
    static BUILT: OnceLock<Components> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = root();
        let guests = crates_in(&root.join("tests/guests"));
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.current_dir(&root).args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
        ]);
        for dir in &guests {
            cargo.args(["-p", &package_name(&dir.join("Cargo.toml"))]);
        }
        let status = cargo.status().expect("run cargo");
        assert!(
            status.success(),
            "building the guest components failed (is wasm32-wasip2 installed?)"
        );

        let target = target_dir().join("wasm32-wasip2/release");
        let artefact = |dir: &Path| {
            let path = target
                .join(format!("{}.wasm", package_name(&dir.join("Cargo.toml")).replace('-', "_")));
            assert!(path.is_file(), "missing {}", path.display());
            path
        };
        let mut guests: BTreeMap<String, PathBuf> = guests
            .iter()
            .map(|dir| (dir.file_name().unwrap().to_string_lossy().into_owned(), artefact(dir)))
            .collect();
        let started = std::time::Instant::now();
        let samples = build_project(&root.join("sample-migrations/wasmig.toml"));
        for (key, path) in build_project(&root.join("tests/guests/wasmig.toml")) {
            let slug = key.split_once('_').expect("<ID>_<slug>").1;
            guests.insert(slug.replace('_', "-"), path);
        }
        eprintln!(
            "note: wasmig build of the samples and guests took {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Components { samples, guests }
    })
}

/// Whether the Python and JavaScript components were built (their toolchains are there).
pub fn polyglot() -> bool {
    let built = components();
    let found = built.guests.contains_key("py-hostile-tcp")
        && built.guests.contains_key("js-hostile-network");
    if !found {
        eprintln!("note: skipped: componentize-py or componentize-js is not installed");
    }
    found
}

/// The database backend the suite runs against: `WASMIG_TEST_BACKEND` = `sqlite` (default),
/// `postgres` or `mysql`. tests/run.sh runs the suite once per reachable backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

pub fn backend() -> Backend {
    match std::env::var("WASMIG_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("mysql") => Backend::Mysql,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("WASMIG_TEST_BACKEND={other}: expected sqlite, postgres or mysql"),
    }
}

/// Whether the backend rolls DDL back with the transaction (MySQL commits it implicitly).
pub fn transactional_ddl() -> bool {
    backend() != Backend::Mysql
}

/// The server URL a test database is created from, for `postgres` and `mysql`.
fn admin_url(backend: Backend) -> String {
    let (var, default) = match backend {
        Backend::Postgres => {
            ("WASMIG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
        }
        Backend::Mysql => ("WASMIG_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
        Backend::Sqlite => unreachable!("SQLite needs no server"),
    };
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// Runs `future` to completion on a runtime of its own thread (callers may be inside a
/// runtime already).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(future)
            })
            .join()
            .unwrap()
    })
}

/// A database of the test's own: a SQLite file in the project folder, or a database
/// created on the server and dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    server: Option<(String, String)>,
}

impl TestDatabase {
    fn new(dir: &Path) -> Self {
        Self::on(backend(), dir)
    }

    /// A database of the test's own on `backend`'s server, whatever backend the suite runs
    /// on: `None` (with the reason printed) when the server does not answer, which under
    /// `CI=true` fails the test instead.
    pub fn on_server(backend: Backend) -> Option<Self> {
        let admin = admin_url(backend);
        let reachable = block_on({
            let admin = admin.clone();
            async move { Connection::open(&admin, Access::ReadWrite).await.map(drop) }
        });
        match reachable {
            Ok(()) => Some(Self::on(backend, Path::new("."))),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!(
                    "the {backend:?} test server {admin} is unreachable, and CI=true requires it: {e}"
                )
            }
            Err(e) => {
                eprintln!(
                    "skipping the {backend:?} part: its test server {admin} is unreachable: {e}"
                );
                None
            }
        }
    }

    fn on(backend: Backend, dir: &Path) -> Self {
        if backend == Backend::Sqlite {
            return TestDatabase {
                url: format!("sqlite://{}", dir.join("wasmig.db").display()),
                server: None,
            };
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("wasmig_t_{}_{n}", std::process::id());
        let admin = admin_url(backend);
        admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        admin_execute(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').expect("URL with a database").0;
        TestDatabase { url: format!("{base}/{name}"), server: Some((admin, name)) }
    }
}

fn admin_execute(admin: &str, sql: &str) {
    let (admin, sql) = (admin.to_string(), sql.to_string());
    block_on(async move {
        let mut conn = Connection::open(&admin, Access::ReadWrite)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test server {admin}: {e}"));
        conn.execute(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {}", e.message));
        conn.close().await;
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.server {
            let force = if admin.starts_with("postgres") { " WITH (FORCE)" } else { "" };
            admin_execute(admin, &format!("DROP DATABASE IF EXISTS {name}{force}"));
        }
    }
}

/// A copy of the sample project in a temp dir, with its components built and a fresh
/// database of the backend under test.
pub struct TestProject {
    pub database: TestDatabase,
    pub dir: TempDir,
}

impl TestProject {
    /// The sample project with every sample migration.
    pub fn sample() -> Self {
        Self::sample_of(&SAMPLE_APPS)
    }

    /// The sample project with only its Rust apps (`auth`, `blog`), for tests that compile
    /// every migration cold: a Python or JavaScript component takes seconds to compile.
    pub fn sample_rust() -> Self {
        Self::sample_of(&SAMPLE_APPS[..2])
    }

    fn sample_of(apps: &[&str]) -> Self {
        let text = std::fs::read_to_string(root().join("sample-migrations/wasmig.toml")).unwrap();
        let mut config: toml::Table = text.parse().unwrap();
        let all = config["apps"].as_table_mut().unwrap();
        all.retain(|app, _| apps.contains(&app));
        let project = Self::empty(&toml::to_string(&config).unwrap());
        for (key, path) in &components().samples {
            let (app, stem) = key.split_once('/').unwrap();
            if apps.contains(&app) {
                project.install(app, stem, path);
            }
        }
        project
    }

    /// A project with this config and no migrations (app folders created).
    pub fn empty(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wasmig.toml"), config).unwrap();
        let database = TestDatabase::new(dir.path());
        let table: toml::Table = config.parse().unwrap();
        if let Some(apps) = table.get("apps").and_then(|a| a.as_table()) {
            for app in apps.values() {
                std::fs::create_dir_all(dir.path().join(app["migrations"].as_str().unwrap()))
                    .unwrap();
            }
        }
        TestProject { database, dir }
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

    /// The same as a plain `std::process::Command`. On SQLite the project's default
    /// database is used; on a server, `DATABASE_URL` names the test's own database.
    pub fn wasmig_std(&self) -> Command {
        let mut cmd = Command::cargo_bin("wasmig").unwrap();
        cmd.current_dir(self.path())
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .env("WASMIG_CACHE_DIR", shared_cache());
        if backend() != Backend::Sqlite {
            cmd.env("DATABASE_URL", &self.database.url);
        }
        cmd
    }

    pub fn database_url(&self) -> String {
        self.database.url.clone()
    }

    /// Whether nothing at all was written: no SQLite file, or no table on the server.
    pub fn untouched(&self) -> bool {
        match backend() {
            Backend::Sqlite => !self.path().join("wasmig.db").exists(),
            _ => self.tables().is_empty(),
        }
    }

    /// Runs a statement on the test database.
    pub fn execute(&self, sql: &str) {
        let (url, sql) = (self.database_url(), sql.to_string());
        block_on(async move {
            let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
            conn.execute(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {}", e.message));
            conn.close().await;
        })
    }

    /// Runs a read-only query and gives the rows as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let (url, sql) = (self.database_url(), sql.to_string());
        block_on(async move {
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

    /// User tables and the ledger (not the database's own, nor wasmig's stored
    /// components and ledger version), sorted.
    pub fn tables(&self) -> Vec<String> {
        let sql = match backend() {
            Backend::Sqlite => {
                if !self.path().join("wasmig.db").exists() {
                    return Vec::new();
                }
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
            }
            Backend::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
        };
        self.query(sql)
            .into_iter()
            .map(|mut row| row.remove(0))
            .filter(|table| table != "wasmig_artefacts" && table != "wasmig_ledger_version")
            .collect()
    }

    /// The whole schema (tables, columns, indexes) and the ledger, to compare before and
    /// after an operation.
    pub fn snapshot(&self) -> Vec<Vec<String>> {
        let schema: &[&str] = match backend() {
            Backend::Sqlite => {
                if !self.path().join("wasmig.db").exists() {
                    return Vec::new();
                }
                &[
                    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
                ]
            }
            Backend::Postgres => &[
                "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
                 FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
                "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            ],
            Backend::Mysql => &[
                "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR), \
                 CAST(is_nullable AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() ORDER BY 1, 2",
                "SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), CAST(column_name AS CHAR) \
                 FROM information_schema.statistics WHERE table_schema = DATABASE() ORDER BY 1, 2, 3",
            ],
        };
        let mut snapshot: Vec<Vec<String>> =
            schema.iter().flat_map(|sql| self.query(sql)).collect();
        if self.tables().contains(&"wasmig_migrations".to_string()) {
            snapshot.extend(self.query(
                "SELECT id, app_name, migration_id, checksum, dirty FROM wasmig_migrations ORDER BY id",
            ));
            snapshot.extend(
                self.query("SELECT checksum, size FROM wasmig_artefacts ORDER BY checksum"),
            );
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

/// The sample project's apps in app order.
pub const SAMPLE_APPS: [&str; 3] = ["auth", "blog", "comments"];

/// How many sample migrations there are (of the apps whose toolchains are installed).
pub fn sample_total() -> usize {
    SAMPLE_APPS.iter().map(|app| sample_ids(app).len()).sum()
}

/// `app id` of every sample migration, in app order then ID order.
pub fn sample_ledger() -> Vec<String> {
    SAMPLE_APPS
        .iter()
        .flat_map(|app| sample_ids(app).into_iter().map(move |id| format!("{app} {id}")))
        .collect()
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

impl TestProject {
    /// The ledger rows marked dirty, as `app id`.
    pub fn dirty(&self) -> Vec<String> {
        if !self.tables().contains(&"wasmig_migrations".to_string()) {
            return Vec::new();
        }
        self.query(
            "SELECT app_name, migration_id FROM wasmig_migrations WHERE dirty = TRUE ORDER BY id",
        )
        .into_iter()
        .map(|row| row.join(" "))
        .collect()
    }
}

impl TestProject {
    /// Waits until no other session is connected to the test database. A killed runner's
    /// client is gone at once, but its server session may still be finishing the statement
    /// it sent (a `DROP TABLE`, a `COMMIT`): until that is over, what the schema and the
    /// ledger show can change between two queries. SQLite has no such session.
    pub fn settle(&self) {
        let sql = match backend() {
            Backend::Sqlite => return,
            Backend::Postgres => {
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()"
            }
            Backend::Mysql => {
                "SELECT COUNT(*) FROM information_schema.processlist \
                 WHERE db = DATABASE() AND id <> CONNECTION_ID()"
            }
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let others = self.query(sql)[0][0].clone();
            if others == "0" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{others} other session(s) still on the test database after 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
