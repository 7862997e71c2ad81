//! What the backends that go through sqlx (PostgreSQL, MySQL) share: parameters bound by
//! position, statements sent prepared or as text, and sqlx's errors as SQL errors.

use super::SqlError;

impl From<sqlx::Error> for SqlError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(e) => SqlError {
                message: e.message().to_string(),
                code: e.code().map(|code| code.into_owned()),
            },
            other => SqlError::new(other.to_string()),
        }
    }
}

/// A query of `sql` with `params` bound by position; `$null` is what a `Value::Null` binds
/// as.
macro_rules! bind {
    ($sql:expr, $params:expr, $null:expr) => {
        $params.iter().fold(sqlx::query(sqlx::AssertSqlSafe($sql.to_string())), |query, param| {
            match param.clone() {
                Value::Null => query.bind($null),
                Value::Integer(v) => query.bind(v),
                Value::Real(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Blob(v) => query.bind(v),
                Value::Boolean(v) => query.bind(v),
            }
        })
    };
}
pub(super) use bind;

/// The [`Backend::execute`](super::Backend::execute) and
/// [`Backend::query`](super::Backend::query) of a backend whose connection is the
/// sqlx connection `self.conn`: `$null` is what a NULL parameter binds as, `$value`
/// converts a cell of a result row.
macro_rules! sqlx_statements {
    ($null:expr, $value:path) => {
        fn execute<'a>(
            &'a mut self,
            sql: &'a str,
            params: &'a [Value],
        ) -> $crate::backend::BoxFuture<'a, Result<u64, SqlError>> {
            Box::pin(async move {
                let done = if params.is_empty() {
                    $crate::backend::via_sqlx::raw(sql).execute(&mut self.conn).await?
                } else {
                    $crate::backend::via_sqlx::bind!(sql, params, $null)
                        .execute(&mut self.conn)
                        .await?
                };
                Ok(done.rows_affected())
            })
        }

        fn query<'a>(
            &'a mut self,
            sql: &'a str,
            params: &'a [Value],
            max_bytes: u64,
        ) -> $crate::backend::BoxFuture<'a, Result<Rows, SqlError>> {
            Box::pin(async move {
                use futures::TryStreamExt as _;
                let mut rows = $crate::backend::rows::RowsUnder::new(max_bytes);
                let mut stream =
                    $crate::backend::via_sqlx::bind!(sql, params, $null).fetch(&mut self.conn);
                while let Some(row) = stream.try_next().await? {
                    rows.push(&row, $value)?;
                }
                Ok(rows.into_rows())
            })
        }
    };
}
pub(super) use sqlx_statements;

/// A statement sent as text, unprepared: several statements in one string run in turn.
pub(super) fn raw(sql: &str) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_errors_show_their_code() {
        let error = SqlError { message: "boom".into(), code: Some("42P01".into()) };
        assert_eq!(error.to_string(), "boom (code 42P01)");
        assert_eq!(SqlError::new("plain").to_string(), "plain");
    }
}
