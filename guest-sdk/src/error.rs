//! The errors a migration deals with.

use std::fmt;

/// The result type of migrations and of the SDK's fallible helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a migration failed: a message for the person running wasmig.
///
/// Returning it from [`Migration::forwards`](crate::Migration::forwards) or
/// [`Migration::backwards`](crate::Migration::backwards) rolls the migration back and
/// stops the run; the host reports the message together with the app and migration ID.
/// A [`DbError`] converts into it with `?`, as do `String` and `&str`:
///
/// ```
/// # use wasmig_guest::{Error, Result};
/// fn check_count(count: i64) -> Result<()> {
///     if count > 0 {
///         return Err(format!("{count} posts still use the old format").into());
///     }
///     Ok(())
/// }
/// # assert_eq!(check_count(2).unwrap_err().message(), "2 posts still use the old format");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Error { message: message.into() }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Keeps the database's message and its code.
impl From<DbError> for Error {
    fn from(error: DbError) -> Self {
        Error::new(error.to_string())
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

/// A statement the database refused.
///
/// [`Db::execute`](crate::Db::execute) and [`Db::query`](crate::Db::query) return it
/// as a value, so a migration may inspect it and carry on (inside a transaction on
/// PostgreSQL a failed statement still aborts the transaction) or return it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// The database's message.
    pub message: String,
    /// The database's error code (SQLSTATE or vendor code), when it gave one.
    pub code: Option<String>,
}

/// The message, followed by the code in parentheses when there is one.
impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_error_display_includes_code() {
        let with_code = DbError {
            message: "relation \"users\" does not exist".into(),
            code: Some("42P01".into()),
        };
        assert_eq!(with_code.to_string(), "relation \"users\" does not exist (code 42P01)");
        let without = DbError { message: "no such table: users".into(), code: None };
        assert_eq!(Error::from(without).message(), "no such table: users");
    }

    #[test]
    fn errors_from_strings() {
        assert_eq!(Error::from("a").to_string(), "a");
        assert_eq!(Error::from(String::from("b")), Error::new("b"));
    }
}
