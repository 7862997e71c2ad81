//! SQL migrations: the files of one (`<ID>_<slug>.up.sql`, an optional `.down.sql`, and
//! `.up.<dialect>.sql` / `.down.<dialect>.sql` variants for one backend), the `-- wasmig:`
//! directives in them, and the identity of what they say.
//!
//! A file's text is read with its line endings normalised to LF, so the same migration
//! checked out on Windows and on Linux is the same migration, byte for byte.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::bindings::wasmig::migration::types::Dialect;

/// The backends a SQL migration may have variants for, in the order of the WIT `dialect`
/// enum.
pub const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

/// Which way a SQL file takes the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Way {
    /// `.up`: `forwards`.
    Up,
    /// `.down`: `backwards`.
    Down,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Up => "up",
            Way::Down => "down",
        }
    }
}

/// What the name of a SQL migration file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFileName {
    /// `<ID>_<slug>`, shared by every file of the migration.
    pub stem: String,
    /// Up or down.
    pub way: Way,
    /// The backend it is for, or `None` for every backend without a variant of its own.
    pub dialect: Option<Dialect>,
}

/// What a SQL file name should look like, for errors.
pub const EXPECTED: &str = "expected <ID>_<slug>.up.sql, <ID>_<slug>.down.sql or \
     <ID>_<slug>.up.<sqlite|postgres|mysql>.sql (and .down.<...>.sql), with an ID of at least \
     8 digits";

/// Whether `path` names a SQL file (any `.sql`, well named or not).
pub fn is_sql(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "sql")
}

/// Splits a SQL migration file name into its stem, way and dialect; the stem's ID and slug
/// are the caller's to check.
pub fn parse_sql_file_name(name: &str) -> Result<SqlFileName, String> {
    let rest = name.strip_suffix(".sql").ok_or_else(|| EXPECTED.to_string())?;
    let (rest, dialect) = match rest.rsplit_once('.') {
        Some((before, last)) => match dialect_named(last) {
            Some(dialect) => (before, Some(dialect)),
            None => (rest, None),
        },
        None => (rest, None),
    };
    let (stem, way) = match rest.rsplit_once('.') {
        Some((stem, "up")) => (stem, Way::Up),
        Some((stem, "down")) => (stem, Way::Down),
        _ => return Err(format!("bad file name: {EXPECTED}")),
    };
    Ok(SqlFileName { stem: stem.to_string(), way, dialect })
}

fn dialect_named(name: &str) -> Option<Dialect> {
    DIALECTS.into_iter().find(|dialect| dialect.name() == name)
}

/// The file name of the `way` file of the migration `stem`, for `dialect` or every backend.
pub fn file_name(stem: &str, way: Way, dialect: Option<Dialect>) -> String {
    match dialect {
        Some(dialect) => format!("{stem}.{}.{}.sql", way.name(), dialect.name()),
        None => format!("{stem}.{}.sql", way.name()),
    }
}

/// Every file name a SQL migration with `stem` may have, in a fixed order.
fn every_file_name(stem: &str) -> impl Iterator<Item = (Way, Option<Dialect>, String)> + '_ {
    [Way::Up, Way::Down].into_iter().flat_map(move |way| {
        std::iter::once(None)
            .chain(DIALECTS.map(Some))
            .map(move |dialect| (way, dialect, file_name(stem, way, dialect)))
    })
}

/// The stem of the SQL migration whose `.up.sql` file is `up`, if it is one.
pub fn stem_of(up: &Path) -> Option<String> {
    let name = up.file_name()?.to_str()?;
    match parse_sql_file_name(name) {
        Ok(SqlFileName { stem, way: Way::Up, dialect: None }) => Some(stem),
        _ => None,
    }
}

/// The files of the SQL migration whose `.up.sql` file is `up` that exist, `up` first.
pub fn files_of(up: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (up.parent(), stem_of(up)) else { return Vec::new() };
    every_file_name(&stem)
        .map(|(.., name)| dir.join(name))
        .filter(|path| path.symlink_metadata().is_ok())
        .collect()
}

/// One file of a SQL migration, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlText {
    /// Its file name, for messages.
    pub name: String,
    /// Its text, line endings normalised to LF.
    pub text: String,
    /// Its statement runs and `-- wasmig:begin` blocks, in order.
    pub parts: Vec<Part>,
}

