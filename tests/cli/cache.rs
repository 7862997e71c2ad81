//! The compile cache: each component compiled once, bad cache files recompiled rather than
//! trusted, two processes filling one cache, `check` without compiling, `cache info|clear|fill`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

use crate::support::{TestProject, components, sample_ids, stderr, stdout};

/// A sample project whose runs use the cache in a folder of the test's own.
struct Cached {
    project: TestProject,
    cache: tempfile::TempDir,
}

impl Cached {
    fn sample() -> Self {
        // The Rust apps only: every test here compiles its migrations cold.
        Cached { project: TestProject::sample_rust(), cache: tempfile::tempdir().unwrap() }
    }

    fn wasmig(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.project.wasmig_std();
        command.env("WASMIG_CACHE_DIR", self.cache.path()).args(args);
        command.output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Json {
        let output = self.wasmig(&[args, &["--format", "json"]].concat());
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        serde_json::from_str(&stdout(&output)).unwrap()
    }

    /// For each migration of a run, whether it was compiled rather than taken from the cache.
    fn compiled(&self, args: &[&str]) -> Vec<bool> {
        let report = self.json(args);
        let migrations = report["migrations"].as_array().unwrap();
        assert!(!migrations.is_empty(), "{report}");
        migrations.iter().map(|m| m["compiled"].as_bool().unwrap()).collect()
    }

    fn artefacts(&self) -> Vec<PathBuf> {
        artefacts(self.cache.path())
    }
}

/// The compiled components in the cache (not their validation records).
fn artefacts(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache.join("v2/components"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|file| file.extension().is_some_and(|x| x == "cwasm"));
    files.sort();
    files
}

fn sample_count() -> usize {
    components().samples.keys().filter(|key| !key.starts_with("comments/")).count()
}

#[test]
fn each_component_is_compiled_once_then_taken_from_the_cache() {
    let test = Cached::sample();
    assert!(test.compiled(&["forwards", "all", "-y"]).iter().all(|c| *c));
    assert_eq!(test.artefacts().len(), sample_count());
    assert!(test.compiled(&["backwards", "all", "-y"]).iter().all(|c| !c));
    assert!(test.compiled(&["forwards", "all", "-y"]).iter().all(|c| !c));

    let info = test.json(&["cache", "info"]);
    assert_eq!(info["cache"]["entries"], sample_count());
    assert!(info["cache"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(info["cache"]["dir"], test.cache.path().to_str().unwrap());
    assert!(test.cache.path().join("CACHEDIR.TAG").is_file());
}

#[test]
fn a_corrupt_truncated_or_swapped_cache_file_is_recompiled_never_trusted() {
    let test = Cached::sample();
    test.json(&["forwards", "all", "--preview"]);
    let files = test.artefacts();
    assert!(files.len() >= 4, "{files:?}");
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();

    // One corrupt in the middle, one truncated, and the other two swapped with each other.
    let mut corrupt = originals[0].clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    std::fs::write(&files[0], corrupt).unwrap();
    std::fs::write(&files[1], &originals[1][..originals[1].len() / 2]).unwrap();
    std::fs::write(&files[2], &originals[3]).unwrap();
    std::fs::write(&files[3], &originals[2]).unwrap();

    let compiled = test.compiled(&["forwards", "all", "-y"]);
    assert_eq!(compiled.iter().filter(|c| **c).count(), 4, "{compiled:?}");
    assert_eq!(test.project.ledger().len(), sample_count(), "every migration applied");
    // Each recompiled file was written again whole.
    for (file, original) in files.iter().zip(&originals) {
        assert_eq!(&std::fs::read(file).unwrap(), original, "{}", file.display());
    }
    assert!(test.compiled(&["backwards", "all", "-y"]).iter().all(|c| !c));
}

#[test]
fn two_processes_filling_one_cache_at_once_both_succeed() {
    let cache = tempfile::tempdir().unwrap();
    let (one, two) = (TestProject::sample_rust(), TestProject::sample_rust());
    let spawn = |project: &TestProject| {
        let mut command = project.wasmig_std();
        command.env("WASMIG_CACHE_DIR", cache.path()).args(["forwards", "all", "-y"]);
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    let children = [spawn(&one), spawn(&two)];
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert_eq!(one.ledger().len(), sample_count());
    assert_eq!(two.ledger().len(), sample_count());
    // One whole file per component and its validation record, no temporary file left.
    assert_eq!(artefacts(cache.path()).len(), sample_count());
    let files: Vec<PathBuf> = std::fs::read_dir(cache.path().join("v2/components"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2 * sample_count(), "{files:?}");
    let whole = |f: &PathBuf| f.extension().is_some_and(|e| e == "cwasm" || e == "json");
    assert!(files.iter().all(whole), "{files:?}");
    let test = Cached { project: one, cache };
    assert!(test.compiled(&["backwards", "all", "-y"]).iter().all(|c| !c));
}

#[test]
fn check_describes_pending_migrations_without_compiling_them() {
    let test = Cached::sample();
    // The stamp of a file changed in the last two seconds does not identify its contents.
    std::thread::sleep(Duration::from_millis(2100));
    let first = test.json(&["check"]);
    assert_eq!(test.artefacts().len(), sample_count(), "the first check compiles");
    assert_eq!(test.json(&["cache", "info"])["cache"]["folders"], 2);

    std::fs::remove_dir_all(test.cache.path().join("v2/components")).unwrap();
    let second = test.json(&["check"]);
    assert_eq!(second, first);
    assert!(test.artefacts().is_empty(), "the second check compiled nothing");

    // A changed file is described afresh.
    let id = &sample_ids("auth")[0];
    let file = test.project.app_dir("auth").join(format!("{id}_{}.wasm", slug("auth", id)));
    let guest = &components().guests["failing-forwards"];
    std::fs::copy(guest, &file).unwrap();
    let third = test.json(&["check", "auth"]);
    assert_ne!(third[0]["description"], first[0]["description"], "{third}");
    assert_eq!(test.artefacts().len(), 1, "only the changed file is compiled");
}

/// The slug of a sample migration's file.
fn slug(app: &str, id: &str) -> String {
    let key =
        components().samples.keys().find(|key| key.starts_with(&format!("{app}/{id}_"))).unwrap();
    key.split_once('_').unwrap().1.to_string()
}

#[test]
fn no_cache_neither_reads_nor_fills_the_cache() {
    let test = Cached::sample();
    let output = test.wasmig(&["--no-cache", "forwards", "all", "-y", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!test.cache.path().join("v2").exists());
    test.json(&["backwards", "all", "-y"]);
    assert!(test.compiled(&["--no-cache", "forwards", "all", "-y"]).iter().all(|c| *c));
}

#[test]
fn cache_clear_empties_it_and_info_works_outside_a_project() {
    let test = Cached::sample();
    test.json(&["forwards", "all", "--preview"]);
    let output = test.wasmig(&["cache", "clear"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.contains(&format!("{} compiled component(s)", sample_count())), "{said}");
    assert!(test.artefacts().is_empty());

    let elsewhere = tempfile::tempdir().unwrap();
    let output = test
        .project
        .wasmig()
        .current_dir(elsewhere.path())
        .env("WASMIG_CACHE_DIR", test.cache.path())
        .args(["cache", "info"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let info = stdout(&output);
    assert!(info.starts_with(test.cache.path().to_str().unwrap()), "{info}");
    assert!(info.contains("0 compiled component(s)"), "{info}");
}

#[test]
fn cache_dir_in_the_config_is_relative_to_it() {
    let test = Cached::sample();
    let config = test.project.path().join("wasmig.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("cache_dir = \"build/cache\"\n{text}")).unwrap();
    let output = test
        .project
        .wasmig()
        .env_remove("WASMIG_CACHE_DIR")
        .args(["forwards", "all", "--preview"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(artefacts(&test.project.path().join("build/cache")).len(), sample_count());
}

#[test]
fn backwards_1_loads_only_the_migration_it_reverses() {
    let test = Cached::sample();
    test.json(&["forwards", "all", "-y"]);
    test.json(&["cache", "clear"]);
    assert_eq!(test.compiled(&["backwards", "blog", "-y"]), [true]);
    assert_eq!(test.artefacts().len(), 1, "one component loaded, so one compiled");
}

#[test]
fn check_describes_applied_migrations_from_the_ledger() {
    let test = Cached::sample();
    let applied = test.json(&["forwards", "all", "-y"]);
    test.json(&["cache", "clear"]);
    let statuses = test.json(&["check"]);
    let statuses = statuses.as_array().unwrap();
    assert_eq!(statuses.len(), sample_count());
    for (status, migration) in statuses.iter().zip(applied["migrations"].as_array().unwrap()) {
        assert_eq!(status["has_ran"], true);
        assert_eq!(status["description"], migration["description"]);
    }
    assert!(test.artefacts().is_empty(), "check compiled an applied migration");
}

#[test]
fn each_compiler_has_its_own_cache_entries_and_both_run_the_migrations() {
    let test = Cached::sample();
    assert!(test.compiled(&["forwards", "all", "-y"]).iter().all(|c| *c), "winch compiles");
    let winch = test.artefacts();

    let config = test.project.path().join("wasmig.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("compiler = \"cranelift\"\n{text}")).unwrap();
    let reversed = test.compiled(&["backwards", "all", "-y"]);
    assert!(reversed.iter().all(|c| *c), "cranelift does not take winch's code: {reversed:?}");
    assert!(test.project.ledger().is_empty());
    assert!(test.compiled(&["forwards", "all", "-y"]).iter().all(|c| !c));
    assert_eq!(test.project.ledger().len(), sample_count());
    let both = test.artefacts();
    assert_eq!(both.len(), 2 * sample_count());
    assert!(winch.iter().all(|file| both.contains(file)), "winch's entries stay");
}

#[test]
fn cache_fill_compiles_every_component_without_a_database_and_the_run_compiles_none() {
    let test = Cached::sample();
    let filled = test.json(&["cache", "fill"]);
    let migrations = filled["fill"]["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), sample_count(), "{filled}");
    assert!(migrations.iter().all(|m| m["outcome"] == "compiled"), "{filled}");
    assert_eq!(test.artefacts().len(), sample_count());
    assert!(test.project.untouched(), "filling the cache touches no database");

    // The run that applies them compiles nothing, and a second fill finds them all.
    assert!(test.compiled(&["forwards", "all", "-y"]).iter().all(|c| !c));
    let again = test.json(&["cache", "fill", "auth"]);
    let migrations = again["fill"]["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), sample_ids("auth").len(), "{again}");
    assert!(migrations.iter().all(|m| m["outcome"] == "cached"), "{again}");
    let output = test.wasmig(&["cache", "fill", "blog"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.starts_with("compiled 0 of "), "{said}");
    assert!(said.contains(test.cache.path().to_str().unwrap()), "{said}");
}

#[test]
fn cache_fill_names_the_component_it_cannot_load_and_needs_the_cache_on() {
    let test = Cached::sample();
    let id = &sample_ids("blog")[0];
    let name = format!("{id}_{}.wasm", slug("blog", id));
    let file = test.project.app_dir("blog").join(&name);
    std::fs::copy(&components().guests["hostile-wrong-world"], &file).unwrap();
    let output = test.wasmig(&["cache", "fill"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("error: app blog migration {id} (")), "{err}");
    assert!(err.contains(&name), "{err}");
    assert!(test.project.untouched());

    let output = test.wasmig(&["--no-cache", "cache", "fill"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("the compile cache is off"), "{}", stderr(&output));

    // A cache folder that cannot be written fails before anything is compiled, rather than
    // compiling for nothing.
    let not_a_folder = test.cache.path().join("file");
    std::fs::write(&not_a_folder, "").unwrap();
    let output = test
        .project
        .wasmig()
        .env("WASMIG_CACHE_DIR", &not_a_folder)
        .args(["cache", "fill", "auth"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(not_a_folder.to_str().unwrap()), "{err}");
    let output = test.wasmig(&["cache", "fill", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("unknown app `nope`"), "{}", stderr(&output));
}
