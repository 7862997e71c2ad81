//! Building migration sources into components: the languages wasmig knows (one module
//! each, listed once in `languages!`), finding an app's sources, and the driver that
//! builds them in parallel and skips those whose inputs are unchanged.
//!
//! Adding a language is a module holding its rules and a line in `languages!`.
//!
//! | source in the app folder | built by | rules in |
//! |---|---|---|
//! | `<ID>_<slug>/Cargo.toml` (a crate) | cargo, for `wasm32-wasip2` | `rust` |
//! | `<ID>_<slug>.py` | componentize-py, with the Python SDK beside it | `python` |
//! | `<ID>_<slug>.js` | componentize-js, with the JavaScript SDK beside it | `js` |
//! | `<ID>_<slug>.up.sql` (and `.down.sql`) | nothing: wasmig assembles it when it loads it | `sql` |
//!
//! The component is `<ID>_<slug>.wasm` beside the source. The WIT and the SDKs are part of
//! the binary, so a build needs only the language's toolchain (`toolchain`).

mod componentizer;
mod js;
mod python;
mod rust;
pub(crate) mod scaffold;
pub mod sql;
mod toolchain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::App;
use crate::error::{Error, Result};
use crate::source::parse_file_name;
pub use js::JS_SDK;
pub use python::PYTHON_SDK;
pub use rust::LTO;
use scaffold::NewSource;
use toolchain::Toolchain;
pub use toolchain::{
    COMPONENTIZE_JS_ENV, COMPONENTIZE_JS_VERSION, COMPONENTIZE_PY_ENV, COMPONENTIZE_PY_VERSION,
};

/// Declares [`Language`] from the one list of languages: each entry is a variant (its doc
/// comment is its `--lang` help) and the value implementing its [`LanguageRules`].
macro_rules! languages {
    ($($(#[doc = $doc:literal])* $variant:ident => $rules:expr,)+) => {
        /// The language of a migration source.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum Language {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Language {
            /// Everything wasmig knows about the language.
            fn rules(self) -> &'static dyn LanguageRules {
                match self {
                    $(Language::$variant => &$rules,)+
                }
            }
        }
    };
}

languages! {
    /// A Rust crate using the `wasmig-guest` SDK.
    Rust => rust::Rust,
    /// A Python module using the `wasmig` module (componentize-py).
    Python => python::PYTHON,
    /// A JavaScript module using `./wasmig.js` (componentize-js).
    Js => js::JS,
    /// SQL files `<ID>_<slug>.up.sql` and `.down.sql`: nothing to build.
    Sql => sql::Sql,
}

impl Language {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        self.rules().name()
    }

    /// Writes the source of a new migration from the language's template; its path.
    pub(crate) fn scaffold(self, new: &NewSource<'_>) -> Result<PathBuf> {
        self.rules().scaffold(new)
    }
}

/// What a language defines: how its sources look in an app folder, the tool and the rule
/// that build them (skipping those up to date), and the template of a new one.
trait LanguageRules: Sync {
    /// The name used on the command line and in reports.
    fn name(&self) -> &'static str;

    /// The app-folder entry `path` (named `name`, not hidden) as a source of this language.
    fn recognise(&self, path: &Path, name: &str) -> Option<Recognised>;

    /// The tool its build runs, found before anything is built: a missing one is an error
    /// naming its install command.
    fn toolchain(&self) -> Result<Toolchain>;

    /// Whether its sources are built one by one or all at once.
    fn schedule(&self) -> Schedule;

    /// Builds `sources` with `tool`, leaving those up to date as they are: each source's
    /// result by its path.
    fn build(&self, tool: &Toolchain, sources: &[&SourceFile]) -> Vec<(PathBuf, BuildResult)>;

    /// Writes the source of a new migration from the language's template; its path.
    fn scaffold(&self, new: &NewSource<'_>) -> Result<PathBuf>;
}

/// An app-folder entry in a language's form.
struct Recognised {
    /// `<ID>_<slug>` when it is named like a migration.
    stem: String,
    /// Whether one not named like a migration is a helper the migrations share (skipped)
    /// rather than a misnamed source (an error).
    may_be_helper: bool,
}

/// How the driver runs a language's build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schedule {
    /// One source per call, on the driver's worker threads: the tool uses one core.
    EachSource,
    /// Every source in one call, on a thread of its own beside the workers: the tool
    /// schedules its own jobs on every core.
    AllAtOnce,
}

/// One source's outcome and how long its build took.
type BuildResult = Result<(BuildOutcome, Duration)>;

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
    /// Nothing to build: a SQL migration, which wasmig assembles when it loads the app
    /// (its files were checked).
    NotNeeded,
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

