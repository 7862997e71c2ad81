//! Toolchain discovery: which `cargo`, `componentize-py` and `componentize-js` a build runs,
//! the environment overrides that name other installations, and the install command a
//! missing one's error names.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The componentize-py version wasmig is tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The componentize-js version wasmig is tested with.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// Overrides the componentize-py executable.
pub const COMPONENTIZE_PY_ENV: &str = "WASMIG_COMPONENTIZE_PY";
/// Overrides the componentize-js executable.
pub const COMPONENTIZE_JS_ENV: &str = "WASMIG_COMPONENTIZE_JS";

/// Cargo sets it for the processes it runs (`cargo run`, tests): the installation that runs
/// wasmig also builds its Rust migrations.
const CARGO_ENV: &str = "CARGO";

/// A located build tool.
#[derive(Debug, Clone)]
pub(super) struct Toolchain {
    /// The executable.
    pub(super) program: PathBuf,
    /// Mixed into the hash of a build's inputs: another installation of the tool builds
    /// again.
    pub(super) identity: String,
}

impl Toolchain {
    /// Cargo, which builds Rust crates; its identity is left to cargo's own freshness
    /// checks.
    pub(super) fn cargo() -> Result<Self> {
        let cargo = std::env::var_os(CARGO_ENV).unwrap_or_else(|| "cargo".into());
        let program = on_path(&cargo).ok_or_else(|| Error::Toolchain {
            tool: "cargo".into(),
            install: "install Rust with rustup (https://rustup.rs), then run \
                      `rustup target add wasm32-wasip2`"
                .into(),
        })?;
        Ok(Toolchain { identity: String::new(), program })
    }

    /// componentize-py, which builds Python modules.
    pub(super) fn componentize_py() -> Result<Self> {
        Self::componentizer(
            COMPONENTIZE_PY_ENV,
            "componentize-py",
            &format!(
                "install it with `pip install componentize-py=={COMPONENTIZE_PY_VERSION}` (or set {COMPONENTIZE_PY_ENV} to its path)"
            ),
        )
    }

    /// componentize-js (a node program), which builds JavaScript modules.
    pub(super) fn componentize_js() -> Result<Self> {
        Self::componentizer(
            COMPONENTIZE_JS_ENV,
            "componentize-js",
            &format!(
                "install it with `npm install -g @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}` \
                 (or set {COMPONENTIZE_JS_ENV} to node_modules/.bin/componentize-js of a local install)"
            ),
        )
    }

    /// The executable's file name, as a tool's error names it.
    pub(super) fn name(&self) -> String {
        self.program.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// The componentizer `env` names, else `name` on `PATH`; `install` says how to get it.
    fn componentizer(env: &str, name: &str, install: &str) -> Result<Self> {
        let wanted: OsString = std::env::var_os(env).unwrap_or_else(|| name.into());
        let program = on_path(&wanted).ok_or_else(|| Error::Toolchain {
            tool: if std::env::var_os(env).is_some() {
                format!("{name} ({env}={})", Path::new(&wanted).display())
            } else {
                name.to_string()
            },
            install: install.to_string(),
        })?;
        // The path and the installed file's size and time identify the installation
        // without running it.
        let real = std::fs::canonicalize(&program).unwrap_or_else(|_| program.clone());
        let meta = std::fs::metadata(&real).ok();
        let modified = meta.as_ref().and_then(|m| m.modified().ok());
        let identity = format!("{} {:?} {:?}", real.display(), meta.map(|m| m.len()), modified);
        Ok(Toolchain { program, identity })
    }
}

/// `program` itself when it names a file (a path), else the first executable of that name
/// on `PATH`.
fn on_path(program: &OsStr) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| executable(p))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_componentizer_names_its_install_command() {
        let Err(err) = Toolchain::componentizer(
            "WASMIG_TEST_NO_SUCH_ENV",
            "no-such-componentizer-xyz",
            "install it with `x`",
        ) else {
            panic!("found a tool that does not exist")
        };
        assert_eq!(err.to_string(), "no-such-componentizer-xyz not found: install it with `x`");
    }
}
