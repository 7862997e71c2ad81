//! Creates the `posts` table; every post belongs to a user of the `auth` app.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct CreatePosts;

impl Migration for CreatePosts {
    fn forwards(db: &Db) -> Result<()> {
        // The author column has the type of `users.id`.
        let (id, author) = match db.dialect() {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
            Dialect::Mysql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "BIGINT"),
        };
        // A table-level FOREIGN KEY: MySQL ignores `REFERENCES` written on a column.
        db.execute(
            &format!(
                "CREATE TABLE posts (
    id {id},
    author_id {author} NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE CASCADE
)"
            ),
            &[],
        )?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE posts", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(CreatePosts, description = "Create the posts table");
