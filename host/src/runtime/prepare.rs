//! Getting a migration's compiled code ready ahead of its call: kept in memory, or mapped
//! again from the compile cache (compiled again if the cache lost it) and linked on a
//! blocking thread while the migration before it runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use wasmtime::component::Linker;

use super::call::Prepared;
use super::compilers::Compilers;
use super::load::{Found, Reuse, compile, link};
use super::{Code, LoadedMigration, Runtime};
use crate::bindings::MigrationComponentPre;
use crate::cache::{Cache, Key};
use crate::error::{Error, LoadError, LoadReason, Result};
use crate::sandbox::SandboxState;

/// Work a preparation also does on its blocking thread, after mapping.
pub(crate) type Alongside = Box<dyn FnOnce() + Send>;

/// A migration's compiled code on its way to [`Prepared`]: see [`Runtime::prepare`].
pub struct Preparing(Pending);

enum Pending {
    /// Ready already.
    Ready(Prepared),
    /// Being mapped from the compile cache (or compiled again) on a blocking thread.
    Mapping {
        /// Sent as soon as the code is linked, before the work done alongside it.
        mapped: tokio::sync::oneshot::Receiver<std::result::Result<Mapped, LoadReason>>,
        /// The migration, and the checksum its file must still have if it is compiled
        /// again.
        migration: Identity,
    },
}

impl std::fmt::Debug for Preparing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparing").finish_non_exhaustive()
    }
}

/// What a mapping task gave.
struct Mapped {
    /// The code linked against the sandbox, or why it does not link.
    linked: std::result::Result<MigrationComponentPre<SandboxState>, LoadReason>,
    /// The checksum of the file, when it had to be compiled again.
    recompiled: Option<String>,
}

/// What names a migration in an error, and the checksum it was validated with.
#[derive(Debug)]
struct Identity {
    app: String,
    id: String,
    path: PathBuf,
    checksum: String,
}

impl Identity {
    fn of(migration: &LoadedMigration) -> Self {
        Identity {
            app: migration.app.clone(),
            id: migration.id.to_string(),
            path: migration.path.clone(),
            checksum: migration.checksum.clone(),
        }
    }

    /// The error of a migration refused for `reason`.
    fn refused(&self, reason: LoadReason) -> Error {
        LoadError::new(&self.app, &self.id, &self.path, reason).into()
    }
}

impl Runtime {
    /// Starts getting the compiled code of `migration` ready for [`Runtime::call`]: kept in
    /// memory, or mapped again from the compile cache on a blocking thread, while the
    /// caller goes on (the executor prepares the next migration while one runs).
    /// [`Runtime::ready`] gives the result. Should the cache have lost the code since the
    /// migration was loaded, its file is compiled again, provided it still holds the bytes
    /// that were validated. The same thread then tears down the sandboxes of earlier calls.
    pub fn prepare(&self, migration: &LoadedMigration) -> Preparing {
        self.prepare_with(migration, None)
    }

    /// [`Runtime::prepare`], doing `alongside` on the same thread after mapping: one
    /// hand-off to another thread per migration.
    pub(crate) fn prepare_with(
        &self,
        migration: &LoadedMigration,
        alongside: Option<Alongside>,
    ) -> Preparing {
        let idle = alongside.is_none()
            && self.retired.lock().unwrap_or_else(PoisonError::into_inner).is_empty();
        let retired = Arc::clone(&self.retired);
        let after = move || {
            if let Some(alongside) = alongside {
                alongside();
            }
            drop(std::mem::take(&mut *retired.lock().unwrap_or_else(PoisonError::into_inner)));
        };
        let key = match &migration.code {
            Code::Resident(pre) => {
                if !idle {
                    tokio::task::spawn_blocking(after);
                }
                return Preparing(Pending::Ready(Prepared::new(pre.clone(), false)));
            }
            Code::Cached(key) => *key,
        };
        let (compilers, cache, linker) =
            (self.compilers.clone(), self.cache.clone(), self.linker.clone());
        let (path, limit) = (migration.path.clone(), self.limits.component_bytes);
        // Linking (matching every import against the sandbox's) happens there too, off
        // the thread that runs the migration before. The code is handed over before the
        // work alongside, so the migration need not wait for that.
        let (sender, mapped) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // The receiver is gone only when the run stopped before this migration.
            let _ = sender.send(map(&compilers, cache.as_ref(), &linker, key, &path, limit));
            after();
        });
        Preparing(Pending::Mapping { mapped, migration: Identity::of(migration) })
    }

    /// The compiled code [`Runtime::prepare`] started to get ready.
    pub async fn ready(&self, preparing: Preparing) -> Result<Prepared> {
        let (mapped, migration) = match preparing.0 {
            Pending::Ready(prepared) => return Ok(prepared),
            Pending::Mapping { mapped, migration } => (mapped, migration),
        };
        let mapped =
            mapped.await.map_err(|_| Error::TaskLost { task: "mapping task", detail: None })?;
        let Mapped { linked, recompiled } = mapped.map_err(|reason| migration.refused(reason))?;
        if let Some(now) = &recompiled
            && *now != migration.checksum
        {
            return Err(migration.refused(LoadReason::ChangedAfterValidation {
                validated: migration.checksum.clone(),
                now: now.clone(),
                storing: false,
            }));
        }
        let linked = linked.map_err(|reason| migration.refused(reason))?;
        Ok(Prepared::new(linked, recompiled.is_some()))
    }
}

/// The code of the migration under `key` in `cache`, linked against the sandbox, or its
/// file at `path` compiled again when the cache lost it (with the file's checksum then).
fn map(
    compilers: &Compilers,
    cache: Option<&Cache>,
    linker: &Linker<SandboxState>,
    key: Key,
    path: &Path,
    limit: u64,
) -> std::result::Result<Mapped, LoadReason> {
    if let Some(component) = cache.and_then(|cache| cache.load(compilers.engine(), key)) {
        return Ok(Mapped { linked: link(linker, &component), recompiled: None });
    }
    let compiled = compile(compilers, cache, path, limit, Reuse::Code)?;
    match compiled.found {
        Found::Component { component, .. } => {
            Ok(Mapped { linked: link(linker, &component), recompiled: Some(compiled.checksum) })
        }
        Found::Validated(_) => unreachable!("validation records are not asked for"),
    }
}
