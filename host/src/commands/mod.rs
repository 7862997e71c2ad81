//! The commands: orchestration only. Deciding is in [`crate::plan`], running in
//! [`crate::runtime`], bookkeeping in [`crate::ledger`].

mod backwards;
mod check;
mod clean;
mod forwards;
mod new;
mod resolve;

use std::io::{BufRead, Write};
use std::path::Path;

pub use backwards::{BackwardsMigrationManager, backwards, run_backwards};
pub use check::{CheckMigrationManager, MigrationStatus, OutputFormat, check};
pub use clean::clean;
pub use forwards::{ForwardsMigrationManager, forwards, run_forwards};
pub use new::new_migration;
pub use resolve::{Resolution, resolve};

use crate::bindings::wasmig::migration::types::{Context, Dialect};
use crate::capture::{Capture, DatabaseHandle};
use crate::config::{App, Settings};
use crate::db::{Access, Connection};
use crate::error::{Error, Result};
use crate::ledger::{self, LedgerRow};
use crate::lock::RunLock;
use crate::runtime::{Direction, LoadedMigration, Runtime};
use crate::source::MigrationFile;

/// A loaded project: its settings and the runtime its migrations run in.
#[derive(Debug)]
pub struct Project {
    /// The validated settings.
    pub settings: Settings,
    runtime: Runtime,
}

impl Project {
    /// A project from validated settings.
    pub fn new(settings: Settings) -> Result<Self> {
        Ok(Project { runtime: Runtime::new(settings.limits.clone())?, settings })
    }

    /// Reads `config_path`; `database_url` (flag or environment) overrides the file.
    pub fn load(config_path: &Path, database_url: Option<String>) -> Result<Self> {
        Self::new(Settings::load(config_path, database_url)?)
    }

    async fn connect(&self, access: Access) -> Result<Connection> {
        Connection::open(&self.settings.database_url, access).await
    }

    /// Connects to change the database (taking the run lock) or, for a preview, to read it.
    async fn connect_to_run(&self, preview: bool) -> Result<(Connection, Option<RunLock>)> {
        if preview {
            return Ok((self.connect(Access::ReadOnly).await?, None));
        }
        let mut conn = self.connect(Access::ReadWrite).await?;
        let lock =
            RunLock::acquire(&mut conn, &self.settings.database_url, self.settings.lock_timeout)
                .await?;
        Ok((conn, Some(lock)))
    }

    /// Loads the components of `files` (all of them, before anything runs).
    async fn load_all<'f>(
        &self,
        app: &App,
        files: impl IntoIterator<Item = &'f MigrationFile>,
    ) -> Result<Vec<LoadedMigration>> {
        let mut loaded = Vec::new();
        for file in files {
            loaded.push(self.runtime.load(&app.name, file).await?);
        }
        Ok(loaded)
    }

    fn context(&self, migration: &LoadedMigration, conn: &Connection, preview: bool) -> Context {
        Context {
            app_name: migration.app.clone(),
            migration_id: migration.id.to_string(),
            dialect: conn.dialect(),
            preview,
        }
    }

    /// Runs `migration` for real. Its statements and its ledger change commit together in
    /// one transaction. Where that cannot be all-or-nothing (a non-transactional migration,
    /// or MySQL, whose DDL commits implicitly) the ledger row is marked dirty before the
    /// migration starts and made clean only when it succeeded, so a failure or a kill
    /// leaves a dirty row that blocks further runs until someone resolves it.
    async fn run_live(
        &self,
        mut conn: Connection,
        migration: &LoadedMigration,
        direction: Direction,
    ) -> (Connection, Result<()>) {
        let what = format!("{} {} {}", migration.app, migration.id, direction.name());
        let (app, id) = (&migration.app, &migration.id);
        let atomic = migration.transactional && conn.dialect() != Dialect::Mysql;
        if !atomic {
            let marked = match direction {
                Direction::Forwards => record(&mut conn, migration, true).await,
                Direction::Backwards => ledger::set_dirty(&mut conn, app, id, true).await,
            };
            if let Err(e) = marked {
                return (conn, Err(e));
            }
        }
        if migration.transactional
            && let Err(e) = conn.begin().await
        {
            return (conn, Err(Error::database(format!("{what}: cannot begin a transaction"), e)));
        }
        let context = self.context(migration, &conn, false);
        let handle = DatabaseHandle::Live { conn, in_transaction: migration.transactional };
        let outcome = self.runtime.call(migration, direction, context, Capture::new(handle)).await;
        print_log(migration, &outcome.log);
        let Some(mut conn) = outcome.capture.into_connection() else {
            unreachable!("a live call always hands its connection back")
        };
        let result = match outcome.result {
            Ok(()) => match direction {
                Direction::Forwards if atomic => record(&mut conn, migration, false).await,
                Direction::Forwards => ledger::set_dirty(&mut conn, app, id, false).await,
                Direction::Backwards => ledger::remove(&mut conn, app, id).await,
            },
            Err(message) => Err(Error::Migration { message: format!("{what} failed: {message}") }),
        };
        let result = if migration.transactional {
            match result {
                Ok(()) => conn
                    .commit()
                    .await
                    .map_err(|e| Error::database(format!("{what}: cannot commit"), e)),
                Err(e) => match conn.rollback().await {
                    Ok(()) => Err(Error::Migration { message: format!("{e}; rolled back") }),
                    Err(r) => Err(Error::Migration {
                        message: format!("{e}; rollback failed too: {}", r.message),
                    }),
                },
            }
        } else {
            result
        };
        let result = match result {
            Err(e) if !atomic => Err(Error::Migration {
                message: format!(
                    "{e}; changes it made could not all be rolled back, so it is marked dirty \
                     (see `wasmig check`; repair by hand, then `wasmig resolve {app} {id} --applied` or `--reversed`)"
                ),
            }),
            other => other,
        };
        (conn, result)
    }

    /// Runs `migration` against a recording handle and prints its SQL to stdout.
    async fn run_preview(
        &self,
        mut conn: Connection,
        migration: &LoadedMigration,
        direction: Direction,
    ) -> (Connection, Result<()>) {
        let what = format!("{} {} {}", migration.app, migration.id, direction.name());
        if let Err(e) = conn.begin_read_only().await {
            return (
                conn,
                Err(Error::database(format!("{what}: cannot begin a read-only transaction"), e)),
            );
        }
        let context = self.context(migration, &conn, true);
        let outcome = self
            .runtime
            .call(migration, direction, context, Capture::new(DatabaseHandle::Recording(conn)))
            .await;
        print_log(migration, &outcome.log);
        let statements = outcome.capture.statements;
        let Some(mut conn) = outcome.capture.handle.into_connection() else {
            unreachable!("a recording call always hands its connection back")
        };
        let _ = conn.rollback().await;
        if let Err(message) = outcome.result {
            return (conn, Err(Error::Migration { message: format!("{what} failed: {message}") }));
        }
        let mut out = std::io::stdout().lock();
        let mut script = format!("-- {what}: {}\n", migration.description);
        for statement in statements {
            script.push_str(statement.trim_end_matches(';'));
            script.push_str(";\n");
        }
        let result = out.write_all(script.as_bytes()).and_then(|()| out.flush());
        (conn, result.map_err(|e| Error::io("<stdout>", e)))
    }
}

