//! The JSON documents of `--format json`: one type per command, with the keys docs/cli.md
//! documents, and the error object they share.

use serde::Serialize;

use super::args::CacheInspection;
use crate::cache::CacheInfo;
use crate::commands::{
    BuildReport, BuiltMigration, CheckReport, CleanReport, Divergence, FillReport, FleetReport,
    MigrationStatus, NewReport, ResolveReport, TargetOutcome, TargetReport, Verified, VerifyReport,
};
use crate::error::{Error, Failure, Rollback, StopKind};
use crate::plan::Direction;
use crate::report::{Batch, MigrationReport, Mode, Outcome, RunReport};

/// Prints one JSON document on stdout.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub(super) fn print(document: &impl Serialize) {
    match serde_json::to_string_pretty(document) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

/// The document of every command but `check`: `command`, `success`, `error` (null or an
/// object), then the command's own keys. It lists its keys in alphabetical order at every
/// level, whatever the order of the fields of the types it holds.
#[derive(Debug)]
pub(super) struct Document<'a, B>(Envelope<'a, B>);

/// What a [`Document`] holds.
#[derive(Debug, Serialize)]
struct Envelope<'a, B> {
    command: &'a str,
    success: bool,
    error: Option<ErrorJson<'a>>,
    #[serde(flatten)]
    body: B,
}

impl<B: Serialize> Serialize for Document<'_, B> {
    /// Through a [`serde_json::Value`], whose objects keep their keys sorted.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

impl<'a, B> Document<'a, B> {
    /// The document of a command that succeeded with `body`, or failed with `error`.
    fn new(command: &'a str, error: Option<&'a Error>, body: B) -> Self {
        let error_part = error.map(error_json);
        Document(Envelope { command, success: error.is_none(), error: error_part, body })
    }
}

/// An error: its kind and message, for a failed migration what failed and what became of
/// its changes, and for a component that did not load which one and why.
#[derive(Debug, Serialize)]
pub(super) struct ErrorJson<'a> {
    kind: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    load: Option<FailedLoad<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migration: Option<FailedMigration<'a>>,
}

/// The component a load failure is about, and the reason by name.
#[derive(Debug, Serialize)]
struct FailedLoad<'a> {
    app_name: &'a str,
    migration_id: &'a str,
    file: &'a std::path::Path,
    reason: &'static str,
}

/// The migration an error is about.
#[derive(Debug, Serialize)]
struct FailedMigration<'a> {
    app_name: &'a str,
    migration_id: &'a str,
    direction: Direction,
    /// `guest`, `stopped` or `database`.
    failure: &'static str,
    /// How a stopped migration stopped.
    stop: Option<String>,
    /// The database's error code.
    code: Option<&'a str>,
    rolled_back: bool,
    dirty: bool,
}

/// An error as JSON: its kind and message, and for a failed migration what failed and
/// what became of its changes.
fn error_json(error: &Error) -> ErrorJson<'_> {
    let migration = error.migration().map(|migration| {
        let (failure, stop, code) = match &migration.failure {
            Failure::Guest(_) => ("guest", None, None),
            Failure::Stopped(stop) => ("stopped", Some(stop_kind(&stop.kind)), None),
            Failure::Database { error, .. } => ("database", None, error.code.as_deref()),
        };
        FailedMigration {
            app_name: &migration.app,
            migration_id: &migration.id,
            direction: migration.direction,
            failure,
            stop,
            code,
            rolled_back: migration.rollback == Rollback::Done,
            dirty: migration.dirty,
        }
    });
    let load = error.load().map(|load| FailedLoad {
        app_name: &load.app,
        migration_id: &load.id,
        file: &load.path,
        reason: load.reason.name(),
    });
    ErrorJson { kind: error.kind(), message: error.to_string(), load, migration }
}

/// The name of a stop kind in JSON.
fn stop_kind(kind: &StopKind) -> String {
    match kind {
        StopKind::Limit(hit) => format!("limit:{}", hit.key()),
        StopKind::CpuBudget => "cpu_budget".into(),
        StopKind::Stalled => "stalled".into(),
        StopKind::StackOverflow => "stack_overflow".into(),
        StopKind::Panic => "panic".into(),
        StopKind::OutOfMemory => "out_of_memory".into(),
        StopKind::Unreachable => "unreachable".into(),
        StopKind::Exit(code) => format!("exit:{code}"),
        StopKind::Trap => "trap".into(),
        StopKind::Host => "host".into(),
    }
}

/// The document of a command that failed before it had anything to report.
pub(super) fn failure<'a>(command: &'a str, error: &'a Error) -> Document<'a, Nothing> {
    Document::new(command, Some(error), Nothing {})
}

/// No keys of a command's own.
#[derive(Debug, Serialize)]
pub(super) struct Nothing {}

/// A migration named by its app and ID.
#[derive(Debug, Serialize)]
struct Named<'a> {
    app_name: &'a str,
    migration_id: &'a str,
}

impl<'a> From<&'a MigrationReport> for Named<'a> {
    fn from(migration: &'a MigrationReport) -> Self {
        Named { app_name: &migration.app_name, migration_id: &migration.migration_id }
    }
}

/// What a `forwards` or `backwards` run adds to its document.
#[derive(Debug, Serialize)]
pub(super) struct Run<'a> {
    mode: Mode,
    batch: Option<Batch>,
    /// Every planned migration, in run order.
    migrations: &'a [MigrationReport],
    /// What completed.
    completed: Vec<Named<'a>>,
    notes: &'a [String],
    warnings: &'a [String],
}