/// A SQL migration, its files read and its directives checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlMigration {
    /// `<ID>_<slug>`.
    pub stem: String,
    /// What `describe` says: `-- wasmig:description`, else the slug in words.
    pub description: String,
    /// False with `-- wasmig:no-transaction`.
    pub transactional: bool,
    /// The text to run forwards on each backend of [`DIALECTS`] (its variant, else the
    /// `.up.sql` file).
    pub up: [SqlText; 3],
    /// The text to run backwards on each backend, `None` where there is none: the migration
    /// is irreversible there.
    pub down: [Option<SqlText>; 3],
    /// sha256 (hex) of the normalised files and their names: what the migration was made
    /// from.
    pub identity: String,
}

/// Why a SQL migration cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SqlFileError {
    /// The file at fault.
    pub file: PathBuf,
    /// What is wrong with it, with its line where there is one.
    pub message: String,
}

/// A `-- wasmig:` directive line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive<'a> {
    /// `-- wasmig:description <one line>`.
    Description(&'a str),
    /// `-- wasmig:no-transaction`.
    NoTransaction,
    /// `-- wasmig:origin <tool> <version>`: the history row of another tool this migration
    /// was converted from.
    Origin(&'a str),
    /// `-- wasmig:begin`: the lines up to `-- wasmig:end` are one statement.
    Begin,
    /// `-- wasmig:end`.
    End,
    /// `-- wasmig:allow <rule> <reason>`: a lint finding accepted, with why.
    Allow(&'a str),
}

/// The directive of `line`, if it is one: `Err` for a `-- wasmig:` line that is none of
/// them, or lacks what it needs.
pub fn directive(line: &str) -> Option<Result<Directive<'_>, String>> {
    let rest = line.trim().strip_prefix("-- wasmig:")?;
    let (word, argument) = match rest.split_once(char::is_whitespace) {
        Some((word, argument)) => (word, argument.trim()),
        None => (rest, ""),
    };
    let needs = |what: &str| {
        if argument.is_empty() { Err(format!("`-- wasmig:{word}` needs {what}")) } else { Ok(()) }
    };
    let bare = |directive: Directive<'static>| {
        if argument.is_empty() {
            Ok(directive)
        } else {
            Err(format!("`-- wasmig:{word}` takes nothing after it"))
        }
    };
    Some(match word {
        "description" => needs("a description").map(|()| Directive::Description(argument)),
        "no-transaction" => bare(Directive::NoTransaction),
        "origin" => needs("a tool and a version").map(|()| Directive::Origin(argument)),
        "begin" => bare(Directive::Begin),
        "end" => bare(Directive::End),
        "allow" => needs("a rule id and a reason").map(|()| Directive::Allow(argument)),
        _ => Err(format!(
            "unknown directive `-- wasmig:{word}` (known: description, no-transaction, origin, \
             begin, end, allow)"
        )),
    })
}

/// The parts of a file's text: runs of statements, and `-- wasmig:begin` ... `end` blocks
/// that are one statement each, with their byte spans in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Statements to split at their delimiters.
    Script(std::ops::Range<usize>),
    /// One statement, whatever it holds.
    Block(std::ops::Range<usize>),
}

/// What the directives of one file say.
#[derive(Debug, Default)]
struct Directives {
    description: Option<String>,
    no_transaction: bool,
    origin: bool,
}

/// The parts of `text` (see [`Part`]) and its directives, or why they are wrong: an unknown
/// directive, one out of its place, a block that never ends.
fn scan(text: &str) -> Result<(Vec<Part>, Directives), String> {
    let mut parts = Vec::new();
    let mut found = Directives::default();
    // Where the current part starts, and whether it is a block.
    let (mut start, mut in_block) = (0, false);
    let mut leading = true;
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let number = number + 1;
        let at = |message: String| format!("line {number}: {message}");
        let (line_start, line_end) = (offset, offset + line.len());
        offset = line_end;
        let Some(directive) = directive(line) else {
            let trimmed = line.trim();
            if !trimmed.is_empty() && !trimmed.starts_with("--") {
                leading = false;
            }
            continue;
        };
        let directive = directive.map_err(at)?;
        let header = |what: &str| {
            if leading {
                Ok(())
            } else {
                Err(at(format!("`-- wasmig:{what}` belongs in the comments that open the file")))
            }
        };
        match directive {
            Directive::Description(description) => {
                header("description")?;
                if found.description.replace(description.to_string()).is_some() {
                    return Err(at("a second `-- wasmig:description`".into()));
                }
            }
            Directive::NoTransaction => {
                header("no-transaction")?;
                found.no_transaction = true;
            }
            Directive::Origin(_) => {
                header("origin")?;
                found.origin = true;
            }
            Directive::Allow(_) => {}
            Directive::Begin => {
                if in_block {
                    return Err(at("`-- wasmig:begin` inside a block that has not ended".into()));
                }
                parts.push(Part::Script(start..line_start));
                (start, in_block) = (line_end, true);
                leading = false;
            }
            Directive::End => {
                if !in_block {
                    return Err(at("`-- wasmig:end` without a `-- wasmig:begin`".into()));
                }
                parts.push(Part::Block(start..line_start));
                (start, in_block) = (line_end, false);
            }
        }
    }
    if in_block {
        return Err("a `-- wasmig:begin` block never ends (`-- wasmig:end`)".into());
    }
    parts.push(Part::Script(start..text.len()));
    parts.retain(|part| match part {
        Part::Script(span) | Part::Block(span) => !text[span.clone()].trim().is_empty(),
    });
    Ok((parts, found))
}

