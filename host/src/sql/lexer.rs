//! The one SQL lexer: the text of a statement or a script as tokens with byte spans, read
//! the way the backend's [`Syntax`] says its database reads it.
//!
//! Whitespace is skipped; comments are tokens, so that what stands on the lexer can keep,
//! drop or look at them. The lexer never fails: a quote or a comment that does not end is
//! one [`Kind::Unterminated`] token running to the end of the text, and each user decides
//! what that means (the guard refuses it, a preview copies it as it is, a script is
//! rejected).

use std::ops::Range;

use super::{Placeholders, Syntax};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword, an unquoted identifier or a number: a letter, digit or `_`, then more of
    /// them or `$`.
    Word,
    /// A quoted identifier: `"x"`, `` `x` ``, or `[x]` where [`Syntax::bracket_identifiers`].
    QuotedIdent,
    /// A string literal: `'x'`, or `E'x'` where [`Syntax::escape_strings`].
    String,
    /// A dollar-quoted string: `$$x$$` or `$tag$x$tag$`.
    DollarQuoted,
    /// `-- x`, or `# x` where [`Syntax::hash_comments`], to the end of the line; the
    /// newline is not part of it.
    LineComment,
    /// `/* x */`.
    BlockComment,
    /// The `/*!` or `/*M!` (and the version after it) that opens an executable comment, or
    /// a `*/` that closes one: the text between them is SQL the database runs.
    ExecutableMark,
    /// A parameter: `?` or `?NNN` where [`Placeholders::Question`], and `$NNN`.
    Placeholder,
    /// `;`.
    Semicolon,
    /// Any other character.
    Punct(char),
    /// A quote or a block comment that does not end: the rest of the text.
    Unterminated,
}

/// One token and where it is in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// The byte offset of its first character.
    pub start: usize,
    /// The byte offset just past its last character.
    pub end: usize,
}

impl Token {
    /// The bytes of the text it spans.
    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Its text in `sql`, the text it was read from.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.span()]
    }

    /// Whether the database skips it.
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }

    /// Whether it is the keyword `word` (given in upper case), in any case.
    pub fn is_word(&self, sql: &str, word: &str) -> bool {
        self.kind == Kind::Word && self.text(sql).eq_ignore_ascii_case(word)
    }
}

/// The tokens of `sql`, in order.
pub fn tokens<'a>(syntax: &Syntax, sql: &'a str) -> Lexer<'a> {
    Lexer { syntax: *syntax, sql, pos: 0 }
}

/// The tokens of a text, read one at a time.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    syntax: Syntax,
    sql: &'a str,
    pos: usize,
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let rest = &self.sql[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        let start = self.pos;
        let c = self.sql[start..].chars().next()?;
        let kind = self.token(c);
        Some(Token { kind, start, end: self.pos })
    }
}

