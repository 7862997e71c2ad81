//! What a migration may not send through its database handle, read from the SQL text
//! before it reaches the database.
//!
//! The handle is a migration's one capability, so it is where the sandbox must hold:
//! transaction control stays with the host (a `COMMIT` in a migration would let half of it
//! escape the rollback), wasmig's own tables stay wasmig's, nothing may reach host or
//! server files, and a preview's queries may only read. Each statement of the text is
//! found with a small lexer that knows the backend's quoting and comments (strings,
//! quoted identifiers, dollar quotes, nested and MySQL's executable comments), so a
//! keyword inside a string or a comment is never mistaken for one, and a statement hidden
//! after a comment or behind a `;` is still seen.
//!
//! This is the first line. Where the database can enforce a rule itself it does too:
//! SQLite's authorizer (see `authorizer.rs`) refuses the same actions at prepare time,
//! PostgreSQL refuses transaction control inside functions and writes inside a read-only
//! transaction, and the executor compares the ledger before and after each migration on
//! backends without an authorizer, which catches a change made through dynamic SQL.

use super::{Dialect, Syntax};

/// What a guest statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Run for real (or, in a preview, recorded as if it were).
    Execute,
    /// A preview's `query`: it runs on the database, and may only read.
    PreviewQuery,
}

/// Why a statement was refused: the message the migration receives as its `db-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Prefix of every table wasmig owns (`wasmig_migrations`); reserved.
pub const OWNED_PREFIX: &str = "wasmig_";

/// Checks every statement of `sql` against the rules for `purpose`.
pub fn check(
    dialect: Dialect,
    syntax: &Syntax,
    sql: &str,
    purpose: Purpose,
) -> Result<(), Refusal> {
    let tokens = lex(dialect, syntax, sql)?;
    for statement in statements(&tokens) {
        check_statement(dialect, statement, purpose)?;
    }
    Ok(())
}

/// One token of SQL text; whitespace and comments are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A keyword or an unquoted identifier, upper-cased.
    Word(String),
    /// A quoted identifier (`"x"`, `` `x` ``, `[x]`), as written inside the quotes.
    Quoted(String),
    /// A string literal or dollar-quoted body; its contents do not matter.
    Literal,
    /// `;`
    Semicolon,
    /// Any other character.
    Symbol(char),
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal(format!("refused by wasmig: {}", message.into()))
}