/// Reads the SQL migration whose `.up.sql` file is `up`: every file it has, their
/// directives, what runs on each backend, and its identity.
pub fn read(up: &Path) -> Result<SqlMigration, SqlFileError> {
    let fail = |file: &Path, message: String| SqlFileError { file: file.to_path_buf(), message };
    let stem = stem_of(up).ok_or_else(|| fail(up, format!("bad file name: {EXPECTED}")))?;
    let dir = up.parent().unwrap_or(Path::new("."));
    let mut identity = Sha256::new();
    identity.update(b"wasmig sql migration\n");
    let mut up_texts: [Option<SqlText>; 4] = Default::default();
    let mut down_texts: [Option<SqlText>; 4] = Default::default();
    let mut header = Directives::default();
    for (way, dialect, name) in every_file_name(&stem) {
        let path = dir.join(&name);
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|_| fail(&path, "not UTF-8 text".into()))?
                .replace("\r\n", "\n"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(fail(&path, e.to_string())),
        };
        let (parts, directives) = scan(&text).map_err(|message| fail(&path, message))?;
        let is_up = way == Way::Up && dialect.is_none();
        if is_up {
            header = directives;
        } else if directives.description.is_some() || directives.no_transaction {
            let message = format!(
                "`-- wasmig:description` and `-- wasmig:no-transaction` describe the whole \
                 migration: write them in {}",
                file_name(&stem, Way::Up, None)
            );
            return Err(fail(&path, message));
        }
        // Each file's name and length go in before its text, so no two sets of files
        // give the same bytes to digest.
        identity.update(format!("{name}\n{}\n", text.len()).as_bytes());
        identity.update(text.as_bytes());
        let slot = dialect.map_or(0, |dialect| 1 + dialect_index(dialect));
        let texts = if way == Way::Up { &mut up_texts } else { &mut down_texts };
        texts[slot] = Some(SqlText { name, text, parts });
    }
    let Some(plain_up) = up_texts[0].clone() else {
        return Err(fail(up, "cannot read it: no such file".into()));
    };
    let up = DIALECTS.map(|dialect| {
        up_texts[1 + dialect_index(dialect)].clone().unwrap_or_else(|| plain_up.clone())
    });
    let down = DIALECTS
        .map(|dialect| down_texts[1 + dialect_index(dialect)].clone().or(down_texts[0].clone()));
    let slug = stem.split_once('_').map_or(stem.as_str(), |(_, slug)| slug);
    let description = header.description.unwrap_or_else(|| default_description(slug));
    Ok(SqlMigration {
        stem,
        description,
        transactional: !header.no_transaction,
        up,
        down,
        identity: hex::encode(identity.finalize()),
    })
}

/// The index of `dialect` in [`DIALECTS`] (and in the WIT enum).
pub fn dialect_index(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1,
        Dialect::Mysql => 2,
    }
}

