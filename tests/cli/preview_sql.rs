//! The SQL a preview prints on the backend under test: each parameter written where the
//! database reads a placeholder, and nowhere else (strings, quoted identifiers and
//! comments keep their `?` and `$1`), and a script the database runs as it is, even where a
//! statement ends in a line comment.

use crate::support::{Backend, TestProject, backend, stderr, stdout};

const CONFIG: &str = "[apps.a]\nmigrations = \"migrations/a\"\n";
const ID: &str = "20240101000000";

/// What the preview-literals guest's preview is on `backend`, after its header line.
fn expected_statements(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => concat!(
            "CREATE TABLE preview_literals (note TEXT, \"n?\" INTEGER);\n",
            "INSERT INTO preview_literals (note, \"n?\") VALUES ('it''s ?', 7) -- why?\n;\n",
            "INSERT INTO preview_literals (note, [n?]) VALUES (/* ? */ 'x -- ?', 8);\n",
        ),
        Backend::Postgres => concat!(
            "CREATE TABLE preview_literals (note TEXT, \"n$1\" INTEGER);\n",
            "INSERT INTO preview_literals (note, \"n$1\") VALUES (E'it\\'s $9', 7);\n",
            "INSERT INTO preview_literals (note, \"n$1\") VALUES ",
            "($tag$ $1 $tag$ || /* a /* nested $1 */ $1 */ '?', 8) -- $1\n;\n",
        ),
        Backend::Mysql => concat!(
            "CREATE TABLE preview_literals (note TEXT, `n?` INTEGER);\n",
            "INSERT INTO preview_literals (note, `n?`) VALUES ('it\\'s ?', 7) # why?\n;\n",
            "INSERT INTO preview_literals (note, `n?`) VALUES ",
            "(CONCAT('a\\\\', /* ? */ 'b''c\\\\', \"\\\"?\"), 8) -- ?\n;\n",
        ),
    }
}

/// The rows the script leaves in `preview_literals`, as text.
fn expected_rows(backend: Backend) -> [[&'static str; 2]; 2] {
    match backend {
        Backend::Sqlite => [["it's ?", "7"], ["x -- ?", "8"]],
        Backend::Postgres => [["it's $9", "7"], [" $1 ?", "8"]],
        Backend::Mysql => [["it's ?", "7"], [r#"a\b'c\"?"#, "8"]],
    }
}

#[test]
fn preview_sql_inlines_parameters_only_into_placeholders_and_runs_as_printed() {
    let project = TestProject::empty(CONFIG);
    project.install_guest("a", &format!("{ID}_preview_literals"), "preview-literals");
    let output = project.wasmig().args(["forwards", "a", "--preview"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let script = stdout(&output);
    let header =
        format!("-- a {ID} forwards: Parameters beside strings, identifiers and comments\n");
    assert_eq!(script, header + expected_statements(backend()));
    assert!(project.untouched(), "a preview changes nothing");

    // The database reads the printed script as the statements the migration sent.
    project.execute(&script);
    let rows = project.query("SELECT * FROM preview_literals ORDER BY 2");
    assert_eq!(rows, expected_rows(backend()).map(|row| row.map(String::from).to_vec()));
}
