//! Test guest: statements whose parameters sit beside strings, quoted identifiers and
//! comments that hold placeholder characters of their own, written in the dialect of the
//! database, so that a preview shows where each parameter went.

use wasmig_guest::{Db, Dialect, Migration, Result, Value};

struct PreviewLiterals;

impl Migration for PreviewLiterals {
    fn forwards(db: &Db) -> Result<()> {
        let text = |s: &str| Value::Text(s.into());
        let statements = match db.dialect() {
            Dialect::Sqlite => [
                (r#"CREATE TABLE preview_literals (note TEXT, "n?" INTEGER)"#, vec![]),
                (
                    r#"INSERT INTO preview_literals (note, "n?") VALUES ('it''s ?', ?) -- why?"#,
                    vec![Value::Integer(7)],
                ),
                (
                    "INSERT INTO preview_literals (note, [n?]) VALUES (/* ? */ ?, ?2)",
                    vec![text("x -- ?"), Value::Integer(8)],
                ),
            ],
            Dialect::Postgres => [
                (r#"CREATE TABLE preview_literals (note TEXT, "n$1" INTEGER)"#, vec![]),
                (
                    r#"INSERT INTO preview_literals (note, "n$1") VALUES (E'it\'s $9', $1)"#,
                    vec![Value::Integer(7)],
                ),
                (
                    r#"INSERT INTO preview_literals (note, "n$1") VALUES ($tag$ $1 $tag$ || /* a /* nested $1 */ $1 */ $2, $1) -- $1"#,
                    vec![Value::Integer(8), text("?")],
                ),
            ],
            Dialect::Mysql => [
                ("CREATE TABLE preview_literals (note TEXT, `n?` INTEGER)", vec![]),
                (
                    r"INSERT INTO preview_literals (note, `n?`) VALUES ('it\'s ?', ?) # why?",
                    vec![Value::Integer(7)],
                ),
                (
                    r#"INSERT INTO preview_literals (note, `n?`) VALUES (CONCAT('a\\', /* ? */ ?, "\"?"), ?) -- ?"#,
                    vec![text(r"b'c\"), Value::Integer(8)],
                ),
            ],
        };
        for (sql, params) in statements {
            db.execute(sql, &params)?;
        }
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE preview_literals", &[])?;
        Ok(())
    }
}

wasmig_guest::export_migration!(
    PreviewLiterals,
    description = "Parameters beside strings, identifiers and comments"
);
