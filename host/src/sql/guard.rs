//! What a migration may not send through its database handle, read from the SQL text
//! before it reaches the database.
//!
//! The handle is a migration's one capability, so it is where the sandbox must hold:
//! transaction control stays with the host (a `COMMIT` in a migration would let half of it
//! escape the rollback), wasmig's own tables stay wasmig's, nothing may reach host or
//! server files, and a preview's queries may only read. The rules read the text's tokens
//! as the SQL lexer gives them (see `lexer.rs`: strings, quoted identifiers, dollar
//! quotes, nested and MySQL's executable comments), so a keyword inside a string or a
//! comment is never mistaken for one, and a statement hidden after a comment or behind a
//! `;` is still seen.
//!
//! This is the first line. Where the database can enforce a rule itself it does too:
//! SQLite's authorizer (see `backend/authorizer.rs`) refuses the same actions at prepare time,
//! PostgreSQL refuses transaction control inside functions and writes inside a read-only
//! transaction, and the executor compares the ledger before and after each migration on
//! backends without an authorizer, which catches a change made through dynamic SQL.

use super::blocks;
use super::lexer::{self, Kind};
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
    let tokens = read(syntax, sql)?;
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

/// The tokens of `sql` that the rules read, or a refusal of text whose quoting does not
/// end (the database would read it differently from any guess).
fn read(syntax: &Syntax, sql: &str) -> Result<Vec<Token>, Refusal> {
    let mut tokens = Vec::new();
    for token in lexer::tokens(syntax, sql) {
        let text = token.text(sql);
        match token.kind {
            Kind::Word => {
                // `U&"..."` spells an identifier with escapes: refuse rather than decode.
                let rest = &sql[token.end..];
                if text.eq_ignore_ascii_case("u")
                    && (rest.starts_with("&\"") || rest.starts_with("&'"))
                {
                    return Err(refuse("identifiers and strings with U& escapes are not accepted"));
                }
                tokens.push(Token::Word(text.to_ascii_uppercase()));
            }
            Kind::QuotedIdent => {
                let (open, name) = (&text[..1], &text[1..text.len() - 1]);
                tokens.push(Token::Quoted(match open {
                    "[" => name.to_string(),
                    quote => name.replace(&quote.repeat(2), quote),
                }));
            }
            Kind::String | Kind::DollarQuoted => tokens.push(Token::Literal),
            // The rules read `$1` and `?2` as a symbol and a number.
            Kind::Placeholder => {
                tokens.push(Token::Symbol(if text.starts_with('$') { '$' } else { '?' }));
                if text.len() > 1 {
                    tokens.push(Token::Word(text[1..].to_string()));
                }
            }
            Kind::Semicolon => tokens.push(Token::Semicolon),
            Kind::Punct(c) => tokens.push(Token::Symbol(c)),
            Kind::LineComment | Kind::BlockComment | Kind::ExecutableMark => {}
            Kind::Unterminated => {
                return Err(refuse("the statement has an unterminated quote or comment"));
            }
        }
    }
    Ok(tokens)
}

