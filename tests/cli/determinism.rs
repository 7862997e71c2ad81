//! Determinism: a preview prints the same bytes every time, and a live run executes
//! exactly the SQL its preview printed, for every sample migration in both directions.
//!
//! The previews come from the real binary; the live runs go through the library's
//! [`Runtime::call`] with a live database handle, whose capture records each statement as
//! it is executed. Between steps the CLI records the ledger (`--fake`) so that each
//! preview sees exactly the state its live run then changes.

use wasmig::Limits;
use wasmig::backend::{Access, Connection};
use wasmig::bindings::wasmig::migration::types::Context;
use wasmig::capture::{Capture, DatabaseHandle};
use wasmig::runtime::{Direction, LoadedMigration, Runtime};
use wasmig::source::{MigrationFile, MigrationId};

use crate::support::{TestProject, sample_ids, stderr, stdout};

/// `wasmig ARGS` twice: both runs succeed and print the same bytes, which are returned.
fn preview_twice(project: &TestProject, args: &[&str]) -> String {
    let run = || {
        let output = project.wasmig().args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    let first = run();
    assert_eq!(first, run(), "{args:?}: two previews differ");
    first
}

async fn load(runtime: &Runtime, project: &TestProject, app: &str, id: &str) -> LoadedMigration {
    let path = project.component(app, id);
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let file = MigrationFile {
        id: MigrationId::parse(id).unwrap(),
        slug: stem.split_once('_').unwrap().1.to_string(),
        path,
    };
    runtime.load(app, &file).await.unwrap()
}

/// Runs `migration` for real (in a transaction unless it is non-transactional), commits,
/// and gives the statements it executed.
async fn run_live(
    runtime: &Runtime,
    project: &TestProject,
    migration: &LoadedMigration,
    direction: Direction,
) -> Vec<String> {
    let mut conn = Connection::open(&project.database_url(), Access::ReadWrite).await.unwrap();
    if migration.transactional {
        conn.begin().await.unwrap();
    }
    let context = Context {
        app_name: migration.app.clone(),
        migration_id: migration.id.to_string(),
        dialect: conn.dialect(),
        preview: false,
    };
    let handle = DatabaseHandle::Live { conn, in_transaction: migration.transactional };
    let code = runtime.ready(runtime.prepare(migration)).await.unwrap();
    let outcome = runtime.call(migration, &code, direction, context, Capture::new(handle)).await;
    assert_eq!(outcome.result, Ok(()), "{} {} {}", migration.app, migration.id, direction.name());
    let executed = outcome.capture.statements().to_vec();
    let mut conn = outcome.capture.into_connection().unwrap();
    if migration.transactional {
        conn.commit().await.unwrap();
    }
    conn.close().await;
    executed
}

/// What a preview prints for `statements` of `migration` (the README's format).
fn script(migration: &LoadedMigration, direction: Direction, statements: &[String]) -> String {
    let mut script = format!(
        "-- {} {} {}: {}\n",
        migration.app,
        migration.id,
        direction.name(),
        migration.description
    );
    for statement in statements {
        script.push_str(statement.trim_end_matches(';'));
        script.push_str(";\n");
    }
    script
}

#[tokio::test(flavor = "current_thread")]
async fn a_live_run_executes_exactly_the_sql_its_preview_printed() {
    let project = TestProject::sample();
    let runtime = Runtime::new(Limits::default()).unwrap();
    let apps = crate::support::SAMPLE_APPS.map(|app| (app, sample_ids(app)));
    let mut compared = 0;

    for (app, ids) in &apps {
        for id in ids {
            let printed = preview_twice(&project, &["forwards", app, id, "--preview"]);
            let migration = load(&runtime, &project, app, id).await;
            let executed = run_live(&runtime, &project, &migration, Direction::Forwards).await;
            assert_eq!(printed, script(&migration, Direction::Forwards, &executed));
            if migration.description.contains("slugs") {
                assert!(printed.contains("SET slug = 'hello-world-2' WHERE id = 2;"), "{printed}");
            }
            compared += 1;
            project.wasmig().args(["forwards", app, id, "--fake", "-y"]).assert().success();
            if migration.description.contains("posts table") {
                // Rows for the data migration that derives slugs from titles to read, so
                // that its SQL depends on the database.
                project.execute("INSERT INTO users (email) VALUES ('ada@example.com')");
                project.execute(
                    "INSERT INTO posts (author_id, title, body) \
                     SELECT id, 'Hello, World!', 'first' FROM users UNION ALL \
                     SELECT id, 'hello world', 'second' FROM users UNION ALL \
                     SELECT id, 'Ünïcode & more', 'third' FROM users",
                );
            }
        }
    }
    let slugs = project.query("SELECT slug FROM posts ORDER BY id");
    assert_eq!(slugs, [["hello-world"], ["hello-world-2"], ["n-code-more"]]);

    for (app, ids) in apps.iter().rev() {
        for id in ids.iter().rev() {
            let printed = preview_twice(&project, &["backwards", app, "1", "--preview"]);
            let migration = load(&runtime, &project, app, id).await;
            let executed = run_live(&runtime, &project, &migration, Direction::Backwards).await;
            assert_eq!(printed, script(&migration, Direction::Backwards, &executed));
            compared += 1;
            project.execute(&format!(
                "DELETE FROM wasmig_migrations WHERE app_name = '{app}' AND migration_id = '{id}'"
            ));
        }
    }
    assert_eq!(compared, 2 * crate::support::sample_total());
    assert_eq!(project.tables(), ["wasmig_migrations"], "every migration was reversed");
}
