//! Migrations in Python and JavaScript as well as Rust: `new --lang`, `build`, then
//! forwards, preview and backwards on a temp project; the sample project's Python and
//! JavaScript migrations on the backend under test; the world every sample exports.

use std::path::Path;

use crate::support::{
    Backend, TestProject, backend, components, polyglot, sample_ids, stderr, stdout, wasmig_build,
};

/// `wasmig new APP NAME --lang LANG` in `project`: the source it wrote.
fn scaffold(project: &TestProject, lang: &str, name: &str) -> std::path::PathBuf {
    let output = project
        .wasmig()
        .args(["--format", "json", "new", "shop", name, "--lang", lang])
        .output()
        .unwrap();
    assert!(output.status.success(), "{lang}: {}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["command"], "new");
    assert_eq!(report["language"], lang);
    assert_eq!(report["build_commands"], serde_json::json!(["wasmig build shop"]));
    std::path::PathBuf::from(report["source"].as_str().unwrap())
}

/// Outside this workspace a scaffolded Rust crate depends on the published SDK: points the
/// crate at `source` to this checkout's instead.
fn use_this_sdk(source: &Path) {
    let manifest = source.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "wasmig-guest = \"0.1.0\"",
        &format!("wasmig-guest = {{ path = {:?} }}", crate::support::root().join("guest-sdk")),
    );
    std::fs::write(&manifest, text).unwrap();
}

/// Fills the template's two bodies with a table of the given name.
fn fill(source: &Path, lang: &str, table: &str) {
    let text = std::fs::read_to_string(source).unwrap();
    let (forwards, backwards) = match lang {
        "python" => (
            format!(
                "db.execute(\"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)\")\n        db.execute(f\"INSERT INTO {table} (id, v) VALUES ({{db.placeholder(1)}}, {{db.placeholder(2)}})\", [1, db.app_name])"
            ),
            format!("db.execute(\"DROP TABLE {table}\")"),
        ),
        "js" => (
            format!(
                "db.execute(\"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)\");\n    db.execute(`INSERT INTO {table} (id, v) VALUES (${{db.placeholder(1)}}, ${{db.placeholder(2)}})`, [1, db.appName]);"
            ),
            format!("db.execute(\"DROP TABLE {table}\");"),
        ),
        _ => (
            format!(
                "db.execute(\"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)\", &[])?;\n        db.execute(&format!(\"INSERT INTO {table} (id, v) VALUES ({{}}, {{}})\", db.placeholder(1), db.placeholder(2)), wasmig_guest::params![1, db.app_name()])?;"
            ),
            format!("db.execute(\"DROP TABLE {table}\", &[])?;"),
        ),
    };
    let mut lines: Vec<String> = Vec::new();
    let mut seen = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        // The templates' example lines are comments: the first after each "e.g." is replaced.
        if trimmed.starts_with("// db.execute(") || trimmed.starts_with("# db.execute(") {
            let indent = &line[..line.len() - trimmed.len()];
            lines.push(format!("{indent}{}", if seen == 0 { &forwards } else { &backwards }));
            seen += 1;
            continue;
        }
        if trimmed == "let _ = db;" || trimmed == "pass" {
            continue;
        }
        lines.push(line.to_string());
    }
    assert_eq!(seen, 2, "{}: {text}", source.display());
    std::fs::write(source, lines.join("\n") + "\n").unwrap();
}