/// The migration sources of `app`, in ID order, in the forms the languages recognise. A
/// source not named like a migration is an error, except a crate (a helper shared by
/// migrations); folders and files in no language's form are not sources.
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
        let recognised = <Language as clap::ValueEnum>::value_variants()
            .iter()
            .find_map(|&language| Some((language, language.rules().recognise(&path, &name)?)));
        let Some((language, Recognised { stem, may_be_helper })) = recognised else { continue };
        let parsed = parse_file_name(&format!("{stem}.wasm"));
        if parsed.is_err() && may_be_helper {
            continue;
        }
        let (id, _) = parsed.map_err(|message| Error::Source {
            app: app.name.clone(),
            path: path.clone(),
            message: message.replace("<ID>_<slug>.wasm", "a migration source <ID>_<slug>"),
        })?;
        // A SQL migration is its own component: wasmig assembles it from its files.
        let component = match language {
            Language::Sql => path.clone(),
            _ => app.dir.join(format!("{stem}.wasm")),
        };
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

/// Builds `all`, `parallel` sources at once beside the languages that schedule their own
/// jobs; the report lists them in the order given.
pub fn build_sources(all: Vec<SourceFile>, parallel: usize) -> Result<BuildReport> {
    let languages: Vec<Language> = {
        let mut l: Vec<Language> = all.iter().map(|s| s.language).collect();
        l.sort();
        l.dedup();
        l
    };
    // Every toolchain is found before anything is built: one missing is one error.
    let mut tools = BTreeMap::new();
    for &language in &languages {
        tools.insert(language, language.rules().toolchain()?);
    }

    let at_once = |language: Language| language.rules().schedule() == Schedule::AllAtOnce;
    let results: Mutex<BTreeMap<PathBuf, BuildResult>> = Mutex::new(BTreeMap::new());
    let queue = Mutex::new(all.iter().filter(|s| !at_once(s.language)));
    let record = |built: Vec<(PathBuf, BuildResult)>| {
        let mut results = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        results.extend(built);
    };
    std::thread::scope(|scope| {
        for &language in languages.iter().filter(|&&l| at_once(l)) {
            let sources: Vec<&SourceFile> = all.iter().filter(|s| s.language == language).collect();
            let (tool, record) = (&tools[&language], &record);
            scope.spawn(move || record(language.rules().build(tool, &sources)));
        }
        // One worker per core beside the tools that schedule their own jobs: cargo is done
        // in a moment when its crates are fresh, and the componentizers are what takes the
        // time.
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let next =
                        queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
                    let Some(source) = next else { break };
                    let rules = source.language.rules();
                    record(rules.build(&tools[&source.language], &[source]));
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut migrations = Vec::new();
    for source in all {
        let (outcome, duration) = results
            .remove(&source.path)
            .unwrap_or_else(|| Err(Error::NotBuilt { path: source.path.clone() }))?;
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

/// The record of the inputs a source was last built from: a hash of them in the hidden
/// file `.<ID>_<slug>.build` beside the source (a file, not a folder: a Cargo workspace
/// whose members are `migrations/*/*` would take a folder for a crate). A source whose
/// component exists and whose inputs hash as recorded is up to date.
struct InputRecord {
    file: PathBuf,
    hash: String,
}

impl InputRecord {
    /// The record of `source` built from `inputs` (in a fixed order).
    fn new(source: &SourceFile, inputs: &[&[u8]]) -> Self {
        let mut hash = Sha256::new();
        for part in inputs {
            // Each part's length first, so that moving bytes between parts changes the hash.
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        let folder = source.path.parent().unwrap_or(Path::new("."));
        let file = folder.join(format!(".{}.build", source.stem));
        InputRecord { file, hash: hex::encode(hash.finalize()) }
    }

    /// Whether `source`'s component was built from these inputs.
    fn is_current(&self, source: &SourceFile) -> bool {
        source.component.is_file()
            && std::fs::read_to_string(&self.file).is_ok_and(|s| s.trim() == self.hash)
    }

    /// Records these inputs as those of the component now in place.
    fn save(&self) -> Result<()> {
        std::fs::write(&self.file, self.hash.as_bytes()).map_err(|e| Error::io(&self.file, e))
    }

    /// Forgets the last build's inputs, after a build that failed.
    fn forget(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
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

/// Copies a built component into place under a temporary name, then renames it, so a
/// wasmig run never sees half a file.
fn install(built: &Path, component: &Path) -> Result<()> {
    let name = component.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = component.with_file_name(format!(".{name}.tmp"));
    std::fs::copy(built, &temporary).map_err(|e| Error::io(&temporary, e))?;
    std::fs::rename(&temporary, component).map_err(|e| Error::io(component, e))
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
    fn a_language_has_one_name_on_the_command_line_in_json_and_in_its_rules() {
        for &language in <Language as clap::ValueEnum>::value_variants() {
            let value = clap::ValueEnum::to_possible_value(&language).unwrap();
            assert_eq!(value.get_name(), language.name());
            assert_eq!(serde_json::to_value(language).unwrap(), language.name());
        }
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
}