/// Writes the ledger row of `migration`.
async fn record(conn: &mut Connection, migration: &LoadedMigration, dirty: bool) -> Result<()> {
    let LoadedMigration { app, id, description, checksum, .. } = migration;
    ledger::record(conn, app, id, description, checksum, dirty).await
}

/// Fails if any of `rows` is dirty: an earlier run left that migration part-applied.
fn refuse_dirty(app: &str, rows: &[LedgerRow]) -> Result<()> {
    match rows.iter().find(|row| row.dirty) {
        Some(row) => Err(Error::Dirty { app: app.to_string(), id: row.migration_id.to_string() }),
        None => Ok(()),
    }
}

/// Shows what a migration wrote to stdout/stderr, prefixed with its app and ID.
fn print_log(migration: &LoadedMigration, (text, dropped): &(String, u64)) {
    for line in text.lines() {
        eprintln!("  [{} {}] {line}", migration.app, migration.id);
    }
    if *dropped > 0 {
        eprintln!(
            "  [{} {}] ... {dropped} more bytes of output not shown",
            migration.app, migration.id
        );
    }
}

/// Asks `question` on stderr; only `y` or `yes` (any case) agrees. Empty input, end of
/// input or anything else declines.
pub fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(0) | Err(_) => {
            eprintln!();
            false
        }
        Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

/// The outcome of a library call, for callers that want a value rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationResult {
    /// Whether the operation succeeded.
    pub success: bool,
    /// What happened, or why it failed.
    pub message: String,
}

impl From<Result<String>> for MigrationResult {
    fn from(result: Result<String>) -> Self {
        match result {
            Ok(message) => MigrationResult { success: true, message },
            Err(e) => MigrationResult { success: false, message: e.to_string() },
        }
    }
}

impl MigrationResult {
    /// Prints the message (errors as `error: ...`) to stderr and gives the exit status.
    pub fn report(&self) -> std::process::ExitCode {
        if self.success {
            if !self.message.is_empty() {
                eprintln!("{}", self.message);
            }
            std::process::ExitCode::SUCCESS
        } else {
            eprintln!("error: {}", self.message);
            std::process::ExitCode::FAILURE
        }
    }
}

/// "auth 20240101000000, blog 20240102000000" or "none".
fn summary<'a>(done: impl IntoIterator<Item = &'a LoadedMigration>) -> String {
    let list: Vec<String> = done.into_iter().map(|m| format!("{} {}", m.app, m.id)).collect();
    if list.is_empty() { "none".to_string() } else { list.join(", ") }
}
