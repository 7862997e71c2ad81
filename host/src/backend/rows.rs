//! A query's result read within the query limit (`[limits] query_mib`): the rows counted
//! as the driver streams them, so the host never holds more, and the cells of sqlx's rows
//! typed for the value decoders of the backends that go through it.

use sqlx::{Column, Row, TypeInfo, ValueRef};

use super::{Rows, SqlError, Value};

/// A query's result as WIT rows, collected as the driver streams them, up to a size.
pub(super) struct RowsUnder {
    rows: Rows,
    bytes: u64,
    max_bytes: u64,
}

/// What a cell costs the host beyond its text or blob: the value itself.
const CELL_BYTES: u64 = size_of::<Value>() as u64;

impl RowsUnder {
    pub(super) fn new(max_bytes: u64) -> Self {
        RowsUnder { rows: Rows { columns: Vec::new(), rows: Vec::new() }, bytes: 0, max_bytes }
    }

    /// Adds `row`, each cell converted by `value`, or refuses once the result is too big.
    pub(super) fn push<R: Row>(
        &mut self,
        row: &R,
        value: fn(&R, usize) -> Result<Value, SqlError>,
    ) -> Result<(), SqlError> {
        let cells = (0..row.len()).map(|i| value(row, i)).collect::<Result<Vec<_>, _>>()?;
        self.push_cells(|| row.columns().iter().map(|c| c.name().to_string()).collect(), cells)
    }

    /// Adds a row of `cells`, whose column names `columns` gives, or refuses once the
    /// result is too big.
    pub(super) fn push_cells(
        &mut self,
        columns: impl FnOnce() -> Vec<String>,
        cells: Vec<Value>,
    ) -> Result<(), SqlError> {
        if self.rows.rows.is_empty() {
            self.rows.columns = columns();
        }
        let size = cells
            .iter()
            .map(|cell| {
                CELL_BYTES
                    + match cell {
                        Value::Text(text) => text.len() as u64,
                        Value::Blob(blob) => blob.len() as u64,
                        _ => 0,
                    }
            })
            .sum::<u64>();
        self.bytes = self.bytes.saturating_add(size + CELL_BYTES);
        if self.bytes > self.max_bytes {
            return Err(SqlError::new(format!(
                "the query's result is larger than {} MiB ([limits] query_mib): select fewer \
                 rows or columns, or page through them",
                self.max_bytes >> 20
            )));
        }
        self.rows.rows.push(cells);
        Ok(())
    }

    pub(super) fn into_rows(self) -> Rows {
        self.rows
    }
}

/// The type name of a non-null cell, upper case, or `None` for NULL.
pub(super) fn cell_type<R: Row>(row: &R, index: usize) -> Result<Option<String>, SqlError>
where
    usize: sqlx::ColumnIndex<R>,
{
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(None);
    }
    Ok(Some(raw.type_info().name().to_ascii_uppercase()))
}

/// The error for a column type a migration cannot receive, with the cast that helps.
pub(super) fn unsupported<R: Row>(row: &R, index: usize, type_name: &str, cast: &str) -> SqlError {
    let column = row.columns().get(index).map(|c| c.name().to_string()).unwrap_or_default();
    SqlError::new(format!(
        "column `{column}` has type {type_name}, which a migration cannot receive; cast it in the query ({cast})"
    ))
}
