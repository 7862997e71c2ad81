//! Query results.

use std::sync::Arc;

use crate::{Error, FromValue, Result, Value};

/// The result of [`Db::query`](crate::Db::query): column names and rows of values.
///
/// Iterate over it (by reference or by value) to get each [`Row`]:
///
/// ```
/// use wasmig_guest::{Rows, Value};
///
/// let rows = Rows::new(
///     vec!["id".into(), "title".into()],
///     vec![vec![Value::Integer(1), Value::Text("Hello".into())]],
/// );
/// for row in &rows {
///     let id: i64 = row.get(0)?;
///     let title: String = row.get_by_name("title")?;
///     assert_eq!((id, title.as_str()), (1, "Hello"));
/// }
/// # Ok::<(), wasmig_guest::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    columns: Arc<[String]>,
    rows: Vec<Row>,
}

impl Rows {
    /// Rows with the given column names; each row holds one value per column.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Self {
        let columns: Arc<[String]> = columns.into();
        let rows =
            rows.into_iter().map(|values| Row { columns: Arc::clone(&columns), values }).collect();
        Rows { columns, rows }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the query returned no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&Row> {
        self.rows.get(index)
    }

    /// The rows, in the order the database returned them.
    pub fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.rows.iter()
    }
}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = std::vec::IntoIter<Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

/// One row of [`Rows`]: a value per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The value of the column at `index` (from 0), converted to `T`.
    ///
    /// Fails when the row has no such column or the value does not convert; the
    /// message names the column.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self.values.get(index).ok_or_else(|| {
            Error::new(format!("no column {index}: the row has {} column(s)", self.values.len()))
        })?;
        T::from_value(value).map_err(|error| {
            let name = self.columns.get(index).map_or("?", String::as_str);
            Error::new(format!("column {index} ({name}): {error}"))
        })
    }

    /// The value of the column called `name`, converted to `T`.
    ///
    /// An exact match wins; otherwise the name is matched ignoring ASCII case, since
    /// databases differ in how they fold unquoted names.
    pub fn get_by_name<T: FromValue>(&self, name: &str) -> Result<T> {
        let index = self
            .columns
            .iter()
            .position(|column| column == name)
            .or_else(|| self.columns.iter().position(|column| column.eq_ignore_ascii_case(name)))
            .ok_or_else(|| {
                Error::new(format!("no column named {name:?}; the columns are {:?}", self.columns))
            })?;
        self.get(index)
    }

    /// The raw value of the column at `index`, if there is one.
    pub fn value(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// The raw values, one per column.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The number of values in the row.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True for a row without columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The raw values, taken out of the row.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Rows {
        Rows::new(
            vec!["id".into(), "Email".into(), "bio".into()],
            vec![
                vec![Value::Integer(1), Value::Text("a@example.com".into()), Value::Null],
                vec![
                    Value::Integer(2),
                    Value::Text("b@example.com".into()),
                    Value::Text("hi".into()),
                ],
            ],
        )
    }

    #[test]
    fn iterate_and_get() -> Result<()> {
        let rows = sample();
        assert_eq!(rows.len(), 2);
        assert!(!rows.is_empty());
        assert_eq!(rows.columns(), ["id", "Email", "bio"]);
        let mut ids = Vec::new();
        for row in &rows {
            ids.push(row.get::<i64>(0)?);
        }
        assert_eq!(ids, [1, 2]);
        let bios: Vec<Option<String>> =
            rows.into_iter().map(|row| row.get(2)).collect::<Result<_>>()?;
        assert_eq!(bios, [None, Some("hi".to_owned())]);
        Ok(())
    }

    #[test]
    fn get_by_name_prefers_exact_then_ignores_case() -> Result<()> {
        let rows = sample();
        let row = rows.get(1).ok_or("no row 1")?;
        assert_eq!(row.get_by_name::<String>("Email")?, "b@example.com");
        assert_eq!(row.get_by_name::<String>("email")?, "b@example.com");
        let missing = row.get_by_name::<i64>("name");
        assert!(missing.is_err_and(|e| e.message().contains("no column named \"name\"")));
        Ok(())
    }

    #[test]
    fn errors_name_the_column() {
        let rows = sample();
        let row = &rows.iter().as_slice()[0];
        let wrong_type = row.get::<i64>(1);
        assert_eq!(
            wrong_type.map_err(|e| e.to_string()),
            Err("column 1 (Email): expected integer, found text".to_owned())
        );
        let out_of_range = row.get::<i64>(3);
        assert!(out_of_range.is_err_and(|e| e.message().starts_with("no column 3")));
        assert_eq!(row.value(2), Some(&Value::Null));
        assert_eq!(row.len(), 3);
    }

    #[test]
    fn empty_result() {
        let rows = Rows::new(vec!["n".into()], Vec::new());
        assert!(rows.is_empty());
        assert!(rows.get(0).is_none());
    }
}
