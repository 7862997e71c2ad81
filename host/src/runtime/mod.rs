//! The runtime migrations run on: one configured wasmtime engine and its linker
//! (`engine`), the import allowlist (`policy`), loading and validating components (`load`,
//! compiled as `compilers` says), getting the next migration's code ready ahead of its call
//! (`prepare`), the call itself in a fresh sandbox (`call`), and what stopped a call that
//! did not return (`diagnosis`). Here: the [`Runtime`] and what loading gives.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmtime::component::Linker;
use wasmtime::{Engine, Store};

use crate::bindings::MigrationComponentPre;
use crate::cache::{Cache, FileStamp, Indexed, Key};
use crate::config::Compiler;
use crate::error::Result;
pub use crate::plan::Direction;
use crate::sandbox::{Limits, SandboxState};
use crate::source::MigrationId;

mod call;
mod compilers;
mod diagnosis;
mod engine;
mod load;
mod policy;
mod prepare;

pub use call::{CallOutcome, GuestOutput, Prepared};
pub(crate) use prepare::Alongside;
pub use prepare::Preparing;

use compilers::Compilers;

/// The engine and linker shared by every migration of a run, and the compile cache they
/// use.
pub struct Runtime {
    engine: Engine,
    /// What compiles components for `engine`, with its fingerprint in the compile cache.
    compilers: Compilers,
    /// Shared with the blocking threads that link each migration just before it runs.
    linker: Arc<Linker<SandboxState>>,
    limits: Limits,
    cache: Option<Cache>,
    /// Used sandboxes waiting to be torn down, by the next migration's preparation.
    retired: Arc<Mutex<Vec<Store<SandboxState>>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with the default compiler: see [`Runtime::with_compiler`].
    pub fn new(limits: Limits) -> Result<Self> {
        Self::with_compiler(limits, Compiler::default())
    }

    /// Configures the engine, compiling with `compiler`, and the linker: WASI (deny-all,
    /// see [`SandboxState`]) and the `wasmig:migration/database` import, nothing else.
    pub fn with_compiler(limits: Limits, compiler: Compiler) -> Result<Self> {
        let engine::Configured { engine, linker, compilers } = engine::configure(compiler)?;
        Ok(Runtime {
            engine,
            compilers,
            linker: Arc::new(linker),
            limits,
            cache: None,
            retired: Arc::default(),
        })
    }

    /// Takes compiled components from `cache` and stores what it compiles there.
    pub fn with_cache(mut self, cache: Option<Cache>) -> Self {
        self.cache = cache;
        self
    }

    /// The compile cache, if it uses one.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The component bytes of the migration file at `path` of `app`'s migration `id`: the file
/// read, or for a SQL migration the component assembled from its files.
pub(crate) fn component_bytes(app: &str, id: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    if !crate::source::sql::is_sql(path) {
        return crate::source::read(path);
    }
    crate::build::sql::component_bytes(path)
        .map_err(|reason| crate::error::LoadError::new(app, id, path, reason).into())
}

/// A migration component that has been compiled, checked against the world and described.
#[derive(Clone)]
pub struct LoadedMigration {
    /// The app it belongs to.
    pub app: String,
    /// Its ID.
    pub id: MigrationId,
    /// Its component file.
    pub path: PathBuf,
    /// sha256 of the component bytes.
    pub checksum: String,
    /// What `describe` said.
    pub description: String,
    /// False when it must run outside a transaction.
    pub transactional: bool,
    /// The backends (by dialect name) it has no `backwards` on: a SQL migration without a
    /// `.down.sql` file there.
    pub irreversible: Vec<String>,
    /// The digest of the source it was made from (its `wasmig-identity` section), which the
    /// ledger keeps beside the checksum; `None` for a component wasmig did not make.
    pub source_digest: Option<String>,
    /// Whether it was compiled now rather than taken from the compile cache.
    pub compiled: bool,
    /// The file's stamp when it was read, if it had settled.
    pub(super) stamp: Option<FileStamp>,
    /// Where its compiled code waits for its call.
    pub(super) code: Code,
}

/// Where a validated migration's compiled code is kept until it is called.
#[derive(Clone)]
pub(super) enum Code {
    /// In memory, because no compile cache holds it.
    Resident(MigrationComponentPre<SandboxState>),
    /// In the compile cache under this key: mapped again just before its call and unmapped
    /// after it, so that a run of a thousand migrations holds one or two, not all of them.
    Cached(Key),
}

impl LoadedMigration {
    /// What the compile cache records about it: its file name and what it said.
    pub(crate) fn indexed(&self) -> Option<(String, Indexed)> {
        let name = self.path.file_name()?.to_string_lossy().into_owned();
        let entry = Indexed {
            stamp: self.stamp?,
            checksum: self.checksum.clone(),
            description: self.description.clone(),
            transactional: self.transactional,
        };
        Some((name, entry))
    }

    /// Whether it can go backwards on the backend of `dialect`.
    pub fn reversible_on(
        &self,
        dialect: crate::bindings::wasmig::migration::types::Dialect,
    ) -> bool {
        !self.irreversible.iter().any(|d| d == dialect.name())
    }

    /// Whether its compiled code is in the compile cache (rather than held in memory, when
    /// the cache is off or could not store it).
    pub(crate) fn in_cache(&self) -> bool {
        matches!(self.code, Code::Cached(_))
    }
}

impl std::fmt::Debug for LoadedMigration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedMigration")
            .field("app", &self.app)
            .field("id", &self.id)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}
