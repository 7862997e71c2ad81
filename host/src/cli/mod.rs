//! The command line: clap types, and the entry points the `wasmig` binary calls. They run
//! the library's commands with terminal hooks and hand each report to [`render`], the one
//! module of wasmig that writes to stdout and stderr.

mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cache::{self, CACHE_DIR_ENV, Cache};
use crate::commands::{
    BackwardsMigrationManager, CheckMigrationManager, FleetCommand, ForwardsMigrationManager,
    Language, Project, Resolution, run_fleet,
};
use crate::config::Settings;
use crate::error::Error;
pub use render::Terminal;

/// Database migrations as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmig", version, about, propagate_version = true)]
pub struct Cli {
    /// The project's config file.
    #[arg(long, global = true, value_name = "PATH", default_value = "wasmig.toml")]
    pub config: PathBuf,

    /// The database to migrate; overrides `database_url` in the config file.
    #[arg(long, global = true, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Seconds to wait for another wasmig run's lock on the database; overrides
    /// `lock_timeout` in the config file (default 60).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,

    /// Compile every component afresh: neither read nor fill the compile cache.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Run forwards, backwards or check on every database of this file: TOML `[[target]]`
    /// tables with `name` and `url`, or one URL per line (see README, "Fleet").
    #[arg(long, global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// How many targets of a fleet are worked on at once.
    #[arg(long, global = true, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,

    /// Stop starting targets once one failed.
    #[arg(long, global = true)]
    pub fail_fast: bool,

    /// How the result is printed on stdout (`table` is another name for `text`).
    #[arg(long, global = true, value_enum, default_value_t)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

/// How a command prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people: lines, a table for `check`, the SQL script of a preview.
    #[default]
    #[value(name = "text", alias = "table")]
    Text,
    /// One JSON document with stable keys (see README, "JSON output").
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations.
    Forwards {
        /// An app name, or `all` for every app in dependency order.
        app: String,
        /// `all` (every pending one), `1` (the next one) or an ID to apply up to.
        #[arg(default_value = "all")]
        migration_id: String,
        /// Record the migrations as applied without running them.
        #[arg(long)]
        fake: bool,
        /// Print the SQL the migrations emit; change nothing.
        #[arg(long)]
        preview: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        auto_agree: bool,
        /// Go on although an applied migration's file changed since it was applied.
        #[arg(long)]
        allow_changed: bool,
        /// Run the selection in one transaction, then roll it back (not on MySQL).
        #[arg(long, conflicts_with_all = ["preview", "atomic"])]
        dry_run: bool,
        /// Run the selection in one transaction with its ledger rows: all or nothing.
        #[arg(long, conflicts_with = "preview")]
        atomic: bool,
    },
    /// Reverse applied migrations, newest-applied first.
    Backwards {
        /// An app name, or `all` for every app in reverse dependency order.
        app: String,
        /// `1` (the latest; default for one app), `all` (default for all apps) or an ID:
        /// that migration and every one applied after it.
        migration_id: Option<String>,
        /// Delete each reversed migration's component file.
        #[arg(long, conflicts_with_all = ["dry_run", "atomic"])]
        clean: bool,
        /// Print the SQL the reversals emit; change nothing.
        #[arg(long)]
        preview: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        auto_agree: bool,
        /// Go on although an applied migration's file changed since it was applied.
        #[arg(long)]
        allow_changed: bool,
        /// Run the selection in one transaction, then roll it back (not on MySQL).
        #[arg(long, conflicts_with_all = ["preview", "atomic"])]
        dry_run: bool,
        /// Run the selection in one transaction with its ledger rows: all or nothing.
        #[arg(long, conflicts_with = "preview")]
        atomic: bool,
    },
    /// List migrations and whether they have run.
    Check {
        /// An app name, or `all`.
        #[arg(default_value = "all")]
        app: String,
        /// Exit with status 1 when any listed migration is not simply applied: pending,
        /// changed, missing or dirty.
        #[arg(long)]
        fail_on_pending: bool,
    },
    /// Prove on a scratch database that each migration's backwards undoes its forwards.
    Verify {
        /// An app name, or `all`.
        #[arg(default_value = "all")]
        app: String,
        /// The scratch database to use (default: a new one beside the target, dropped
        /// afterwards; for SQLite a temporary file).
        #[arg(long)]
        scratch_url: Option<String>,
    },
    /// Remove ledger rows of an app whose migration file no longer exists.
    Clean {
        /// The app.
        app: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        auto_agree: bool,
    },
    /// Settle a dirty migration after repairing the schema by hand.
    #[command(group = clap::ArgGroup::new("outcome").required(true))]
    Resolve {
        /// The app.
        app: String,
        /// The dirty migration's ID.
        migration_id: String,
        /// Its changes are in place: keep it as applied.
        #[arg(long, group = "outcome")]
        applied: bool,
        /// Its changes are not in place: forget it, so it is pending again.
        #[arg(long, group = "outcome")]
        reversed: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        auto_agree: bool,
    },
    /// Create the source of a new migration in an app's folder.
    New {
        /// The app.
        app: String,
        /// What the migration does, e.g. "add tags".
        name: String,
        /// The language of the source: a Rust crate, a Python or a JavaScript module.
        #[arg(long, value_enum, default_value_t = Lang::Rust)]
        lang: Lang,
    },
    /// Compile the migration sources of an app (or `all`) into their component files.
    Build {
        /// An app name, or `all`.
        #[arg(default_value = "all")]
        app: String,
    },
    /// Show, empty or fill the compile cache of compiled components.
    Cache {
        /// What to do.
        #[command(subcommand)]
        action: CacheAction,
    },
}

