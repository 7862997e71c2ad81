//! The wasmig SQL files of one converted migration: their names, the directive lines that
//! open the `.up.sql` file, and the SQL that follows.

use std::path::Path;

use crate::id::MigrationId;

use super::found::Migration;
use super::report::{Mapping, PlannedFile};
use super::text;
use super::tool::Tool;

/// The `-- wasmig:origin` line that ties a migration to the tool's history row; `wasmig
/// adopt` maps history rows to migrations through it.
pub fn origin_line(tool: Tool, version: &str) -> String {
    format!("-- wasmig:origin {} {version}", tool.name())
}

/// The tool and version of an `-- wasmig:origin` line.
pub fn parse_origin_line(line: &str) -> Option<(Tool, &str)> {
    let rest = text::bare(line).trim().strip_prefix("-- wasmig:origin ")?;
    let (tool, version) = rest.trim().split_once(' ')?;
    let version = version.trim();
    (!version.is_empty()).then_some(())?;
    Some((Tool::from_name(tool)?, version))
}

/// The files and the mapping entry of `migration` under `id` in `app_dir`.
pub(crate) fn convert(
    tool: Tool,
    migration: Migration,
    id: MigrationId,
    app_dir: &Path,
) -> (Vec<PlannedFile>, Mapping) {
    let slug = text::slug(&migration.name);
    let description = match text::description(&migration.name) {
        words if words.is_empty() => text::default_description(&slug),
        words => words,
    };
    let mut header = String::new();
    if description != text::default_description(&slug) {
        header.push_str(&format!("-- wasmig:description {description}\n"));
    }
    if migration.no_transaction {
        header.push_str("-- wasmig:no-transaction\n");
    }
    header.push_str(&origin_line(tool, &migration.version.recorded));
    header.push('\n');

    let mut notes = migration.notes;
    if !migration.no_transaction {
        let sql: Vec<&str> =
            std::iter::once(migration.up.as_str()).chain(migration.down.as_deref()).collect();
        notes.extend(text::concurrently_note(&sql));
    }

    let stem = format!("{id}_{slug}");
    let mut files = vec![PlannedFile {
        path: app_dir.join(format!("{stem}.up.sql")),
        contents: header + &with_final_newline(migration.up),
    }];
    if let Some(down) = &migration.down {
        files.push(PlannedFile {
            path: app_dir.join(format!("{stem}.down.sql")),
            contents: with_final_newline(down.clone()),
        });
    }
    let mapping = Mapping {
        source: migration.source,
        version: migration.version.recorded,
        id,
        slug,
        description,
        reversible: migration.down.is_some(),
        transactional: !migration.no_transaction,
        notes,
    };
    (files, mapping)
}

/// Text files end with a line ending, so that a file's last line is a line of its own.
fn with_final_newline(mut sql: String) -> String {
    if !sql.is_empty() && !sql.ends_with('\n') {
        sql.push('\n');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_lines_read_back() {
        let line = origin_line(Tool::GolangMigrate, "42");
        assert_eq!(line, "-- wasmig:origin golang-migrate 42");
        assert_eq!(parse_origin_line(&line), Some((Tool::GolangMigrate, "42")));
        assert_eq!(
            parse_origin_line("-- wasmig:origin flyway 1.1\r\n"),
            Some((Tool::Flyway, "1.1"))
        );
        assert_eq!(parse_origin_line("-- wasmig:origin liquibase 1"), None);
        assert_eq!(parse_origin_line("-- wasmig:origin sqlx"), None);
    }
}
