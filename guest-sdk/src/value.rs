//! SQL values: statement parameters and the cells of query results.

use std::fmt;

use crate::Error;

/// A typed SQL value, used both for statement parameters and for query results.
///
/// It is the WIT `value` variant of the database interface. Build parameters with
/// [`From`] (or [`params!`](crate::params)) and read results with
/// [`Row::get`](crate::Row::get), which converts through [`FromValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A double-precision float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
    /// A boolean. SQLite and MySQL store it as an integer 0 or 1, so a boolean written
    /// there usually reads back as [`Value::Integer`].
    Boolean(bool),
}

impl Value {
    /// The name of this value's kind, as used in conversion errors: `null`, `integer`,
    /// `real`, `text`, `blob` or `boolean`.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
            Value::Boolean(_) => "boolean",
        }
    }

    /// True for SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Shows the value the way a person would write it in SQL (blobs in hex).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r:?}"),
            Value::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Blob(bytes) => {
                f.write_str("X'")?;
                for byte in bytes {
                    write!(f, "{byte:02X}")?;
                }
                f.write_str("'")
            }
            Value::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
        }
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Integer(value)
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Self {
        Value::Integer(value.into())
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Integer(value.into())
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Real(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Boolean(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(value.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Self {
        Value::Blob(value)
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Self {
        Value::Blob(value.to_vec())
    }
}

/// `None` becomes SQL `NULL`.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// Conversion from a [`Value`] read from the database into a Rust type.
///
/// Used by [`Row::get`](crate::Row::get) and [`Row::get_by_name`](crate::Row::get_by_name).
/// Conversions are strict where the databases agree and lenient where they differ:
/// `bool` also accepts the integers 0 and 1, and `f64` also accepts integers.
pub trait FromValue: Sized {
    /// Converts `value`, or explains why it cannot.
    fn from_value(value: &Value) -> Result<Self, Error>;
}

fn mismatch(expected: &str, found: &Value) -> Error {
    Error::new(format!("expected {expected}, found {}", found.kind()))
}

/// Accepts an integer, or a boolean as 0 or 1.
impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Integer(i) => Ok(*i),
            Value::Boolean(b) => Ok(i64::from(*b)),
            other => Err(mismatch("integer", other)),
        }
    }
}

/// Accepts an integer within the range of `i32`.
impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<Self, Error> {
        let wide = i64::from_value(value)?;
        i32::try_from(wide).map_err(|_| Error::new(format!("integer {wide} does not fit in i32")))
    }
}

/// Accepts a real, or an integer converted to the nearest float.
impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Real(r) => Ok(*r),
            #[allow(clippy::cast_precision_loss)] // the nearest float is what SQL gives too
            Value::Integer(i) => Ok(*i as f64),
            other => Err(mismatch("real", other)),
        }
    }
}

/// Accepts a boolean, or the integers 0 and 1 that SQLite and MySQL store booleans as.
impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            Value::Integer(i) => Err(Error::new(format!(
                "expected boolean, found integer {i} (only 0 and 1 are booleans)"
            ))),
            other => Err(mismatch("boolean", other)),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Blob(bytes) => Ok(bytes.clone()),
            other => Err(mismatch("blob", other)),
        }
    }
}

/// SQL `NULL` becomes `None`; anything else converts as `T`.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// The value itself, whatever its kind.
impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, Error> {
        Ok(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_rust_types() {
        assert_eq!(Value::from(7_i64), Value::Integer(7));
        assert_eq!(Value::from(-7_i32), Value::Integer(-7));
        assert_eq!(Value::from(u32::MAX), Value::Integer(4_294_967_295));
        assert_eq!(Value::from(1.5), Value::Real(1.5));
        assert_eq!(Value::from(true), Value::Boolean(true));
        assert_eq!(Value::from("a"), Value::Text("a".into()));
        assert_eq!(Value::from(String::from("b")), Value::Text("b".into()));
        assert_eq!(Value::from(&String::from("c")), Value::Text("c".into()));
        assert_eq!(Value::from(vec![1_u8, 2]), Value::Blob(vec![1, 2]));
        assert_eq!(Value::from(&[3_u8][..]), Value::Blob(vec![3]));
        assert_eq!(Value::from(Some(4_i64)), Value::Integer(4));
        assert_eq!(Value::from(None::<&str>), Value::Null);
    }

    #[test]
    fn params_macro() {
        let empty: &[Value] = crate::params![];
        assert!(empty.is_empty());
        let p: &[Value] = crate::params![1, "x", None::<i64>, false, 2.5, vec![0_u8],];
        assert_eq!(
            p,
            [
                Value::Integer(1),
                Value::Text("x".into()),
                Value::Null,
                Value::Boolean(false),
                Value::Real(2.5),
                Value::Blob(vec![0]),
            ]
        );
    }

    #[test]
    fn integers() {
        assert_eq!(i64::from_value(&Value::Integer(-3)), Ok(-3));
        assert_eq!(i64::from_value(&Value::Boolean(true)), Ok(1));
        assert_eq!(i32::from_value(&Value::Integer(12)), Ok(12));
        let too_big = i32::from_value(&Value::Integer(i64::MAX));
        assert!(too_big.is_err_and(|e| e.message().contains("does not fit in i32")));
        assert_eq!(
            i64::from_value(&Value::Text("1".into())),
            Err(Error::new("expected integer, found text"))
        );
    }

    #[test]
    fn reals() {
        assert_eq!(f64::from_value(&Value::Real(0.25)), Ok(0.25));
        assert_eq!(f64::from_value(&Value::Integer(2)), Ok(2.0));
        assert!(f64::from_value(&Value::Null).is_err());
    }

    #[test]
    fn booleans_accept_zero_and_one() {
        assert_eq!(bool::from_value(&Value::Boolean(false)), Ok(false));
        assert_eq!(bool::from_value(&Value::Integer(0)), Ok(false));
        assert_eq!(bool::from_value(&Value::Integer(1)), Ok(true));
        assert!(bool::from_value(&Value::Integer(2)).is_err());
        assert!(bool::from_value(&Value::Text("true".into())).is_err());
    }

    #[test]
    fn text_and_blobs() {
        assert_eq!(String::from_value(&Value::Text("hé".into())), Ok("hé".to_owned()));
        assert!(String::from_value(&Value::Blob(vec![104])).is_err());
        assert_eq!(Vec::<u8>::from_value(&Value::Blob(vec![0, 255])), Ok(vec![0, 255]));
        assert!(Vec::<u8>::from_value(&Value::Text("x".into())).is_err());
    }

    #[test]
    fn options_and_values() {
        assert_eq!(Option::<i64>::from_value(&Value::Null), Ok(None));
        assert_eq!(Option::<i64>::from_value(&Value::Integer(5)), Ok(Some(5)));
        assert!(Option::<i64>::from_value(&Value::Real(5.5)).is_err());
        assert!(i64::from_value(&Value::Null).is_err());
        assert_eq!(Value::from_value(&Value::Null), Ok(Value::Null));
    }

    #[test]
    fn display_as_sql_literals() {
        assert_eq!(Value::Null.to_string(), "NULL");
        assert_eq!(Value::Integer(-1).to_string(), "-1");
        assert_eq!(Value::Real(1.0).to_string(), "1.0");
        assert_eq!(Value::Text("it's".into()).to_string(), "'it''s'");
        assert_eq!(Value::Blob(vec![0xde, 0xad]).to_string(), "X'DEAD'");
        assert_eq!(Value::Boolean(true).to_string(), "TRUE");
        assert_eq!(Value::Text(String::new()).kind(), "text");
    }
}
