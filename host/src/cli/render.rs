//! Everything wasmig shows: report lines, tables and JSON on stdout, progress, prompts and
//! errors on stderr. The only module allowed to print; the library hands it reports.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use comfy_table::{Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::{CacheInspection, Format};
use crate::cache::CacheInfo;
use crate::commands::{
    BuildOutcome, BuildReport, CheckReport, CleanReport, FillReport, FleetReport, MigrationStatus,
    NewReport, ResolveReport, State, TargetOutcome, TargetReport, VerifyReport,
};
use crate::error::{Error, Failure, Result, Rollback, StopKind};
use crate::report::{Event, Hooks, MigrationReport, Outcome, Question, RunReport};

/// A run shows a progress bar (on a terminal) only when it has more migrations than this.
const PROGRESS_ABOVE: usize = 3;

/// The CLI's hooks: lines (or a progress bar) on stderr as migrations finish, the SQL of
/// a text preview on stdout as it is made, and questions asked on the terminal.
#[derive(Debug)]
pub struct Terminal {
    format: Format,
    interactive: bool,
    progress: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    /// Hooks for a command printing in `format`.
    pub fn new(format: Format) -> Self {
        Terminal {
            format,
            interactive: std::io::stderr().is_terminal(),
            progress: Mutex::new(None),
        }
    }