/// A project of one app, `shop`, outside the workspace: Rust sources get a crate of their
/// own. Runs on SQLite whatever the backend under test (the rows are the same).
#[test]
fn new_build_forwards_preview_backwards_in_each_language() {
    if backend() != Backend::Sqlite {
        return;
    }
    let languages: &[&str] = if polyglot() { &["rust", "python", "js"] } else { &["rust"] };
    let project = TestProject::empty("[apps.shop]\nmigrations = \"migrations/shop\"\n");
    for lang in languages {
        let table = format!("made_in_{lang}");
        let source = scaffold(&project, lang, &format!("create {table}"));
        if *lang == "rust" {
            use_this_sdk(&source);
            fill(&source.join("src/lib.rs"), lang, &table);
        } else {
            fill(&source, lang, &table);
        }
    }
    let output = wasmig_build(&project.path().join("wasmig.toml"), "all");
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let migrations = report["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), languages.len(), "{report}");
    for m in migrations {
        assert_eq!(m["outcome"], "built", "{m}");
        assert!(Path::new(m["component"].as_str().unwrap()).is_file(), "{m}");
    }
    // Nothing changed: nothing is built again.
    let again = wasmig_build(&project.path().join("wasmig.toml"), "all");
    assert!(again.status.success(), "{}", stderr(&again));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    for m in report["migrations"].as_array().unwrap() {
        assert_eq!(m["outcome"], "up_to_date", "{m}");
    }

    let preview = project.wasmig().args(["forwards", "shop", "--preview"]).output().unwrap();
    assert!(preview.status.success(), "{}", stderr(&preview));
    let script = stdout(&preview);
    for lang in languages {
        assert!(
            script.contains(&format!(
                "CREATE TABLE made_in_{lang} (id INTEGER PRIMARY KEY, v TEXT);"
            )),
            "{script}"
        );
        assert!(
            script.contains(&format!("INSERT INTO made_in_{lang} (id, v) VALUES (1, 'shop');")),
            "{script}"
        );
    }
    assert!(project.untouched(), "a preview writes nothing");

    let applied = project.wasmig().args(["forwards", "shop"]).output().unwrap();
    assert!(applied.status.success(), "{}", stderr(&applied));
    for lang in languages {
        assert_eq!(project.query(&format!("SELECT id, v FROM made_in_{lang}")), [["1", "shop"]]);
    }
    assert_eq!(project.ledger().len(), languages.len());

    let reversed = project.wasmig().args(["backwards", "shop", "all", "-y"]).output().unwrap();
    assert!(reversed.status.success(), "{}", stderr(&reversed));
    assert_eq!(project.tables(), ["wasmig_migrations"]);
    assert!(project.ledger().is_empty());
}

/// A Cargo config file of the project's own, here one naming the target folder, reaches
/// both cargo commands of `wasmig build`: the build writes where it says, and wasmig finds
/// the component there (through `cargo metadata`), not in a `target/` of the crate's own.
#[test]
fn the_projects_own_cargo_config_reaches_wasmig_build() {
    if backend() != Backend::Sqlite {
        return;
    }
    let project = TestProject::empty("[apps.shop]\nmigrations = \"migrations/shop\"\n");
    let source = scaffold(&project, "rust", "configured target");
    use_this_sdk(&source);
    fill(&source.join("src/lib.rs"), "rust", "configured");
    // The suite's target folder, so the SDK is not built again; named by the config file
    // alone, the environment says nothing.
    let target = crate::support::target_dir();
    std::fs::create_dir_all(project.path().join(".cargo")).unwrap();
    std::fs::write(
        project.path().join(".cargo/config.toml"),
        format!("[build]\ntarget-dir = {:?}\n", target),
    )
    .unwrap();

    let output = project
        .wasmig()
        .args(["--format", "json", "build", "shop"])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let migrations = report["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 1, "{report}");
    assert_eq!(migrations[0]["outcome"], "built", "{report}");
    assert!(Path::new(migrations[0]["component"].as_str().unwrap()).is_file(), "{report}");
    assert!(!source.join("target").exists(), "cargo built in the crate's own target folder");
    let package = source.file_name().unwrap().to_string_lossy().into_owned();
    let built = target.join("wasm32-wasip2/release").read_dir().unwrap().any(|entry| {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        name.ends_with(".wasm") && name.contains("configured_target")
    });
    assert!(built, "no component of {package} in {}", target.display());

    let applied = project.wasmig().args(["forwards", "shop"]).output().unwrap();
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_eq!(project.query("SELECT id, v FROM configured"), [["1", "shop"]]);
}

#[test]
fn a_missing_componentizer_is_one_error_naming_its_install_command() {
    let project = TestProject::empty("[apps.shop]\nmigrations = \"migrations/shop\"\n");
    scaffold(&project, "python", "needs python");
    let output = project
        .wasmig()
        .args(["build"])
        .env("WASMIG_COMPONENTIZE_PY", "/nonexistent/componentize-py")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: componentize-py"), "{err}");
    assert!(err.contains("pip install componentize-py==0.25.1"), "{err}");
    assert!(project.untouched());
}

#[test]
fn a_bad_source_name_is_one_error_naming_the_file() {
    let project = TestProject::empty("[apps.shop]\nmigrations = \"migrations/shop\"\n");
    std::fs::write(project.app_dir("shop").join("helpers.py"), "").unwrap();
    let output = project.wasmig().args(["build", "shop"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("app shop: ") && err.contains("helpers.py"), "{err}");
}

/// The Python and JavaScript migrations of the sample project on the backend under test:
/// forwards, the data they write, a preview of their reversal, and backwards.
#[test]
fn the_sample_python_and_javascript_migrations_run_on_every_backend() {
    if !polyglot() {
        return;
    }
    let comments = sample_ids("comments");
    assert_eq!(comments.len(), 2, "one Python and one JavaScript sample migration");
    let project = TestProject::sample();
    project.wasmig().args(["forwards", "auth"]).assert().success();
    project.wasmig().args(["forwards", "blog"]).assert().success();
    project.execute("INSERT INTO users (email) VALUES ('ada@example.com')");
    project.execute(
        "INSERT INTO posts (author_id, title, body) SELECT id, 'First', 'one' FROM users UNION ALL \
         SELECT id, 'Second', 'two' FROM users",
    );
    let output = project.wasmig().args(["forwards", "comments"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("Create the comments table"), "{err}");
    assert_eq!(
        project.query("SELECT post_id, body FROM comments ORDER BY post_id"),
        [["1", "Comments are open: be kind."], ["2", "Comments are open: be kind."]]
    );
    let preview =
        project.wasmig().args(["backwards", "comments", "all", "--preview"]).output().unwrap();
    assert!(preview.status.success(), "{}", stderr(&preview));
    let script = stdout(&preview);
    assert!(
        script.contains("DELETE FROM comments WHERE body = 'Comments are open: be kind.'"),
        "{script}"
    );
    assert!(script.contains("DROP TABLE comments;"), "{script}");
    let reversed = project.wasmig().args(["backwards", "comments", "all", "-y"]).output().unwrap();
    assert!(reversed.status.success(), "{}", stderr(&reversed));
    assert!(!project.tables().contains(&"comments".to_string()), "{:?}", project.tables());
    assert_eq!(project.ledger().len(), sample_ids("auth").len() + sample_ids("blog").len());
}

/// Every built sample component exports the `wasmig:migration/migration` interface and
/// imports nothing but the database handle and WASI.
#[test]
fn every_sample_component_exports_the_migration_world() {
    let samples = &components().samples;
    assert!(samples.len() >= 7, "{samples:?}");
    for (key, path) in samples {
        let bytes = std::fs::read(path).unwrap();
        let (mut exports, mut imports) = (Vec::new(), Vec::new());
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            match payload.unwrap() {
                wasmparser::Payload::ComponentExportSection(section) => {
                    exports.extend(section.into_iter().map(|e| e.unwrap().name.name.to_string()));
                }
                wasmparser::Payload::ComponentImportSection(section) => {
                    imports.extend(section.into_iter().map(|i| i.unwrap().name.name.to_string()));
                }
                _ => {}
            }
        }
        assert!(
            exports.iter().any(|e| e == "wasmig:migration/migration@0.1.0"),
            "{key}: exports {exports:?}"
        );
        assert!(
            imports.iter().any(|i| i == "wasmig:migration/database@0.1.0"),
            "{key}: {imports:?}"
        );
        // Interfaces only: type imports (`import-type-...`) are part of them.
        for import in imports.iter().filter(|name| name.contains('/')) {
            assert!(
                import.starts_with("wasmig:migration/") || import.starts_with("wasi:"),
                "{key}: imports {import}"
            );
        }
    }
}

/// A source the componentizer refuses: one error line naming the app and the file, the
/// tool's own last line, and where its whole output was kept; no component written.
#[test]
fn a_componentizer_failure_is_one_error_naming_the_source() {
    if backend() != Backend::Sqlite || !polyglot() {
        return;
    }
    let project = TestProject::empty("[apps.shop]\nmigrations = \"migrations/shop\"\n");
    let source = project.app_dir("shop").join("20240101000000_broken.py");
    std::fs::write(&source, "from wasmig import migration\n\ndef forwards(db:\n").unwrap();
    let output = wasmig_build(&project.path().join("wasmig.toml"), "shop");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: app shop: {}: componentize-py failed", source.display())),
        "{err}"
    );
    assert!(err.contains("SyntaxError"), "{err}");
    let log = project.app_dir("shop").join(".20240101000000_broken.build.log");
    assert!(err.contains(&log.display().to_string()), "{err}");
    assert!(log.is_file());
    assert!(!project.app_dir("shop").join("20240101000000_broken.wasm").exists());
}
