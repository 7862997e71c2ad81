// The body of the scripted hostile migrations: `forwards` reads its steps from the table
// `hostile_script (step, op, body)` that the test wrote, and plays them, so one component
// tries every spelling of an attack on every backend.
//
// op `execute` / `query`: send `sql`, failing the migration with the database's error;
// `try` / `try_query`: send it, log the error and go on (a migration ignoring a refusal);
// `fail`: return `sql` as the migration's error; `error_mib`: return an error message of
// that many MiB. `backwards` does nothing.

use wasmig_guest::{Db, Error, Migration, Result};

struct Script;

impl Migration for Script {
    fn forwards(db: &Db) -> Result<()> {
        let steps = db.query("SELECT op, body FROM hostile_script ORDER BY step", &[])?;
        for row in &steps {
            let op: String = row.get(0)?;
            let sql: String = row.get(1)?;
            match op.as_str() {
                "execute" => drop(db.execute(&sql, &[])?),
                "query" => drop(db.query(&sql, &[])?),
                "try" => {
                    if let Err(e) = db.execute(&sql, &[]) {
                        eprintln!("refused: {e}");
                    }
                }
                "try_query" => {
                    if let Err(e) = db.query(&sql, &[]) {
                        eprintln!("refused: {e}");
                    }
                }
                "fail" => return Err(Error::from(sql)),
                "error_mib" => {
                    let mib: usize = sql.parse().map_err(|_| Error::from("bad size"))?;
                    return Err(Error::from("x".repeat(mib << 20)));
                }
                other => return Err(Error::from(format!("unknown op {other}"))),
            }
        }
        Ok(())
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}
