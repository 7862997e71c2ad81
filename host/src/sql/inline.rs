//! A statement and its parameters as one SQL text, for previews and reports: each
//! placeholder is replaced by its parameter written as a literal of the dialect, so that a
//! preview is a script that runs what the migration would run.

use std::fmt::Write as _;

use super::lexer::{self, Kind};
use super::{BlobLiteral, Syntax};
use crate::bindings::wasmig::migration::types::Value;

/// `sql`, trimmed, with its placeholders (`?`, `?NNN`, `$NNN`) replaced by `params` as
/// literals. Only what the lexer reads as a placeholder is replaced: never text inside a
/// string, a quoted identifier or a comment. A placeholder without a parameter is left as
/// it is. A statement that ends in a line comment ends with the newline that closes the
/// comment, so that a `;` written after it ends the statement rather than the comment.
pub fn statement(syntax: &Syntax, sql: &str, params: &[Value]) -> String {
    let sql = sql.trim();
    let mut out = String::with_capacity(sql.len() + 16 * params.len());
    let mut next_positional = 0;
    let mut copied = 0;
    let mut last = None;
    for token in lexer::tokens(syntax, sql) {
        last = Some(token.kind);
        if token.kind != Kind::Placeholder {
            continue;
        }
        let text = token.text(sql);
        let explicit = text[1..].parse::<usize>().ok();
        let index = match explicit {
            Some(n) => n.checked_sub(1),
            None if text.starts_with('?') => {
                next_positional += 1;
                Some(next_positional - 1)
            }
            None => None,
        };
        if let Some(value) = index.and_then(|n| params.get(n)) {
            out.push_str(&sql[copied..token.start]);
            literal(&mut out, syntax, value);
            copied = token.end;
        }
    }
    out.push_str(&sql[copied..]);
    if last == Some(Kind::LineComment) {
        out.push('\n');
    }
    out
}