/// Splits `sql` into tokens, or refuses text whose quoting does not end (the database
/// would read it differently from any guess).
fn lex(dialect: Dialect, syntax: &Syntax, sql: &str) -> Result<Vec<Token>, Refusal> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let unterminated = || refuse("the statement has an unterminated quote or comment");
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '#' if dialect == Dialect::Mysql => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                // MySQL runs the text of `/*! ... */` and `/*M! ... */` as SQL.
                let executable = dialect == Dialect::Mysql
                    && matches!(chars.get(i + 2), Some('!' | 'M'))
                    && (chars.get(i + 2) == Some(&'!') || chars.get(i + 3) == Some(&'!'));
                if executable {
                    i += 2;
                    while i < chars.len() && matches!(chars[i], '!' | 'M' | '0'..='9') {
                        i += 1;
                    }
                    continue;
                }
                // PostgreSQL nests block comments.
                let nests = dialect == Dialect::Postgres;
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => return Err(unterminated()),
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        (Some('/'), Some('*')) if nests => {
                            depth += 1;
                            i += 2;
                        }
                        _ => i += 1,
                    }
                }
            }
            '*' if next == Some('/') && dialect == Dialect::Mysql => i += 2,
            '\'' => {
                let escapes = syntax.backslash_escapes
                    || (dialect == Dialect::Postgres
                        && i > 0
                        && matches!(chars[i - 1], 'e' | 'E')
                        && !chars.get(i.wrapping_sub(2)).is_some_and(|c| is_word(*c)));
                i = skip_quoted(&chars, i, '\'', escapes).ok_or_else(unterminated)?;
                tokens.push(Token::Literal);
            }
            '"' | '`' => {
                let end = skip_quoted(&chars, i, c, false).ok_or_else(unterminated)?;
                let name: String = chars[i + 1..end - 1].iter().collect();
                tokens.push(Token::Quoted(name.replace(&format!("{c}{c}"), &c.to_string())));
                i = end;
            }
            '[' if dialect == Dialect::Sqlite => {
                let end = chars[i..].iter().position(|&c| c == ']').ok_or_else(unterminated)?;
                tokens.push(Token::Quoted(chars[i + 1..i + end].iter().collect()));
                i += end + 1;
            }
            // Never inside a word: words take their `$` with them.
            '$' if syntax.dollar_quotes => match dollar_tag(&chars, i) {
                Some(tag) => {
                    let body_start = i + tag.len();
                    let close = find(&chars[body_start..], &tag).ok_or_else(unterminated)?;
                    i = body_start + close + tag.len();
                    tokens.push(Token::Literal);
                }
                None => {
                    tokens.push(Token::Symbol('$'));
                    i += 1;
                }
            },
            ';' => {
                tokens.push(Token::Semicolon);
                i += 1;
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && (is_word(chars[i]) || chars[i] == '$') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // `U&"..."` spells an identifier with escapes: refuse rather than decode.
                if word.eq_ignore_ascii_case("u")
                    && chars.get(i) == Some(&'&')
                    && matches!(chars.get(i + 1), Some('"' | '\''))
                {
                    return Err(refuse("identifiers and strings with U& escapes are not accepted"));
                }
                tokens.push(Token::Word(word.to_ascii_uppercase()));
            }
            other => {
                tokens.push(Token::Symbol(other));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index just past the closing `quote` of a quoted run starting at `start`; a doubled
/// quote is one quote, and with `escapes` a backslash escapes the next character.
fn skip_quoted(chars: &[char], start: usize, quote: char, escapes: bool) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match chars.get(i)? {
            '\\' if escapes => i += 2,
            &c if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
}

/// `$tag$` (or `$$`) starting at `start`, as characters.
fn dollar_tag(chars: &[char], start: usize) -> Option<Vec<char>> {
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        if c == '$' {
            return Some(chars[start..=i].to_vec());
        }
        if !(c.is_alphanumeric() || c == '_') || (i == start + 1 && c.is_ascii_digit()) {
            return None;
        }
        i += 1;
    }
    None
}

