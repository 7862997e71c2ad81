//! The `wasmig` command line: parse it ([`args`]), run the command it names on one database
//! or on a fleet, follow it on the terminal ([`hooks`]), show its report as JSON ([`json`])
//! or text ([`text`]), and give the exit status. Only these modules of wasmig print.

mod args;
mod hooks;
mod json;
mod text;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;

pub use args::{
    AppsArgs, AutoAgree, BackwardsArgs, CacheAction, CacheInspection, CheckArgs, CleanArgs, Cli,
    Command, FleetArgs, Format, ForwardsArgs, NewArgs, ProjectArgs, ResolveArgs, RunFlags,
    VerifyArgs,
};
pub use hooks::Terminal;

use crate::cache::{self, CACHE_DIR_ENV, Cache};
use crate::commands::{
    self, BackwardsMigrationManager, CheckMigrationManager, FleetCommand, FleetReport, FleetTarget,
    ForwardsMigrationManager, Project, run_fleet,
};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::report::RunReport;

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
        Err(e) => failure(command, format, &Error::Start { what: "the async runtime", source: e }),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    let Cli { project, fleet: fleet_args, format, command } = cli;
    if let Command::Cache { action: CacheAction::Inspect(inspection) } = command {
        // The cache needs no project: outside one, the environment says where it is.
        let dir = cache_dir(&project.config, project.database_url);
        return cache_command(dir, inspection, format);
    }
    let one_database = project.database_url.is_some();
    let project = match project.project() {
        Ok(project) => project,
        Err(e) => return failure(command.name(), format, &e),
    };
    // A fleet: the --targets file, or the [targets] of the config unless one database
    // was named. Commands that use no database (new, build, cache) run as anywhere else.
    let targets = match &fleet_args.targets {
        _ if !command.uses_database() => None,
        Some(path) => match commands::read_targets(path) {
            Ok(targets) => Some(targets),
            Err(e) => return failure(command.name(), format, &e),
        },
        None if !one_database && !project.settings.targets.is_empty() => {
            Some(project.settings.targets.clone())
        }
        None => None,
    };
    if let Some(targets) = targets {
        return fleet(&project, command, &targets, &fleet_args, format).await;
    }
    execute(&project, command, format).await
}

