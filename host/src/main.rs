//! The `wasmig` binary: parse, run the library, map the outcome to an exit status
//! (0 success, 1 failure or declined, 2 bad command line).

use std::process::ExitCode;

use clap::Parser;
use wasmig::cli::{Cli, Command};
use wasmig::{MigrationResult, Project, Resolution, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WASMIG_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let mut settings = match Settings::load(&cli.config, cli.database_url) {
        Ok(settings) => settings,
        Err(e) => return fail(e),
    };
    if let Some(seconds) = cli.lock_timeout {
        settings.lock_timeout = std::time::Duration::from_secs(seconds);
    }
    let project = match Project::new(settings) {
        Ok(project) => project,
        Err(e) => return fail(e),
    };
    match cli.command {
        Command::Forwards { app, migration_id, fake, preview, auto_agree } => {
            wasmig::forwards(&project, &app, &migration_id, fake, preview, auto_agree).await
        }
        Command::Backwards { app, migration_id, clean, preview, auto_agree } => {
            wasmig::backwards(&project, &app, migration_id.as_deref(), auto_agree, clean, preview)
                .await
        }
        Command::Check { app, format, fail_on_pending } => {
            wasmig::check(&project, &app, format, fail_on_pending).await
        }
        Command::Clean { app, auto_agree } => {
            MigrationResult::from(wasmig::clean(&project, &app, auto_agree).await).report()
        }
        Command::Resolve { app, migration_id, applied, reversed: _, auto_agree } => {
            let resolution = if applied { Resolution::Applied } else { Resolution::Reversed };
            MigrationResult::from(
                wasmig::resolve(&project, &app, &migration_id, resolution, auto_agree).await,
            )
            .report()
        }
        Command::New { app, name } => {
            let now = time::OffsetDateTime::now_utc();
            MigrationResult::from(wasmig::new_migration(&project.settings, &app, &name, now))
                .report()
        }
    }
}

fn fail(error: wasmig::Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