fn find(haystack: &[char], needle: &[char]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// The statements of a token stream. A `CREATE` of a trigger, procedure or function may
/// hold `BEGIN ... END` bodies whose `;` do not end it.
fn statements(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let creates = matches!(tokens.get(start), Some(Token::Word(w)) if w == "CREATE");
        match &tokens[i] {
            Token::Word(w) if creates && (w == "BEGIN" || w == "CASE") => depth += 1,
            Token::Word(w) if creates && w == "END" => {
                match tokens.get(i + 1) {
                    // `END IF`, `END LOOP`, ... close blocks that were not counted.
                    Some(Token::Word(n))
                        if matches!(n.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT") =>
                    {
                        i += 1;
                    }
                    Some(Token::Word(n)) if n == "CASE" => {
                        depth = depth.saturating_sub(1);
                        i += 1;
                    }
                    _ => depth = depth.saturating_sub(1),
                }
            }
            Token::Semicolon if depth == 0 => {
                if i > start {
                    out.push(&tokens[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// Words that start a statement that begins, ends or rolls back a transaction or savepoint.
const TRANSACTION_CONTROL: [&str; 9] =
    ["BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ABORT", "XA"];

/// Session settings a migration may not change: transaction control (`autocommit`,
/// read-only modes), who and where the host's own statements run (role, search path),
/// and the time limits wasmig sets.
const PROTECTED_SETTINGS: [&str; 19] = [
    "AUTOCOMMIT",
    "TRANSACTION",
    "CHARACTERISTICS",
    "TRANSACTION_READ_ONLY",
    "TX_READ_ONLY",
    "DEFAULT_TRANSACTION_READ_ONLY",
    "COMPLETION_TYPE",
    "SEARCH_PATH",
    "SCHEMA",
    "AUTHORIZATION",
    "SESSION_AUTHORIZATION",
    "ROLE",
    "STATEMENT_TIMEOUT",
    "LOCK_TIMEOUT",
    "IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
    "MAX_EXECUTION_TIME",
    "MAX_STATEMENT_TIME",
    "INNODB_LOCK_WAIT_TIMEOUT",
    "LOCK_WAIT_TIMEOUT",
];

/// What a preview's query may start with: statements that read.
const READING: [&str; 9] =
    ["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "PRAGMA"];

fn check_statement(dialect: Dialect, tokens: &[Token], purpose: Purpose) -> Result<(), Refusal> {
    let words = || {
        tokens.iter().filter_map(|t| match t {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        })
    };
    let first = tokens.iter().find_map(|t| match t {
        Token::Word(w) => Some(w.as_str()),
        Token::Symbol('(') => None,
        _ => Some(""),
    });
    let Some(first) = first else { return Ok(()) };
    let second = words().nth(1).unwrap_or_default();

    if TRANSACTION_CONTROL.contains(&first) {
        return Err(refuse(format!(
            "`{first}` controls the transaction, which is the host's: a migration runs inside \
             the transaction wasmig opens and commits"
        )));
    }
    let routine = first == "CREATE"
        && words().take(8).any(|w| matches!(w, "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT"));
    if routine && words().any(|w| w == "COMMIT" || w == "ROLLBACK") {
        return Err(refuse("a routine created by a migration may not commit or roll back"));
    }
    if matches!(first, "PREPARE" | "EXECUTE" | "DEALLOCATE") {
        return Err(refuse(format!(
            "`{first}` runs SQL that wasmig cannot see; send the statement itself"
        )));
    }
    if first == "SET" && words().skip(1).any(|w| PROTECTED_SETTINGS.contains(&w)) {
        let setting = words().skip(1).find(|w| PROTECTED_SETTINGS.contains(w)).unwrap_or_default();
        return Err(refuse(format!(
            "a migration may not change `{}`, which keeps its transaction, identity and time \
             limits the host's",
            setting.to_ascii_lowercase()
        )));
    }
    if let Some(name) = tokens.iter().find_map(owned_name) {
        return Err(refuse(format!(
            "`{name}` is wasmig's own (tables named {OWNED_PREFIX}* are reserved for its ledger)"
        )));
    }
    match dialect {
        Dialect::Sqlite => {
            if matches!(first, "ATTACH" | "DETACH") {
                return Err(refuse(format!(
                    "`{first}` opens or closes another database file on the host"
                )));
            }
            if first == "VACUUM" && words().any(|w| w == "INTO") {
                return Err(refuse("`VACUUM INTO` writes a copy of the database to a host file"));
            }
        }
        Dialect::Mysql => {
            if (first == "LOCK" && matches!(second, "TABLE" | "TABLES" | "INSTANCE"))
                || first == "UNLOCK"
            {
                return Err(refuse(format!(
                    "`{first} {second}` ends the transaction on MySQL, which is the host's"
                )));
            }
            if first == "LOAD" || words().any(|w| matches!(w, "OUTFILE" | "DUMPFILE" | "LOAD_FILE"))
            {
                return Err(refuse("the statement reads or writes a file on the database host"));
            }
        }
        Dialect::Postgres => {
            if first == "COPY" {
                return Err(refuse(
                    "`COPY` reads or writes files or programs on the database host",
                ));
            }
        }
    }
    if purpose == Purpose::PreviewQuery {
        if !READING.contains(&first) {
            return Err(refuse(format!(
                "a preview may only read: `{first}` is not a query (send it with execute, \
                 which a preview records)"
            )));
        }
        if words().any(|w| w == "INTO") {
            return Err(refuse("a preview may only read: `INTO` writes"));
        }
    }
    Ok(())
}

/// The name of a table wasmig owns, if `token` names one.
fn owned_name(token: &Token) -> Option<String> {
    let name = match token {
        Token::Word(w) => w.to_ascii_lowercase(),
        Token::Quoted(q) => q.to_ascii_lowercase(),
        _ => return None,
    };
    name.starts_with(OWNED_PREFIX).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::syntax_of;

    fn all() -> [(Dialect, Syntax); 3] {
        [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql].map(|d| (d, syntax_of(d)))
    }

    fn refused(dialect: Dialect, syntax: &Syntax, sql: &str) -> bool {
        check(dialect, syntax, sql, Purpose::Execute).is_err()
    }

    #[test]
    fn transaction_control_is_refused_in_every_spelling() {
        let spellings = [
            "COMMIT",
            "commit",
            "  Commit ;",
            "END",
            "end transaction",
            "ROLLBACK",
            "rollback to savepoint x",
            "SAVEPOINT x",
            "release savepoint x",
            "BEGIN",
            "begin immediate",
            "START TRANSACTION",
            "-- a comment\nCOMMIT",
            "/* c */ COMMIT",
            "CREATE TABLE a (x INT); COMMIT; CREATE TABLE b (y INT)",
            "SELECT 1;COMMIT",
            "(COMMIT)",
        ];
        for (dialect, syntax) in all() {
            for sql in spellings {
                assert!(refused(dialect, &syntax, sql), "{dialect:?}: {sql}");
            }
        }
        assert!(refused(Dialect::Postgres, &syntax_of(Dialect::Postgres), "ABORT"));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "/* a /* nested */ c */ COMMIT"
        ));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "XA START 'x'"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "/*!COMMIT*/"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "/*!50000 COMMIT */"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "# note\nCOMMIT"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "SET autocommit = 1"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "SET @@session.autocommit=1"));
        assert!(refused(Dialect::Mysql, &syntax_of(Dialect::Mysql), "LOCK TABLES t WRITE"));
        assert!(refused(
            Dialect::Mysql,
            &syntax_of(Dialect::Mysql),
            "CREATE PROCEDURE p() BEGIN COMMIT; END"
        ));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "SET TRANSACTION READ WRITE"
        ));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "set local search_path = evil"
        ));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "SET statement_timeout = 0"
        ));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "SET SESSION AUTHORIZATION postgres"
        ));
    }

    #[test]
    fn keywords_inside_strings_comments_and_bodies_are_not_statements() {
        let fine = [
            "INSERT INTO notes VALUES ('COMMIT; ROLLBACK')",
            "INSERT INTO notes VALUES ('it''s; COMMIT')",
            "SELECT 1 -- COMMIT",
            "SELECT 1 /* ; COMMIT */",
            "CREATE TABLE commits (id INT)",
            "CREATE TABLE changes (commit TEXT, rollback TEXT)",
            "UPDATE t SET status = 'END'",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET n = CASE WHEN 1 THEN 2 END; END",
            "INSERT INTO notes VALUES ('wasmig_migrations')",
        ];
        for (dialect, syntax) in all() {
            for sql in fine {
                assert_eq!(
                    check(dialect, &syntax, sql, Purpose::Execute),
                    Ok(()),
                    "{dialect:?}: {sql}"
                );
            }
        }
        let pg = "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN RETURN NEW; END; $body$ LANGUAGE plpgsql";
        assert_eq!(
            check(Dialect::Postgres, &syntax_of(Dialect::Postgres), pg, Purpose::Execute),
            Ok(())
        );
        assert_eq!(
            check(
                Dialect::Postgres,
                &syntax_of(Dialect::Postgres),
                "SELECT $1, $2",
                Purpose::Execute
            ),
            Ok(())
        );
        let mysql = "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END";
        assert_eq!(
            check(Dialect::Mysql, &syntax_of(Dialect::Mysql), mysql, Purpose::Execute),
            Ok(())
        );
        assert_eq!(
            check(
                Dialect::Mysql,
                &syntax_of(Dialect::Mysql),
                r"SELECT 'a\'; COMMIT'",
                Purpose::Execute
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Dialect::Postgres,
                &syntax_of(Dialect::Postgres),
                r"SELECT E'a\'; COMMIT'",
                Purpose::Execute
            ),
            Ok(())
        );
        // Without backslash escapes the same text ends the string early.
        assert!(refused(Dialect::Sqlite, &syntax_of(Dialect::Sqlite), r"SELECT 'a\'; COMMIT'"));
    }

    #[test]
    fn wasmig_tables_are_the_hosts() {
        for (dialect, syntax) in all() {
            for sql in [
                "DELETE FROM wasmig_migrations",
                "delete from WASMIG_MIGRATIONS where 1",
                "UPDATE \"wasmig_migrations\" SET checksum = 'x'",
                "DROP TABLE main.wasmig_migrations",
                "CREATE TEMPORARY TABLE wasmig_migrations (id INT)",
                "INSERT INTO wasmig_artefacts VALUES (1)",
            ] {
                assert!(refused(dialect, &syntax, sql), "{dialect:?}: {sql}");
            }
        }
        assert!(refused(
            Dialect::Mysql,
            &syntax_of(Dialect::Mysql),
            "DELETE FROM `wasmig_migrations`"
        ));
        assert!(refused(
            Dialect::Sqlite,
            &syntax_of(Dialect::Sqlite),
            "DELETE FROM [wasmig_migrations]"
        ));
        assert!(refused(
            Dialect::Postgres,
            &syntax_of(Dialect::Postgres),
            "DELETE FROM U&\"wasmig\\005fmigrations\""
        ));
    }

    #[test]
    fn host_files_are_out_of_reach() {
        for sql in [
            "ATTACH DATABASE '/tmp/x.db' AS evil",
            "attach '/tmp/x.db' as evil",
            "DETACH evil",
            "VACUUM INTO '/tmp/copy.db'",
            "vacuum main into '/tmp/copy.db'",
        ] {
            assert!(refused(Dialect::Sqlite, &syntax_of(Dialect::Sqlite), sql), "{sql}");
        }
        assert_eq!(
            check(Dialect::Sqlite, &syntax_of(Dialect::Sqlite), "VACUUM", Purpose::Execute),
            Ok(())
        );
        assert!(refused(
            Dialect::Mysql,
            &syntax_of(Dialect::Mysql),
            "SELECT * FROM t INTO OUTFILE '/tmp/x'"
        ));
        assert!(refused(
            Dialect::Mysql,
            &syntax_of(Dialect::Mysql),
            "LOAD DATA INFILE '/etc/passwd' INTO TABLE t"
        ));
        assert!(refused(Dialect::Postgres, &syntax_of(Dialect::Postgres), "COPY t TO '/tmp/x'"));
    }

    #[test]
    fn a_preview_query_only_reads() {
        let query =
            |dialect, syntax: &Syntax, sql| check(dialect, syntax, sql, Purpose::PreviewQuery);
        for (dialect, syntax) in all() {
            assert_eq!(query(dialect, &syntax, "SELECT count(*) FROM users"), Ok(()));
            assert_eq!(query(dialect, &syntax, "  with x as (select 1) select * from x"), Ok(()));
            for sql in [
                "INSERT INTO t VALUES (1)",
                "CREATE TABLE t (x INT)",
                "DELETE FROM t",
                "SELECT 1; DROP TABLE t",
                "SELECT * INTO t2 FROM t",
            ] {
                assert!(query(dialect, &syntax, sql).is_err(), "{dialect:?}: {sql}");
            }
        }
        assert!(
            query(Dialect::Sqlite, &syntax_of(Dialect::Sqlite), "ATTACH DATABASE '/tmp/p.db' AS p")
                .is_err()
        );
    }

    #[test]
    fn unterminated_quoting_is_refused() {
        for (dialect, syntax) in all() {
            assert!(refused(dialect, &syntax, "SELECT 'open"), "{dialect:?}");
            assert!(refused(dialect, &syntax, "SELECT 1 /* open"), "{dialect:?}");
        }
    }
}