/// The languages `wasmig new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// A Rust crate using the `wasmig-guest` SDK.
    Rust,
    /// A Python module using the `wasmig` module (componentize-py).
    Python,
    /// A JavaScript module using `./wasmig.js` (componentize-js).
    Js,
}

impl From<Lang> for Language {
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::Js,
        }
    }
}

/// `wasmig cache` actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum CacheAction {
    /// `info` and `clear`, which need only the cache's folder.
    #[command(flatten)]
    Inspect(CacheInspection),
    /// Compile the components of an app (or `all`) into the cache, without a database.
    ///
    /// The run that applies them then compiles nothing: fill the cache while building a
    /// container image or in a CI job.
    Fill {
        /// An app name, or `all`.
        #[arg(default_value = "all")]
        app: String,
    },
}

/// The `wasmig cache` actions that need no project, only the cache's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CacheInspection {
    /// Where the cache is, how many compiled components it holds and their size.
    Info,
    /// Remove every compiled component and recorded description.
    Clear,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Forwards { .. } => "forwards",
            Command::Backwards { .. } => "backwards",
            Command::Check { .. } => "check",
            Command::Verify { .. } => "verify",
            Command::Clean { .. } => "clean",
            Command::Resolve { .. } => "resolve",
            Command::New { .. } => "new",
            Command::Build { .. } => "build",
            Command::Cache { .. } => "cache",
        }
    }

    /// Whether the command reads or changes a database, so that a fleet can run it.
    fn uses_database(&self) -> bool {
        !matches!(self, Command::New { .. } | Command::Build { .. } | Command::Cache { .. })
    }
}

/// The `wasmig` binary: parse the command line (exit status 2 when it is wrong), run the
/// command, print its report, and give the exit status: 0 success, 1 failure or declined.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WASMIG_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let format = cli.format;
    let command = cli.command.name();
    // Current-thread: migrations run one after another; compilation runs on tokio's
    // blocking pool, off this thread.
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            render::failure(command, format, &Error::Start { what: "the async runtime", source: e })
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    if let Command::Cache { action: CacheAction::Inspect(inspection) } = cli.command {
        // The cache needs no project: outside one, the environment says where it is.
        return cache_command(cache_dir(&cli.config, cli.database_url), inspection, cli.format);
    }
    let one_database = cli.database_url.is_some();
    let project = Settings::load(&cli.config, cli.database_url).and_then(|mut settings| {
        if let Some(seconds) = cli.lock_timeout {
            settings.lock_timeout = Duration::from_secs(seconds);
        }
        if cli.no_cache {
            settings.cache_dir = None;
        }
        Project::new(settings)
    });
    let project = match project {
        Ok(project) => project,
        Err(e) => return render::failure(cli.command.name(), cli.format, &e),
    };
    // A fleet: the --targets file, or the [targets] of the config unless one database
    // was named. Commands that use no database (new, build, cache) run as anywhere else.
    let targets = match &cli.targets {
        _ if !cli.command.uses_database() => None,
        Some(path) => match crate::commands::read_targets(path) {
            Ok(targets) => Some(targets),
            Err(e) => return render::failure(cli.command.name(), cli.format, &e),
        },
        None if !one_database && !project.settings.targets.is_empty() => {
            Some(project.settings.targets.clone())
        }
        None => None,
    };
    if let Some(targets) = targets {
        return fleet(&project, cli.command, &targets, cli.concurrency, cli.fail_fast, cli.format)
            .await;
    }
    execute(&project, cli.command, cli.format).await
}

