//! Scratch databases for `wasmig verify`: somewhere to apply and reverse every migration
//! without touching the target.

use std::path::Path;

use super::{Access, Connection, Dialect, redact};
use crate::error::{Error, Result};

/// A scratch database of the target's backend; [`Scratch::remove`] drops it.
#[derive(Debug)]
pub struct Scratch {
    /// Where it is.
    pub url: String,
    /// The server database to drop at the end: the URL to connect with and its name.
    created: Option<(String, String)>,
}

impl Scratch {
    /// A new, empty database beside `target`: for SQLite a file in `dir`, for PostgreSQL
    /// and MySQL a database created on the target's server (its name starts with
    /// `wasmig_verify_`), which needs the right to create one.
    pub async fn create(target: &str, dir: &Path) -> Result<Self> {
        let dialect = Dialect::from_url(target)?;
        if dialect == Dialect::Sqlite {
            let url = format!("sqlite://{}", dir.join("verify.db").display());
            return Ok(Scratch { url, created: None });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("wasmig_verify_{}_{nanos}", std::process::id());
        let quoted = quote(dialect, &name);
        let mut conn = Connection::open(target, Access::ReadWrite).await?;
        let created = conn.execute(&format!("CREATE DATABASE {quoted}"), &[]).await;
        conn.close().await;
        created.map_err(|e| {
            Error::database(
                format!(
                    "cannot create a scratch database on {} (or pass --scratch-url)",
                    redact(target)
                ),
                e,
            )
        })?;
        let url = with_database(target, &name);
        Ok(Scratch { url, created: Some((target.to_string(), name)) })
    }

    /// A database the user named (`--scratch-url`): used as it is, never dropped.
    pub fn given(url: String) -> Self {
        Scratch { url, created: None }
    }

    /// Drops the database if it was created here.
    pub async fn remove(self) -> Result<()> {
        let Some((target, name)) = self.created else { return Ok(()) };
        let dialect = Dialect::from_url(&target)?;
        let mut conn = Connection::open(&target, Access::ReadWrite).await?;
        let dropped =
            conn.execute(&format!("DROP DATABASE IF EXISTS {}", quote(dialect, &name)), &[]).await;
        conn.close().await;
        dropped
            .map(drop)
            .map_err(|e| Error::database(format!("cannot drop scratch database {name}"), e))
    }
}

fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{name}`"),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{name}\""),
    }
}

/// `url` with its database (the path after the host) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split_once('/').map_or(before_query, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/test?sslmode=disable", "s"),
            "postgres://u:p@h:5432/s?sslmode=disable"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test", "s"),
            "mysql://root@127.0.0.1:3306/s"
        );
        assert_eq!(with_database("mysql://root@h", "s"), "mysql://root@h/s");
    }
}
