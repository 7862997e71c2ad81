//! SQL text as each backend writes it: the dialect's [`Syntax`], and what reads text by it.
//!
//! Everything wasmig does with the text of a statement stands on one lexer, so that a
//! string, a quoted identifier or a comment is read the same way by all of it, and the way
//! the database reads it:
//!
//! - [`lexer`]: the text as tokens with byte spans;
//! - [`guard`]: what a migration may not send, read from its tokens;
//! - [`inline`]: a statement with its parameters written in as literals, for previews and
//!   reports;
//! - [`split`]: a SQL script cut into the statements a client sends one by one;
//! - `blocks`: the blocks of a routine body, whose `;` end no statement, for the guard and
//!   for splitting.

mod blocks;
pub mod guard;
pub mod inline;
pub mod lexer;
pub mod split;

use crate::bindings::wasmig::migration::types::Dialect;

/// How SQL text is written for a backend: how the lexer reads it, how parameters are
/// written in it (by guests, by the ledger, and as literals in a preview), and how a script
/// for the backend's own client separates its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syntax {
    /// How parameters are written.
    pub placeholders: Placeholders,
    /// Whether `$$...$$` and `$tag$...$tag$` quote strings.
    pub dollar_quotes: bool,
    /// Whether a backslash escapes the next character inside a string literal (and, where
    /// it does, inside double quotes).
    pub backslash_escapes: bool,
    /// Whether `E'...'` is a string in which a backslash escapes the next character, whatever
    /// [`Syntax::backslash_escapes`] says of plain strings.
    pub escape_strings: bool,
    /// How a blob is written as a literal.
    pub blob_literal: BlobLiteral,
    /// Whether `#` starts a comment to the end of the line, as `--` does.
    pub hash_comments: bool,
    /// Whether `--` starts a comment only before a space or a control character, so that
    /// `1--1` is `1 - -1`.
    pub dash_comments_need_space: bool,
    /// Whether a `/*` inside a block comment opens a comment within it, which needs a `*/`
    /// of its own.
    pub nested_comments: bool,
    /// Whether `/*! ... */` and `/*M! ... */` (optionally with a version after the `!`)
    /// hold SQL that the database runs, rather than a comment.
    pub executable_comments: bool,
    /// Whether `[x]` quotes an identifier.
    pub bracket_identifiers: bool,
    /// Whether a script for the backend's client may change the text that ends a statement
    /// with a `DELIMITER //` line, so that routine bodies can hold `;`.
    pub delimiter_command: bool,
}

/// How parameters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?` by position (`?NNN` and `$NNN` by number are understood too).
    Question,
    /// `$1`, `$2`, ... by number only.
    Dollar,
}

/// How a blob is written as a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobLiteral {
    /// `X'dead'`.
    Hex,
    /// `'\xdead'::bytea`.
    Bytea,
}

/// The SQL syntax of the databases whose migrations are told `dialect`, as their servers
/// read text in the session settings wasmig leaves at their defaults.
pub const fn syntax_of(dialect: Dialect) -> Syntax {
    match dialect {
        Dialect::Sqlite => Syntax {
            placeholders: Placeholders::Question,
            dollar_quotes: false,
            backslash_escapes: false,
            escape_strings: false,
            blob_literal: BlobLiteral::Hex,
            hash_comments: false,
            dash_comments_need_space: false,
            nested_comments: false,
            executable_comments: false,
            bracket_identifiers: true,
            delimiter_command: false,
        },
        Dialect::Postgres => Syntax {
            placeholders: Placeholders::Dollar,
            dollar_quotes: true,
            // `standard_conforming_strings` is on by default since PostgreSQL 9.1.
            backslash_escapes: false,
            escape_strings: true,
            blob_literal: BlobLiteral::Bytea,
            hash_comments: false,
            dash_comments_need_space: false,
            nested_comments: true,
            executable_comments: false,
            bracket_identifiers: false,
            delimiter_command: false,
        },
        Dialect::Mysql => Syntax {
            placeholders: Placeholders::Question,
            dollar_quotes: false,
            backslash_escapes: true,
            escape_strings: false,
            blob_literal: BlobLiteral::Hex,
            hash_comments: true,
            dash_comments_need_space: true,
            nested_comments: false,
            executable_comments: true,
            bracket_identifiers: false,
            delimiter_command: true,
        },
    }
}
