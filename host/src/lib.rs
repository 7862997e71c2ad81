//! wasmig runs database migrations that are WebAssembly components.
//!
//! Each migration exports `forwards` and `backwards` through the `wasmig:migration` WIT
//! world. The host loads it in a sandbox whose only capability is a database handle,
//! records every statement it emits, and either prints them (preview) or runs them in a
//! transaction together with the migration's ledger row.
//!
//! The command line is a thin layer over this library:
//!
//! ```no_run
//! # async fn demo() -> wasmig::Result<()> {
//! use wasmig::{BackwardsMigrationManager, CheckMigrationManager, Project};
//!
//! let project = Project::load("wasmig.toml".as_ref(), None)?;
//! for status in CheckMigrationManager::new("all").get_migration_statuses(&project).await? {
//!     println!("{} {} ran={}", status.app_name, status.migration_id, status.has_ran);
//! }
//! let mut manager = BackwardsMigrationManager::new("blog");
//! manager.auto_agree = true;
//! let result = manager.run(&project).await;
//! assert!(result.success, "{}", result.message);
//! # Ok(()) }
//! ```

pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod ledger;
pub mod limits;
pub mod lock;
pub mod plan;
pub mod render;
pub mod runtime;
pub mod sandbox;
pub mod source;

/// Host bindings generated from the WIT package in `wit/`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "migration-component",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
    });
}

pub use bindings::wasmig::migration::types::{Dialect, Value};
pub use commands::{
    BackwardsMigrationManager, CheckMigrationManager, ForwardsMigrationManager, MigrationResult,
    MigrationStatus, OutputFormat, Project, Resolution, backwards, check, clean, forwards,
    new_migration, resolve, run_backwards, run_forwards,
};
pub use config::Settings;
pub use error::{Error, Result};
pub use limits::Limits;
