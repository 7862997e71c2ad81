//! The body of a routine being created, followed through a statement's tokens: which
//! statements create one, and which blocks of its body are open at each token, so that a
//! `;` inside the body is not taken for the end of the statement.
//!
//! Bodies: PostgreSQL's `BEGIN ATOMIC ... END`, SQLite's trigger `BEGIN ... END`, MySQL's
//! `BEGIN ... END` and the blocks nested in it (`CASE`, `IF`, `LOOP`, `WHILE`, `REPEAT`,
//! each closed by `END` and its keyword), or a MySQL body that is one such block. A block
//! keyword other than `BEGIN` and `CASE` opens a block only where a statement starts, so
//! that the functions `IF(...)` and `REPEAT(...)` and the clause `IF EXISTS` open none.

use super::lexer::{Kind, Token};

/// Words that name what a `CREATE` makes a routine, whose body may hold statements.
const ROUTINES: [&str; 4] = ["PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"];

/// Words that name what a `CREATE` makes something other than a routine.
const NOT_ROUTINES: [&str; 11] = [
    "TABLE",
    "VIEW",
    "INDEX",
    "SEQUENCE",
    "SCHEMA",
    "DATABASE",
    "TYPE",
    "DOMAIN",
    "EXTENSION",
    "ROLE",
    "USER",
];

/// How many words after `CREATE` may come before the kind of object it makes
/// (`CREATE OR REPLACE DEFINER = CURRENT_USER AGGREGATE FUNCTION` has six).
const HEADER_WORDS: usize = 8;

/// Words after which a statement of a body starts: a block keyword there opens a block,
/// elsewhere it is a function (`IF(...)`, `REPEAT(...)`) or a clause (`IF EXISTS`). The
/// last few end a routine's header, where a body that is a single block starts.
const STATEMENT_STARTS: [&str; 12] = [
    "BEGIN",
    "THEN",
    "ELSE",
    "DO",
    "LOOP",
    "REPEAT",
    "ROW",
    "DETERMINISTIC",
    "SQL",
    "DATA",
    "DEFINER",
    "INVOKER",
];

/// A block of a routine's body, closed by `END` (and, but for `BEGIN`, its keyword).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Begin,
    Case,
    If,
    Loop,
    While,
    Repeat,
}

impl Block {
    /// The block a keyword (in upper case) opens or, after `END`, closes.
    fn of(word: &str) -> Option<Block> {
        Some(match word {
            "BEGIN" => Block::Begin,
            "CASE" => Block::Case,
            "IF" => Block::If,
            "LOOP" => Block::Loop,
            "WHILE" => Block::While,
            "REPEAT" => Block::Repeat,
            _ => return None,
        })
    }
}

/// What the tokens of one statement so far say about the routine body they may be in.
#[derive(Debug, Default)]
pub(super) struct Body {
    header: Header,
    /// The blocks open, innermost last.
    blocks: Vec<Block>,
    /// The last token read.
    prev: Option<Token>,
    /// What the last token leaves for the next one to decide.
    pending: Pending,
}

/// Whether the statement creates a routine, as far as its first words tell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Header {
    #[default]
    Start,
    /// `CREATE` and this many words after it, none naming the kind of object yet.
    Create(usize),
    Routine,
    Other,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Pending {
    #[default]
    Nothing,
    /// An `END`: the next word may name the block it closes.
    End,
    /// `IF` or `REPEAT` as a `CASE` arm's result: a block, unless a `(` makes it a function.
    Arm(Block),
}

impl Header {
    /// What the header says once its next token is read: `word`, in upper case, when the
    /// token is a word.
    fn read(self, word: Option<&str>) -> Header {
        match (self, word) {
            (Header::Start, Some("CREATE")) => Header::Create(0),
            (Header::Start, _) => Header::Other,
            (Header::Create(_), Some(w)) if ROUTINES.contains(&w) => Header::Routine,
            (Header::Create(_), Some(w)) if NOT_ROUTINES.contains(&w) => Header::Other,
            (Header::Create(n), Some(_)) if n + 1 >= HEADER_WORDS => Header::Other,
            (Header::Create(n), Some(_)) => Header::Create(n + 1),
            (header, _) => header,
        }
    }
}

/// Whether a statement whose tokens start with these creates a routine; each is `Some` of
/// a word, in upper case, or `None` for anything else but a comment.
pub(super) fn creates_routine<'a>(tokens: impl IntoIterator<Item = Option<&'a str>>) -> bool {
    let mut header = Header::Start;
    for word in tokens {
        header = header.read(word);
        if matches!(header, Header::Routine | Header::Other) {
            break;
        }
    }
    header == Header::Routine
}

impl Body {
    /// Whether the tokens read so far leave a block of a routine's body open, so that a
    /// `;` here does not end the statement.
    pub(super) fn inside(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Reads the next token of the statement (comments left out).
    pub(super) fn read(&mut self, token: Token, sql: &str) {
        let word = (token.kind == Kind::Word).then(|| token.text(sql).to_ascii_uppercase());
        let word = word.as_deref();
        self.header = self.header.read(word);
        if self.header == Header::Routine {
            self.follow(token, word, sql);
        }
        self.prev = Some(token);
    }

    /// Follows the blocks of a routine's body through `token`, whose text is `word` when
    /// it is a word.
    fn follow(&mut self, token: Token, word: Option<&str>, sql: &str) {
        match std::mem::take(&mut self.pending) {
            Pending::End => match word.and_then(Block::of) {
                Some(closed) => {
                    if self.blocks.last() == Some(&closed) {
                        self.blocks.pop();
                    }
                    return;
                }
                // A bare `END` (perhaps with a label) closes `BEGIN` or a `CASE` expression.
                None => drop(self.blocks.pop()),
            },
            Pending::Arm(block) if token.kind != Kind::Punct('(') => self.blocks.push(block),
            Pending::Arm(_) | Pending::Nothing => {}
        }
        let Some(word) = word else { return };
        match Block::of(word) {
            _ if word == "END" => self.pending = Pending::End,
            Some(block @ (Block::Begin | Block::Case)) => self.blocks.push(block),
            Some(block) if self.at_statement_start(sql) => {
                let after = |w| self.prev.is_some_and(|prev| prev.is_word(sql, w));
                let arm = (after("THEN") || after("ELSE"))
                    && self.blocks.last() == Some(&Block::Case)
                    && matches!(block, Block::If | Block::Repeat);
                if arm {
                    self.pending = Pending::Arm(block);
                } else {
                    self.blocks.push(block);
                }
            }
            _ => {}
        }
    }

    /// Whether the token read last ends a statement or a header, so that the next one
    /// starts a statement.
    fn at_statement_start(&self, sql: &str) -> bool {
        let Some(prev) = self.prev else { return false };
        match prev.kind {
            Kind::Semicolon | Kind::String | Kind::Punct(':' | ')') => true,
            Kind::Word => STATEMENT_STARTS.iter().any(|w| prev.is_word(sql, w)),
            _ => false,
        }
    }
}
