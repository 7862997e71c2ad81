//! Rust migrations: a crate folder `<ID>_<slug>/` with a `cdylib` depending on the
//! `wasmig-guest` SDK, built by cargo for `wasm32-wasip2` (one `cargo build` per Cargo
//! workspace, with link-time optimisation unless the workspace sets its own), and the
//! crate `wasmig new --lang rust` writes.
//!
//! Crates are left to cargo's own freshness checks; their component is only rewritten when
//! cargo's output differs from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::scaffold::{NewSource, quoted, write_new};
use super::toolchain::Toolchain;
use super::{
    BuildOutcome, BuildResult, LanguageRules, Recognised, Schedule, SourceFile, build_error,
    install, last_line,
};
use crate::error::{Error, Result};

/// The release profile setting `wasmig build` gives a Rust workspace that sets none of its
/// own. Link-time optimisation drops the SDK and standard-library code a migration does not
/// reach: for a typical migration a fifth fewer functions and a fifth less time compiling
/// the component, on every machine that runs it without a cached copy.
pub const LTO: &str = "profile.release.lto=true";
/// Cargo's environment override of the release profile's `lto`; when set, wasmig adds none.
const LTO_ENV: &str = "CARGO_PROFILE_RELEASE_LTO";

/// The rules of Rust migrations.
pub(super) struct Rust;

impl LanguageRules for Rust {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn recognise(&self, path: &Path, name: &str) -> Option<Recognised> {
        let is_crate = path.is_dir() && path.join("Cargo.toml").is_file();
        is_crate.then(|| Recognised { stem: name.to_string(), may_be_helper: true })
    }

    fn toolchain(&self) -> Result<Toolchain> {
        Toolchain::cargo()
    }

    fn schedule(&self) -> Schedule {
        Schedule::AllAtOnce
    }

    fn build(&self, tool: &Toolchain, sources: &[&SourceFile]) -> Vec<(PathBuf, BuildResult)> {
        build_crates(tool, sources)
    }

    fn scaffold(&self, new: &NewSource<'_>) -> Result<PathBuf> {
        new_crate(new)
    }
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
fn build_crates(tool: &Toolchain, sources: &[&SourceFile]) -> Vec<(PathBuf, BuildResult)> {
    let started = Instant::now();
    let mut results = Vec::new();
    let mut known: BTreeMap<PathBuf, Crate> = BTreeMap::new();
    let mut located: Vec<(&SourceFile, PathBuf)> = Vec::new();
    for &source in sources {
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

/// Writes the crate `<ID>_<slug>/` of a new migration: its manifest and `src/lib.rs`.
fn new_crate(new: &NewSource<'_>) -> Result<PathBuf> {
    let NewSource { dir, app, stem, id, slug, name } = *new;
    let crate_dir = dir.join(stem);
    let package = format!("{}_{stem}", app.replace('-', "_"));
    let in_workspace = enclosing_workspace_with_sdk(dir);
    let dependency = if in_workspace.is_some() {
        "wasmig-guest.workspace = true\n".to_string()
    } else {
        // A crate of its own: not part of whatever workspace lies above it.
        format!("wasmig-guest = \"{}\"\n\n[workspace]\n", env!("CARGO_PKG_VERSION"))
    };
    let manifest = format!(
        "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{dependency}"
    );
    let type_name = camel_case(slug);
    let description = quoted(name);
    let lib = format!(
        r#"//! Migration {id}: {name}

use wasmig_guest::{{Db, Migration, Result}};

struct {type_name};

impl Migration for {type_name} {{
    fn forwards(db: &Db) -> Result<()> {{
        // Emit the SQL of this change, e.g.
        // db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)", &[])?;
        let _ = db;
        Ok(())
    }}

    fn backwards(db: &Db) -> Result<()> {{
        // Undo exactly what `forwards` did, e.g.
        // db.execute("DROP TABLE example", &[])?;
        let _ = db;
        Ok(())
    }}
}}

wasmig_guest::export_migration!({type_name}, description = "{description}");
"#
    );
    std::fs::create_dir_all(crate_dir.join("src")).map_err(|e| Error::io(&crate_dir, e))?;
    write_new(&crate_dir.join("Cargo.toml"), &manifest)?;
    write_new(&crate_dir.join("src").join("lib.rs"), &lib)?;
    Ok(crate_dir)
}

/// The migration's type name: the slug in CamelCase, prefixed when it would start with a
/// digit.
fn camel_case(slug: &str) -> String {
    let camel: String = slug
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if camel.starts_with(|c: char| c.is_ascii_digit()) { format!("M{camel}") } else { camel }
}

/// The root folder of a Cargo workspace above `dir` that provides `wasmig-guest`, if any.
fn enclosing_workspace_with_sdk(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|folder| {
        let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).ok()?;
        let table: toml::Table = manifest.parse().ok()?;
        let provides = table.get("workspace")?.get("dependencies")?.get("wasmig-guest").is_some();
        provides.then(|| folder.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(camel_case("add_tags"), "AddTags");
        assert_eq!(camel_case("2fa"), "M2fa");
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
}
