//! Creates the `users` table: one row per account, keyed by a unique email.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct CreateUsers;

impl Migration for CreateUsers {
    fn forwards(db: &Db) -> Result<()> {
        // MySQL can only index text of a bounded length.
        let (id, email) = match db.dialect() {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT"),
            Dialect::Mysql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(255)"),
        };
        db.execute(
            &format!(
                "CREATE TABLE users (
    id {id},
    email {email} NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"
            ),
            &[],
        )?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE users", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(CreateUsers, description = "Create the users table");
