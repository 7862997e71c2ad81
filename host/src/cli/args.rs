//! The command line `wasmig` accepts: its commands, arguments and flags (each flag that
//! several commands take is defined once and flattened into them), and how a command line
//! becomes the settings and the request the library runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{
    BackwardsMigrationManager, CheckMigrationManager, FleetCommand, ForwardsMigrationManager,
    Language, Project, Resolution,
};
use crate::config::Settings;
use crate::error::Result;

/// Database migrations as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmig", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the project and its database are.
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Which databases a fleet runs on, and how.
    #[command(flatten)]
    pub fleet: FleetArgs,

    /// How the result is printed on stdout (`table` is another name for `text`).
    #[arg(long, global = true, value_enum, default_value_t)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

/// The project every command works in: its config file and what overrides it.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
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
}

impl ProjectArgs {
    /// The project: its config file read and validated, with the flags' overrides.
    pub fn project(&self) -> Result<Project> {
        let mut settings = Settings::load(&self.config, self.database_url.clone())?;
        if let Some(seconds) = self.lock_timeout {
            settings.lock_timeout = Duration::from_secs(seconds);
        }
        if self.no_cache {
            settings.cache_dir = None;
        }
        Project::new(settings)
    }
}

/// How forwards, backwards, check and verify run on many databases.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Run forwards, backwards or check on every database of this file: TOML `[[target]]`
    /// tables with `name` and `url`, or one URL per line (see docs/fleet.md).
    #[arg(long, global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// How many targets of a fleet are worked on at once.
    #[arg(long, global = true, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,

    /// Stop starting targets once one failed.
    #[arg(long, global = true)]
    pub fail_fast: bool,
}

/// How a command prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people: lines, a table for `check`, the SQL script of a preview.
    #[default]
    #[value(name = "text", alias = "table")]
    Text,
    /// One JSON document with stable keys (see docs/cli.md).
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations.
    Forwards(ForwardsArgs),
    /// Reverse applied migrations, newest-applied first.
    Backwards(BackwardsArgs),
    /// List migrations and whether they have run.
    Check(CheckArgs),
    /// Prove on a scratch database that each migration's backwards undoes its forwards.
    Verify(VerifyArgs),
    /// Remove ledger rows of an app whose migration file no longer exists.
    Clean(CleanArgs),
    /// Settle a dirty migration after repairing the schema by hand.
    Resolve(ResolveArgs),
    /// Create the source of a new migration in an app's folder.
    New(NewArgs),
    /// Compile the migration sources of an app (or `all`) into their component files.
    Build(AppsArgs),
    /// Show, empty or fill the compile cache of compiled components.
    Cache {
        /// What to do.
        #[command(subcommand)]
        action: CacheAction,
    },
}

/// `-y`: the flag of every command that asks before it changes something.
#[derive(Debug, Clone, Copy, Args)]
pub struct AutoAgree {
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub auto_agree: bool,
}

/// How a forwards or backwards run goes, besides `--preview`: the flags both directions
/// take.
#[derive(Debug, Clone, Copy, Args)]
pub struct RunFlags {
    #[command(flatten)]
    pub confirm: AutoAgree,
    /// Go on although an applied migration's file changed since it was applied.
    #[arg(long)]
    pub allow_changed: bool,
    /// Run the selection in one transaction, then roll it back (not on MySQL).
    #[arg(long, conflicts_with_all = ["preview", "atomic"])]
    pub dry_run: bool,
    /// Run the selection in one transaction with its ledger rows: all or nothing.
    #[arg(long, conflicts_with = "preview")]
    pub atomic: bool,
}

/// `wasmig forwards`.
#[derive(Debug, Clone, Args)]
pub struct ForwardsArgs {
    /// An app name, or `all` for every app in dependency order.
    pub app: String,
    /// `all` (every pending one), `1` (the next one) or an ID to apply up to.
    #[arg(default_value = "all")]
    pub migration_id: String,
    /// Record the migrations as applied without running them.
    #[arg(long)]
    pub fake: bool,
    /// Print the SQL the migrations emit; change nothing.
    #[arg(long)]
    pub preview: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// `wasmig backwards`.
#[derive(Debug, Clone, Args)]
pub struct BackwardsArgs {
    /// An app name, or `all` for every app in reverse dependency order.
    pub app: String,
    /// `1` (the latest; default for one app), `all` (default for all apps) or an ID:
    /// that migration and every one applied after it.
    pub migration_id: Option<String>,
    /// Delete each reversed migration's component file.
    #[arg(long, conflicts_with_all = ["dry_run", "atomic"])]
    pub clean: bool,
    /// Print the SQL the reversals emit; change nothing.
    #[arg(long)]
    pub preview: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// `wasmig check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub apps: AppsArgs,
    /// Exit with status 1 when any listed migration is not simply applied: pending,
    /// changed, missing or dirty.
    #[arg(long)]
    pub fail_on_pending: bool,
}

/// `wasmig verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub apps: AppsArgs,
    /// The scratch database to use (default: a new one beside the target, dropped
    /// afterwards; for SQLite a temporary file).
    #[arg(long)]
    pub scratch_url: Option<String>,
}

