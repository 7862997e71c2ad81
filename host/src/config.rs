//! `wasmig.toml`, the `--database-url` flag and `DATABASE_URL`, resolved into one validated
//! [`Settings`] value before any work starts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::limits::{Limits, LimitsTable};

/// How long a run waits for the lock when `lock_timeout` is not configured.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The name of the SQLite file used when no database URL is configured.
pub const DEFAULT_SQLITE_FILE: &str = "wasmig.db";

/// Which of wasmtime's compilers turns migrations into machine code (`compiler` in
/// wasmig.toml). Compiled code is cached per compiler: the cache key covers the engine's
/// configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compiler {
    /// Winch, wasmtime's baseline compiler: one pass over the code, several times faster to
    /// compile than Cranelift, for code that runs slower. A migration runs once or twice
    /// and spends its time in the database, so compiling is most of what the sandbox
    /// costs it: the default.
    #[default]
    Winch,
    /// Cranelift, wasmtime's optimising compiler: for migrations that compute a lot
    /// themselves, such as a large data transformation in an interpreted language.
    Cranelift,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    database_url: Option<String>,
    lock_timeout: Option<u64>,
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    compiler: Compiler,
    #[serde(default)]
    apps: BTreeMap<String, AppFile>,
    #[serde(default)]
    limits: LimitsTable,
    #[serde(default)]
    history: HistoryTable,
    /// A fleet: target name to database URL.
    #[serde(default)]
    targets: BTreeMap<String, String>,
}

/// One database of a fleet (`[targets]`, or a `--targets` file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// What the summary calls it.
    pub name: String,
    /// Its database URL.
    pub url: String,
}

/// The `[history]` table: what is kept in the database about what ran.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryTable {
    store_artefacts: Option<bool>,
    artefact_mib: Option<u64>,
}

/// What is kept in the database about what ran (`[history]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The largest compressed component stored with its ledger row (`artefact_mib`,
    /// default 12: under MySQL's default packet size of 16 MiB), or `None` when nothing is
    /// stored (`store_artefacts = false`).
    pub artefact_bytes: Option<u64>,
}

impl Default for History {
    fn default() -> Self {
        History { artefact_bytes: Some(DEFAULT_ARTEFACT_MIB << 20) }
    }
}

const DEFAULT_ARTEFACT_MIB: u64 = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    migrations: PathBuf,
    #[serde(default)]
    depends_on: Vec<String>,
}

/// One app of the project: a named folder of migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The app's name, the key of its `[apps.NAME]` table.
    pub name: String,
    /// Its migrations folder, absolute.
    pub dir: PathBuf,
    /// The apps it depends on.
    pub depends_on: Vec<String>,
}

/// Everything a command needs to know about the project, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file that was read.
    pub config_path: PathBuf,
    /// The folder holding the config file; relative paths in it resolve against this.
    pub root: PathBuf,
    /// The database to migrate.
    pub database_url: String,
    /// The apps in app order: topological by `depends_on`, ties broken by name.
    pub apps: Vec<App>,
    /// How long a run waits for another run's lock on the database.
    pub lock_timeout: Duration,
    /// The sandbox limits every migration call runs under (`[limits]`).
    pub limits: Limits,
    /// The compile cache's folder (`WASMIG_CACHE_DIR`, `cache_dir`, the user's cache
    /// folder); `None` compiles every component every time.
    pub cache_dir: Option<PathBuf>,
    /// The compiler migrations are compiled with (`compiler`).
    pub compiler: Compiler,
    /// What is kept in the database about what ran (`[history]`).
    pub history: History,
    /// The fleet of `[targets]`, in name order (a relative SQLite path is relative to the
    /// config file); empty for a project of one database.
    pub targets: Vec<Target>,
}

