//! Loading a migration component: reading its file under the size limit, compiling it (or
//! taking it from the compile cache), validating it against the import allowlist and the
//! `wasmig:migration` world, and asking it to describe itself.

use crate::build::sql::Marks;
use std::io::Read;
use std::path::Path;

use wasmtime::component::{Component, Linker};

use super::call::{Export, Invoked, Prepared, Returned, Seed};
use super::compilers::Compilers;
use super::diagnosis::chain;
use super::policy;
use super::{Code, LoadedMigration, Runtime};
use crate::bindings::MigrationComponentPre;
use crate::cache::{Cache, FileStamp, Indexed, Key, Validated};
use crate::capture::{Capture, DatabaseHandle};
use crate::error::{Error, LoadError, LoadReason, Result};
use crate::limits;
use crate::sandbox::SandboxState;
use crate::source::{self, MigrationFile};

impl Runtime {
    /// Reads, compiles (or takes from the compile cache) and validates the component of
    /// `file` (its size, that it is a component, that it imports nothing outside the
    /// allowlist, that it exports the `wasmig:migration` world), then asks it to describe
    /// itself. Any failure names the app, the migration and the file, and says why in a
    /// [`LoadReason`].
    pub async fn load(&self, app: &str, file: &MigrationFile) -> Result<LoadedMigration> {
        self.load_known(app, file, None).await
    }

    /// [`Runtime::load`], given what the compile cache's folder record says of the file
    /// while it is unchanged since (`known`): when this wasmig validated those bytes and
    /// still holds their compiled code, the file is not even read.
    pub(crate) async fn load_known(
        &self,
        app: &str,
        file: &MigrationFile,
        known: Option<Indexed>,
    ) -> Result<LoadedMigration> {
        let id = file.id.to_string();
        let fail = |reason: LoadReason| Error::from(LoadError::new(app, &id, &file.path, reason));
        // Reading and compiling block: they run on a blocking thread, never on the async
        // executor, so other work (another compile, a database round trip) overlaps them.
        let (compilers, cache) = (self.compilers.clone(), self.cache.clone());
        let (path, limit) = (file.path.clone(), self.limits.component_bytes);
        let task = tokio::task::spawn_blocking(move || {
            compile(&compilers, cache.as_ref(), &path, limit, Reuse::Validation(known))
        });
        let compiled = task
            .await
            .map_err(|e| Error::TaskLost { task: "compile task", detail: Some(e.to_string()) })?
            .map_err(fail)?;
        let Compiled { found, checksum, stamp, key, marks } = compiled;
        let (component, compiled, cached) = match found {
            Found::Validated(record) => {
                return Ok(LoadedMigration {
                    app: app.to_string(),
                    id: file.id.clone(),
                    path: file.path.clone(),
                    checksum,
                    description: record.description,
                    transactional: record.transactional,
                    irreversible: record.irreversible,
                    source_digest: record.source_digest,
                    compiled: false,
                    stamp,
                    code: Code::Cached(key),
                });
            }
            Found::Component { component, compiled, cached } => (component, compiled, cached),
        };
        let refused = policy::refused_imports(&component, &self.engine);
        if !refused.is_empty() {
            return Err(fail(LoadReason::RefusedImports(refused)));
        }
        let prepared = Prepared::new(link(&self.linker, &component).map_err(fail)?, compiled);
        let seed = Seed { app, id: &file.id };
        let capture = Capture::new(DatabaseHandle::Detached);
        let Invoked { returned, .. } =
            self.invoke(&prepared, seed, Export::Describe, capture).await;
        let mut description = match returned {
            Ok(Returned::Description(description)) => description,
            Ok(Returned::Run(_)) => unreachable!("describe returns a description"),
            Err(stop) => return Err(fail(LoadReason::DescribeFailed(stop))),
        };
        description.description =
            limits::truncated(description.description, limits::DESCRIPTION_BYTES);
        let code = match (cached, self.cache()) {
            (true, Some(cache)) => {
                let mut record =
                    Validated::new(description.description.clone(), description.transactional);
                record.irreversible = marks.irreversible.clone();
                record.source_digest = marks.source_digest.clone();
                cache.record_validated(key, &record);
                Code::Cached(key)
            }
            _ => Code::Resident(prepared.into_code()),
        };
        Ok(LoadedMigration {
            app: app.to_string(),
            id: file.id.clone(),
            path: file.path.clone(),
            checksum,
            description: description.description,
            transactional: description.transactional,
            irreversible: marks.irreversible,
            source_digest: marks.source_digest,
            compiled,
            stamp,
            code,
        })
    }
}

