//! A SQL script cut into its statements, to be sent one by one.
//!
//! A statement ends at a `;` outside strings, quoted identifiers, comments and dollar
//! quotes, unless the `;` is inside the body of a routine being created (see `blocks.rs`;
//! a body in a dollar quote is one token already). Where the backend's client knows the
//! convention (MySQL), a `DELIMITER //` line makes `//` end statements instead of `;`,
//! until the next `DELIMITER` line, as the mysql client does.

use std::ops::Range;

use super::Syntax;
use super::blocks::Body;
use super::lexer::{self, Kind, Token};

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Its text, without the whitespace and comments around it, nor what ended it.
    pub text: &'a str,
    /// Where `text` is in the script, in bytes.
    pub span: Range<usize>,
}

/// Why a script cannot be cut into statements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// A quote or a block comment opens and never ends: the database would read the rest
    /// of the script as its text.
    #[error("the quote or comment at byte {at} never ends")]
    Unterminated { at: usize },
    /// A `DELIMITER` line that does not name exactly one delimiter.
    #[error("the DELIMITER line at byte {at} must name one delimiter, alone on its line")]
    Delimiter { at: usize },
}

/// The statements of `sql`, in order, without empty ones and ones that are only comments.
pub fn statements<'a>(syntax: &Syntax, sql: &'a str) -> Result<Vec<Statement<'a>>, SplitError> {
    let mut out = Vec::new();
    let mut pos = 0;
    // `None` while `;` ends statements.
    let mut delimiter: Option<&str> = None;
    while pos < sql.len() {
        if syntax.delimiter_command
            && let Some((new, after)) = delimiter_line(syntax, sql, pos)?
        {
            delimiter = (new != ";").then_some(new);
            pos = after;
            continue;
        }
        let (end, next) = match delimiter {
            None => at_semicolon(syntax, sql, pos)?,
            Some(delimiter) => at_delimiter(syntax, sql, pos, delimiter)?,
        };
        if let Some(span) = trimmed(syntax, sql, pos..end) {
            out.push(Statement { text: &sql[span.clone()], span });
        }
        pos = next;
    }
    Ok(out)
}

/// The tokens of `sql` from byte `from`, with spans in `sql`.
fn tokens_from<'a>(syntax: &Syntax, sql: &'a str, from: usize) -> impl Iterator<Item = Token> + 'a {
    lexer::tokens(syntax, &sql[from..]).map(move |token| Token {
        start: token.start + from,
        end: token.end + from,
        ..token
    })
}

/// `range` of `sql` without the whitespace and comments at either end, or `None` when
/// nothing else is in it.
fn trimmed(syntax: &Syntax, sql: &str, range: Range<usize>) -> Option<Range<usize>> {
    let base = range.start;
    let mut code = lexer::tokens(syntax, &sql[range]).filter(|token| !token.is_comment());
    let first = code.next()?;
    let last = code.last().unwrap_or(first);
    Some(base + first.start..base + last.end)
}

/// Where the statement that starts at `from` ends, at a `;` outside any body: the end of
/// its text and where the next statement starts.
fn at_semicolon(syntax: &Syntax, sql: &str, from: usize) -> Result<(usize, usize), SplitError> {
    let mut body = Body::default();
    for token in tokens_from(syntax, sql, from) {
        match token.kind {
            Kind::Unterminated => return Err(SplitError::Unterminated { at: token.start }),
            // An executable comment's marks are no SQL of their own.
            _ if token.is_comment() || token.kind == Kind::ExecutableMark => {}
            kind => {
                body.read(token, sql);
                if kind == Kind::Semicolon && !body.inside() {
                    return Ok((token.start, token.end));
                }
            }
        }
    }
    Ok((sql.len(), sql.len()))
}

/// Where the statement that starts at `from` ends, at `delimiter` outside strings, quoted
/// identifiers and comments.
fn at_delimiter(
    syntax: &Syntax,
    sql: &str,
    from: usize,
    delimiter: &str,
) -> Result<(usize, usize), SplitError> {
    let found = |text: &str, base: usize| {
        text.find(delimiter).map(|n| (base + n, base + n + delimiter.len()))
    };
    // Text before `unsearched` holds no delimiter, except perhaps the start of one that the
    // next token completes.
    let mut unsearched = from;
    for token in tokens_from(syntax, sql, from) {
        let opaque = token.is_comment()
            || matches!(
                token.kind,
                Kind::String | Kind::QuotedIdent | Kind::DollarQuoted | Kind::Unterminated
            );
        let end = if opaque { token.start } else { token.end };
        if let Some(bounds) = found(&sql[unsearched..end], unsearched) {
            return Ok(bounds);
        }
        if token.kind == Kind::Unterminated {
            return Err(SplitError::Unterminated { at: token.start });
        }
        unsearched = if opaque {
            token.end
        } else {
            let mut keep = end.saturating_sub(delimiter.len() - 1).max(unsearched);
            while !sql.is_char_boundary(keep) {
                keep -= 1;
            }
            keep
        };
    }
    Ok(found(&sql[unsearched..], unsearched).unwrap_or((sql.len(), sql.len())))
}

