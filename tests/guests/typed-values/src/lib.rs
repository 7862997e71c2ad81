//! Test guest: writes one parameter of every value kind and reads the row back, failing
//! with the name of any column that did not round-trip.

use std::fmt::Debug;

use wasmig_guest::{Db, Dialect, FromValue, Migration, Result, Row, Value};

const INTEGER: i64 = -9_007_199_254_740_993; // not representable as an f64
const REAL: f64 = -1234.5678;
const TEXT: &str = "héllo, 'wasm' ✓";
const BLOB: &[u8] = &[0, 1, 2, 254, 255];

struct TypedValues;

impl Migration for TypedValues {
    fn forwards(db: &Db) -> Result<()> {
        let (real, blob) = match db.dialect() {
            Dialect::Sqlite => ("REAL", "BLOB"),
            Dialect::Postgres => ("DOUBLE PRECISION", "BYTEA"),
            Dialect::Mysql => ("DOUBLE", "BLOB"),
        };
        db.execute(
            &format!(
                "CREATE TABLE typed_values (v_null TEXT, v_integer BIGINT, v_real {real}, \
                 v_text TEXT, v_blob {blob}, v_boolean BOOLEAN)"
            ),
            &[],
        )?;
        let placeholders: Vec<String> = (1..=6).map(|n| db.placeholder(n)).collect();
        db.execute(
            &format!("INSERT INTO typed_values VALUES ({})", placeholders.join(", ")),
            &[
                Value::Null,
                Value::Integer(INTEGER),
                Value::Real(REAL),
                Value::Text(TEXT.into()),
                Value::Blob(BLOB.to_vec()),
                Value::Boolean(true),
            ],
        )?;
        if db.is_preview() {
            // The table was only recorded, not created: there is nothing to read back.
            return Ok(());
        }

        let rows = db.query(
            "SELECT v_null, v_integer, v_real, v_text, v_blob, v_boolean FROM typed_values",
            &[],
        )?;
        let [row] = rows.iter().as_slice() else {
            return Err(format!("expected 1 row, found {}", rows.len()).into());
        };
        if !matches!(row.value(0), Some(Value::Null)) {
            return Err(format!("v_null: expected NULL, found {:?}", row.value(0)).into());
        }
        expect(row, "v_integer", INTEGER)?;
        expect(row, "v_real", REAL)?;
        expect(row, "v_text", TEXT.to_owned())?;
        expect(row, "v_blob", BLOB.to_vec())?;
        expect(row, "v_boolean", true)?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        db.execute("DROP TABLE typed_values", &[])?;
        Ok(())
    }
}

/// Fails unless column `name` of `row` reads back as `expected`.
fn expect<T: FromValue + PartialEq + Debug>(row: &Row, name: &str, expected: T) -> Result<()> {
    let found: T = row.get_by_name(name)?;
    if found != expected {
        return Err(format!("{name}: expected {expected:?}, found {found:?}").into());
    }
    Ok(())
}

wasmig_guest::export_migration!(TypedValues, description = "Round-trip every value kind");
