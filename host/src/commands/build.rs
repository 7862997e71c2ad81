//! `wasmig build`: compile every migration source of the selected apps into the component
//! file `<ID>_<slug>.wasm` beside it.
//!
//! | source in the app folder | built by |
//! |---|---|
//! | `<ID>_<slug>/Cargo.toml` (a crate) | `cargo build --release --target wasm32-wasip2`, with link-time optimisation unless the workspace sets its own |
//! | `<ID>_<slug>.py` | componentize-py, with the Python SDK (`wasmig.py`) beside it |
//! | `<ID>_<slug>.js` | componentize-js, with the JavaScript SDK (`wasmig.js`) beside it |
//!
//! The WIT and both SDKs are part of the binary, so a build needs only the language's
//! toolchain. Python and JavaScript sources whose inputs (the source, the SDK, the WIT, the
//! componentizer) are unchanged since their last build are skipped: the hash of those inputs
//! is kept in the hidden file `.<ID>_<slug>.build` beside the source (a file, not a folder:
//! a Cargo workspace whose members are `migrations/*/*` would take a folder for a crate).
//! Rust crates are left to cargo's own freshness checks, and their component is only
//! rewritten when cargo's output differs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{App, Settings};
use crate::error::{Error, Result};
use crate::source::parse_file_name;

/// The WIT package every migration targets, as the componentizers read it.
const WIT: &str = include_str!("../../../wit/migration.wit");
/// The Python SDK, importable as `wasmig` by a Python migration.
pub const PYTHON_SDK: &str = include_str!("../../../guest-sdk/python/wasmig.py");
/// The JavaScript SDK, importable as `./wasmig.js` by a JavaScript migration.
pub const JS_SDK: &str = include_str!("../../../guest-sdk/js/wasmig.js");
/// The world the components are built for.
const WORLD: &str = "migration-component";

/// The componentizer versions wasmig is tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// See [`COMPONENTIZE_PY_VERSION`].
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// Overrides the componentize-py executable.
pub const COMPONENTIZE_PY_ENV: &str = "WASMIG_COMPONENTIZE_PY";
/// Overrides the componentize-js executable.
pub const COMPONENTIZE_JS_ENV: &str = "WASMIG_COMPONENTIZE_JS";

/// The release profile setting `wasmig build` gives a Rust workspace that sets none of its
/// own. Link-time optimisation drops the SDK and standard-library code a migration does not
/// reach: for a typical migration a fifth fewer functions and a fifth less time compiling
/// the component, on every machine that runs it without a cached copy.
pub const LTO: &str = "profile.release.lto=true";
/// Cargo's environment override of the release profile's `lto`; when set, wasmig adds none.
const LTO_ENV: &str = "CARGO_PROFILE_RELEASE_LTO";

/// The language of a migration source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A Rust crate using the `wasmig-guest` SDK.
    Rust,
    /// A Python module using the `wasmig` module.
    Python,
    /// A JavaScript ES module using `./wasmig.js`.
    Js,
}

impl Language {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
        }
    }
}

/// One migration source of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The app.
    pub app: String,
    /// `<ID>_<slug>`.
    pub stem: String,
    /// Its language.
    pub language: Language,
    /// The crate folder, or the `.py`/`.js` file.
    pub path: PathBuf,
    /// The component file the build writes.
    pub component: PathBuf,
}

/// What became of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildOutcome {
    /// The component was (re)written.
    Built,
    /// Its inputs had not changed: the component was left as it was.
    UpToDate,
}

/// One built (or skipped) migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltMigration {
    /// The app.
    pub app_name: String,
    /// The migration's ID.
    pub migration_id: String,
    /// The source's language.
    pub language: Language,
    /// The source (crate folder or file).
    pub source: PathBuf,
    /// The component file.
    pub component: PathBuf,
    /// Built or up to date.
    pub outcome: BuildOutcome,
    /// How long its build took (for Rust crates, the one cargo run they share).
    #[serde(rename = "duration_ms", serialize_with = "crate::report::milliseconds")]
    pub duration: Duration,
}

