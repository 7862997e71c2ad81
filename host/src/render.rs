//! Rendering a statement and its parameters as one SQL text, for previews and logs: each
//! placeholder is replaced by its parameter as a literal of the dialect, so a preview is a
//! runnable script.

use std::fmt::Write as _;

use crate::backend::{BlobLiteral, Placeholders, Syntax, Value};

/// `sql` with its placeholders (`?`, `?NNN`, `$NNN`) replaced by `params` as literals.
/// Placeholders inside string literals, quoted identifiers and comments are left alone, as
/// are placeholders without a parameter.
pub fn statement(syntax: &Syntax, sql: &str, params: &[Value]) -> String {
    if params.is_empty() {
        return sql.trim().to_string();
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16 * params.len());
    let mut next_positional = 0;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => i = skip_quoted(bytes, i, quote),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'$' if syntax.dollar_quotes && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = skip_dollar_quoted(sql, i);
            }
            sigil @ (b'?' | b'$') => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                let explicit = sql[i + 1..i + 1 + digits].parse::<usize>().ok();
                let index = match (sigil, explicit) {
                    (_, Some(n)) => n.checked_sub(1),
                    (b'?', None) if syntax.placeholders == Placeholders::Question => {
                        next_positional += 1;
                        Some(next_positional - 1)
                    }
                    _ => None,
                };
                let end = i + 1 + digits;
                if let Some(value) = index.and_then(|n| params.get(n)) {
                    out.push_str(&sql[copied..i]);
                    literal(&mut out, syntax, value);
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out.trim().to_string()
}

fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Skips a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`) starting at `start`.
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let tag_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    if rest.as_bytes().get(tag_len) != Some(&b'$') {
        return start + 1;
    }
    let delimiter = &sql[start..start + tag_len + 2];
    let body = start + delimiter.len();
    sql[body..].find(delimiter).map_or(sql.len(), |n| body + n + delimiter.len())
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

    use crate::backend::{Dialect, syntax_of};

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
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
            statement(&syntax_of(Dialect::Sqlite), sql, &params),
            "INSERT INTO t (a, b, c, d, e, f) VALUES (-3, 2.5, 'it''s', NULL, X'dead', FALSE)"
        );
    }

    #[test]
    fn numbered_placeholders_for_postgres() {
        let sql = "UPDATE t SET a = $2, b = $1 WHERE c = $2";
        let got = statement(&syntax_of(Dialect::Postgres), sql, &[text("x"), Value::Blob(vec![1])]);
        assert_eq!(got, "UPDATE t SET a = '\\x01'::bytea, b = 'x' WHERE c = '\\x01'::bytea");
    }

    #[test]
    fn placeholders_in_literals_identifiers_and_comments_are_kept() {
        let sql = "SELECT '?', \"?\", `?` -- ?\n, ? /* ? */";
        assert_eq!(
            statement(&syntax_of(Dialect::Mysql), sql, &[Value::Integer(1)]),
            "SELECT '?', \"?\", `?` -- ?\n, 1 /* ? */"
        );
        let sql = "SELECT $$ $1 $$, $tag$ ? $tag$, $1, data ? 'key'";
        assert_eq!(
            statement(&syntax_of(Dialect::Postgres), sql, &[Value::Integer(7)]),
            "SELECT $$ $1 $$, $tag$ ? $tag$, 7, data ? 'key'"
        );
    }

    #[test]
    fn mysql_escapes_backslashes() {
        assert_eq!(statement(&syntax_of(Dialect::Mysql), "?", &[text("a\\b")]), "'a\\\\b'");
        assert_eq!(statement(&syntax_of(Dialect::Sqlite), "?", &[text("a\\b")]), "'a\\b'");
    }

    #[test]
    fn missing_parameters_leave_the_placeholder() {
        assert_eq!(
            statement(&syntax_of(Dialect::Sqlite), "VALUES (?, ?)", &[Value::Integer(1)]),
            "VALUES (1, ?)"
        );
    }

    #[test]
    fn statements_without_parameters_are_trimmed_only() {
        assert_eq!(
            statement(&syntax_of(Dialect::Sqlite), "  DROP TABLE t \n", &[]),
            "DROP TABLE t"
        );
    }
}