/// The document of a `forwards` or `backwards` run.
pub(super) fn run<'a>(command: &'a str, report: &'a RunReport) -> Document<'a, Run<'a>> {
    let run = Run {
        mode: report.mode,
        batch: report.batch,
        migrations: &report.migrations,
        completed: report.completed().map(Named::from).collect(),
        notes: &report.notes,
        warnings: &report.warnings,
    };
    Document::new(command, report.error.as_ref(), run)
}

/// The document of `check`: the array of statuses, without the envelope of the others,
/// each status's keys in the order docs/cli.md lists them.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(super) struct Check<'a>(&'a [MigrationStatus]);

impl<'a> From<&'a CheckReport> for Check<'a> {
    fn from(report: &'a CheckReport) -> Self {
        Check(&report.statuses)
    }
}

/// What `verify` adds to its document.
#[derive(Debug, Serialize)]
pub(super) struct Verify<'a> {
    /// The scratch database, its password hidden.
    scratch: &'a str,
    verified: &'a [Verified],
    /// Migrations without a way back on this backend: applied, not verified.
    irreversible: &'a [Verified],
    failure: Option<&'a Divergence>,
}

/// The document of `verify`: it fails as `not_reversible` when a migration diverged.
pub(super) fn verify(report: &VerifyReport) -> Document<'_, Verify<'_>> {
    let error = report.failure.as_ref().map(|failure| ErrorJson {
        kind: "not_reversible",
        message: failure.message(),
        load: None,
        migration: None,
    });
    let verify = Verify {
        scratch: &report.scratch,
        verified: &report.verified,
        irreversible: &report.irreversible,
        failure: report.failure.as_ref(),
    };
    let success = report.failure.is_none();
    Document(Envelope { command: "verify", success, error, body: verify })
}

/// What a fleet adds to its document: one object per target.
#[derive(Debug, Serialize)]
pub(super) struct Fleet<'a> {
    targets: Vec<Target<'a>>,
}

/// One target of a fleet: how it ended, and its run's document, its check's statuses or
/// its verification, by the command.
#[derive(Debug, Serialize)]
struct Target<'a> {
    name: &'a str,
    /// Its URL, password hidden.
    url: &'a str,
    outcome: TargetOutcome,
    error: Option<ErrorJson<'a>>,
    applied: Option<usize>,
    reversed: Option<usize>,
    failed_migration: Option<Named<'a>>,
    run: Option<Document<'a, Run<'a>>>,
    statuses: Option<Check<'a>>,
    pending: Option<usize>,
    verify: Option<VerifiedTarget<'a>>,
}

/// A target's verification.
#[derive(Debug, Serialize)]
struct VerifiedTarget<'a> {
    verified: &'a [Verified],
    /// Migrations without a way back on this backend: applied, not verified.
    irreversible: &'a [Verified],
    failure: Option<&'a Divergence>,
}

impl<'a> Target<'a> {
    fn new(command: &'a str, target: &'a TargetReport) -> Self {
        let run = target.run.as_ref();
        Target {
            name: &target.name,
            url: &target.url,
            outcome: target.outcome,
            error: target.error().map(error_json),
            applied: run.map(|r| r.count(Outcome::Applied)),
            reversed: run.map(|r| r.count(Outcome::Reversed)),
            failed_migration: run.and_then(RunReport::failed_migration).map(Named::from),
            run: run.map(|run| self::run(command, run)),
            statuses: target.check.as_ref().map(Check::from),
            pending: target.check.as_ref().map(CheckReport::pending),
            verify: target.verify.as_ref().map(|v| VerifiedTarget {
                verified: &v.verified,
                irreversible: &v.irreversible,
                failure: v.failure.as_ref(),
            }),
        }
    }
}

/// The document of a fleet's `command`; `success` is false when a target failed, or
/// `gated` by `check --fail-on-pending`.
pub(super) fn fleet<'a>(
    command: &'a str,
    report: &'a FleetReport,
    gated: bool,
) -> Document<'a, Fleet<'a>> {
    let targets = report.targets.iter().map(|target| Target::new(command, target)).collect();
    let success = report.success() && !gated;
    Document(Envelope { command, success, error: None, body: Fleet { targets } })
}

/// The document of `clean`: the app and the ledger rows removed.
pub(super) fn clean(report: &CleanReport) -> Document<'_, &CleanReport> {
    Document::new("clean", None, report)
}

/// The document of `resolve`: the migration and what became of it.
pub(super) fn resolve(report: &ResolveReport) -> Document<'_, &ResolveReport> {
    Document::new("resolve", None, report)
}

/// The document of `new`: the source written, and how to build it.
pub(super) fn new(report: &NewReport) -> Document<'_, &NewReport> {
    Document::new("new", None, report)
}

/// What `build` adds to its document.
#[derive(Debug, Serialize)]
pub(super) struct Build<'a> {
    migrations: &'a [BuiltMigration],
}

/// The document of `build`: a line per migration source.
pub(super) fn build(report: &BuildReport) -> Document<'_, Build<'_>> {
    Document::new("build", None, Build { migrations: &report.migrations })
}

/// What `cache info` and `cache clear` add to their document.
#[derive(Debug, Serialize)]
pub(super) struct Cache<'a> {
    action: &'static str,
    /// What the cache holds, or for `clear` what it held.
    cache: &'a CacheInfo,
}

/// The document of `cache info` or `cache clear`.
pub(super) fn cache(inspection: CacheInspection, info: &CacheInfo) -> Document<'_, Cache<'_>> {
    Document::new("cache", None, Cache { action: inspection.name(), cache: info })
}

/// What `cache fill` adds to its document.
#[derive(Debug, Serialize)]
pub(super) struct Fill<'a> {
    action: &'static str,
    fill: &'a FillReport,
}

/// The document of `cache fill`.
pub(super) fn fill(report: &FillReport) -> Document<'_, Fill<'_>> {
    Document::new("cache", None, Fill { action: "fill", fill: report })
}