/// The delimiter a `DELIMITER` line starting the statement at `from` sets, and where the
/// text after its line starts; `None` when the statement is not a `DELIMITER` line.
fn delimiter_line<'a>(
    syntax: &Syntax,
    sql: &'a str,
    from: usize,
) -> Result<Option<(&'a str, usize)>, SplitError> {
    let first = tokens_from(syntax, sql, from).find(|token| !token.is_comment());
    let Some(word) = first.filter(|token| token.is_word(sql, "DELIMITER")) else {
        return Ok(None);
    };
    let line_end = sql[word.end..].find('\n').map_or(sql.len(), |n| word.end + n);
    let delimiter = sql[word.end..line_end].trim();
    if delimiter.is_empty() || delimiter.contains(char::is_whitespace) {
        return Err(SplitError::Delimiter { at: word.start });
    }
    Ok(Some((delimiter, line_end)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wasmig::migration::types::Dialect;
    use crate::sql::syntax_of;

    /// The statements of `sql` in `dialect`, as text, checking that each span is its text.
    fn split(dialect: Dialect, sql: &str) -> Vec<&str> {
        let statements = statements(&syntax_of(dialect), sql).unwrap();
        for statement in &statements {
            assert_eq!(statement.text, &sql[statement.span.clone()]);
        }
        statements.into_iter().map(|statement| statement.text).collect()
    }

    const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let sql = "CREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (';'); -- a;\n\
                   /* ; */ SELECT \"a;b\" /* ; */ FROM a;;\n  ;\n-- the end;\n";
        for dialect in ALL {
            assert_eq!(
                split(dialect, sql),
                [
                    "CREATE TABLE a (x INT)",
                    "INSERT INTO a VALUES (';')",
                    "SELECT \"a;b\" /* ; */ FROM a",
                ],
                "{dialect:?}"
            );
        }
        assert_eq!(
            statements(&syntax_of(Dialect::Sqlite), "SELECT 1;\nSELECT 2").unwrap(),
            [
                Statement { text: "SELECT 1", span: 0..8 },
                Statement { text: "SELECT 2", span: 10..18 },
            ]
        );
        assert_eq!(split(Dialect::Sqlite, "  -- only a comment\n"), Vec::<&str>::new());
        assert_eq!(split(Dialect::Sqlite, "SELECT 1 -- no ; at the end"), ["SELECT 1"]);
    }

    #[test]
    fn an_unterminated_quote_or_comment_is_an_error() {
        for dialect in ALL {
            let syntax = syntax_of(dialect);
            assert_eq!(
                statements(&syntax, "SELECT 1; SELECT 'open;"),
                Err(SplitError::Unterminated { at: 17 })
            );
            assert_eq!(
                statements(&syntax, "SELECT 1 /* open;"),
                Err(SplitError::Unterminated { at: 9 })
            );
        }
    }

    #[test]
    fn sqlite_triggers_keep_their_bodies() {
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN \
                       UPDATE b SET n = CASE WHEN new.x THEN 1 ELSE 2 END; \
                       INSERT INTO c VALUES (';'); END";
        let sql = format!("{trigger};\nBEGIN;\nSELECT [a;b] FROM a;\nCOMMIT;");
        assert_eq!(
            split(Dialect::Sqlite, &sql),
            [trigger, "BEGIN", "SELECT [a;b] FROM a", "COMMIT"]
        );
        // Elsewhere `#` starts no comment and `DELIMITER` is no command.
        assert_eq!(split(Dialect::Sqlite, "SELECT 1 # a; SELECT 2"), ["SELECT 1 # a", "SELECT 2"]);
        assert_eq!(
            split(Dialect::Sqlite, "DELIMITER //\nSELECT 1//"),
            ["DELIMITER //\nSELECT 1//"]
        );
    }

    #[test]
    fn postgres_bodies_in_dollar_quotes_and_begin_atomic_stay_whole() {
        let function = "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n  NEW.x := 1;\n  \
                        RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql";
        let block = "DO $$ BEGIN PERFORM 1; END $$";
        let atomic = "CREATE OR REPLACE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC \
                      SELECT 1; SELECT CASE WHEN true THEN 2 END; END";
        let sql = format!(
            "{function};\n{block};\n{atomic};\nSELECT E'a\\'; b';\n\
             /* a /* nested; */ still; */ SELECT 2;\nCREATE TABLE t (begin int, \"end\" int);\n\
             BEGIN; SELECT 3; COMMIT;"
        );
        assert_eq!(
            split(Dialect::Postgres, &sql),
            [
                function,
                block,
                atomic,
                "SELECT E'a\\'; b'",
                "SELECT 2",
                "CREATE TABLE t (begin int, \"end\" int)",
                "BEGIN",
                "SELECT 3",
                "COMMIT",
            ]
        );
    }

    #[test]
    fn mysql_routine_bodies_stay_whole_with_their_nested_blocks() {
        let procedure = "CREATE DEFINER = `root`@`%` PROCEDURE p(IN n INT)\nBEGIN\n  \
            DECLARE i INT DEFAULT 0;\n  l1: LOOP\n    SET i = i + 1;\n    \
            IF (i > n) THEN LEAVE l1; END IF;\n  END LOOP l1;\n  \
            WHILE i > 0 DO SET i = i - 1; END WHILE;\n  \
            REPEAT SET i = i + 1; UNTIL i > 2 END REPEAT;\n  \
            CASE i WHEN 3 THEN SELECT 'three'; ELSE BEGIN SELECT 'other'; END; END CASE;\n  \
            SELECT IF(i > 1, 'a', 'b'), CASE WHEN i THEN REPEAT('x', 2) ELSE IF(i, 1, 2) END;\n  \
            DROP TABLE IF EXISTS scratch;\nEND";
        let function = "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC\nBEGIN\n  \
                        RETURN IF(x > 0, x, 0);\nEND";
        let trigger = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW \
                       IF NEW.x < 0 THEN SET NEW.x = 0; ELSE SET NEW.x = 1; END IF";
        let event = "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO \
                     BEGIN DELETE FROM a; INSERT INTO a VALUES (1); END";
        let sql = format!("{procedure};\n{function};\n{trigger};\n{event};\nCALL p(3);");
        assert_eq!(split(Dialect::Mysql, &sql), [procedure, function, trigger, event, "CALL p(3)"]);
        let single = "CREATE PROCEDURE q() WHILE 1 DO SELECT 1; END WHILE";
        assert_eq!(split(Dialect::Mysql, &format!("{single}; SELECT 2")), [single, "SELECT 2"]);
    }

    #[test]
    fn mysql_quotes_and_comments() {
        let sql = "SELECT 'a\\'; b' # c;\n; SELECT \"x;y\", `a;b`; /*!40101 SET NAMES utf8 */;\n\
                   SELECT 1 -- ;\n; SELECT \"a\\\";b\"; SELECT 1--1;";
        assert_eq!(
            split(Dialect::Mysql, sql),
            [
                "SELECT 'a\\'; b'",
                "SELECT \"x;y\", `a;b`",
                "/*!40101 SET NAMES utf8 */",
                "SELECT 1",
                "SELECT \"a\\\";b\"",
                "SELECT 1--1",
            ]
        );
    }

    #[test]
    fn mysql_delimiter_lines_change_what_ends_a_statement() {
        let sql = "-- routines\nDELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT '//';\n  \
                   SELECT 1; -- //\nEND//\n\ndelimiter $$\r\nCREATE FUNCTION f() RETURNS INT \
                   RETURN 1 $$ SELECT 2$$\nDELIMITER ;\nCALL p(); SELECT f();\n";
        assert_eq!(
            split(Dialect::Mysql, sql),
            [
                "CREATE PROCEDURE p()\nBEGIN\n  SELECT '//';\n  SELECT 1; -- //\nEND",
                "CREATE FUNCTION f() RETURNS INT RETURN 1",
                "SELECT 2",
                "CALL p()",
                "SELECT f()",
            ]
        );
        let syntax = syntax_of(Dialect::Mysql);
        assert_eq!(
            statements(&syntax, "SELECT 1;\nDELIMITER\nSELECT 2"),
            Err(SplitError::Delimiter { at: 10 })
        );
        assert_eq!(statements(&syntax, "DELIMITER // x\n"), Err(SplitError::Delimiter { at: 0 }));
        assert_eq!(
            statements(&syntax, "DELIMITER //\nSELECT 'open//"),
            Err(SplitError::Unterminated { at: 20 })
        );
    }
}
