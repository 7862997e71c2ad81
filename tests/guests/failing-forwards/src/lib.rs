//! Test guest: a `forwards` that creates a table and inserts a row, then returns an
//! error. The host must roll both statements back.

use wasmig_guest::{Db, Migration, Result, params};

struct FailingForwards;

impl Migration for FailingForwards {
    fn forwards(db: &Db) -> Result<()> {
        db.execute("CREATE TABLE failing_forwards (id INTEGER PRIMARY KEY, note TEXT)", &[])?;
        let insert = format!(
            "INSERT INTO failing_forwards (id, note) VALUES ({}, {})",
            db.placeholder(1),
            db.placeholder(2)
        );
        db.execute(&insert, params![1, "written before the failure"])?;
        Err("deliberate failure".into())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE failing_forwards", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    FailingForwards,
    description = "Create a table and a row, then fail"
);
