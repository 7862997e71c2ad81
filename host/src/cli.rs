//! The command line, as clap types. `main` turns it into library calls.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::OutputFormat;

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

    #[command(subcommand)]
    pub command: Command,
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
    },
    /// Reverse applied migrations, newest-applied first.
    Backwards {
        /// An app name, or `all` for every app in reverse dependency order.
        app: String,
        /// `1` (the latest; default for one app), `all` (default for all apps) or an ID:
        /// that migration and every one applied after it.
        migration_id: Option<String>,
        /// Delete each reversed migration's component file.
        #[arg(long)]
        clean: bool,
        /// Print the SQL the reversals emit; change nothing.
        #[arg(long)]
        preview: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        auto_agree: bool,
    },
    /// List migrations and whether they have run.
    Check {
        /// An app name, or `all`.
        #[arg(default_value = "all")]
        app: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Exit with status 1 when any listed migration has not run.
        #[arg(long)]
        fail_on_pending: bool,
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
    /// Create the source of a new migration (a Rust crate) in an app's folder.
    New {
        /// The app.
        app: String,
        /// What the migration does, e.g. "add tags".
        name: String,
    },
}