/// What `build` did, in app order then ID order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    /// Every source of the selected apps.
    pub migrations: Vec<BuiltMigration>,
}

impl BuildReport {
    /// How many components were (re)written.
    pub fn built(&self) -> usize {
        self.migrations.iter().filter(|m| m.outcome == BuildOutcome::Built).count()
    }
}

/// The migration sources of `app`, in ID order: crate folders `<ID>_<slug>/Cargo.toml`,
/// `<ID>_<slug>.py` and `<ID>_<slug>.js` files. A `.py` or `.js` file not named like a
/// migration is an error (helpers are not built); folders without a `Cargo.toml`, crates
/// not named like a migration (helpers) and other files are not sources.
pub fn sources(app: &App) -> Result<Vec<SourceFile>> {
    let entries = std::fs::read_dir(&app.dir).map_err(|e| Error::Source {
        app: app.name.clone(),
        path: app.dir.clone(),
        message: format!("cannot read migrations folder: {e}"),
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&app.dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let (stem, language) = if path.is_dir() {
            if !path.join("Cargo.toml").is_file() {
                continue;
            }
            (name.clone(), Language::Rust)
        } else if let Some(stem) = name.strip_suffix(".py") {
            (stem.to_string(), Language::Python)
        } else if let Some(stem) = name.strip_suffix(".js") {
            (stem.to_string(), Language::Js)
        } else {
            continue;
        };
        let parsed = parse_file_name(&format!("{stem}.wasm"));
        if parsed.is_err() && language == Language::Rust {
            // A crate that is not a migration, such as a helper shared by migrations.
            continue;
        }
        let (id, _) = parsed.map_err(|message| Error::Source {
            app: app.name.clone(),
            path: path.clone(),
            message: message.replace("<ID>_<slug>.wasm", "a migration source <ID>_<slug>"),
        })?;
        let component = app.dir.join(format!("{stem}.wasm"));
        found.push((id, SourceFile { app: app.name.clone(), stem, language, path, component }));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in found.windows(2) {
        if pair[0].0.significant() == pair[1].0.significant() {
            return Err(Error::Source {
                app: app.name.clone(),
                path: pair[1].1.path.clone(),
                message: format!(
                    "two sources for migration {} (also {})",
                    pair[1].0,
                    pair[0].1.path.display()
                ),
            });
        }
    }
    Ok(found.into_iter().map(|(_, source)| source).collect())
}

/// Builds every migration source of the apps `app_name` selects (`all`: every app), in
/// parallel on `parallel` threads.
pub fn build(settings: &Settings, app_name: &str, parallel: usize) -> Result<BuildReport> {
    let mut all = Vec::new();
    for app in settings.select(app_name)? {
        all.extend(sources(app)?);
    }
    let languages: Vec<Language> = {
        let mut l: Vec<Language> = all.iter().map(|s| s.language).collect();
        l.sort();
        l.dedup();
        l
    };
    // Every toolchain is found before anything is built: one missing is one error.
    let mut tools = BTreeMap::new();
    for language in languages {
        tools.insert(language, Toolchain::find(language)?);
    }

    let rust: Vec<&SourceFile> = all.iter().filter(|s| s.language == Language::Rust).collect();
    let others: Vec<&SourceFile> = all.iter().filter(|s| s.language != Language::Rust).collect();
    let results: Mutex<BTreeMap<PathBuf, Result<(BuildOutcome, Duration)>>> =
        Mutex::new(BTreeMap::new());
    let queue = Mutex::new(others.into_iter());
    let record = |path: &Path, result| {
        results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_path_buf(), result);
    };
    std::thread::scope(|scope| {
        if !rust.is_empty() {
            let (tool, rust, record) = (&tools[&Language::Rust], &rust, &record);
            scope.spawn(move || {
                for (path, result) in build_crates(tool, rust) {
                    record(&path, result);
                }
            });
        }
        // One componentizer per core beside cargo: cargo is done in a moment when its
        // crates are fresh, and the componentizers are what takes the time.
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let next =
                        queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
                    let Some(source) = next else { break };
                    let result = componentize(&tools[&source.language], source);
                    record(&source.path, result);
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut migrations = Vec::new();
    for source in all {
        let (outcome, duration) = results.remove(&source.path).unwrap_or_else(|| {
            Err(Error::Runtime(format!("{}: not built", source.path.display())))
        })?;
        let migration_id = source.stem.split_once('_').map_or("", |(id, _)| id).to_string();
        migrations.push(BuiltMigration {
            app_name: source.app,
            migration_id,
            language: source.language,
            source: source.path,
            component: source.component,
            outcome,
            duration,
        });
    }
    Ok(BuildReport { migrations })
}

/// A located build tool.
#[derive(Debug, Clone)]
struct Toolchain {
    program: PathBuf,
    /// Mixed into the inputs' hash: another installation of the tool builds again.
    identity: String,
}

impl Toolchain {
    fn find(language: Language) -> Result<Self> {
        match language {
            Language::Rust => {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let program = on_path(&cargo).ok_or_else(|| Error::Toolchain {
                    tool: "cargo".into(),
                    install: "install Rust with rustup (https://rustup.rs), then run \
                              `rustup target add wasm32-wasip2`"
                        .into(),
                })?;
                Ok(Toolchain { identity: String::new(), program })
            }
            Language::Python => Self::componentizer(
                COMPONENTIZE_PY_ENV,
                "componentize-py",
                &format!(
                    "install it with `pip install componentize-py=={COMPONENTIZE_PY_VERSION}` (or set {COMPONENTIZE_PY_ENV} to its path)"
                ),
            ),
            Language::Js => Self::componentizer(
                COMPONENTIZE_JS_ENV,
                "componentize-js",
                &format!(
                    "install it with `npm install -g @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}` \
                     (or set {COMPONENTIZE_JS_ENV} to node_modules/.bin/componentize-js of a local install)"
                ),
            ),
        }
    }

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
fn on_path(program: &std::ffi::OsStr) -> Option<PathBuf> {
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

fn build_error(source: &SourceFile, message: impl Into<String>) -> Error {
    Error::Build { app: source.app.clone(), path: source.path.clone(), message: message.into() }
}

/// The last line of a tool's output that says something, for a one-line error.
fn last_line(output: &std::process::Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // A Rust-based tool may end with its backtrace: the cause comes before it.
    let text = text.split("Stack backtrace:").next().unwrap_or_default();
    text.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or("(no output)").to_string()
}

/// Builds a Python or JavaScript source in a folder of its own holding the source, the SDK
/// and the WIT, unless the hash of those inputs matches that of the last build.
fn componentize(tool: &Toolchain, source: &SourceFile) -> Result<(BuildOutcome, Duration)> {
    let started = Instant::now();
    let code = std::fs::read(&source.path).map_err(|e| Error::io(&source.path, e))?;
    let (sdk_name, sdk) = match source.language {
        Language::Python => ("wasmig.py", PYTHON_SDK),
        _ => ("wasmig.js", JS_SDK),
    };
    let mut hash = Sha256::new();
    for part in [code.as_slice(), sdk.as_bytes(), WIT.as_bytes(), tool.identity.as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let inputs = hex::encode(hash.finalize());
    let folder = source.path.parent().unwrap_or(Path::new("."));
    let stamp = folder.join(format!(".{}.build", source.stem));
    let log = folder.join(format!(".{}.build.log", source.stem));
    if source.component.is_file()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == inputs)
    {
        return Ok((BuildOutcome::UpToDate, started.elapsed()));
    }

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
    write(dir.join(sdk_name), sdk.as_bytes())?;
    let file_name = source.path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    write(dir.join(&file_name), &code)?;
    let out = dir.join("out.wasm");

    let mut command = Command::new(&tool.program);
    // componentize-js resolves the WIT relative to its working folder.
    command.current_dir(dir);
    // The tool's own backtrace would bury the error in the source.
    command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    match source.language {
        Language::Python => {
            command
                .args(["-d", "wit", "-w", WORLD, "componentize", &source.stem, "-p", "."])
                .arg("-o")
                .arg(&out);
        }
        _ => {
            command
                .arg(&file_name)
                .args(["--wit", "wit", "-n", WORLD, "-d", "http", "-d", "fetch-event", "-o"])
                .arg(&out);
        }
    }
    let name =
        tool.program.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let output = command
        .output()
        .map_err(|e| build_error(source, format!("cannot run {}: {e}", tool.program.display())))?;
    if !output.status.success() || !out.is_file() {
        let full = [output.stdout.as_slice(), b"\n", output.stderr.as_slice()].concat();
        write(log.clone(), &full)?;
        let _ = std::fs::remove_file(&stamp);
        return Err(build_error(
            source,
            format!(
                "{name} failed ({}): {} (full output in {})",
                output.status,
                last_line(&output),
                log.display()
            ),
        ));
    }
    install(&out, &source.component)?;
    let _ = std::fs::remove_file(&log);
    write(stamp, inputs.as_bytes())?;
    Ok((BuildOutcome::Built, started.elapsed()))
}

/// Copies a built component into place under a temporary name, then renames it, so a
/// wasmig run never sees half a file.
fn install(built: &Path, component: &Path) -> Result<()> {
    let name = component.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = component.with_file_name(format!(".{name}.tmp"));
    std::fs::copy(built, &temporary).map_err(|e| Error::io(&temporary, e))?;
    std::fs::rename(&temporary, component).map_err(|e| Error::io(component, e))
}

/// A Rust crate as `cargo metadata` describes it.
#[derive(Debug, Clone)]
struct Crate {
    package: String,
    lib: String,
    target_dir: PathBuf,
    workspace: PathBuf,
}

/// `cargo metadata` of the workspace holding `manifest`: each member crate by the
/// canonical path of its manifest.
fn metadata(
    tool: &Toolchain,
    manifest: &Path,
) -> std::result::Result<BTreeMap<PathBuf, Crate>, String> {
    // Run beside the manifest, as the build runs in its workspace, so both read the same
    // config files (a `build.target-dir` there, say).
    let manifest =
        std::path::absolute(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut command = Command::new(&tool.program);
    if let Some(dir) = manifest.parent() {
        command.current_dir(dir);
    }
    let output = command
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", last_line(&output)));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata gave no JSON: {e}"))?;
    let text = |value: &serde_json::Value| value.as_str().map(str::to_string);
    let target_dir =
        text(&json["target_directory"]).ok_or("cargo metadata: no target_directory")?;
    let workspace = text(&json["workspace_root"]).ok_or("cargo metadata: no workspace_root")?;
    let mut crates = BTreeMap::new();
    for package in json["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(path)) = (text(&package["name"]), text(&package["manifest_path"]))
        else {
            continue;
        };
        let lib = package["targets"].as_array().into_iter().flatten().find(|target| {
            target["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
        });
        let Some(lib) = lib.and_then(|t| text(&t["name"])) else { continue };
        let path = std::fs::canonicalize(&path).unwrap_or_else(|_| PathBuf::from(&path));
        crates.insert(
            path,
            Crate {
                package: name,
                lib: lib.replace('-', "_"),
                target_dir: PathBuf::from(&target_dir),
                workspace: PathBuf::from(&workspace),
            },
        );
    }
    Ok(crates)
}

/// Builds the Rust crates: one `cargo build` per Cargo workspace they belong to, then
/// copies each crate's component into place when it differs from the one there.
fn build_crates(
    tool: &Toolchain,
    sources: &[&SourceFile],
) -> Vec<(PathBuf, Result<(BuildOutcome, Duration)>)> {
    let started = Instant::now();
    let mut results = Vec::new();
    let mut known: BTreeMap<PathBuf, Crate> = BTreeMap::new();
    let mut located: Vec<(&SourceFile, PathBuf)> = Vec::new();
    for source in sources {
        let manifest = source.path.join("Cargo.toml");
        let canonical = std::fs::canonicalize(&manifest).unwrap_or_else(|_| manifest.clone());
        if !known.contains_key(&canonical) {
            match metadata(tool, &manifest) {
                Ok(crates) => known.extend(crates),
                Err(message) => {
                    results.push((source.path.clone(), Err(build_error(source, message))));
                    continue;
                }
            }
        }
        if known.contains_key(&canonical) {
            located.push((source, canonical));
        } else {
            let message =
                "not a cdylib crate: its Cargo.toml needs [lib] crate-type = [\"cdylib\"]";
            results.push((source.path.clone(), Err(build_error(source, message))));
        }
    }
    let mut workspaces: BTreeMap<PathBuf, Vec<(&SourceFile, &Crate, &PathBuf)>> = BTreeMap::new();
    for (source, manifest) in &located {
        let krate = &known[manifest];
        workspaces.entry(krate.workspace.clone()).or_default().push((source, krate, manifest));
    }
    for members in workspaces.values() {
        let mut cargo = Command::new(&tool.program);
        cargo.args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ]);
        cargo.arg(members[0].2);
        // Cargo reads its config files from the directory it runs in and those above.
        cargo.current_dir(&members[0].1.workspace);
        if let Some(lto) = lto_config(&members[0].1.workspace) {
            cargo.args(["--config", lto]);
        }
        for (_, krate, _) in members {
            cargo.args(["-p", &krate.package]);
        }
        let outcome = cargo.output();
        let failed = match outcome {
            Err(e) => Some(format!("cannot run cargo: {e}")),
            Ok(output) if !output.status.success() => {
                let text = String::from_utf8_lossy(&output.stderr);
                let hint = if text.contains("wasm32-wasip2")
                    && text.contains("target may not be installed")
                {
                    "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`".to_string()
                } else {
                    let first =
                        text.lines().find(|l| l.starts_with("error")).unwrap_or("").to_string();
                    format!(
                        "cargo build failed: {}",
                        if first.is_empty() { last_line(&output) } else { first }
                    )
                };
                Some(hint)
            }
            Ok(_) => None,
        };
        for (source, krate, _) in members {
            let result = match &failed {
                Some(message) => Err(build_error(source, message.clone())),
                None => {
                    let built = krate
                        .target_dir
                        .join("wasm32-wasip2/release")
                        .join(format!("{}.wasm", krate.lib));
                    copy_if_changed(&built, &source.component).map(|changed| {
                        let outcome =
                            if changed { BuildOutcome::Built } else { BuildOutcome::UpToDate };
                        (outcome, started.elapsed())
                    })
                }
            };
            results.push((source.path.clone(), result));
        }
    }
    results
}

/// The `--config` that turns on link-time optimisation for the workspace at `workspace`
/// (cargo runs there, so it reads the config files searched here), unless the environment
/// already says what `lto` the release profile has: see [`lto_config_in`].
fn lto_config(workspace: &Path) -> Option<&'static str> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let set_by_env = std::env::var_os(LTO_ENV).is_some();
    (!set_by_env).then(|| lto_config_in(workspace, cargo_home.as_deref())).flatten()
}

/// [`LTO`], unless the workspace's manifest or a Cargo config file in the workspace, above it
/// or in `cargo_home` sets the release profile's `lto` (a command-line `--config` would
/// overrule them).
fn lto_config_in(workspace: &Path, cargo_home: Option<&Path>) -> Option<&'static str> {
    let config_dirs = workspace
        .ancestors()
        .map(|dir| dir.join(".cargo"))
        .chain(cargo_home.map(Path::to_path_buf));
    let configs = config_dirs.flat_map(|dir| [dir.join("config.toml"), dir.join("config")]);
    let mut files = std::iter::once(workspace.join("Cargo.toml")).chain(configs);
    let set = files.any(|path| std::fs::read_to_string(&path).is_ok_and(|t| sets_release_lto(&t)));
    (!set).then_some(LTO)
}

/// Whether the TOML `text` (a manifest or a Cargo config file) sets the release profile's
/// `lto`. Text that does not parse counts as setting it: cargo reports the error, and
/// wasmig adds nothing to it.
fn sets_release_lto(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else { return true };
    table
        .get("profile")
        .and_then(|profile| profile.get("release"))
        .and_then(|release| release.get("lto"))
        .is_some()
}

/// Installs `built` as `component` unless it already holds the same bytes; whether it did.
fn copy_if_changed(built: &Path, component: &Path) -> Result<bool> {
    let new = std::fs::read(built).map_err(|e| Error::io(built, e))?;
    if std::fs::read(component).is_ok_and(|old| old == new) {
        return Ok(false);
    }
    install(built, component)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_crates_and_named_python_and_js_files() {
        let dir = tempfile::tempdir().unwrap();
        let app = App { name: "a".into(), dir: dir.path().to_path_buf(), depends_on: vec![] };
        std::fs::create_dir(dir.path().join("20240101000000_rust")).unwrap();
        std::fs::write(dir.path().join("20240101000000_rust/Cargo.toml"), "").unwrap();
        std::fs::create_dir(dir.path().join("20240104000000_no_crate")).unwrap();
        std::fs::create_dir(dir.path().join("helper")).unwrap();
        std::fs::write(dir.path().join("helper/Cargo.toml"), "").unwrap();
        for name in
            ["20240102000000_py.py", "20240103000000_js.js", "20240101000000_rust.wasm", "notes.md"]
        {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = sources(&app).unwrap();
        let summary: Vec<(&str, Language)> =
            found.iter().map(|s| (s.stem.as_str(), s.language)).collect();
        assert_eq!(
            summary,
            [
                ("20240101000000_rust", Language::Rust),
                ("20240102000000_py", Language::Python),
                ("20240103000000_js", Language::Js)
            ]
        );
        assert_eq!(found[1].component, dir.path().join("20240102000000_py.wasm"));

        std::fs::write(dir.path().join("helpers.py"), "").unwrap();
        let err = sources(&app).unwrap_err().to_string();
        assert!(err.starts_with("app a: ") && err.contains("helpers.py"), "{err}");
        std::fs::remove_file(dir.path().join("helpers.py")).unwrap();

        std::fs::write(dir.path().join("20240102000000_again.js"), "").unwrap();
        let err = sources(&app).unwrap_err().to_string();
        assert!(err.contains("two sources for migration 20240102000000"), "{err}");
    }

    #[test]
    fn a_failed_tool_is_summed_up_by_its_last_line_before_any_backtrace() {
        use std::os::unix::process::ExitStatusExt;
        let output = |stderr: &str| std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: b"building\n".to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let text =
            "Caused by:\n    SyntaxError: bad (x.py, line 3)\n\nStack backtrace:\n  30: _start\n";
        assert_eq!(last_line(&output(text)), "SyntaxError: bad (x.py, line 3)");
        assert_eq!(last_line(&output("")), "building");
    }

    #[test]
    fn lto_is_added_only_where_the_release_profile_leaves_it_unset() {
        assert!(!sets_release_lto(
            "[package]\nname = \"m\"\n[profile.release]\nopt-level = \"s\"\n"
        ));
        assert!(!sets_release_lto("[profile.dev]\nlto = true\n"));
        assert!(sets_release_lto("[profile.release]\nlto = false\n"));
        assert!(sets_release_lto("profile.release.lto = \"thin\"\n"));
        assert!(sets_release_lto("[profile.release\n"));

        let dir = tempfile::tempdir().unwrap();
        let (workspace, home) = (dir.path().join("ws"), dir.path().join("home"));
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(workspace.join("Cargo.toml"), "[workspace]\n").unwrap();
        assert_eq!(lto_config_in(&workspace, Some(&home)), Some(LTO));
        std::fs::write(home.join("config.toml"), "[profile.release]\nlto = \"fat\"\n").unwrap();
        assert_eq!(lto_config_in(&workspace, Some(&home)), None, "Cargo's home config");
        std::fs::remove_file(home.join("config.toml")).unwrap();
        std::fs::create_dir(dir.path().join(".cargo")).unwrap();
        let config = dir.path().join(".cargo/config.toml");
        std::fs::write(&config, "[profile.release]\nlto = \"off\"\n").unwrap();
        assert_eq!(lto_config_in(&workspace, Some(&home)), None, "a config file above");
        std::fs::remove_file(&config).unwrap();
        std::fs::write(workspace.join("Cargo.toml"), "[profile.release]\nlto = false\n").unwrap();
        assert_eq!(lto_config_in(&workspace, Some(&home)), None, "the workspace manifest");
    }

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
