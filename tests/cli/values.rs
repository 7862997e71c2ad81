//! Typed values through the database handle on the backend under test: one test per value
//! kind, bound as a parameter, stored, read back, and used to filter.

use wasmig::Value;
use wasmig::backend::{Access, Connection};

use crate::support::{Backend, TestProject, backend, block_on};

/// Stores `value` in a column of `column_type` and reads it back; returns what came back
/// and whether filtering on the value found the row.
fn round_trip(column_type: &str, value: Value) -> (Value, bool) {
    let project = TestProject::empty("");
    let url = project.database_url();
    let column_type = column_type.to_string();
    block_on(async move {
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        let (p1, p2) = if backend() == Backend::Postgres { ("$1", "$2") } else { ("?", "?") };
        conn.execute(&format!("CREATE TABLE v (k INTEGER, v {column_type})"), &[]).await.unwrap();
        let inserted = conn
            .execute(
                &format!("INSERT INTO v (k, v) VALUES ({p1}, {p2})"),
                &[Value::Integer(1), value.clone()],
            )
            .await
            .unwrap_or_else(|e| panic!("insert {value:?}: {}", e.message));
        assert_eq!(inserted, 1);
        let rows = conn.query("SELECT v FROM v", &[]).await.unwrap();
        assert_eq!(rows.columns, ["v"]);
        let found = conn
            .query(&format!("SELECT k FROM v WHERE v = {p1}"), &[value])
            .await
            .unwrap()
            .rows
            .len()
            == 1;
        conn.close().await;
        (rows.rows.into_iter().next().unwrap().remove(0), found)
    })
}

fn types() -> (&'static str, &'static str, &'static str) {
    match backend() {
        Backend::Sqlite => ("REAL", "BLOB", "BOOLEAN"),
        Backend::Postgres => ("DOUBLE PRECISION", "BYTEA", "BOOLEAN"),
        Backend::Mysql => ("DOUBLE", "BLOB", "BOOLEAN"),
    }
}

#[test]
fn null_round_trips() {
    let (back, found) = round_trip("TEXT", Value::Null);
    assert_eq!(back, Value::Null);
    assert!(!found, "NULL = NULL is not true in SQL");
    // Into a typed column too: PostgreSQL must infer the parameter's type.
    let (back, _) = round_trip(types().1, Value::Null);
    assert_eq!(back, Value::Null);
}

#[test]
fn integer_round_trips() {
    for n in [0, -9_007_199_254_740_993, i64::MAX, i64::MIN] {
        assert_eq!(round_trip("BIGINT", Value::Integer(n)), (Value::Integer(n), true));
    }
}

#[test]
fn real_round_trips() {
    for r in [0.0, -1234.5678, 1e300] {
        assert_eq!(round_trip(types().0, Value::Real(r)), (Value::Real(r), true));
    }
}

#[test]
fn text_round_trips() {
    let text = "héllo, 'wasm' \\ \"✓\" \u{1F980}";
    let column = if backend() == Backend::Mysql { "TEXT CHARACTER SET utf8mb4" } else { "TEXT" };
    assert_eq!(round_trip(column, Value::Text(text.into())), (Value::Text(text.into()), true));
}

#[test]
fn blob_round_trips() {
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(round_trip(types().1, Value::Blob(bytes.clone())), (Value::Blob(bytes), true));
}

#[test]
fn boolean_round_trips() {
    for b in [true, false] {
        let (back, found) = round_trip(types().2, Value::Boolean(b));
        // SQLite has no boolean storage class: it stores and returns 0 or 1.
        let expected =
            if backend() == Backend::Sqlite { Value::Integer(b.into()) } else { Value::Boolean(b) };
        assert_eq!((back, found), (expected, true));
    }
}
