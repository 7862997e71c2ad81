//! Languages whose source is one file that a componentizer (componentize-py,
//! componentize-js) builds: the rules they share, given what each language module says
//! (its file extension, SDK, toolchain, command line and template). The source, its SDK and
//! the WIT are staged in a folder of their own, the tool runs there, and its output is kept
//! beside the source when it fails. The build is skipped while the hash of those inputs and
//! of the tool's installation matches the source's input record.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::scaffold::{NewSource, write_new};
use super::toolchain::Toolchain;
use super::{
    BuildOutcome, BuildResult, InputRecord, LanguageRules, Recognised, Schedule, SourceFile,
    build_error, install, last_line,
};
use crate::error::{Error, Result};

/// The WIT package every migration targets, as the componentizers read it.
const WIT: &str = include_str!("../../../wit/migration.wit");
/// The world the components are built for.
pub(super) const WORLD: &str = "migration-component";

/// A language whose sources are `<ID>_<slug><extension>` files built by a componentizer.
pub(super) struct Componentized {
    /// The name used on the command line and in reports.
    pub(super) name: &'static str,
    /// The source file's extension, with its dot.
    pub(super) extension: &'static str,
    /// The SDK its sources import.
    pub(super) sdk: Sdk,
    /// Finds the componentizer.
    pub(super) toolchain: fn() -> Result<Toolchain>,
    /// Completes the componentizer's command line for a source, given the path of the
    /// component it must write.
    pub(super) arguments: fn(&mut Command, &SourceFile, &Path),
    /// The text of a new migration's source.
    pub(super) template: fn(&NewSource<'_>) -> String,
}

/// The SDK a language's sources import, as the file the componentizer finds beside them.
pub(super) struct Sdk {
    /// Its file name in the staging folder.
    pub(super) file_name: &'static str,
    /// Its text.
    pub(super) text: &'static str,
}

impl LanguageRules for Componentized {
    fn name(&self) -> &'static str {
        self.name
    }

    fn recognise(&self, path: &Path, name: &str) -> Option<Recognised> {
        let stem = name.strip_suffix(self.extension).filter(|_| !path.is_dir())?;
        Some(Recognised { stem: stem.to_string(), may_be_helper: false })
    }

    fn toolchain(&self) -> Result<Toolchain> {
        (self.toolchain)()
    }

    fn schedule(&self) -> Schedule {
        // A componentizer runs on one core: the driver runs several at once.
        Schedule::EachSource
    }

    fn build(&self, tool: &Toolchain, sources: &[&SourceFile]) -> Vec<(PathBuf, BuildResult)> {
        let build = |source: &SourceFile| {
            componentize(tool, source, &self.sdk, |command, out| {
                (self.arguments)(command, source, out)
            })
        };
        sources.iter().map(|&source| (source.path.clone(), build(source))).collect()
    }

    fn scaffold(&self, new: &NewSource<'_>) -> Result<PathBuf> {
        let path = new.dir.join(format!("{}{}", new.stem, self.extension));
        write_new(&path, &(self.template)(new))?;
        Ok(path)
    }
}

/// Builds `source` with `tool`, unless its input record says its component was built from
/// the same inputs. `arguments` completes the tool's command line, given the path of the
/// component the tool must write; the tool runs in the staging folder, which holds the WIT
/// as `wit/migration.wit`, the SDK and the source under their own names.
fn componentize(
    tool: &Toolchain,
    source: &SourceFile,
    sdk: &Sdk,
    arguments: impl FnOnce(&mut Command, &Path),
) -> BuildResult {
    let started = Instant::now();
    let code = std::fs::read(&source.path).map_err(|e| Error::io(&source.path, e))?;
    let inputs = [code.as_slice(), sdk.text.as_bytes(), WIT.as_bytes(), tool.identity.as_bytes()];
    let record = InputRecord::new(source, &inputs);
    if record.is_current(source) {
        return Ok((BuildOutcome::UpToDate, started.elapsed()));
    }
    let folder = source.path.parent().unwrap_or(Path::new("."));
    let log = folder.join(format!(".{}.build.log", source.stem));

    let stage = tempfile::Builder::new()
        .prefix("wasmig-build-")
        .tempdir()
        .map_err(|e| build_error(source, format!("cannot create a build folder: {e}")))?;
    let dir = stage.path();
    let write = |path: PathBuf, contents: &[u8]| {
        std::fs::write(&path, contents).map_err(|e| Error::io(&path, e))
    };
    std::fs::create_dir_all(dir.join("wit")).map_err(|e| Error::io(dir, e))?;
    write(dir.join("wit/migration.wit"), WIT.as_bytes())?;
    write(dir.join(sdk.file_name), sdk.text.as_bytes())?;
    let file_name = source.path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    write(dir.join(&file_name), &code)?;
    let out = dir.join("out.wasm");

    let mut command = Command::new(&tool.program);
    // componentize-js resolves the WIT relative to its working folder.
    command.current_dir(dir);
    // The tool's own backtrace would bury the error in the source.
    command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    arguments(&mut command, &out);
    let output = command
        .output()
        .map_err(|e| build_error(source, format!("cannot run {}: {e}", tool.program.display())))?;
    if !output.status.success() || !out.is_file() {
        let full = [output.stdout.as_slice(), b"\n", output.stderr.as_slice()].concat();
        write(log.clone(), &full)?;
        record.forget();
        return Err(build_error(
            source,
            format!(
                "{} failed ({}): {} (full output in {})",
                tool.name(),
                output.status,
                last_line(&output),
                log.display()
            ),
        ));
    }
    install(&out, &source.component)?;
    let _ = std::fs::remove_file(&log);
    record.save()?;
    Ok((BuildOutcome::Built, started.elapsed()))
}
