//! Creates `tags` and the `post_tags` table that links them to posts.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct CreateTags;

impl Migration for CreateTags {
    fn forwards(db: &Db) -> Result<()> {
        let (id, name, key) = match db.dialect() {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "INTEGER"),
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT", "BIGINT"),
            Dialect::Mysql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(255)", "BIGINT"),
        };
        db.execute(&format!("CREATE TABLE tags (id {id}, name {name} NOT NULL UNIQUE)"), &[])?;
        db.execute(
            &format!(
                "CREATE TABLE post_tags (
    post_id {key} NOT NULL,
    tag_id {key} NOT NULL,
    PRIMARY KEY (post_id, tag_id),
    FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
)"
            ),
            &[],
        )?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        // The link table first: it references `tags`.
        db.execute_batch(&["DROP TABLE post_tags", "DROP TABLE tags"])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(CreateTags, description = "Create tags and post_tags");
