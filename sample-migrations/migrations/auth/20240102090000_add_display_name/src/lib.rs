//! Adds an optional `display_name` to users.

use wasmig_guest::{Db, Dialect, Migration, Result};

struct AddDisplayName;

impl Migration for AddDisplayName {
    fn forwards(db: &Db) -> Result<()> {
        // A later migration indexes the column, and MySQL can only index bounded text.
        let text = match db.dialect() {
            Dialect::Sqlite | Dialect::Postgres => "TEXT",
            Dialect::Mysql => "VARCHAR(255)",
        };
        db.execute(&format!("ALTER TABLE users ADD COLUMN display_name {text}"), &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("ALTER TABLE users DROP COLUMN display_name", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(AddDisplayName, description = "Add users.display_name");
