//! Text helpers shared by the readers: slugs and descriptions from names, lines with their
//! endings, and the few line patterns the conversion looks for.

/// What wasmig describes a SQL migration as when its file says nothing.
pub(crate) use crate::source::sql::default_description;

/// The slug of a wasmig file name for `name`: lowercase ASCII letters, digits and single
/// underscores; `migration` when nothing of the name is left.
pub(crate) fn slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() { "migration".to_string() } else { slug.to_string() }
}

/// A one-line description from a name: underscores become spaces, as sqlx and Flyway make
/// theirs.
pub(crate) fn description(name: &str) -> String {
    let words: String =
        name.chars().map(|c| if c == '_' || c.is_control() { ' ' } else { c }).collect();
    words.trim().to_string()
}

/// A line without its ending (`\n` or `\r\n`).
pub(crate) fn bare(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Whether a line holds nothing or only a `--` comment.
pub(crate) fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with("--")
}

/// The 1-based number of the first line that wasmig would read as one of its directives.
pub(crate) fn wasmig_directive_line(text: &str) -> Option<usize> {
    text.lines().position(is_wasmig_directive).map(|index| index + 1)
}

fn is_wasmig_directive(line: &str) -> bool {
    line.trim_start()
        .strip_prefix("--")
        .is_some_and(|rest| rest.trim_start().to_ascii_lowercase().starts_with("wasmig:"))
}

/// `text` without an opening `BEGIN;` (or `START TRANSACTION;`) line and its closing
/// `COMMIT;` line, when both are there. wasmig runs each migration in a transaction of its
/// own and refuses transaction control from a migration, so such a wrapper has to go.
pub(crate) fn unwrap_transaction(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let code = |line: &&str| !is_blank_or_comment(line);
    let first = lines.iter().position(code)?;
    let last = lines.iter().rposition(code)?;
    if first == last || !is_begin(lines[first]) || !is_commit(lines[last]) {
        return None;
    }
    let mut unwrapped = String::with_capacity(text.len());
    for (index, line) in lines.iter().enumerate() {
        if index != first && index != last {
            unwrapped.push_str(line);
        }
    }
    Some(unwrapped)
}

fn statement_words(line: &str) -> Option<String> {
    let statement = line.trim().strip_suffix(';')?;
    Some(statement.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase())
}

fn is_begin(line: &str) -> bool {
    statement_words(line).is_some_and(|words| {
        matches!(words.as_str(), "BEGIN" | "BEGIN TRANSACTION" | "BEGIN WORK" | "START TRANSACTION")
    })
}

fn is_commit(line: &str) -> bool {
    statement_words(line).is_some_and(|words| {
        matches!(words.as_str(), "COMMIT" | "COMMIT TRANSACTION" | "COMMIT WORK")
    })
}

/// A note for SQL that PostgreSQL runs only outside a transaction, when the migration was
/// not marked to run without one: some tools run such statements outside a transaction
/// anyway, wasmig does not unless told.
pub(crate) fn concurrently_note(sql: &[&str]) -> Option<String> {
    sql.iter().any(|sql| sql.to_ascii_uppercase().contains("CONCURRENTLY")).then(|| {
        "it mentions CONCURRENTLY, which PostgreSQL refuses inside a transaction: add \
         `-- wasmig:no-transaction` to its .up.sql file if it must run without one"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words_joined_by_single_underscores() {
        assert_eq!(slug("create_users"), "create_users");
        assert_eq!(slug("Create users table"), "create_users_table");
        assert_eq!(slug("add--Ünïcode  column!"), "add_n_code_column");
        assert_eq!(slug("__x__"), "x");
        assert_eq!(slug(""), "migration");
        assert_eq!(slug("*+*"), "migration");
    }

    #[test]
    fn descriptions_turn_underscores_into_spaces() {
        assert_eq!(description("Create_users_table"), "Create users table");
        assert_eq!(description(" add\tcolumn_"), "add column");
        assert_eq!(default_description("create_users"), "create users");
    }

    #[test]
    fn finds_lines_wasmig_would_read_as_directives() {
        assert_eq!(wasmig_directive_line("SELECT 1;\n  --  wasmig:description x\n"), Some(2));
        assert_eq!(wasmig_directive_line("-- WASMIG:begin"), Some(1));
        assert_eq!(wasmig_directive_line("SELECT '-- wasmig:x';\n-- wasmig is great\n"), None);
    }

    #[test]
    fn unwraps_a_transaction_around_the_whole_file_only() {
        let wrapped = "-- why\nBEGIN;\n\nCREATE TABLE t (id int);\ncommit ;\n";
        assert_eq!(
            unwrap_transaction(wrapped).as_deref(),
            Some("-- why\n\nCREATE TABLE t (id int);\n")
        );
        let start = "START  TRANSACTION;\r\nSELECT 1;\r\nCOMMIT WORK;\r\n";
        assert_eq!(unwrap_transaction(start).as_deref(), Some("SELECT 1;\r\n"));
        assert_eq!(unwrap_transaction("BEGIN;\nSELECT 1;\n"), None);
        assert_eq!(unwrap_transaction("SELECT 1;\nCOMMIT;\n"), None);
        assert_eq!(unwrap_transaction("BEGIN;\n"), None);
        let body = "DO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;\n";
        assert_eq!(unwrap_transaction(body), None);
    }

    #[test]
    fn notes_concurrently() {
        assert!(concurrently_note(&["create index concurrently i on t (a);"]).is_some());
        assert!(concurrently_note(&["CREATE INDEX i ON t (a);"]).is_none());
    }
}