/// The compile cache's folder: as the project at `config` sets it when there is one, else
/// from the environment alone.
fn cache_dir(config: &Path, database_url: Option<String>) -> Result<PathBuf, Error> {
    let dir = if config.exists() {
        Settings::load(config, database_url)?.cache_dir
    } else {
        cache::locate(None, |name| std::env::var_os(name))
    };
    dir.ok_or_else(|| {
        Error::Usage(format!(
            "no compile cache folder: set {CACHE_DIR_ENV}, `cache_dir` in wasmig.toml, or HOME"
        ))
    })
}

/// `wasmig cache info|clear` on the cache in `dir`.
fn cache_command(
    dir: Result<PathBuf, Error>,
    inspection: CacheInspection,
    format: Format,
) -> ExitCode {
    let report = dir.and_then(|dir| match inspection {
        CacheInspection::Info => Cache::new(dir).info(),
        CacheInspection::Clear => Cache::new(dir).clear(),
    });
    render::outcome("cache", format, report, |format, info| {
        render::cache(format, inspection, &info)
    })
}

/// Runs `command` on a loaded project, prints its report in `format`, and gives the exit
/// status.
pub async fn execute(project: &Project, command: Command, format: Format) -> ExitCode {
    let name = command.name();
    let terminal = Terminal::new(format);
    let report = match request(command) {
        Ok((FleetCommand::Forwards(manager), _)) => manager.run_with(project, &terminal).await,
        Ok((FleetCommand::Backwards(manager), _)) => manager.run_with(project, &terminal).await,
        Ok((FleetCommand::Check(manager), fail_on_pending)) => {
            let report = manager.report(project, &terminal).await;
            return render::outcome(name, format, report, |format, report| {
                render::check(format, report, fail_on_pending)
            });
        }
        Ok((FleetCommand::Verify { .. }, _)) => unreachable!("verify is not a request"),
        Err(command) => return execute_other(project, command, format, &terminal).await,
    };
    render::run(name, format, &report, &terminal)
}

/// Runs a command that is not a forwards, backwards or check request.
async fn execute_other(
    project: &Project,
    command: Command,
    format: Format,
    terminal: &Terminal,
) -> ExitCode {
    let name = command.name();
    match command {
        Command::Forwards { .. } | Command::Backwards { .. } | Command::Check { .. } => {
            unreachable!("forwards, backwards and check are requests")
        }
        Command::Verify { app, scratch_url } => {
            let report = crate::verify(project, &app, scratch_url).await;
            render::outcome(name, format, report, render::verify)
        }
        Command::Clean { app, auto_agree } => {
            let report = crate::clean(project, &app, auto_agree, terminal).await;
            render::outcome(name, format, report, render::clean)
        }
        Command::Resolve { app, migration_id, applied, reversed: _, auto_agree } => {
            let resolution = if applied { Resolution::Applied } else { Resolution::Reversed };
            let report =
                crate::resolve(project, &app, &migration_id, resolution, auto_agree, terminal)
                    .await;
            render::outcome(name, format, report, render::resolve)
        }
        Command::New { app, name: migration, lang } => {
            let now = time::OffsetDateTime::now_utc();
            let report =
                crate::new_migration(&project.settings, &app, &migration, lang.into(), now);
            render::outcome(name, format, report, render::new)
        }
        Command::Build { app } => {
            let settings = project.settings.clone();
            let parallel = project.parallel();
            // Building waits on child processes: off the async executor.
            let report = tokio::task::spawn_blocking(move || {
                crate::commands::build(&settings, &app, parallel)
            })
            .await
            .unwrap_or_else(|e| {
                Err(Error::TaskLost { task: "build", detail: Some(e.to_string()) })
            });
            render::outcome(name, format, report, render::build)
        }
        Command::Cache { action: CacheAction::Fill { app } } => {
            let report = crate::fill_cache(project, &app).await;
            render::outcome(name, format, report, render::fill)
        }
        Command::Cache { action: CacheAction::Inspect(inspection) } => {
            let dir = project.settings.cache_dir.clone();
            let off = || Error::Usage("the compile cache is off for this project".to_string());
            cache_command(dir.ok_or_else(off), inspection, format)
        }
    }
}

