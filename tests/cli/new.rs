use crate::support::{TestProject, stderr};

#[test]
fn new_scaffolds_a_guest_crate_with_a_fresh_id() {
    let project = TestProject::empty("[apps.blog]\nmigrations = \"migrations/blog\"\n");
    project.install_guest("blog", "29991231235959_far_future", "typed-values");
    let output = project.wasmig().args(["new", "blog", "Add tags!"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let created: Vec<_> = std::fs::read_dir(project.app_dir("blog"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(created.len(), 1);
    let dir = &created[0];
    // Later than every existing ID, whatever the clock says.
    assert_eq!(dir.file_name().unwrap(), "29991231235960_add_tags");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"blog_29991231235960_add_tags\""), "{manifest}");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("impl Migration for AddTags"), "{lib}");
    assert!(lib.contains("export_migration!(AddTags, description = \"Add tags!\")"), "{lib}");
    let err = stderr(&output);
    assert!(err.contains("wasmig build blog"), "{err}");

    // The source folder is not a component: the project still checks.
    project.wasmig().args(["check"]).assert().success();
    project.wasmig().args(["new", "nope", "x"]).assert().code(1);
    project.wasmig().args(["new", "blog", "!!"]).assert().code(1);
    project.wasmig().args(["new", "blog", "x", "--lang", "cobol"]).assert().code(2);
}

#[test]
fn new_writes_python_and_javascript_modules() {
    let project = TestProject::empty("[apps.blog]\nmigrations = \"migrations/blog\"\n");
    let output = project
        .wasmig()
        .args(["new", "blog", "Add \"tags\"", "--lang", "python"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output =
        project.wasmig().args(["new", "blog", "seed tags", "--lang", "js"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let mut files: Vec<String> = std::fs::read_dir(project.app_dir("blog"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("_add_tags.py"), "{files:?}");
    assert!(files[1].ends_with("_seed_tags.js"), "{files:?}");
    let python = std::fs::read_to_string(project.app_dir("blog").join(&files[0])).unwrap();
    assert!(python.contains("@migration(\"Add \\\"tags\\\"\", transactional=True)"), "{python}");
    assert!(python.contains("class Migration:"), "{python}");
    let js = std::fs::read_to_string(project.app_dir("blog").join(&files[1])).unwrap();
    assert!(js.contains("export const migration = defineMigration({"), "{js}");
    assert!(js.contains("description: \"seed tags\","), "{js}");
    // Sources are not components: the project still checks.
    project.wasmig().args(["check"]).assert().success();
}