/// The description of a SQL migration without `-- wasmig:description`: its slug in words.
pub fn default_description(slug: &str) -> String {
    slug.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_their_way_and_backend() {
        let parsed = parse_sql_file_name("20240101000000_add_users.up.sql").unwrap();
        assert_eq!(
            parsed,
            SqlFileName { stem: "20240101000000_add_users".into(), way: Way::Up, dialect: None }
        );
        let parsed = parse_sql_file_name("20240101000000_a.b.down.postgres.sql").unwrap();
        assert_eq!(parsed.stem, "20240101000000_a.b");
        assert_eq!((parsed.way, parsed.dialect), (Way::Down, Some(Dialect::Postgres)));
        for bad in ["20240101000000_x.sql", "20240101000000_x.up.oracle.sql", "x.sideways.sql"] {
            assert!(parse_sql_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directives_are_known_or_refused() {
        assert_eq!(directive("-- wasmig:no-transaction\n"), Some(Ok(Directive::NoTransaction)));
        assert_eq!(
            directive("  -- wasmig:description Add the users table "),
            Some(Ok(Directive::Description("Add the users table")))
        );
        assert_eq!(directive("-- a comment"), None);
        assert!(directive("-- wasmig:no-transactions").unwrap().is_err());
        assert!(directive("-- wasmig:description").unwrap().is_err());
        assert!(directive("-- wasmig:begin now").unwrap().is_err());
    }

    #[test]
    fn blocks_are_parts_of_their_own_and_must_end() {
        let text = "CREATE TABLE t (x int);\n-- wasmig:begin\nCREATE FUNCTION f() ...;\nEND;\n-- wasmig:end\nSELECT 1;\n";
        let (parts, _) = scan(text).unwrap();
        let texts: Vec<(bool, &str)> = parts
            .iter()
            .map(|part| match part {
                Part::Script(span) => (false, text[span.clone()].trim()),
                Part::Block(span) => (true, text[span.clone()].trim()),
            })
            .collect();
        assert_eq!(
            texts,
            [
                (false, "CREATE TABLE t (x int);"),
                (true, "CREATE FUNCTION f() ...;\nEND;"),
                (false, "SELECT 1;")
            ]
        );
        assert!(scan("-- wasmig:begin\nx;\n").unwrap_err().contains("never ends"));
        assert!(scan("x;\n-- wasmig:end\n").unwrap_err().starts_with("line 2:"));
        let late = scan("CREATE TABLE t (x int);\n-- wasmig:no-transaction\n").unwrap_err();
        assert!(late.contains("belongs in the comments that open the file"), "{late}");
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn variants_take_precedence_and_a_missing_down_is_irreversible_there() {
        let dir = tempfile::tempdir().unwrap();
        let up =
            write(dir.path(), "20240101000000_add_users.up.sql", "CREATE TABLE users (id int);\n");
        write(
            dir.path(),
            "20240101000000_add_users.up.postgres.sql",
            "CREATE TABLE users (id serial);\n",
        );
        write(dir.path(), "20240101000000_add_users.down.postgres.sql", "DROP TABLE users;\n");
        let read = read(&up).unwrap();
        assert_eq!(read.description, "add users");
        assert!(read.transactional);
        assert_eq!(read.up[0].text, "CREATE TABLE users (id int);\n");
        assert_eq!(read.up[1].name, "20240101000000_add_users.up.postgres.sql");
        assert_eq!(read.up[2].name, "20240101000000_add_users.up.sql");
        assert!(read.down[0].is_none() && read.down[2].is_none());
        assert_eq!(read.down[1].as_ref().unwrap().text, "DROP TABLE users;\n");
        assert_eq!(files_of(&up).len(), 3);
    }

    #[test]
    fn the_identity_ignores_line_endings_and_sees_every_file() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let name = "20240101000000_x.up.sql";
        let lf = write(a.path(), name, "-- wasmig:description X\nCREATE TABLE x (id int);\n");
        let crlf = write(b.path(), name, "-- wasmig:description X\r\nCREATE TABLE x (id int);\r\n");
        let (first, second) = (read(&lf).unwrap(), read(&crlf).unwrap());
        assert_eq!(first, second);
        assert_eq!(first.description, "X");
        write(b.path(), "20240101000000_x.down.sql", "DROP TABLE x;\n");
        assert_ne!(read(&crlf).unwrap().identity, first.identity);
    }

    #[test]
    fn whole_migration_directives_belong_in_the_up_file() {
        let dir = tempfile::tempdir().unwrap();
        let up = write(dir.path(), "20240101000000_x.up.sql", "SELECT 1;\n");
        write(dir.path(), "20240101000000_x.down.sql", "-- wasmig:no-transaction\nSELECT 2;\n");
        let error = read(&up).unwrap_err();
        assert!(error.file.ends_with("20240101000000_x.down.sql"), "{error}");
        assert!(error.message.contains("20240101000000_x.up.sql"), "{error}");
        std::fs::write(dir.path().join("20240101000000_x.down.sql"), "-- wasmig:nope\n").unwrap();
        assert!(read(&up).unwrap_err().to_string().contains("line 1: unknown directive"));
    }
}