impl Settings {
    /// Reads and validates the config at `config_path`. `database_url` is the URL given on
    /// the command line or in `DATABASE_URL`, which take precedence over the file.
    pub fn load(config_path: &Path, database_url: Option<String>) -> Result<Self> {
        let text = std::fs::read_to_string(config_path).map_err(|e| Error::Config {
            path: config_path.to_path_buf(),
            message: format!("cannot read config: {e}"),
        })?;
        let absolute = std::path::absolute(config_path).map_err(|e| Error::io(config_path, e))?;
        let root = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, absolute, root, database_url)
    }

    /// Validates config text; `root` is the folder relative paths resolve against.
    pub fn parse(
        text: &str,
        config_path: PathBuf,
        root: PathBuf,
        database_url: Option<String>,
    ) -> Result<Self> {
        let invalid = |message: String| Error::Config { path: config_path.clone(), message };
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;

        for (name, app) in &file.apps {
            if !valid_app_name(name) {
                return Err(invalid(format!(
                    "app name `{name}` must be letters, digits, `_` or `-`, and not `all`"
                )));
            }
            for dependency in &app.depends_on {
                if !file.apps.contains_key(dependency) {
                    return Err(invalid(format!(
                        "app {name} depends on unknown app `{dependency}`"
                    )));
                }
            }
        }
        let order = app_order(&file.apps).map_err(invalid)?;
        let apps = order
            .into_iter()
            .map(|name| {
                let app = &file.apps[name];
                App {
                    name: name.to_string(),
                    dir: root.join(&app.migrations),
                    depends_on: app.depends_on.clone(),
                }
            })
            .collect();

        let database_url = match database_url {
            Some(url) => url,
            None => match file.database_url {
                Some(url) => resolve_sqlite_path(&url, &root),
                None => format!("sqlite://{}", root.join(DEFAULT_SQLITE_FILE).display()),
            },
        };
        let lock_timeout =
            Duration::from_secs(file.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT.as_secs()));
        let limits = file.limits.resolve().map_err(invalid)?;
        let targets = file
            .targets
            .into_iter()
            .map(|(name, url)| Target { name, url: resolve_sqlite_path(&url, &root) })
            .collect();
        let history = match (file.history.store_artefacts, file.history.artefact_mib) {
            (Some(false), _) => History { artefact_bytes: None },
            (_, Some(0)) => {
                return Err(invalid("[history] artefact_mib must be at least 1".into()));
            }
            (_, mib) => History { artefact_bytes: Some(mib.unwrap_or(DEFAULT_ARTEFACT_MIB) << 20) },
        };
        let configured_cache = file.cache_dir.map(|dir| root.join(dir));
        let cache_dir = crate::cache::locate(configured_cache, |name| std::env::var_os(name));
        Ok(Settings {
            config_path,
            root,
            database_url,
            apps,
            lock_timeout,
            limits,
            cache_dir,
            compiler: file.compiler,
            history,
            targets,
        })
    }

    /// The app called `name`, or an error listing the known ones.
    pub fn app(&self, name: &str) -> Result<&App> {
        self.apps
            .iter()
            .find(|app| app.name == name)
            .ok_or_else(|| Error::UnknownApp { app: name.to_string(), known: self.app_names() })
    }

    /// The apps a command addresses: every app for `all`, else the named one.
    pub fn select(&self, name: &str) -> Result<Vec<&App>> {
        if name == "all" { Ok(self.apps.iter().collect()) } else { Ok(vec![self.app(name)?]) }
    }

    fn app_names(&self) -> String {
        if self.apps.is_empty() {
            return "none configured".to_string();
        }
        self.apps.iter().map(|app| app.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn valid_app_name(name: &str) -> bool {
    !name.is_empty()
        && name != "all"
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A relative SQLite path in the config file is relative to the config file, not to the
/// directory wasmig happens to be started in.
fn resolve_sqlite_path(url: &str, root: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else { return url.to_string() };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return url.to_string();
    }
    let mut resolved = format!("sqlite://{}", root.join(path).display());
    if let Some(query) = query {
        resolved.push('?');
        resolved.push_str(query);
    }
    resolved
}

/// Kahn's algorithm, always taking the alphabetically first app whose dependencies are done.
fn app_order(apps: &BTreeMap<String, AppFile>) -> std::result::Result<Vec<&str>, String> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = apps
        .iter()
        .map(|(name, app)| (name.as_str(), app.depends_on.iter().map(String::as_str).collect()))
        .collect();
    let mut order = Vec::with_capacity(apps.len());
    while !remaining.is_empty() {
        let Some(next) = remaining.iter().find(|(_, deps)| deps.is_empty()).map(|(name, _)| *name)
        else {
            let cycle: Vec<&str> = remaining.keys().copied().collect();
            return Err(format!("dependency cycle among apps: {}", cycle.join(", ")));
        };
        remaining.remove(next);
        for deps in remaining.values_mut() {
            deps.remove(next);
        }
        order.push(next);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        Settings::parse(text, PathBuf::from("/p/wasmig.toml"), PathBuf::from("/p"), None)
    }

    fn names(settings: &Settings) -> Vec<&str> {
        settings.apps.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn orders_apps_by_dependencies_then_name() {
        let settings = parse(
            r#"
            [apps.blog]
            migrations = "m/blog"
            depends_on = ["auth"]
            [apps.auth]
            migrations = "m/auth"
            depends_on = ["zeta"]
            [apps.zeta]
            migrations = "m/zeta"
            [apps.analytics]
            migrations = "m/analytics"
            "#,
        )
        .unwrap();
        assert_eq!(names(&settings), ["analytics", "zeta", "auth", "blog"]);
        assert_eq!(settings.apps[3].dir, PathBuf::from("/p/m/blog"));
    }

    #[test]
    fn the_compiler_is_winch_unless_cranelift_is_asked_for() {
        assert_eq!(parse("").unwrap().compiler, Compiler::Winch);
        assert_eq!(parse(r#"compiler = "cranelift""#).unwrap().compiler, Compiler::Cranelift);
        let error = parse(r#"compiler = "llvm""#).unwrap_err().to_string();
        assert!(error.contains("llvm") && error.contains("winch"), "{error}");
    }

    #[test]
    fn default_database_is_sqlite_beside_the_config() {
        let settings = parse("").unwrap();
        assert_eq!(settings.database_url, "sqlite:///p/wasmig.db");
    }

    #[test]
    fn relative_sqlite_url_in_file_resolves_against_the_config() {
        let settings = parse(r#"database_url = "sqlite://data/app.db?mode=rwc""#).unwrap();
        assert_eq!(settings.database_url, "sqlite:///p/data/app.db?mode=rwc");
        let settings = parse(r#"database_url = "postgres://u@h/db""#).unwrap();
        assert_eq!(settings.database_url, "postgres://u@h/db");
    }

    #[test]
    fn flag_or_env_url_wins_over_the_file() {
        let settings = Settings::parse(
            r#"database_url = "sqlite://file.db""#,
            PathBuf::from("/p/wasmig.toml"),
            PathBuf::from("/p"),
            Some("sqlite://other.db".into()),
        )
        .unwrap();
        assert_eq!(settings.database_url, "sqlite://other.db");
    }

    #[test]
    fn rejects_unknown_keys_unknown_dependencies_and_cycles() {
        let err = parse("colour = 1").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let err = parse("[apps.a]\nmigrations = \"a\"\nflavour = 1").unwrap_err().to_string();
        assert!(err.contains("flavour"), "{err}");
        let err = parse("[apps.a]\nmigrations = \"a\"\ndepends_on = [\"ghost\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown app `ghost`"), "{err}");
        let err = parse(
            "[apps.a]\nmigrations = \"a\"\ndepends_on = [\"b\"]\n[apps.b]\nmigrations = \"b\"\ndepends_on = [\"a\"]\n[apps.c]\nmigrations = \"c\"",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("dependency cycle among apps: a, b"), "{err}");
    }

    #[test]
    fn rejects_reserved_and_odd_app_names() {
        assert!(parse("[apps.all]\nmigrations = \"a\"").is_err());
        assert!(parse("[apps.\"a b\"]\nmigrations = \"a\"").is_err());
    }

    #[test]
    fn unknown_app_lists_the_known_ones() {
        let settings = parse("[apps.a]\nmigrations = \"a\"\n[apps.b]\nmigrations = \"b\"").unwrap();
        let err = settings.app("c").unwrap_err().to_string();
        assert_eq!(err, "unknown app `c` (apps: a, b)");
    }

    #[test]
    fn the_limits_table_sets_limits_and_is_validated() {
        assert_eq!(parse("").unwrap().limits, Limits::default());
        let settings = parse("[limits]\ncpu_seconds = 5\nstatements = 7").unwrap();
        assert_eq!(settings.limits.cpu_time, Duration::from_secs(5));
        assert_eq!(settings.limits.statements, 7);
        assert_eq!(settings.limits.memory_bytes, Limits::default().memory_bytes);
        let err = parse("[limits]\nfuel = 1").unwrap_err().to_string();
        assert!(err.contains("fuel"), "{err}");
        let err = parse("[limits]\nmemory_mib = 0").unwrap_err().to_string();
        assert_eq!(err, "/p/wasmig.toml: [limits] memory_mib must be at least 1");
    }
}