/// The apps a command works on, by default all of them.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AppsArgs {
    /// An app name, or `all`.
    #[arg(default_value = "all")]
    pub app: String,
}

/// `wasmig clean`.
#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// The app.
    pub app: String,
    #[command(flatten)]
    pub confirm: AutoAgree,
}

/// `wasmig resolve`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("outcome").required(true))]
pub struct ResolveArgs {
    /// The app.
    pub app: String,
    /// The dirty migration's ID.
    pub migration_id: String,
    /// Its changes are in place: keep it as applied.
    #[arg(long, group = "outcome")]
    pub applied: bool,
    /// Its changes are not in place: forget it, so it is pending again.
    #[arg(long, group = "outcome")]
    pub reversed: bool,
    #[command(flatten)]
    pub confirm: AutoAgree,
}

impl ResolveArgs {
    /// What the command line says became of the migration.
    pub fn resolution(&self) -> Resolution {
        if self.applied { Resolution::Applied } else { Resolution::Reversed }
    }
}

/// `wasmig new`.
#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// The app.
    pub app: String,
    /// What the migration does, e.g. "add tags".
    pub name: String,
    /// The language of the source: a Rust crate, a Python or a JavaScript module.
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    pub lang: Language,
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
    Fill(AppsArgs),
}

/// The `wasmig cache` actions that need no project, only the cache's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CacheInspection {
    /// Where the cache is, how many compiled components it holds and their size.
    Info,
    /// Remove every compiled component and recorded description.
    Clear,
}

impl CacheInspection {
    /// The action's name, as JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            CacheInspection::Info => "info",
            CacheInspection::Clear => "clear",
        }
    }
}

impl Command {
    /// The command's name, as JSON gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Forwards(_) => "forwards",
            Command::Backwards(_) => "backwards",
            Command::Check(_) => "check",
            Command::Verify(_) => "verify",
            Command::Clean(_) => "clean",
            Command::Resolve(_) => "resolve",
            Command::New(_) => "new",
            Command::Build(_) => "build",
            Command::Cache { .. } => "cache",
        }
    }

    /// Whether the command reads or changes a database, so that a fleet can run it.
    pub fn uses_database(&self) -> bool {
        !matches!(self, Command::New(_) | Command::Build(_) | Command::Cache { .. })
    }

    /// Whether it is a `check --fail-on-pending`.
    pub fn fails_on_pending(&self) -> bool {
        matches!(self, Command::Check(CheckArgs { fail_on_pending: true, .. }))
    }
}

/// The `$manager` of a forwards or backwards command line `$args`: the direction's own
/// arguments (`$field`, named as in the manager), then the [`RunFlags`] both share.
macro_rules! run_manager {
    ($manager:ident, $args:ident { $($field:ident),* }) => {{
        let RunFlags { confirm, allow_changed, dry_run, atomic } = $args.run;
        $manager {
            $($field: $args.$field,)*
            auto_agree: confirm.auto_agree,
            allow_changed,
            dry_run,
            atomic,
            ..$manager::new($args.app)
        }
    }};
}

impl From<ForwardsArgs> for ForwardsMigrationManager {
    fn from(args: ForwardsArgs) -> Self {
        run_manager!(ForwardsMigrationManager, args { migration_id, fake, preview })
    }
}

impl From<BackwardsArgs> for BackwardsMigrationManager {
    fn from(args: BackwardsArgs) -> Self {
        run_manager!(BackwardsMigrationManager, args { migration_id, clean, preview })
    }
}

impl From<CheckArgs> for CheckMigrationManager {
    fn from(args: CheckArgs) -> Self {
        CheckMigrationManager::new(args.apps.app)
    }
}

/// The commands a fleet runs on each of its databases; any other is given back.
impl TryFrom<Command> for FleetCommand {
    type Error = Command;

    fn try_from(command: Command) -> std::result::Result<Self, Command> {
        Ok(match command {
            Command::Forwards(args) => FleetCommand::Forwards(args.into()),
            Command::Backwards(args) => FleetCommand::Backwards(args.into()),
            Command::Check(args) => FleetCommand::Check(args.into()),
            Command::Verify(VerifyArgs { apps, scratch_url: None }) => {
                FleetCommand::Verify { app_name: apps.app }
            }
            other => return Err(other),
        })
    }
}