/// The compile cache's folder: as the project at `config` sets it when there is one, else
/// from the environment alone.
fn cache_dir(config: &Path, database_url: Option<String>) -> Result<PathBuf> {
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
fn cache_command(dir: Result<PathBuf>, inspection: CacheInspection, format: Format) -> ExitCode {
    let report = dir.and_then(|dir| match inspection {
        CacheInspection::Info => Cache::new(dir).info(),
        CacheInspection::Clear => Cache::new(dir).clear(),
    });
    show("cache", format, report, |info| {
        print_json(format, || json::cache(inspection, info));
        text::cache(inspection, info, format)
    })
}

/// Runs `command` on a loaded project, prints its report in `format`, and gives the exit
/// status.
pub async fn execute(project: &Project, command: Command, format: Format) -> ExitCode {
    let name = command.name();
    match command {
        Command::Forwards(args) => {
            let manager = ForwardsMigrationManager::from(args);
            run_shown(name, format, async |hooks| manager.run_with(project, hooks).await).await
        }
        Command::Backwards(args) => {
            let manager = BackwardsMigrationManager::from(args);
            run_shown(name, format, async |hooks| manager.run_with(project, hooks).await).await
        }
        Command::Check(args) => {
            let fail_on_pending = args.fail_on_pending;
            list(project, &args.into(), fail_on_pending, format).await
        }
        Command::Verify(VerifyArgs { apps, scratch_url }) => {
            let report = commands::verify(project, &apps.app, scratch_url).await;
            show(name, format, report, |report| {
                print_json(format, || json::verify(report));
                text::verify(report, format)
            })
        }
        Command::Clean(CleanArgs { app, confirm }) => {
            let terminal = Terminal::new(format);
            let report = commands::clean(project, &app, confirm.auto_agree, &terminal).await;
            show(name, format, report, |report| {
                print_json(format, || json::clean(report));
                text::clean(report, format)
            })
        }
        Command::Resolve(args) => {
            let (app, id, resolution) = (&args.app, &args.migration_id, args.resolution());
            let (auto_agree, terminal) = (args.confirm.auto_agree, Terminal::new(format));
            let report =
                commands::resolve(project, app, id, resolution, auto_agree, &terminal).await;
            show(name, format, report, |report| {
                print_json(format, || json::resolve(report));
                text::resolve(report)
            })
        }
        Command::New(NewArgs { app, name: migration, lang }) => {
            let now = time::OffsetDateTime::now_utc();
            let report = commands::new_migration(&project.settings, &app, &migration, lang, now);
            show(name, format, report, |report| {
                print_json(format, || json::new(report));
                text::new(report)
            })
        }
        Command::Build(AppsArgs { app }) => {
            let settings = project.settings.clone();
            let parallel = project.parallel();
            // Building waits on child processes: off the async executor.
            let report =
                tokio::task::spawn_blocking(move || commands::build(&settings, &app, parallel))
                    .await
                    .unwrap_or_else(|e| {
                        Err(Error::TaskLost { task: "build", detail: Some(e.to_string()) })
                    });
            show(name, format, report, |report| {
                print_json(format, || json::build(report));
                text::build(report)
            })
        }
        Command::Cache { action: CacheAction::Fill(AppsArgs { app }) } => {
            let report = commands::fill_cache(project, &app).await;
            show(name, format, report, |report| {
                print_json(format, || json::fill(report));
                text::fill(report)
            })
        }
        Command::Cache { action: CacheAction::Inspect(inspection) } => {
            let dir = project.settings.cache_dir.clone();
            let off = || Error::Usage("the compile cache is off for this project".to_string());
            cache_command(dir.ok_or_else(off), inspection, format)
        }
    }
}

/// A `forwards` or `backwards` run on one database as `wasmig` runs it: `run` with the
/// terminal as its hooks, each migration shown as it finishes, then the run's summary, or
/// its document.
pub(crate) async fn run_shown(
    command: &str,
    format: Format,
    run: impl AsyncFnOnce(&Terminal) -> RunReport,
) -> ExitCode {
    let terminal = Terminal::new(format);
    let report = run(&terminal).await;
    terminal.finish_progress();
    print_json(format, || json::run(command, &report));
    text::run(&report)
}

/// `check` on one database as `wasmig check` runs it: the statuses as a table or a JSON
/// array; with `fail_on_pending`, exit status 1 when any is not simply applied.
pub(crate) async fn list(
    project: &Project,
    manager: &CheckMigrationManager,
    fail_on_pending: bool,
    format: Format,
) -> ExitCode {
    let terminal = Terminal::new(format);
    let report = manager.report(project, &terminal).await;
    show("check", format, report, |report| {
        print_json(format, || json::Check::from(report));
        text::check(report, format, fail_on_pending)
    })
}

/// Runs forwards, backwards, check or verify on every target of a fleet; other commands
/// take one database.
async fn fleet(
    project: &Project,
    command: Command,
    targets: &[FleetTarget],
    args: &FleetArgs,
    format: Format,
) -> ExitCode {
    let name = command.name();
    let fail_on_pending = command.fails_on_pending();
    let Ok(fleet_command) = FleetCommand::try_from(command) else {
        let error = Error::Usage(format!(
            "`{name}` takes one database: a fleet (--targets, [targets]) runs forwards, \
             backwards, check and verify (without --scratch-url)"
        ));
        return failure(name, format, &error);
    };
    let terminal = Terminal::new(format);
    let (concurrency, fail_fast) = (args.concurrency, args.fail_fast);
    let report =
        run_fleet(project, targets, concurrency, fail_fast, &fleet_command, &terminal).await;
    show(name, format, report, |report| {
        let gated = fail_on_pending && any_pending(report);
        print_json(format, || json::fleet(name, report, gated));
        text::fleet(report, gated)
    })
}

/// Whether a check left any target with migrations that are not simply applied.
fn any_pending(report: &FleetReport) -> bool {
    report.targets.iter().any(|t| t.check.as_ref().is_some_and(|check| check.pending() > 0))
}

/// Shows a command's report with `shown`, or the error it failed with.
fn show<T>(
    command: &str,
    format: Format,
    result: Result<T>,
    shown: impl FnOnce(&T) -> ExitCode,
) -> ExitCode {
    match result {
        Ok(report) => shown(&report),
        Err(e) => failure(command, format, &e),
    }
}

/// Prints the JSON document `document` makes, when that is the format.
fn print_json<D: Serialize>(format: Format, document: impl FnOnce() -> D) {
    if format == Format::Json {
        json::print(&document());
    }
}

/// A command that failed before it had anything to report: its document (none for
/// `check`, whose JSON is an array of statuses) and the error.
fn failure(command: &str, format: Format, error: &Error) -> ExitCode {
    if command != "check" {
        print_json(format, || json::failure(command, error));
    }
    text::failure(error)
}