/// The library request a forwards, backwards or check command line stands for, with
/// check's `--fail-on-pending`; any other command is given back.
fn request(command: Command) -> Result<(FleetCommand, bool), Command> {
    Ok(match command {
        Command::Forwards {
            app,
            migration_id,
            fake,
            preview,
            auto_agree,
            allow_changed,
            dry_run,
            atomic,
        } => {
            let manager = ForwardsMigrationManager {
                app_name: app,
                migration_id,
                fake,
                preview,
                auto_agree,
                allow_changed,
                dry_run,
                atomic,
            };
            (FleetCommand::Forwards(manager), false)
        }
        Command::Backwards {
            app,
            migration_id,
            clean,
            preview,
            auto_agree,
            allow_changed,
            dry_run,
            atomic,
        } => {
            let manager = BackwardsMigrationManager {
                app_name: app,
                migration_id,
                auto_agree,
                clean,
                preview,
                allow_changed,
                dry_run,
                atomic,
            };
            (FleetCommand::Backwards(manager), false)
        }
        Command::Check { app, fail_on_pending } => {
            (FleetCommand::Check(CheckMigrationManager::new(app)), fail_on_pending)
        }
        other => return Err(other),
    })
}

/// Runs forwards, backwards or check on every target of a fleet; other commands take one
/// database.
async fn fleet(
    project: &Project,
    command: Command,
    targets: &[crate::commands::FleetTarget],
    concurrency: usize,
    fail_fast: bool,
    format: Format,
) -> ExitCode {
    let name = command.name();
    let (fleet_command, fail_on_pending) = match request(command) {
        Ok(request) => request,
        Err(Command::Verify { app, scratch_url: None }) => {
            (FleetCommand::Verify { app_name: app }, false)
        }
        Err(other) => {
            let error = Error::Usage(format!(
                "`{}` takes one database: a fleet (--targets, [targets]) runs forwards, \
                 backwards, check and verify (without --scratch-url)",
                other.name()
            ));
            return render::failure(name, format, &error);
        }
    };
    let terminal = Terminal::new(format);
    let report =
        run_fleet(project, targets, concurrency, fail_fast, &fleet_command, &terminal).await;
    render::outcome(name, format, report, |format, report| {
        render::fleet(name, format, report, fail_on_pending)
    })
}

/// `wasmig forwards` as a library call: runs, prints as the CLI does, gives the exit
/// status (1 on failure).
pub async fn forwards(
    project: &Project,
    app_name: &str,
    migration_id: &str,
    fake: bool,
    preview: bool,
    auto_agree: bool,
) -> ExitCode {
    let (app, migration_id) = (app_name.into(), migration_id.into());
    let command = Command::Forwards {
        app,
        migration_id,
        fake,
        preview,
        auto_agree,
        allow_changed: false,
        dry_run: false,
        atomic: false,
    };
    execute(project, command, Format::Text).await
}

/// `wasmig backwards` as a library call: runs, prints as the CLI does, gives the exit
/// status (1 on failure or when declined).
pub async fn backwards(
    project: &Project,
    app_name: &str,
    migration_id: Option<&str>,
    auto_agree: bool,
    clean: bool,
    preview: bool,
) -> ExitCode {
    let (app, migration_id) = (app_name.into(), migration_id.map(Into::into));
    let command = Command::Backwards {
        app,
        migration_id,
        clean,
        preview,
        auto_agree,
        allow_changed: false,
        dry_run: false,
        atomic: false,
    };
    execute(project, command, Format::Text).await
}

/// `wasmig check` as a library call. With `fail_on_pending`, exit status 1 when any
/// listed migration has not run, so a CI job can fail on it.
pub async fn check(
    project: &Project,
    app_name: &str,
    format: Format,
    fail_on_pending: bool,
) -> ExitCode {
    execute(project, Command::Check { app: app_name.into(), fail_on_pending }, format).await
}
