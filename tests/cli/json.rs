//! `--format json` on every command: one JSON document on stdout with stable keys, whatever
//! else goes to stderr.

use serde_json::Value as Json;

use crate::support::{TestProject, components, sample_ids, stderr, transactional_ddl};

const CONFIG: &str = "[apps.a]\nmigrations = \"migrations/a\"\n";
const FIRST: &str = "20240101000000";
const SECOND: &str = "20240102000000";
const THIRD: &str = "20240103000000";

/// Runs `wasmig ARGS`, expects `code`, and parses stdout as one JSON document.
fn json(project: &TestProject, args: &[&str], code: i32) -> Json {
    let output = project.wasmig().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{args:?}: stdout is not one JSON document ({e}): {:?}", output.stdout)
    })
}

fn keys(value: &Json) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn forwards_and_backwards_report_every_migration() {
    let project = TestProject::sample();
    let total = crate::support::sample_total();

    let run = json(&project, &["forwards", "all", "--format", "json"], 0);
    assert_eq!(
        keys(&run),
        [
            "batch",
            "command",
            "completed",
            "error",
            "migrations",
            "mode",
            "notes",
            "success",
            "warnings"
        ]
    );
    assert_eq!(run["batch"], serde_json::Value::Null);
    assert_eq!(run["command"], "forwards");
    assert_eq!(run["success"], true);
    assert_eq!(run["mode"], "live");
    assert!(run["error"].is_null());
    let migrations = run["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), total);
    assert_eq!(run["completed"].as_array().unwrap().len(), total);
    let first = &migrations[0];
    assert_eq!(
        keys(first),
        [
            "app_name",
            "compiled",
            "deleted_file",
            "description",
            "direction",
            "duration_ms",
            "log",
            "log_dropped",
            "migration_id",
            "outcome",
            "statements",
            "statements_executed",
            "transactional"
        ]
    );
    assert_eq!(first["app_name"], "auth");
    assert_eq!(first["migration_id"], sample_ids("auth")[0].as_str());
    assert_eq!(first["direction"], "forwards");
    assert_eq!(first["outcome"], "applied");
    assert!(first["duration_ms"].as_f64().unwrap() > 0.0);
    let executed = first["statements_executed"].as_u64().unwrap();
    assert!(executed > 0);
    assert_eq!(first["statements"].as_array().unwrap().len() as u64, executed);

    let again = json(&project, &["forwards", "all", "--format", "json"], 0);
    assert_eq!(again["migrations"].as_array().unwrap().len(), 0);
    assert_eq!(again["notes"][0], "no migrations to run");

    let back = json(&project, &["backwards", "blog", "all", "-y", "--format", "json"], 0);
    assert_eq!(back["command"], "backwards");
    let reversed = back["migrations"].as_array().unwrap();
    assert_eq!(reversed.len(), sample_ids("blog").len());
    assert!(reversed.iter().all(|m| m["outcome"] == "reversed" && m["direction"] == "backwards"));
    assert_eq!(reversed[0]["migration_id"], sample_ids("blog").last().unwrap().as_str());
}

#[test]
fn a_json_preview_carries_the_sql_and_prints_nothing_else() {
    let project = TestProject::sample();
    let preview = json(&project, &["forwards", "auth", "--preview", "--format", "json"], 0);
    assert_eq!(preview["mode"], "preview");
    let migrations = preview["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), sample_ids("auth").len());
    assert!(migrations.iter().all(|m| m["outcome"] == "previewed"));
    assert_eq!(migrations[0]["statements_executed"], 0);
    let sql = migrations[0]["statements"][0].as_str().unwrap();
    assert!(sql.contains("CREATE TABLE"), "{sql}");
    assert!(project.untouched(), "a preview changes nothing");
}

#[test]
fn a_failed_run_names_the_failure_and_what_completed() {
    let project = TestProject::empty(CONFIG);
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    project.install_guest("a", &format!("{SECOND}_fails"), "failing-forwards");
    project.install_guest("a", &format!("{THIRD}_never"), "typed-values");
    let run = json(&project, &["forwards", "a", "--format", "json"], 1);
    assert_eq!(run["success"], false);
    let error = &run["error"];
    assert_eq!(error["kind"], "migration");
    assert!(error["message"].as_str().unwrap().contains("deliberate failure"), "{error}");
    let migration = &error["migration"];
    assert_eq!(migration["migration_id"], SECOND);
    assert_eq!(migration["failure"], "guest");
    assert_eq!(migration["rolled_back"], true);
    assert_eq!(migration["dirty"], !transactional_ddl());
    let outcomes: Vec<&str> = run["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["applied", "failed", "skipped"]);
    assert_eq!(run["completed"], serde_json::json!([{ "app_name": "a", "migration_id": FIRST }]));
}

#[test]
fn check_clean_resolve_and_new_print_json() {
    let project = TestProject::empty(CONFIG);
    project.install_guest("a", &format!("{FIRST}_typed_values"), "typed-values");
    let gone = project.install_guest("a", &format!("{SECOND}_table"), "crash-table");
    project.wasmig().args(["forwards", "a"]).assert().success();

    let check = json(&project, &["check", "--format", "json"], 0);
    let statuses = check.as_array().unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s["has_ran"] == true));
    // The text format has two names.
    project.wasmig().args(["check", "--format", "text"]).assert().success();

    std::fs::remove_file(gone).unwrap();
    let clean = json(&project, &["clean", "a", "-y", "--format", "json"], 0);
    assert_eq!(keys(&clean), ["app_name", "command", "error", "removed", "success"]);
    assert_eq!(clean["command"], "clean");
    assert_eq!(clean["removed"][0]["migration_id"], SECOND);
    assert_eq!(clean["removed"].as_array().unwrap().len(), 1);

    project.install_guest("a", &format!("{THIRD}_half"), "failing-non-transactional");
    project.wasmig().args(["forwards", "a"]).assert().code(1);
    let resolve =
        json(&project, &["resolve", "a", THIRD, "--reversed", "-y", "--format", "json"], 0);
    assert_eq!(
        keys(&resolve),
        ["app_name", "command", "error", "migration_id", "resolution", "success"]
    );
    assert_eq!(resolve["resolution"], "reversed");
    assert_eq!(resolve["migration_id"], THIRD);
    let refused =
        json(&project, &["resolve", "a", THIRD, "--applied", "-y", "--format", "json"], 1);
    assert_eq!(refused["error"]["kind"], "usage");
    assert_eq!(refused["success"], false);

    let new = json(&project, &["new", "a", "add tags", "--format", "json"], 0);
    assert_eq!(
        keys(&new),
        [
            "app_name",
            "build_commands",
            "command",
            "component",
            "error",
            "language",
            "migration_id",
            "source",
            "success"
        ]
    );
    let source = new["source"].as_str().unwrap();
    assert!(std::path::Path::new(source).join("Cargo.toml").is_file(), "{source}");
    assert!(new["component"].as_str().unwrap().ends_with("_add_tags.wasm"));
}

#[test]
fn an_error_before_any_work_is_json_too() {
    let project = TestProject::empty(CONFIG);
    let output = project
        .wasmig()
        .args(["--config", "missing.toml", "forwards", "all", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let run: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["success"], false);
    assert_eq!(run["error"]["kind"], "config");
    assert!(stderr(&output).contains("missing.toml: cannot read config"));
}

/// A component that does not load fails the command before anything changes, and its
/// error says which component it is and why, as a reason a script can match on.
#[test]
fn a_load_failure_names_the_component_and_its_reason() {
    let real = std::fs::read(&components().guests["typed-values"]).unwrap();
    /// What takes the place of a component.
    enum Bad {
        Bytes(Vec<u8>),
        Guest(&'static str),
    }
    let cases = [
        ("not_a_component", Bad::Bytes(b"these are not wasm bytes".to_vec())),
        ("not_a_component", Bad::Bytes(b"\0asm\x01\0\0\0".to_vec())),
        ("compile_failed", Bad::Bytes(real[..real.len() / 2].to_vec())),
        ("too_large", Bad::Bytes([real.clone(), vec![0; 2 << 20]].concat())),
        ("wrong_world", Bad::Guest("hostile-wrong-world")),
        ("refused_imports", Bad::Guest("hostile-evil-import")),
    ];
    for (reason, bad) in cases {
        let project = TestProject::empty(&format!("{CONFIG}\n[limits]\ncomponent_mib = 1\n"));
        project.install_guest("a", &format!("{FIRST}_fine"), "typed-values");
        let path = match bad {
            Bad::Bytes(bytes) => project.write_file("a", &format!("{SECOND}_bad.wasm"), &bytes),
            Bad::Guest(name) => project.install_guest("a", &format!("{SECOND}_bad"), name),
        };
        let run = json(&project, &["forwards", "a", "--format", "json"], 1);
        let error = &run["error"];
        assert_eq!(error["kind"], "load", "{reason}: {error}");
        assert_eq!(keys(&error["load"]), ["app_name", "file", "migration_id", "reason"]);
        assert_eq!(error["load"]["reason"], reason, "{error}");
        assert_eq!(error["load"]["app_name"], "a");
        assert_eq!(error["load"]["migration_id"], SECOND);
        assert_eq!(error["load"]["file"], path.to_str().unwrap());
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("app a migration {SECOND} (")), "{message}");
        assert!(error["migration"].is_null(), "{error}");
        assert!(project.ledger().is_empty(), "{reason}");
    }
}