/// Links `component` against the sandbox's imports and checks that it exports the
/// `wasmig:migration` world; or says why it cannot run.
pub(super) fn link(
    linker: &Linker<SandboxState>,
    component: &Component,
) -> std::result::Result<MigrationComponentPre<SandboxState>, LoadReason> {
    let instance_pre =
        linker.instantiate_pre(component).map_err(|e| LoadReason::UnlinkableImports(chain(&e)))?;
    MigrationComponentPre::new(instance_pre).map_err(|e| LoadReason::WrongWorld(chain(&e)))
}

/// A component file read, checked and looked up in the compile cache.
pub(super) struct Compiled {
    /// What was found.
    pub(super) found: Found,
    /// sha256 of the file's bytes.
    pub(super) checksum: String,
    /// The file's stamp as it was read, if it had settled.
    stamp: Option<FileStamp>,
    /// Its key in the compile cache.
    key: Key,
    /// What wasmig wrote into it about itself, when its bytes were read.
    marks: Marks,
}

/// What [`compile`] found for a component.
pub(super) enum Found {
    /// This wasmig validated the same bytes before, and the cache holds their compiled
    /// code: nothing to compile, map or validate now.
    Validated(Validated),
    /// The compiled component, still to be validated.
    Component {
        component: Component,
        /// Whether it was compiled now rather than taken from the cache.
        compiled: bool,
        /// Whether the cache holds it.
        cached: bool,
    },
}

/// What [`compile`] may take from the cache.
#[derive(Debug)]
pub(super) enum Reuse {
    /// A validation record, else compiled code; with what the cache's folder record says
    /// of the file while it is unchanged since, when it says anything.
    Validation(Option<Indexed>),
    /// Compiled code only.
    Code,
}

/// Reads the component at `path` (its size, that it is a component). When `reuse` allows,
/// and this wasmig validated the same bytes before, gives that record, without reading the
/// file at all when the folder record gives its checksum; otherwise takes the compiled
/// component from `cache` when an engine with the runtime engine's fingerprint compiled it
/// before, or compiles it and stores it there. Blocks.
pub(super) fn compile(
    compilers: &Compilers,
    cache: Option<&Cache>,
    path: &Path,
    limit: u64,
    reuse: Reuse,
) -> Result<Compiled, LoadReason> {
    let validation = matches!(reuse, Reuse::Validation(_));
    if let (Reuse::Validation(Some(known)), Some(cache)) = (reuse, cache) {
        let key = compilers.fingerprint().key(&known.checksum);
        if let Some(record) = cache.validated(key) {
            let marks = Marks {
                irreversible: record.irreversible.clone(),
                source_digest: record.source_digest.clone(),
            };
            let (found, checksum) = (Found::Validated(record), known.checksum);
            return Ok(Compiled { found, checksum, stamp: Some(known.stamp), key, marks });
        }
    }
    let (bytes, metadata) = read_component(path, limit)?;
    let checksum = source::checksum(&bytes);
    // A SQL migration is assembled from several files: no one file's stamp stands for it.
    let stamp = metadata.as_ref().and_then(FileStamp::settled);
    let marks = crate::build::sql::marks(&bytes);
    if wasmparser::Parser::is_core_wasm(&bytes) {
        return Err(LoadReason::NotAComponent { core_module: true });
    }
    if !wasmparser::Parser::is_component(&bytes) {
        return Err(LoadReason::NotAComponent { core_module: false });
    }
    let key = compilers.fingerprint().key(&checksum);
    let found = |found: Found| {
        let marks = marks.clone();
        Ok(Compiled { found, checksum: checksum.clone(), stamp, key, marks })
    };
    if validation && let Some(record) = cache.and_then(|cache| cache.validated(key)) {
        return found(Found::Validated(record));
    }
    if let Some(component) = cache.and_then(|cache| cache.load(compilers.engine(), key)) {
        return found(Found::Component { component, compiled: false, cached: true });
    }
    let (component, image) =
        compilers.compile(&bytes).map_err(|e| LoadReason::CompileFailed(chain(&e)))?;
    let cached = cache.is_some_and(|cache| cache.store(key, &image));
    found(Found::Component { component, compiled: true, cached })
}