/// Whether `c` may start a word (and continue one).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.sql.as_bytes().get(at).copied()
    }

    /// Reads the token that starts with `c` at `self.pos`, and moves past it.
    fn token(&mut self, c: char) -> Kind {
        let next = self.byte(self.pos + 1);
        let syntax = self.syntax;
        match c {
            '-' if next == Some(b'-') && self.dashes_comment() => self.line_comment(),
            '#' if syntax.hash_comments => self.line_comment(),
            '/' if next == Some(b'*') => self.block_comment(),
            // Only an executable comment's end can be outside a comment; the database
            // reads it as nothing.
            '*' if next == Some(b'/') && syntax.executable_comments => {
                self.take(2, Kind::ExecutableMark)
            }
            '\'' => self.quoted(b'\'', syntax.backslash_escapes, Kind::String),
            // Where backslashes escape (MySQL), `"` quotes a string by default, and its
            // backslashes escape too. It stays a quoted identifier here, so that the guard
            // still reads a name that may be one (with `ANSI_QUOTES`) as a name.
            '"' => self.quoted(b'"', syntax.backslash_escapes, Kind::QuotedIdent),
            '`' => self.quoted(b'`', false, Kind::QuotedIdent),
            '[' if syntax.bracket_identifiers => match self.sql[self.pos..].find(']') {
                Some(n) => self.take(n + 1, Kind::QuotedIdent),
                None => self.unterminated(),
            },
            '$' if next.is_some_and(|b| b.is_ascii_digit()) => self.placeholder(),
            '$' if syntax.dollar_quotes => self.dollar_quoted(),
            '?' if syntax.placeholders == Placeholders::Question => self.placeholder(),
            ';' => self.take(1, Kind::Semicolon),
            c if is_word_char(c) => self.word(),
            c => self.take(c.len_utf8(), Kind::Punct(c)),
        }
    }

    fn take(&mut self, len: usize, kind: Kind) -> Kind {
        self.pos += len;
        kind
    }

    fn unterminated(&mut self) -> Kind {
        self.pos = self.sql.len();
        Kind::Unterminated
    }

    /// Whether the `--` at `self.pos` starts a comment.
    fn dashes_comment(&self) -> bool {
        !self.syntax.dash_comments_need_space
            || self
                .byte(self.pos + 2)
                .is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    }

    fn line_comment(&mut self) -> Kind {
        let len = self.sql[self.pos..].find('\n').unwrap_or(self.sql.len() - self.pos);
        self.take(len, Kind::LineComment)
    }

    /// A block comment, or the opening mark of an executable one.
    fn block_comment(&mut self) -> Kind {
        let bytes = self.sql.as_bytes();
        let after = &bytes[self.pos + 2..];
        let executable = self.syntax.executable_comments
            && (after.first() == Some(&b'!') || after.starts_with(b"M!"));
        if executable {
            let mark = after.iter().take_while(|&&b| matches!(b, b'!' | b'M' | b'0'..=b'9'));
            return self.take(2 + mark.count(), Kind::ExecutableMark);
        }
        let mut depth = 1;
        let mut i = self.pos + 2;
        while depth > 0 {
            match (bytes.get(i), bytes.get(i + 1)) {
                (None, _) => return self.unterminated(),
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    i += 2;
                }
                (Some(b'/'), Some(b'*')) if self.syntax.nested_comments => {
                    depth += 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.pos = i;
        Kind::BlockComment
    }

    /// A run quoted by `quote` starting at `self.pos`, in which a doubled quote is one
    /// quote and, with `escapes`, a backslash escapes the next character.
    fn quoted(&mut self, quote: u8, escapes: bool, kind: Kind) -> Kind {
        let bytes = self.sql.as_bytes();
        let mut i = self.pos + 1;
        // Only ASCII bytes are compared, and none of them is ever part of a longer UTF-8
        // sequence, so every offset this stops at is a character boundary.
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' if escapes => i += 2,
                b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
                b if b == quote => {
                    self.pos = i + 1;
                    return kind;
                }
                _ => i += 1,
            }
        }
        self.unterminated()
    }

    /// `$tag$...$tag$` (or `$$...$$`), or a lone `$` when no tag follows.
    fn dollar_quoted(&mut self) -> Kind {
        let rest = &self.sql[self.pos + 1..];
        // A digit cannot start a tag: `$1` is a parameter.
        let tag_len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        if !rest[tag_len..].starts_with('$') {
            return self.take(1, Kind::Punct('$'));
        }
        let delimiter = &self.sql[self.pos..self.pos + tag_len + 2];
        let body = self.pos + delimiter.len();
        match self.sql[body..].find(delimiter) {
            Some(n) => {
                self.pos = body + n + delimiter.len();
                Kind::DollarQuoted
            }
            None => self.unterminated(),
        }
    }

    /// `?`, `?NNN` or `$NNN`.
    fn placeholder(&mut self) -> Kind {
        let digits = self.sql.as_bytes()[self.pos + 1..].iter().take_while(|b| b.is_ascii_digit());
        self.take(1 + digits.count(), Kind::Placeholder)
    }

    /// A word, or a string whose `E` prefix makes its backslashes escape.
    fn word(&mut self) -> Kind {
        let start = self.pos;
        let rest = &self.sql[start..];
        let len = rest.find(|c: char| !(is_word_char(c) || c == '$')).unwrap_or(rest.len());
        let word = &rest[..len];
        if self.syntax.escape_strings
            && word.eq_ignore_ascii_case("e")
            && rest[len..].starts_with('\'')
        {
            self.pos += len;
            return self.quoted(b'\'', true, Kind::String);
        }
        self.take(len, Kind::Word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wasmig::migration::types::Dialect;
    use crate::sql::syntax_of;

    /// The tokens of `sql` in `dialect`, with their text.
    fn lex(dialect: Dialect, sql: &str) -> Vec<(Kind, &str)> {
        tokens(&syntax_of(dialect), sql).map(|token| (token.kind, token.text(sql))).collect()
    }

    const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    #[test]
    fn words_symbols_and_placeholders() {
        let sql = "a$b, x1 = ?2;";
        for dialect in [Dialect::Sqlite, Dialect::Mysql] {
            assert_eq!(
                lex(dialect, sql),
                [
                    (Kind::Word, "a$b"),
                    (Kind::Punct(','), ","),
                    (Kind::Word, "x1"),
                    (Kind::Punct('='), "="),
                    (Kind::Placeholder, "?2"),
                    (Kind::Semicolon, ";"),
                ]
            );
        }
        // PostgreSQL numbers its parameters; its `?` is an operator.
        assert_eq!(
            lex(Dialect::Postgres, "$12 ? $ 'k'"),
            [
                (Kind::Placeholder, "$12"),
                (Kind::Punct('?'), "?"),
                (Kind::Punct('$'), "$"),
                (Kind::String, "'k'"),
            ]
        );
        assert_eq!(
            lex(Dialect::Sqlite, "$1 ?"),
            [(Kind::Placeholder, "$1"), (Kind::Placeholder, "?")]
        );
    }

    #[test]
    fn spans_are_bytes_of_the_text() {
        let sql = "  SELECT 'é', naïve -- ✓\n;";
        let spans: Vec<_> = tokens(&syntax_of(Dialect::Sqlite), sql).map(|t| t.span()).collect();
        assert_eq!(spans, [2..8, 9..13, 13..14, 15..21, 22..28, 29..30]);
        assert_eq!(&sql[15..21], "naïve");
    }

    #[test]
    fn backslash_escapes_where_the_dialect_has_them() {
        let sql = r"'it\'s'";
        assert_eq!(lex(Dialect::Mysql, sql), [(Kind::String, sql)]);
        assert_eq!(lex(Dialect::Mysql, r"'a\\'"), [(Kind::String, r"'a\\'")]);
        // Elsewhere the backslash is a character: the string ends at the next quote.
        assert_eq!(
            lex(Dialect::Sqlite, sql),
            [(Kind::String, r"'it\'"), (Kind::Word, "s"), (Kind::Unterminated, "'")]
        );
        // A doubled quote is a quote everywhere.
        for dialect in ALL {
            assert_eq!(lex(dialect, "'it''s'"), [(Kind::String, "'it''s'")], "{dialect:?}");
        }
    }

    #[test]
    fn postgres_escape_strings() {
        assert_eq!(
            lex(Dialect::Postgres, r"E'it\'s $1' e'\\' xE'a'"),
            [
                (Kind::String, r"E'it\'s $1'"),
                (Kind::String, r"e'\\'"),
                (Kind::Word, "xE"),
                (Kind::String, "'a'"),
            ]
        );
        assert_eq!(
            lex(Dialect::Sqlite, r"E'a\' b"),
            [(Kind::Word, "E"), (Kind::String, r"'a\'"), (Kind::Word, "b")]
        );
    }

    #[test]
    fn line_comments_end_before_the_newline() {
        for dialect in ALL {
            assert_eq!(
                lex(dialect, "a -- b ? $1\nc -- d"),
                [
                    (Kind::Word, "a"),
                    (Kind::LineComment, "-- b ? $1"),
                    (Kind::Word, "c"),
                    (Kind::LineComment, "-- d"),
                ],
                "{dialect:?}"
            );
        }
        assert_eq!(
            lex(Dialect::Mysql, "a # b?\nc"),
            [(Kind::Word, "a"), (Kind::LineComment, "# b?"), (Kind::Word, "c")]
        );
        assert_eq!(
            lex(Dialect::Postgres, "a # b"),
            [(Kind::Word, "a"), (Kind::Punct('#'), "#"), (Kind::Word, "b")]
        );
    }

    #[test]
    fn mysql_dashes_start_a_comment_only_before_a_space() {
        assert_eq!(
            lex(Dialect::Mysql, "1--1 --\t2 --"),
            [
                (Kind::Word, "1"),
                (Kind::Punct('-'), "-"),
                (Kind::Punct('-'), "-"),
                (Kind::Word, "1"),
                (Kind::LineComment, "--\t2 --"),
            ]
        );
        assert_eq!(lex(Dialect::Mysql, "--\n1"), [(Kind::LineComment, "--"), (Kind::Word, "1")]);
        assert_eq!(lex(Dialect::Postgres, "1--1"), [(Kind::Word, "1"), (Kind::LineComment, "--1")]);
    }

    #[test]
    fn mysql_double_quotes_take_backslash_escapes() {
        let sql = r#""it\"s ?" `a\` "b""#;
        assert_eq!(
            lex(Dialect::Mysql, sql),
            [
                (Kind::QuotedIdent, r#""it\"s ?""#),
                (Kind::QuotedIdent, r"`a\`"),
                (Kind::QuotedIdent, r#""b""#),
            ]
        );
        assert_eq!(
            lex(Dialect::Sqlite, r#""a\" b"#),
            [(Kind::QuotedIdent, r#""a\""#), (Kind::Word, "b")]
        );
    }

    #[test]
    fn block_comments_nest_on_postgres_only() {
        let sql = "/* a /* ? */ $1 */ d";
        assert_eq!(
            lex(Dialect::Postgres, sql),
            [(Kind::BlockComment, "/* a /* ? */ $1 */"), (Kind::Word, "d")]
        );
        assert_eq!(
            lex(Dialect::Sqlite, sql),
            [
                (Kind::BlockComment, "/* a /* ? */"),
                (Kind::Placeholder, "$1"),
                (Kind::Punct('*'), "*"),
                (Kind::Punct('/'), "/"),
                (Kind::Word, "d"),
            ]
        );
        assert_eq!(lex(Dialect::Postgres, "/* a /* b */"), [(Kind::Unterminated, "/* a /* b */")]);
    }

    #[test]
    fn mysql_executable_comments_hold_sql() {
        assert_eq!(
            lex(Dialect::Mysql, "/*!50000 COMMIT */ /*M!100100 x*/ /* z */"),
            [
                (Kind::ExecutableMark, "/*!50000"),
                (Kind::Word, "COMMIT"),
                (Kind::ExecutableMark, "*/"),
                (Kind::ExecutableMark, "/*M!100100"),
                (Kind::Word, "x"),
                (Kind::ExecutableMark, "*/"),
                (Kind::BlockComment, "/* z */"),
            ]
        );
        assert_eq!(
            lex(Dialect::Mysql, "/*!*/"),
            [(Kind::ExecutableMark, "/*!"), (Kind::ExecutableMark, "*/")]
        );
        assert_eq!(lex(Dialect::Sqlite, "/*!COMMIT*/"), [(Kind::BlockComment, "/*!COMMIT*/")]);
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        assert_eq!(
            lex(Dialect::Postgres, "$$ it's $1 $$ $body$ $$ ; $body$ $x"),
            [
                (Kind::DollarQuoted, "$$ it's $1 $$"),
                (Kind::DollarQuoted, "$body$ $$ ; $body$"),
                (Kind::Punct('$'), "$"),
                (Kind::Word, "x"),
            ]
        );
        // A word takes its `$` with it: no quote opens there.
        assert_eq!(lex(Dialect::Postgres, "AS$$"), [(Kind::Word, "AS$$")]);
        assert_eq!(lex(Dialect::Postgres, "$a$ open"), [(Kind::Unterminated, "$a$ open")]);
        assert_eq!(
            lex(Dialect::Mysql, "$$ a"),
            [(Kind::Punct('$'), "$"), (Kind::Punct('$'), "$"), (Kind::Word, "a")]
        );
    }

    #[test]
    fn quoted_identifiers_hold_placeholder_characters() {
        assert_eq!(
            lex(Dialect::Sqlite, r#""a?""b" `$1` [?]"#),
            [
                (Kind::QuotedIdent, r#""a?""b""#),
                (Kind::QuotedIdent, "`$1`"),
                (Kind::QuotedIdent, "[?]"),
            ]
        );
        assert_eq!(
            lex(Dialect::Postgres, "[?]"),
            [(Kind::Punct('['), "["), (Kind::Punct('?'), "?"), (Kind::Punct(']'), "]")]
        );
    }

    #[test]
    fn unterminated_quoting_runs_to_the_end() {
        for dialect in ALL {
            for sql in ["'open ?", "\"open", "`open", "/* open"] {
                assert_eq!(
                    lex(dialect, &format!("a {sql}")),
                    [(Kind::Word, "a"), (Kind::Unterminated, sql)],
                    "{dialect:?}"
                );
            }
        }
        assert_eq!(lex(Dialect::Sqlite, "[open"), [(Kind::Unterminated, "[open")]);
        assert_eq!(lex(Dialect::Mysql, r"'a\"), [(Kind::Unterminated, r"'a\")]);
    }
}
