//! The library API, used the way an embedding application would.

use wasmig::{
    BackwardsMigrationManager, CheckMigrationManager, ForwardsMigrationManager, MigrationStatus,
    Project, run_backwards,
};

use crate::support::{TestProject, sample_ids};

#[tokio::test(flavor = "current_thread")]
async fn managers_apply_check_and_reverse() {
    let test = TestProject::sample();
    let project = Project::load(&test.path().join("wasmig.toml"), None).unwrap();
    let (auth, blog) = (sample_ids("auth"), sample_ids("blog"));

    let result = ForwardsMigrationManager::new("all").run(&project).await;
    assert!(result.success, "{}", result.message);
    assert_eq!(result.message, format!("applied {} migration(s)", auth.len() + blog.len()));

    let statuses =
        CheckMigrationManager::new("auth").get_migration_statuses(&project).await.unwrap();
    assert_eq!(statuses.len(), auth.len());
    assert!(statuses.iter().all(|s: &MigrationStatus| s.has_ran && s.app_name == "auth"));
    assert_eq!(statuses[0].migration_id, auth[0]);

    let mut manager = BackwardsMigrationManager::new("blog");
    manager.migration_id = Some("all".into());
    manager.auto_agree = true;
    let result = manager.run(&project).await;
    assert!(result.success, "{}", result.message);
    assert_eq!(result.message, format!("reversed {} migration(s)", blog.len()));

    let result = run_backwards(&project, "blog", Some("20991231000000"), true, false, false).await;
    assert!(!result.success);
    assert!(result.message.contains("has not been applied"), "{}", result.message);

    let statuses =
        CheckMigrationManager::new("all").get_migration_statuses(&project).await.unwrap();
    assert_eq!(statuses.iter().filter(|s| s.has_ran).count(), auth.len());
}