/// Reads a component file, refusing one over `limit` bytes before reading it. Gives its
/// bytes and its metadata as it was opened; for a SQL migration, the component assembled
/// from its files, and no metadata.
pub(crate) fn read_component(
    path: &Path,
    limit: u64,
) -> Result<(Vec<u8>, Option<std::fs::Metadata>), LoadReason> {
    if source::sql::is_sql(path) {
        let bytes = crate::build::sql::component_bytes(path)?;
        let size = bytes.len() as u64;
        if size > limit {
            return Err(LoadReason::TooLarge { size, limit });
        }
        return Ok((bytes, None));
    }
    let file = std::fs::File::open(path).map_err(LoadReason::Unreadable)?;
    let metadata = file.metadata().map_err(LoadReason::Unreadable)?;
    let size = metadata.len();
    if size > limit {
        return Err(LoadReason::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may have grown since its size was read: never read past the limit.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(LoadReason::Unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(LoadReason::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok((bytes, Some(metadata)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Image;
    use crate::sandbox::Limits;

    #[test]
    fn a_file_the_folder_record_knows_is_not_read_when_its_validation_is_cached() {
        let runtime = Runtime::new(Limits::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let checksum = "ab".repeat(32);
        let key = runtime.compilers.fingerprint().key(&checksum);
        let component = Component::new(&runtime.engine, "(component)").unwrap();
        assert!(cache.store(key, &Image::of(&component).unwrap()));
        cache.record_validated(key, &Validated::new("Known".into(), true));
        let known = |checksum: &str| -> Indexed {
            serde_json::from_value(serde_json::json!({
                "stamp": { "len": 11, "modified_ns": 1, "changed_ns": 1, "inode": 7 },
                "checksum": checksum,
                "description": "Known",
                "transactional": true,
            }))
            .unwrap()
        };
        // The file is gone: only the record can describe it.
        let gone = dir.path().join("20240101000000_gone.wasm");
        let compile = |reuse| compile(&runtime.compilers, Some(&cache), &gone, 1 << 20, reuse);

        let compiled = compile(Reuse::Validation(Some(known(&checksum)))).unwrap();
        assert_eq!(compiled.checksum, checksum);
        assert_eq!(compiled.key, key);
        assert!(compiled.stamp.is_some());
        match compiled.found {
            Found::Validated(record) => assert_eq!(record.description, "Known"),
            Found::Component { .. } => panic!("the known file was compiled"),
        }
        // Without the record, or with a checksum nothing was validated for, the file is read.
        for reuse in [Reuse::Validation(None), Reuse::Validation(Some(known(&"cd".repeat(32))))] {
            assert!(matches!(compile(reuse), Err(LoadReason::Unreadable(_))));
        }
        // Asked for code, the record is no use either.
        assert!(matches!(compile(Reuse::Code), Err(LoadReason::Unreadable(_))));
    }

    #[test]
    fn an_oversized_component_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("20240101000000_big.wasm");
        std::fs::write(&path, vec![0u8; 2048]).unwrap();
        let Err(refused @ LoadReason::TooLarge { .. }) = read_component(&path, 1024) else {
            panic!("an oversized file is refused")
        };
        let error = refused.to_string();
        assert!(error.contains("2048 bytes") && error.contains("component_mib"), "{error}");
        assert_eq!(read_component(&path, 4096).unwrap().0.len(), 2048);
    }
}