/// The statements of a token stream. A statement that creates a routine may hold
/// `BEGIN ... END` bodies whose `;` do not end it. Only `BEGIN` and `CASE` open a block
/// here (splitting a script also counts `IF`, `LOOP`, ... where a body's statement starts):
/// where the two disagree the guard sees more statements, and checks each, never fewer.
fn statements(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut i = 0;
    let creates_routine = |start: usize| {
        let header = tokens[start..].iter().take_while(|token| **token != Token::Semicolon);
        blocks::creates_routine(header.map(|token| match token {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        }))
    };
    let mut creates = creates_routine(0);
    while i < tokens.len() {
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
                creates = creates_routine(start);
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
    use crate::sql::syntax_of;

    const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    fn verdict(dialect: Dialect, sql: &str, purpose: Purpose) -> Result<(), Refusal> {
        check(dialect, &syntax_of(dialect), sql, purpose)
    }

    fn refused(dialect: Dialect, sql: &str) -> bool {
        verdict(dialect, sql, Purpose::Execute).is_err()
    }

    fn accepted(dialect: Dialect, sql: &str) -> bool {
        verdict(dialect, sql, Purpose::Execute) == Ok(())
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
        for dialect in ALL {
            for sql in spellings {
                assert!(refused(dialect, sql), "{dialect:?}: {sql}");
            }
        }
        for (dialect, sql) in [
            (Dialect::Postgres, "ABORT"),
            (Dialect::Postgres, "/* a /* nested */ c */ COMMIT"),
            (Dialect::Mysql, "XA START 'x'"),
            (Dialect::Mysql, "/*!COMMIT*/"),
            (Dialect::Mysql, "/*!50000 COMMIT */"),
            (Dialect::Mysql, "# note\nCOMMIT"),
            (Dialect::Mysql, "SET autocommit = 1"),
            (Dialect::Mysql, "SET @@session.autocommit=1"),
            (Dialect::Mysql, "LOCK TABLES t WRITE"),
            (Dialect::Mysql, "CREATE PROCEDURE p() BEGIN COMMIT; END"),
            (Dialect::Postgres, "SET TRANSACTION READ WRITE"),
            (Dialect::Postgres, "set local search_path = evil"),
            (Dialect::Postgres, "SET statement_timeout = 0"),
            (Dialect::Postgres, "SET SESSION AUTHORIZATION postgres"),
        ] {
            assert!(refused(dialect, sql), "{dialect:?}: {sql}");
        }
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
        for dialect in ALL {
            for sql in fine {
                assert_eq!(verdict(dialect, sql, Purpose::Execute), Ok(()), "{dialect:?}: {sql}");
            }
        }
        for (dialect, sql) in [
            (
                Dialect::Postgres,
                "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN RETURN NEW; END; $body$ LANGUAGE plpgsql",
            ),
            (Dialect::Postgres, "SELECT $1, $2"),
            (
                Dialect::Mysql,
                "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END",
            ),
            (Dialect::Mysql, r"SELECT 'a\'; COMMIT'"),
            (Dialect::Postgres, r"SELECT E'a\'; COMMIT'"),
        ] {
            assert!(accepted(dialect, sql), "{dialect:?}: {sql}");
        }
        // Without backslash escapes the same text ends the string early.
        assert!(refused(Dialect::Sqlite, r"SELECT 'a\'; COMMIT'"));
    }

    #[test]
    fn text_is_split_where_the_database_splits_it() {
        // `begin` is a column here: no body opens, and the `COMMIT` after it is seen.
        for dialect in ALL {
            assert!(refused(dialect, "CREATE TABLE t (begin INT); COMMIT"), "{dialect:?}");
            assert!(accepted(dialect, "CREATE TABLE t (begin INT); CREATE TABLE u (x INT)"));
        }
        // MySQL reads `"` as a string with backslash escapes, and `--` as a comment only
        // before a space.
        assert!(refused(Dialect::Mysql, r#"SELECT "a\" ' "; COMMIT; -- '"#));
        assert!(refused(Dialect::Mysql, "SELECT 1--1; COMMIT"));
        assert!(accepted(Dialect::Mysql, r#"INSERT INTO t VALUES ("it\"s; COMMIT")"#));
        assert!(accepted(Dialect::Mysql, "SELECT 1 -- ; COMMIT"));
        assert!(accepted(Dialect::Postgres, "SELECT 1--1; COMMIT"));
    }

    #[test]
    fn wasmig_tables_are_the_hosts() {
        for dialect in ALL {
            for sql in [
                "DELETE FROM wasmig_migrations",
                "delete from WASMIG_MIGRATIONS where 1",
                "UPDATE \"wasmig_migrations\" SET checksum = 'x'",
                "DROP TABLE main.wasmig_migrations",
                "CREATE TEMPORARY TABLE wasmig_migrations (id INT)",
                "INSERT INTO wasmig_artefacts VALUES (1)",
            ] {
                assert!(refused(dialect, sql), "{dialect:?}: {sql}");
            }
        }
        assert!(refused(Dialect::Mysql, "DELETE FROM `wasmig_migrations`"));
        assert!(refused(Dialect::Sqlite, "DELETE FROM [wasmig_migrations]"));
        assert!(refused(Dialect::Postgres, "DELETE FROM U&\"wasmig\\005fmigrations\""));
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
            assert!(refused(Dialect::Sqlite, sql), "{sql}");
        }
        assert_eq!(verdict(Dialect::Sqlite, "VACUUM", Purpose::Execute), Ok(()));
        assert!(refused(Dialect::Mysql, "SELECT * FROM t INTO OUTFILE '/tmp/x'"));
        assert!(refused(Dialect::Mysql, "LOAD DATA INFILE '/etc/passwd' INTO TABLE t"));
        assert!(refused(Dialect::Postgres, "COPY t TO '/tmp/x'"));
    }

    #[test]
    fn a_preview_query_only_reads() {
        let query = |dialect, sql| verdict(dialect, sql, Purpose::PreviewQuery);
        for dialect in ALL {
            assert_eq!(query(dialect, "SELECT count(*) FROM users"), Ok(()));
            assert_eq!(query(dialect, "  with x as (select 1) select * from x"), Ok(()));
            for sql in [
                "INSERT INTO t VALUES (1)",
                "CREATE TABLE t (x INT)",
                "DELETE FROM t",
                "SELECT 1; DROP TABLE t",
                "SELECT * INTO t2 FROM t",
            ] {
                assert!(query(dialect, sql).is_err(), "{dialect:?}: {sql}");
            }
        }
        assert!(query(Dialect::Sqlite, "ATTACH DATABASE '/tmp/p.db' AS p").is_err());
    }

    #[test]
    fn unterminated_quoting_is_refused() {
        for dialect in ALL {
            assert!(refused(dialect, "SELECT 'open"), "{dialect:?}");
            assert!(refused(dialect, "SELECT 1 /* open"), "{dialect:?}");
        }
    }
}
