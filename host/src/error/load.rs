//! Why a migration component could not be loaded: the component, and a reason a caller
//! can match on (JSON names it), worded as one line a user can act on.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Stop;

/// A migration component that could not be loaded: which, and why.
#[derive(Debug)]
pub struct LoadError {
    /// The app of the migration.
    pub app: String,
    /// Its ID.
    pub id: String,
    /// Its component file.
    pub path: PathBuf,
    /// Why it was refused.
    pub reason: LoadReason,
}

impl LoadError {
    pub(crate) fn new(app: &str, id: &str, path: &Path, reason: LoadReason) -> Self {
        LoadError { app: app.to_string(), id: id.to_string(), path: path.to_path_buf(), reason }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LoadError { app, id, path, reason } = self;
        match reason {
            // Worded as every other file wasmig cannot read: the file and the system's words.
            LoadReason::Unreadable(error) => write!(f, "{}: {error}", path.display()),
            _ => write!(f, "app {app} migration {id} ({}): {reason}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            LoadReason::Unreadable(error) => Some(error),
            _ => None,
        }
    }
}

/// Why a migration component could not be loaded. [`LoadReason::name`] tells them apart in
/// JSON; the message says what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadReason {
    /// Its file could not be read.
    Unreadable(std::io::Error),
    /// Its file is `size` bytes, over the `limit` of `[limits] component_mib`.
    TooLarge { size: u64, limit: u64 },
    /// Its bytes are not a WebAssembly component (a core module when `core_module`).
    NotAComponent { core_module: bool },
    /// It has a component's header but does not compile: wasmtime's words.
    CompileFailed(String),
    /// It imports these interfaces, outside the import allowlist.
    RefusedImports(Vec<String>),
    /// Its imports are allowed but do not link against the sandbox's (another type or
    /// version): wasmtime's words.
    UnlinkableImports(String),
    /// It does not export the `wasmig:migration` world: wasmtime's words.
    WrongWorld(String),
    /// Its `describe` export did not return: what stopped it.
    DescribeFailed(Stop),
    /// Its file no longer holds the bytes that were validated (sha256 `validated`, now
    /// `now`); `storing` when that was found while reading it to store it with its ledger
    /// row, rather than while getting it ready to run.
    ChangedAfterValidation { validated: String, now: String, storing: bool },
    /// It loaded, but the compile cache in `cache_dir` could not store it (`cache fill`).
    NotCached { cache_dir: PathBuf },
    /// A SQL migration whose `file` does not assemble into a component: `message` says why,
    /// with its line where there is one.
    BadSql { file: PathBuf, message: String },
    /// A migration that has no `backwards` on the `dialect` it was to be reversed on.
    Irreversible { dialect: &'static str },
}

impl LoadReason {
    /// A short, stable name of the reason, as JSON output gives it.
    pub fn name(&self) -> &'static str {
        match self {
            LoadReason::Unreadable(_) => "unreadable",
            LoadReason::TooLarge { .. } => "too_large",
            LoadReason::NotAComponent { .. } => "not_a_component",
            LoadReason::CompileFailed(_) => "compile_failed",
            LoadReason::RefusedImports(_) | LoadReason::UnlinkableImports(_) => "refused_imports",
            LoadReason::WrongWorld(_) => "wrong_world",
            LoadReason::DescribeFailed(_) => "describe_failed",
            LoadReason::ChangedAfterValidation { .. } => "changed_after_validation",
            LoadReason::NotCached { .. } => "not_cached",
            LoadReason::BadSql { .. } => "bad_sql",
            LoadReason::Irreversible { .. } => "irreversible",
        }
    }
}

impl fmt::Display for LoadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadReason::Unreadable(error) => write!(f, "{error}"),
            LoadReason::TooLarge { size, limit } => write!(
                f,
                "the component file is {size} bytes, over the limit of {} MiB ([limits] component_mib)",
                limit >> 20
            ),
            LoadReason::NotAComponent { core_module: true } => {
                f.write_str("a core WebAssembly module, not a component")
            }
            LoadReason::NotAComponent { core_module: false } => {
                f.write_str("not a WebAssembly component")
            }
            LoadReason::CompileFailed(error) => write!(f, "invalid component: {error}"),
            LoadReason::RefusedImports(imports) => write!(
                f,
                "imports {}, which a migration may not use (allowed: wasmig:migration, and \
                 from WASI only cli environment/exit/stdio, clocks, random, io, \
                 filesystem types/preopens and sockets, all denied by the sandbox)",
                imports.join(", ")
            ),
            LoadReason::UnlinkableImports(error) => write!(f, "unsupported imports: {error}"),
            LoadReason::WrongWorld(error) => {
                write!(f, "does not export the wasmig:migration world: {error}")
            }
            LoadReason::DescribeFailed(stop) => write!(f, "describe failed: {}", stop.message),
            LoadReason::ChangedAfterValidation { validated, now, storing } => {
                write!(
                    f,
                    "the component file changed after it was validated (sha256 {validated}, now {now})"
                )?;
                if *storing {
                    f.write_str(", so it cannot be stored with its ledger row")?;
                }
                Ok(())
            }
            LoadReason::NotCached { cache_dir } => write!(
                f,
                "compiled, but the compile cache in {} could not store it",
                cache_dir.display()
            ),
            LoadReason::BadSql { file, message } => {
                let name = file.file_name().unwrap_or(file.as_os_str()).to_string_lossy();
                write!(f, "{name}: {message}")
            }
            LoadReason::Irreversible { dialect } => write!(
                f,
                "irreversible on {dialect}: it has no backwards for it (a SQL migration without \
                 a .down.sql file); nothing was changed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_is_worded_as_any_file_wasmig_cannot_read() {
        let path = Path::new("/m/a/20240101000000_x.wasm");
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = LoadError::new("a", "20240101000000", path, LoadReason::Unreadable(gone));
        assert_eq!(error.to_string(), format!("{}: entity not found", path.display()));
        assert_eq!(error.reason.name(), "unreadable");
        let large = LoadReason::TooLarge { size: 3 << 20, limit: 1 << 20 };
        let error = LoadError::new("a", "20240101000000", path, large);
        assert_eq!(
            error.to_string(),
            format!(
                "app a migration 20240101000000 ({}): the component file is 3145728 bytes, \
                 over the limit of 1 MiB ([limits] component_mib)",
                path.display()
            )
        );
        assert_eq!(error.reason.name(), "too_large");
    }
}
