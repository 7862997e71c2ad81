//! What each command says in words: its lines and tables on stdout in the text format,
//! its summary and warnings on stderr in either format, and the exit status that goes with
//! them.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets};

use super::args::{CacheInspection, Format};
use crate::cache::CacheInfo;
use crate::commands::{
    BuildOutcome, BuildReport, CheckReport, CleanReport, FillReport, FleetReport, MigrationStatus,
    NewReport, ResolveReport, State, TargetOutcome, TargetReport, VerifyReport,
};
use crate::error::Error;
use crate::report::{MigrationReport, RunReport};

/// `0.4 ms`, `12 ms`, `3.2 s`.
pub(super) fn duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

/// What a preview prints for one migration: a comment line naming it, then each statement
/// followed by `;`.
pub(super) fn script(migration: &MigrationReport) -> String {
    let mut script = format!(
        "-- {} {} {}: {}\n",
        migration.app_name,
        migration.migration_id,
        migration.direction.name(),
        migration.description
    );
    for statement in &migration.statements {
        script.push_str(statement.trim_end_matches(';'));
        script.push_str(";\n");
    }
    script
}

fn status(success: bool) -> ExitCode {
    if success { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// A command that failed: the error on stderr.
pub(super) fn failure(error: &Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// The end of a `forwards` or `backwards` run, whose migrations were shown as they
/// finished: its summary, or its error.
pub(super) fn run(report: &RunReport) -> ExitCode {
    let summary = report.summary();
    if report.success() {
        if !summary.is_empty() {
            eprintln!("{summary}");
        }
    } else {
        eprintln!("error: {summary}");
    }
    status(report.success())
}

/// `check`: the table of statuses on stdout; the dirty warning and, with
/// `fail_on_pending`, the pending count on stderr.
pub(super) fn check(report: &CheckReport, format: Format, fail_on_pending: bool) -> ExitCode {
    let statuses = &report.statuses;
    if format == Format::Text {
        println!("{}", table(statuses));
    }
    let dirty: Vec<String> = statuses
        .iter()
        .filter(|s| s.dirty)
        .map(|s| format!("{} {}", s.app_name, s.migration_id))
        .collect();
    if !dirty.is_empty() {
        eprintln!(
            "warning: dirty migration(s): {} (an earlier run failed part-way; repair, then `wasmig resolve`)",
            dirty.join(", ")
        );
    }
    let pending = report.pending();
    if fail_on_pending && pending > 0 {
        eprintln!("error: {pending} migration(s) pending");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The table `check` prints.
fn table(statuses: &[MigrationStatus]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
    // The state column shows only when there is more to see than has_ran.
    let notable =
        |s: &MigrationStatus| matches!(s.state, State::Changed | State::Missing | State::Dirty);
    let any_notable = statuses.iter().any(notable);
    let mut header = vec!["app_name", "migration_id", "description", "has_ran"];
    if any_notable {
        header.push("state");
    }
    table.set_header(header);
    for s in statuses {
        let mut row = vec![
            s.app_name.as_str(),
            s.migration_id.as_str(),
            s.description.as_str(),
            if s.has_ran { "true" } else { "false" },
        ];
        if any_notable {
            let state = if notable(s) { s.state.name() } else { "" };
            row.push(state);
        }
        table.add_row(row);
    }
    table
}

/// `verify`: each verified migration (in the text format), then the summary or the first
/// divergence with its schema diff, on stderr.
pub(super) fn verify(report: &VerifyReport, format: Format) -> ExitCode {
    if format == Format::Text {
        for m in &report.verified {
            eprintln!("verified {} {}: {}", m.app_name, m.migration_id, m.description);
        }
        for m in &report.irreversible {
            eprintln!(
                "irreversible {} {}: {}: no down file for this backend, not verified",
                m.app_name, m.migration_id, m.description
            );
        }
    }
    match &report.failure {
        None => {
            eprintln!(
                "verified {} migration(s) on {}: each backwards restores the schema, and \
                 forwards again gives the same",
                report.verified.len(),
                report.scratch
            );
            if !report.irreversible.is_empty() {
                eprintln!(
                    "{} irreversible migration(s) applied but not verified",
                    report.irreversible.len()
                );
            }
            ExitCode::SUCCESS
        }
        Some(failure) => {
            eprintln!("error: {}; schema difference (- expected, + found):", failure.message());
            for line in &failure.diff {
                eprintln!("  {line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A fleet's end: each target's outcome and the summary, on stderr. `gated`: a `check
/// --fail-on-pending` found migrations pending.
pub(super) fn fleet(report: &FleetReport, gated: bool) -> ExitCode {
    for t in &report.targets {
        eprintln!("target {}: {}", t.name, target(t));
    }
    let count = |outcome| report.count(outcome);
    eprintln!(
        "fleet of {} target(s): {} succeeded, {} failed, {} dirty (skipped), {} not run",
        report.targets.len(),
        count(TargetOutcome::Succeeded),
        count(TargetOutcome::Failed),
        count(TargetOutcome::Dirty),
        count(TargetOutcome::NotRun)
    );
    status(report.success() && !gated)
}

/// How one target of a fleet ended, in a few words.
fn target(t: &TargetReport) -> String {
    match (&t.outcome, t.error()) {
        (TargetOutcome::NotRun, _) => "not run (--fail-fast)".to_string(),
        (_, Some(e)) => format!("{}: {e}", t.outcome_name()),
        (_, None) => match (&t.run, &t.check, &t.verify) {
            (Some(run), ..) => run.summary().lines().last().unwrap_or("nothing to do").to_string(),
            (_, Some(check), _) => format!("{} migration(s) not applied", check.pending()),
            (.., Some(verify)) => match &verify.failure {
                None => format!("verified {} migration(s)", verify.verified.len()),
                Some(failure) => {
                    format!("failed: {} ({})", failure.message(), failure.diff.join("; "))
                }
            },
            _ => String::new(),
        },
    }
}

/// `clean`: the removed rows on stdout (`app id` lines, in the text format), the summary
/// on stderr.
pub(super) fn clean(report: &CleanReport, format: Format) -> ExitCode {
    let app = &report.app_name;
    if format == Format::Text {
        for row in &report.removed {
            println!("{} {}", row.app_name, row.migration_id);
        }
    }
    if report.removed.is_empty() {
        eprintln!("app {app}: no ledger rows without a migration file");
    } else {
        eprintln!("removed {} ledger row(s) of {app}", report.removed.len());
    }
    ExitCode::SUCCESS
}

/// `resolve`: what became of the dirty migration.
pub(super) fn resolve(report: &ResolveReport) -> ExitCode {
    eprintln!("{}", report.summary());
    ExitCode::SUCCESS
}

/// `new`: where the source is, and how to build it.
pub(super) fn new(report: &NewReport) -> ExitCode {
    eprintln!("created {}", report.source.display());
    if report.build_commands.is_empty() {
        eprintln!("nothing to build: wasmig runs the SQL files as they are");
        return ExitCode::SUCCESS;
    }
    eprintln!("build it into the component wasmig runs with:");
    for command in &report.build_commands {
        eprintln!("  {command}");
    }
    ExitCode::SUCCESS
}

/// `build`: a line per migration and the count, on stderr.
pub(super) fn build(report: &BuildReport) -> ExitCode {
    for m in &report.migrations {
        let (app, id, language) = (&m.app_name, &m.migration_id, m.language.name());
        match m.outcome {
            BuildOutcome::Built => eprintln!(
                "built {app} {id} ({language}) -> {} ({})",
                m.component.display(),
                duration(m.duration)
            ),
            BuildOutcome::UpToDate => eprintln!("up to date {app} {id} ({language})"),
            BuildOutcome::NotNeeded => {
                eprintln!("nothing to build {app} {id} ({language}): wasmig assembles it itself")
            }
        }
    }
    eprintln!("built {} of {} migration source(s)", report.built(), report.migrations.len());
    ExitCode::SUCCESS
}

/// `cache info` and `cache clear` in the text format: where the cache is and what it holds
/// (on stdout), or held (on stderr).
pub(super) fn cache(inspection: CacheInspection, info: &CacheInfo, format: Format) -> ExitCode {
    match (format, inspection) {
        (Format::Json, _) => {}
        (Format::Text, CacheInspection::Info) => {
            println!("{}", info.dir.display());
            println!("{} compiled component(s), {}", info.entries, size(info.bytes));
            println!("{} migrations folder(s) described", info.folders);
        }
        (Format::Text, CacheInspection::Clear) => eprintln!(
            "cleared {}: {} compiled component(s), {}",
            info.dir.display(),
            info.entries,
            size(info.bytes)
        ),
    }
    ExitCode::SUCCESS
}

/// `cache fill`: what was compiled into the cache.
pub(super) fn fill(report: &FillReport) -> ExitCode {
    let total = report.migrations.len();
    eprintln!(
        "compiled {} of {total} component(s) into {} ({} cached already) in {}",
        report.compiled(),
        report.cache_dir.display(),
        total - report.compiled(),
        duration(report.duration)
    );
    ExitCode::SUCCESS
}

/// A size in bytes for people.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