/// Writes `value` as a SQL literal in `syntax`.
pub fn literal(out: &mut String, syntax: &Syntax, value: &Value) {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Real(r) if r.is_finite() => {
            let _ = write!(out, "{r:?}");
        }
        Value::Real(r) => {
            let _ = write!(out, "'{r}'");
        }
        Value::Boolean(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Value::Text(text) => {
            out.push('\'');
            for c in text.chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' if syntax.backslash_escapes => out.push_str("\\\\"),
                    c => out.push(c),
                }
            }
            out.push('\'');
        }
        Value::Blob(bytes) if syntax.blob_literal == BlobLiteral::Bytea => {
            let _ = write!(out, "'\\x{}'::bytea", hex::encode(bytes));
        }
        Value::Blob(bytes) => {
            let _ = write!(out, "X'{}'", hex::encode(bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wasmig::migration::types::Dialect;
    use crate::sql::syntax_of;

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn inline(dialect: Dialect, sql: &str, params: &[Value]) -> String {
        statement(&syntax_of(dialect), sql, params)
    }

    #[test]
    fn positional_placeholders_become_literals() {
        let sql = "INSERT INTO t (a, b, c, d, e, f) VALUES (?, ?, ?, ?, ?, ?)";
        let params = [
            Value::Integer(-3),
            Value::Real(2.5),
            text("it's"),
            Value::Null,
            Value::Blob(vec![0xde, 0xad]),
            Value::Boolean(false),
        ];
        assert_eq!(
            inline(Dialect::Sqlite, sql, &params),
            "INSERT INTO t (a, b, c, d, e, f) VALUES (-3, 2.5, 'it''s', NULL, X'dead', FALSE)"
        );
    }

    #[test]
    fn numbered_placeholders_for_postgres() {
        let sql = "UPDATE t SET a = $2, b = $1 WHERE c = $2";
        let got = inline(Dialect::Postgres, sql, &[text("x"), Value::Blob(vec![1])]);
        assert_eq!(got, "UPDATE t SET a = '\\x01'::bytea, b = 'x' WHERE c = '\\x01'::bytea");
    }

    #[test]
    fn numbered_placeholders_beside_positional_ones() {
        let params = [Value::Integer(1), Value::Integer(2)];
        assert_eq!(
            inline(Dialect::Sqlite, "VALUES (?2, ?, $1, ?)", &params),
            "VALUES (2, 1, 1, 2)"
        );
        assert_eq!(inline(Dialect::Sqlite, "VALUES (?0)", &params), "VALUES (?0)");
    }

    #[test]
    fn placeholders_in_literals_identifiers_and_comments_are_kept() {
        let sql = "SELECT '?', \"?\", `?` -- ?\n, ? /* ? */";
        assert_eq!(
            inline(Dialect::Mysql, sql, &[Value::Integer(1)]),
            "SELECT '?', \"?\", `?` -- ?\n, 1 /* ? */"
        );
        let sql = "SELECT $$ $1 $$, $tag$ ? $tag$, $1, data ? 'key'";
        assert_eq!(
            inline(Dialect::Postgres, sql, &[Value::Integer(7)]),
            "SELECT $$ $1 $$, $tag$ ? $tag$, 7, data ? 'key'"
        );
        let sql = "SELECT [?], \"a?\"\"?\", '?''?', ? FROM t";
        assert_eq!(
            inline(Dialect::Sqlite, sql, &[Value::Integer(3)]),
            "SELECT [?], \"a?\"\"?\", '?''?', 3 FROM t"
        );
    }

    #[test]
    fn mysql_backslash_escapes_and_hash_comments_hide_placeholders() {
        let sql = r"INSERT INTO t (a, b) VALUES ('it\'s ?', ?) # why?";
        assert_eq!(
            inline(Dialect::Mysql, sql, &[Value::Integer(7)]),
            "INSERT INTO t (a, b) VALUES ('it\\'s ?', 7) # why?\n"
        );
        let sql = r#"VALUES ("it\"s ?", ?) -- ?"#;
        assert_eq!(
            inline(Dialect::Mysql, sql, &[Value::Integer(7)]),
            "VALUES (\"it\\\"s ?\", 7) -- ?\n"
        );
        assert_eq!(inline(Dialect::Mysql, "SELECT 1--?", &[Value::Integer(7)]), "SELECT 1--7");
        // Elsewhere a backslash is a character and `#` is not a comment.
        assert_eq!(
            inline(Dialect::Sqlite, r"VALUES ('a\', ?) -- ?", &[Value::Integer(7)]),
            "VALUES ('a\\', 7) -- ?\n"
        );
    }

    #[test]
    fn postgres_escape_strings_dollar_tags_and_nested_comments_hide_placeholders() {
        let sql = r"VALUES (E'it\'s $9', $1)";
        assert_eq!(
            inline(Dialect::Postgres, sql, &[Value::Integer(7)]),
            r"VALUES (E'it\'s $9', 7)"
        );
        let sql = "VALUES ($body$ $1 $body$, /* a /* $1 */ $1 */ $1, \"$1\", a$1)";
        assert_eq!(
            inline(Dialect::Postgres, sql, &[Value::Integer(7)]),
            "VALUES ($body$ $1 $body$, /* a /* $1 */ $1 */ 7, \"$1\", a$1)"
        );
        // `?` is an operator there, not a parameter.
        assert_eq!(
            inline(Dialect::Postgres, "SELECT ?1, $1", &[Value::Integer(7)]),
            "SELECT ?1, 7"
        );
    }

    #[test]
    fn mysql_executable_comments_hold_parameters() {
        let sql = "SELECT /*!50000 ? */ /* ? */ ?";
        assert_eq!(
            inline(Dialect::Mysql, sql, &[Value::Integer(1), Value::Integer(2)]),
            "SELECT /*!50000 1 */ /* ? */ 2"
        );
    }

    #[test]
    fn a_statement_ending_in_a_line_comment_ends_with_its_newline() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
            assert_eq!(inline(dialect, "SELECT 1 -- done\n  ", &[]), "SELECT 1 -- done\n");
            assert_eq!(inline(dialect, "SELECT 1 /* done */", &[]), "SELECT 1 /* done */");
            assert_eq!(inline(dialect, "-- a\nSELECT 1", &[]), "-- a\nSELECT 1");
        }
        assert_eq!(inline(Dialect::Mysql, "SELECT 1 # done", &[]), "SELECT 1 # done\n");
        assert_eq!(inline(Dialect::Sqlite, "SELECT 1 # done", &[]), "SELECT 1 # done");
    }

    #[test]
    fn unterminated_quotes_are_copied_as_they_are() {
        assert_eq!(
            inline(Dialect::Sqlite, "VALUES (?, 'open ?", &[Value::Integer(1), Value::Integer(2)]),
            "VALUES (1, 'open ?"
        );
    }

    #[test]
    fn mysql_escapes_backslashes() {
        assert_eq!(inline(Dialect::Mysql, "?", &[text("a\\b")]), "'a\\\\b'");
        assert_eq!(inline(Dialect::Sqlite, "?", &[text("a\\b")]), "'a\\b'");
    }

    #[test]
    fn missing_parameters_leave_the_placeholder() {
        assert_eq!(inline(Dialect::Sqlite, "VALUES (?, ?)", &[Value::Integer(1)]), "VALUES (1, ?)");
    }

    #[test]
    fn statements_without_parameters_are_trimmed_only() {
        assert_eq!(inline(Dialect::Sqlite, "  DROP TABLE t \n", &[]), "DROP TABLE t");
    }
}
