//! wasmig runs database migrations that are WebAssembly components.
//!
//! Each migration exports `forwards` and `backwards` through the `wasmig:migration` WIT
//! world. The host loads it in a sandbox whose only capability is a database handle,
//! records every statement it emits, and either reports them (preview) or runs them in a
//! transaction together with the migration's ledger row.
//!
//! The library never prints and never reads stdin: every command returns a report, and a
//! caller passes [`Hooks`] to follow a run as it happens and to answer confirmations. The
//! `wasmig` command line ([`cli`]) is a thin layer that renders those reports.
//!
//! ```no_run
//! # async fn demo() -> wasmig::Result<()> {
//! use wasmig::{BackwardsMigrationManager, CheckMigrationManager, Outcome, Project, Silent};
//!
//! let project = Project::load("wasmig.toml".as_ref(), None)?;
//! for status in CheckMigrationManager::new("all").get_migration_statuses(&project).await? {
//!     println!("{} {} ran={}", status.app_name, status.migration_id, status.has_ran);
//! }
//! let mut manager = BackwardsMigrationManager::new("blog");
//! manager.auto_agree = true;
//! let report = manager.run_with(&project, &Silent).await;
//! assert!(report.success(), "{}", report.summary());
//! assert!(report.migrations.iter().all(|m| m.outcome == Outcome::Reversed));
//! # Ok(()) }
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod backend;
pub mod bindings;
pub mod build;
pub mod cache;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
mod executor;
pub mod id;
pub mod import;
pub mod ledger;
pub mod limits;
pub mod lock;
pub mod piccolo;
pub mod plan;
pub mod project;
pub mod report;
pub mod runtime;
pub mod sandbox;
pub mod source;
pub mod sql;

pub use backend::{Dialect, SqlError, Value};
pub use commands::{
    BuildReport, CheckReport, CleanReport, FillReport, Language, NewReport, Resolution,
    ResolveReport, State, VerifyReport, clean, fill_cache, new_migration, resolve, verify,
};
pub use config::Settings;
pub use error::{ChangedFile, Error, Failure, MigrationError, Result, Rollback, Stop, StopKind};
pub use limits::{LimitHit, Limits};
pub use piccolo::{
    BackwardsMigrationManager, CheckMigrationManager, ForwardsMigrationManager, MigrationResult,
    MigrationStatus, backwards, check, forwards, run_backwards, run_forwards,
};
pub use plan::Direction;
pub use project::Project;
pub use report::{
    Batch, Event, Hooks, MigrationReport, Mode, Outcome, Question, RunReport, Silent,
};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The library guide's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../docs/library.md")]
pub struct LibraryDoctests;
