//! What the library gives back instead of printing: a report per command, events while it
//! runs, and confirmation asked of the caller.
//!
//! Library code never prints and never reads stdin. A caller passes [`Hooks`]: the CLI's
//! draw progress and ask on the terminal; [`Silent`] ignores events and declines every
//! confirmation, so an embedding program proceeds only where it said `auto_agree`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::plan::Direction;

/// What happened to one migration in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Run forwards and recorded.
    Applied,
    /// Run backwards and its record removed.
    Reversed,
    /// Recorded as applied without running (`--fake`).
    Faked,
    /// Run against a recording handle; nothing changed (`--preview`).
    Previewed,
    /// Planned, but not run because an earlier migration failed.
    Skipped,
    /// Failed; see the run's error.
    Failed,
    /// Ran, then undone with the rest of its batch (`--dry-run`, or `--atomic` after a
    /// later migration failed).
    RolledBack,
}

impl Outcome {
    /// The past-tense verb of a text report line.
    pub fn verb(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Reversed => "reversed",
            Outcome::Faked => "faked",
            Outcome::Previewed => "previewed",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled back",
        }
    }
}

/// One migration of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationReport {
    /// The app it belongs to.
    pub app_name: String,
    /// Its ID.
    pub migration_id: String,
    /// What it says it does.
    pub description: String,
    /// Which way it ran.
    pub direction: Direction,
    /// What happened.
    pub outcome: Outcome,
    /// Whether it ran in a transaction.
    pub transactional: bool,
    /// Whether this run compiled its component (false: it came from the compile cache).
    pub compiled: bool,
    /// Wall time of the migration, bookkeeping included.
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
    /// Statements it executed on the database (0 in a preview).
    pub statements_executed: u64,
    /// The statements it emitted, each with its parameters inlined as literals: the SQL a
    /// preview prints, or what a live run executed.
    pub statements: Vec<String>,
    /// What it wrote to stdout and stderr (bounded by `[limits] log_kib`).
    pub log: String,
    /// Bytes of output beyond `log`, counted but not kept.
    pub log_dropped: u64,
    /// The component file deleted after it was reversed (`backwards --clean`).
    pub deleted_file: Option<PathBuf>,
}

/// A duration as JSON gives every `duration_ms`: milliseconds, to the microsecond.
pub(crate) fn milliseconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 1e6).round() / 1e3)
}

/// How a run treats its migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// Run them for real.
    #[default]
    Live,
    /// Run them against a recording handle and report their SQL (`--preview`).
    Preview,
    /// Record them without running them (`--fake`).
    Fake,
}

/// Whether a live run's migrations share one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Batch {
    /// All of them with their ledger rows, committed together (`--atomic`).
    Atomic,
    /// All of them, then rolled back (`--dry-run`).
    DryRun,
}

impl Batch {
    /// The batch `--dry-run` and `--atomic` ask for (a dry run wins), if any.
    pub fn of(dry_run: bool, atomic: bool) -> Option<Batch> {
        if dry_run {
            Some(Batch::DryRun)
        } else if atomic {
            Some(Batch::Atomic)
        } else {
            None
        }
    }
}

/// What a `forwards` or `backwards` run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// How the migrations were treated.
    pub mode: Mode,
    /// Whether they shared one transaction.
    pub batch: Option<Batch>,
    /// Every planned migration in run order, with its outcome: the completed ones, then
    /// the one that failed and those skipped after it, if any.
    pub migrations: Vec<MigrationReport>,
    /// Things worth saying that are not migrations, e.g. "app auth: migration X has
    /// already run".
    pub notes: Vec<String>,
    /// Things that went through but look wrong, e.g. a component changed since it was
    /// applied.
    pub warnings: Vec<String>,
    /// Why the run failed (or was declined); `None` when it succeeded.
    pub error: Option<Error>,
}

impl RunReport {
    /// Whether the run succeeded.
    pub fn success(&self) -> bool {
        self.error.is_none()
    }

    /// The migrations that completed (applied, reversed, faked or previewed).
    pub fn completed(&self) -> impl Iterator<Item = &MigrationReport> {
        self.migrations.iter().filter(|m| {
            !matches!(m.outcome, Outcome::Failed | Outcome::Skipped | Outcome::RolledBack)
        })
    }

    /// The migration that failed, if one did.
    pub fn failed_migration(&self) -> Option<&MigrationReport> {
        self.migrations.iter().find(|m| m.outcome == Outcome::Failed)
    }

    /// How many migrations ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.migrations.iter().filter(|m| m.outcome == outcome).count()
    }

    /// "a 20240101000000, b 20240102000000" for the completed migrations, or "none".
    pub fn completed_summary(&self) -> String {
        let done: Vec<String> =
            self.completed().map(|m| format!("{} {}", m.app_name, m.migration_id)).collect();
        if done.is_empty() { "none".to_string() } else { done.join(", ") }
    }

    /// One line (or two) saying how the run ended: the error with what completed before
    /// it, or what was done.
    pub fn summary(&self) -> String {
        if let Some(error) = &self.error {
            if self.mode == Mode::Preview || self.failed_migration().is_none() {
                return error.to_string();
            }
            if self.batch.is_some() {
                return format!(
                    "{error}
the whole batch was rolled back: nothing changed"
                );
            }
            return format!("{error}\ncompleted before the failure: {}", self.completed_summary());
        }
        let mut lines = self.notes.clone();
        let (applied, reversed) = (self.count(Outcome::Applied), self.count(Outcome::Reversed));
        let faked = self.count(Outcome::Faked);
        let rolled_back = self.count(Outcome::RolledBack);
        if self.batch == Some(Batch::DryRun) {
            lines.push(format!(
                "dry run: {rolled_back} migration(s) ran and were rolled back; nothing changed"
            ));
        } else if faked > 0 {
            lines.push(format!("recorded {faked} migration(s) as applied without running them"));
        } else if applied > 0 {
            lines.push(format!("applied {applied} migration(s)"));
        } else if reversed > 0 {
            lines.push(format!("reversed {reversed} migration(s)"));
        }
        lines.join("\n")
    }
}

/// A question the caller must answer before wasmig changes something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The question, e.g. "Reverse 2 migration(s) of blog?".
    pub prompt: String,
    /// What it is about, one line each, shown before the question.
    pub details: Vec<String>,
}

/// Something that happened during a command, as it happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Another run holds the run lock; this one waits up to `timeout`.
    WaitingForLock { timeout: Duration },
    /// Everything is loaded and validated; `total` migrations are about to run.
    Planned { total: usize },
    /// A migration starts.
    Started { app: &'a str, migration_id: &'a str, direction: Direction },
    /// A migration finished, successfully or not.
    Finished(&'a MigrationReport),
    /// Something that looks wrong but does not stop the command.
    Warning(&'a str),
    /// A target of a fleet ended; `line` says how, with how many are done.
    TargetEnded { line: &'a str },
}

/// How a command talks to its caller while it runs.
pub trait Hooks: Send + Sync {
    /// Asked before a change that needs confirmation (unless `auto_agree`). Returning
    /// false declines: the command fails with [`Error::Declined`] and changes nothing.
    fn confirm(&self, question: &Question) -> bool {
        let _ = question;
        false
    }

    /// Told of each event.
    fn event(&self, event: Event<'_>) {
        let _ = event;
    }
}

/// Hooks that ignore every event and decline every confirmation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Hooks for Silent {}