    /// The progress bar, if one is shown.
    fn bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a line to stderr, above the progress bar if there is one.
    fn line(&self, text: &str) {
        match &*self.bar() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish_progress(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }

    fn start_progress(&self, total: usize) {
        if !self.interactive || total <= PROGRESS_ABOVE {
            return;
        }
        let template = if no_color() {
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
        } else {
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
            .with_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar() = Some(bar);
    }

    fn finished(&self, migration: &MigrationReport) {
        let MigrationReport { app_name: app, migration_id: id, description, .. } = migration;
        for line in migration.log.lines() {
            self.line(&format!("  [{app} {id}] {line}"));
        }
        if migration.log_dropped > 0 {
            self.line(&format!(
                "  [{app} {id}] ... {} more bytes of output not shown",
                migration.log_dropped
            ));
        }
        let took = duration(migration.duration);
        match migration.outcome {
            Outcome::Applied | Outcome::Reversed => {
                let note = if migration.transactional { "" } else { " (non-transactional)" };
                let verb = migration.outcome.verb();
                self.line(&format!("{verb} {app} {id}: {description}{note} ({took})"));
            }
            Outcome::Faked => self.line(&format!("faked {app} {id}: {description}")),
            Outcome::RolledBack => {
                let direction = migration.direction.name();
                self.line(&format!("ran {app} {id} {direction} (dry run): {description} ({took})"));
            }
            Outcome::Previewed if self.format == Format::Text => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(script(migration).as_bytes()).and_then(|()| out.flush());
            }
            Outcome::Previewed | Outcome::Skipped | Outcome::Failed => {}
        }
        if let Some(path) = &migration.deleted_file {
            self.line(&format!("deleted {}", path.display()));
        }
        if let Some(bar) = &*self.bar() {
            bar.inc(1);
        }
    }
}

impl Hooks for Terminal {
    /// Asks on stderr; only `y` or `yes` (any case) agrees. Empty input, end of input or
    /// anything else declines.
    fn confirm(&self, question: &Question) -> bool {
        self.finish_progress();
        for detail in &question.details {
            eprintln!("  {detail}");
        }
        eprint!("{} [y/N] ", question.prompt);
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

    fn event(&self, event: Event<'_>) {
        match event {
            Event::WaitingForLock { timeout } => self.line(&format!(
                "waiting for another wasmig run to finish (lock_timeout {}s)...",
                timeout.as_secs()
            )),
            Event::Planned { total } => self.start_progress(total),
            Event::Started { app, migration_id, direction } => {
                if let Some(bar) = &*self.bar() {
                    bar.set_message(format!("{app} {migration_id} {}", direction.name()));
                }
            }
            Event::Finished(migration) => self.finished(migration),
            Event::Warning(warning) => self.line(&format!("warning: {warning}")),
            Event::TargetEnded { line } => self.line(line),
        }
    }
}

/// Whether colour is off: `NO_COLOR` set to anything but the empty string.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// `0.4 ms`, `12 ms`, `3.2 s`.
fn duration(duration: Duration) -> String {
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
fn script(migration: &MigrationReport) -> String {
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

/// Prints one JSON document on stdout.
fn print_json(document: &impl Serialize) {
    match serde_json::to_string_pretty(document) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

/// An error as JSON: its kind and message, for a failed migration what failed and what
/// became of its changes, and for a component that did not load which one and why.
fn error_json(error: &Error) -> Json {
    let mut value = json!({ "kind": error.kind(), "message": error.to_string() });
    if let Some(load) = error.load() {
        value["load"] = json!({
            "app_name": load.app,
            "migration_id": load.id,
            "file": load.path,
            "reason": load.reason.name(),
        });
    }
    if let Some(migration) = error.migration() {
        let (failure, stop, code) = match &migration.failure {
            Failure::Guest(_) => ("guest", None, None),
            Failure::Stopped(stop) => ("stopped", Some(stop_kind(&stop.kind)), None),
            Failure::Database { error, .. } => ("database", None, error.code.clone()),
        };
        value["migration"] = json!({
            "app_name": migration.app,
            "migration_id": migration.id,
            "direction": migration.direction,
            "failure": failure,
            "stop": stop,
            "code": code,
            "rolled_back": migration.rollback == Rollback::Done,
            "dirty": migration.dirty,
        });
    }
    value
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

/// The JSON document of a command: `command`, `success`, `error` (null or an object), and
/// the command's own keys.
fn document(command: &str, body: Json, error: Option<&Error>) -> Json {
    let mut document = json!({
        "command": command,
        "success": error.is_none(),
        "error": error.map(error_json),
    });
    if let (Json::Object(document), Json::Object(body)) = (&mut document, body) {
        document.extend(body);
    }
    document
}

fn status(success: bool) -> ExitCode {
    if success { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// A command that failed before it had anything to report.
pub(super) fn failure(command: &str, format: Format, error: &Error) -> ExitCode {
    if format == Format::Json && command != "check" {
        print_json(&document(command, json!({}), Some(error)));
    }
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// Shows a command's report with `show`, or the error it failed with.
pub(super) fn outcome<T>(
    command: &str,
    format: Format,
    result: Result<T>,
    show: impl FnOnce(Format, T) -> ExitCode,
) -> ExitCode {
    match result {
        Ok(report) => show(format, report),
        Err(e) => failure(command, format, &e),
    }
}

/// The JSON document of a `forwards` or `backwards` run.
fn run_document(command: &str, report: &RunReport) -> Json {
    let completed: Vec<Json> = report
        .completed()
        .map(|m| json!({ "app_name": m.app_name, "migration_id": m.migration_id }))
        .collect();
    let body = json!({
        "mode": report.mode,
        "batch": report.batch,
        "migrations": report.migrations,
        "completed": completed,
        "notes": report.notes,
        "warnings": report.warnings,
    });
    document(command, body, report.error.as_ref())
}

/// The end of a `forwards` or `backwards` run; its migrations were shown as they finished.
pub(super) fn run(
    command: &str,
    format: Format,
    report: &RunReport,
    terminal: &Terminal,
) -> ExitCode {
    terminal.finish_progress();
    if format == Format::Json {
        print_json(&run_document(command, report));
    }
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

/// `check`: the table or the JSON array of statuses on stdout; the dirty warning and,
/// with `fail_on_pending`, the pending count on stderr.
pub(super) fn check(format: Format, report: CheckReport, fail_on_pending: bool) -> ExitCode {
    let statuses = &report.statuses;
    match format {
        Format::Json => print_json(statuses),
        Format::Text => {
            let mut table = Table::new();
            table.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
            // The state column shows only when there is more to see than has_ran.
            let notable = |s: &MigrationStatus| {
                matches!(s.state, State::Changed | State::Missing | State::Dirty)
            };
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
            println!("{table}");
        }
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

/// `verify`: each verified migration, then the summary or the first divergence with its
/// schema diff, on stderr (JSON on stdout).
pub(super) fn verify(format: Format, report: VerifyReport) -> ExitCode {
    match format {
        Format::Json => {
            let error = report
                .failure
                .as_ref()
                .map(|failure| json!({ "kind": "not_reversible", "message": failure.message() }));
            print_json(&json!({
                "command": "verify",
                "success": report.failure.is_none(),
                "error": error,
                "scratch": report.scratch,
                "verified": report.verified,
                "failure": report.failure,
            }));
        }
        Format::Text => {
            for m in &report.verified {
                eprintln!("verified {} {}: {}", m.app_name, m.migration_id, m.description);
            }
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

/// A fleet's end: each target's outcome (JSON: one object per target, with its run's
/// document or its check's rows) and the summary.
pub(super) fn fleet(
    command: &str,
    format: Format,
    report: FleetReport,
    fail_on_pending: bool,
) -> ExitCode {
    let pending = |t: &TargetReport| t.check.as_ref().map_or(0, CheckReport::pending);
    let gated = fail_on_pending && report.targets.iter().any(|t| pending(t) > 0);
    if format == Format::Json {
        let targets: Vec<Json> = report
            .targets
            .iter()
            .map(|t| {
                let run = t.run.as_ref().map(|run| run_document(command, run));
                let check = t.check.as_ref().map(|check| json!(check.statuses));
                let verify = t
                    .verify
                    .as_ref()
                    .map(|v| json!({"verified": v.verified, "failure": v.failure}));
                json!({
                    "name": t.name,
                    "url": t.url,
                    "outcome": t.outcome,
                    "error": t.error().map(error_json),
                    "applied": t.run.as_ref().map(|r| r.count(Outcome::Applied)),
                    "reversed": t.run.as_ref().map(|r| r.count(Outcome::Reversed)),
                    "failed_migration": t.run.as_ref().and_then(RunReport::failed_migration)
                        .map(|m| json!({"app_name": m.app_name, "migration_id": m.migration_id})),
                    "run": run,
                    "statuses": check,
                    "pending": t.check.as_ref().map(CheckReport::pending),
                    "verify": verify,
                })
            })
            .collect();
        print_json(&json!({
            "command": command,
            "success": report.success() && !gated,
            "error": Json::Null,
            "targets": targets,
        }));
    }
    for t in &report.targets {
        let what = match (&t.outcome, t.error()) {
            (TargetOutcome::NotRun, _) => "not run (--fail-fast)".to_string(),
            (_, Some(e)) => format!("{}: {e}", t.outcome_name()),
            (_, None) => match (&t.run, &t.check, &t.verify) {
                (Some(run), ..) => {
                    run.summary().lines().last().unwrap_or("nothing to do").to_string()
                }
                (_, Some(check), _) => format!("{} migration(s) not applied", check.pending()),
                (.., Some(verify)) => match &verify.failure {
                    None => format!("verified {} migration(s)", verify.verified.len()),
                    Some(failure) => {
                        format!("failed: {} ({})", failure.message(), failure.diff.join("; "))
                    }
                },
                _ => String::new(),
            },
        };
        eprintln!("target {}: {what}", t.name);
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

/// `clean`: the removed rows on stdout (`app id` lines, or JSON), the summary on stderr.
pub(super) fn clean(format: Format, report: CleanReport) -> ExitCode {
    let app = &report.app_name;
    match format {
        Format::Json => print_json(&document("clean", json!(report), None)),
        Format::Text => {
            for row in &report.removed {
                println!("{} {}", row.app_name, row.migration_id);
            }
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
pub(super) fn resolve(format: Format, report: ResolveReport) -> ExitCode {
    if format == Format::Json {
        print_json(&document("resolve", json!(report), None));
    }
    eprintln!("{}", report.summary());
    ExitCode::SUCCESS
}

/// `new`: where the source is, and how to build it.
pub(super) fn new(format: Format, report: NewReport) -> ExitCode {
    if format == Format::Json {
        print_json(&document("new", json!(report), None));
    }
    eprintln!("created {}", report.source.display());
    eprintln!("build it into the component wasmig runs with:");
    for command in &report.build_commands {
        eprintln!("  {command}");
    }
    ExitCode::SUCCESS
}

/// `build`: a line per migration on stderr, the report as JSON on stdout.
pub(super) fn build(format: Format, report: BuildReport) -> ExitCode {
    if format == Format::Json {
        print_json(&document("build", json!({ "migrations": report.migrations }), None));
    }
    for m in &report.migrations {
        let (app, id, language) = (&m.app_name, &m.migration_id, m.language.name());
        match m.outcome {
            BuildOutcome::Built => eprintln!(
                "built {app} {id} ({language}) -> {} ({})",
                m.component.display(),
                duration(m.duration)
            ),
            BuildOutcome::UpToDate => eprintln!("up to date {app} {id} ({language})"),
        }
    }
    eprintln!("built {} of {} migration source(s)", report.built(), report.migrations.len());
    ExitCode::SUCCESS
}

/// `cache info` and `cache clear`: where the cache is and what it holds (or held).
pub(super) fn cache(format: Format, inspection: CacheInspection, info: &CacheInfo) -> ExitCode {
    let action = match inspection {
        CacheInspection::Info => "info",
        CacheInspection::Clear => "clear",
    };
    match format {
        Format::Json => {
            print_json(&document("cache", json!({ "action": action, "cache": info }), None))
        }
        Format::Text if action == "info" => {
            println!("{}", info.dir.display());
            println!("{} compiled component(s), {}", info.entries, size(info.bytes));
            println!("{} migrations folder(s) described", info.folders);
        }
        Format::Text => eprintln!(
            "cleared {}: {} compiled component(s), {}",
            info.dir.display(),
            info.entries,
            size(info.bytes)
        ),
    }
    ExitCode::SUCCESS
}

/// `cache fill`: what was compiled into the cache.
pub(super) fn fill(format: Format, report: FillReport) -> ExitCode {
    if format == Format::Json {
        print_json(&document("cache", json!({ "action": "fill", "fill": &report }), None));
    }
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
