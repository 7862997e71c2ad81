//! Assembling a SQL migration into a component, in memory: its files cut into statements
//! by the one SQL lexer for each backend, a core module holding them (`module`), wrapped
//! as a component of the `wasmig:migration@0.1.0` world, with custom sections that say
//! what it was made from and where it cannot go backwards.
//!
//! The bytes depend only on the files (line endings normalised) and this wasmig's version,
//! so the checksum a ledger holds for a SQL migration is the same on every machine.

use std::sync::OnceLock;

use wasm_encoder::{ComponentSection, CustomSection};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{Resolve, WorldId};

use super::module::{self, Plan, Statement};
use crate::bindings::wasmig::migration::types::Dialect;
use crate::source::sql::{self, DIALECTS, Part, SqlMigration, SqlText};
use crate::sql::split;
use crate::sql::syntax_of;

/// The custom section holding the migration's identity: what it was made from.
pub const IDENTITY_SECTION: &str = "wasmig-identity";
/// The custom section naming the backends on which the migration has no `backwards`, one
/// per line.
pub const IRREVERSIBLE_SECTION: &str = "wasmig-irreversible";

/// The WIT the component is assembled against: the one the host links.
const WIT: &str = include_str!("../../../../wit/migration.wit");

/// Why a SQL migration does not assemble.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct AssembleError {
    /// The file at fault, by name.
    pub file: String,
    /// What is wrong in it.
    pub message: String,
}

/// The component of `migration`.
pub fn assemble(migration: &SqlMigration) -> Result<Vec<u8>, AssembleError> {
    let mut lists: Vec<Vec<Statement>> = Vec::new();
    let mut table = [[None; 3]; 2];
    let mut irreversible = Vec::new();
    for dialect in DIALECTS {
        let at = sql::dialect_index(dialect);
        let up = statements(dialect, &migration.up[at])?;
        table[0][at] = Some(list_index(&mut lists, up));
        match &migration.down[at] {
            Some(down) => {
                let down = statements(dialect, down)?;
                table[1][at] = Some(list_index(&mut lists, down));
            }
            None => irreversible.push(dialect.name()),
        }
    }
    let plan = Plan {
        description: migration.description.clone(),
        transactional: migration.transactional,
        lists,
        table,
        irreversible: format!(
            "migration {} is irreversible here: it has no {} file",
            migration.stem,
            sql::file_name(&migration.stem, sql::Way::Down, None)
        ),
    };
    let mut core = module::encode(&plan);
    let (resolve, world) = world();
    let internal = |e: anyhow::Error| AssembleError {
        file: sql::file_name(&migration.stem, sql::Way::Up, None),
        message: format!("cannot assemble its component: {e:#}"),
    };
    wit_component::embed_component_metadata(&mut core, resolve, *world, StringEncoding::UTF8)
        .map_err(internal)?;
    let mut component = ComponentEncoder::default()
        .module(&core)
        .map_err(internal)?
        .validate(true)
        .encode()
        .map_err(internal)?;
    let identity = CustomSection {
        name: IDENTITY_SECTION.into(),
        data: format!("sql sha256:{}", migration.identity).into_bytes().into(),
    };
    identity.append_to_component(&mut component);
    if !irreversible.is_empty() {
        let names = irreversible.join("\n");
        let section =
            CustomSection { name: IRREVERSIBLE_SECTION.into(), data: names.into_bytes().into() };
        section.append_to_component(&mut component);
    }
    Ok(component)
}

/// The parsed WIT and its world, parsed once.
fn world() -> &'static (Resolve, WorldId) {
    static WORLD: OnceLock<(Resolve, WorldId)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut resolve = Resolve::new();
        let package = resolve.push_str("migration.wit", WIT).expect("the host's own WIT parses");
        let world = resolve
            .select_world(&[package], Some("migration-component"))
            .expect("the host's own WIT has the world");
        (resolve, world)
    })
}

/// The index of `list` in `lists`, added if no equal list is there: backends whose files
/// cut into the same statements share them.
fn list_index(lists: &mut Vec<Vec<Statement>>, list: Vec<Statement>) -> usize {
    match lists.iter().position(|known| *known == list) {
        Some(at) => at,
        None => {
            lists.push(list);
            lists.len() - 1
        }
    }
}

/// The statements of `file` as `dialect`'s client cuts them, each with where it is written.
fn statements(dialect: Dialect, file: &SqlText) -> Result<Vec<Statement>, AssembleError> {
    let syntax = syntax_of(dialect);
    let text = &file.text;
    let located = |span_start: usize, sql: String| Statement {
        prefix: format!("{} line {}: ", file.name, line_of(text, span_start)),
        sql,
    };
    let mut out = Vec::new();
    for part in &file.parts {
        let span = match part {
            Part::Script(span) | Part::Block(span) => span.clone(),
        };
        match part {
            Part::Script(_) => {
                let script = &text[span.clone()];
                let found = split::statements(&syntax, script).map_err(|e| {
                    let (at, what) = reworded(&e);
                    let line = line_of(text, span.start + at);
                    AssembleError {
                        file: file.name.clone(),
                        message: format!("line {line}: {what}"),
                    }
                })?;
                for statement in found {
                    out.push(located(span.start + statement.span.start, statement.text.into()));
                }
            }
            Part::Block(_) => {
                let raw = &text[span.clone()];
                let block = raw.trim().trim_end_matches(';').trim_end();
                if !block.is_empty() {
                    let start = span.start + (raw.len() - raw.trim_start().len());
                    out.push(located(start, block.into()));
                }
            }
        }
    }
    Ok(out)
}

/// Where in its script a split error is, and its words without the byte offset, which the
/// line replaces.
fn reworded(error: &split::SplitError) -> (usize, &'static str) {
    match error {
        split::SplitError::Unterminated { at } => (*at, "a quote or a comment never ends"),
        split::SplitError::Delimiter { at } => {
            (*at, "the DELIMITER line must name one delimiter, alone on its line")
        }
    }
}

/// The 1-based line of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// What wasmig wrote into a component about itself, in custom sections at its top level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// The backends it cannot go backwards on ([`IRREVERSIBLE_SECTION`]).
    pub irreversible: Vec<String>,
    /// The digest of the source it was made from ([`IDENTITY_SECTION`]), e.g.
    /// `sql sha256:...`; `None` for a component wasmig did not make.
    pub source_digest: Option<String>,
}

/// Reads the [`Marks`] of component `bytes` in one pass; a component without them (or
/// that does not parse) has none.
pub fn marks(bytes: &[u8]) -> Marks {
    let mut marks = Marks::default();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::CustomSection(section) if depth == 0 => {
                let text = String::from_utf8_lossy(section.data());
                match section.name() {
                    IRREVERSIBLE_SECTION => {
                        marks.irreversible =
                            text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
                    }
                    IDENTITY_SECTION => marks.source_digest = Some(text.trim().to_string()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    marks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(down: Option<&str>) -> SqlMigration {
        let text = |name: &str, text: &str| SqlText {
            name: name.into(),
            text: text.into(),
            parts: vec![Part::Script(0..text.len())],
        };
        let up = text("1_x.up.sql", "CREATE TABLE x (id int);\nINSERT INTO x VALUES (1);\n");
        let down = down.map(|sql| text("1_x.down.sql", sql));
        SqlMigration {
            stem: "20240101000000_x".into(),
            description: "X".into(),
            transactional: true,
            up: [up.clone(), up.clone(), up],
            down: [down.clone(), down.clone(), down],
            identity: "ab".repeat(32),
        }
    }

    #[test]
    fn the_component_is_valid_deterministic_and_says_what_it_is() {
        let bytes = assemble(&migration(Some("DROP TABLE x;\n"))).unwrap();
        assert!(wasmparser::Parser::is_component(&bytes));
        wasmparser::Validator::new().validate_all(&bytes).unwrap();
        assert_eq!(bytes, assemble(&migration(Some("DROP TABLE x;\n"))).unwrap());
        let marks = marks(&bytes);
        assert_eq!(marks.source_digest, Some(format!("sql sha256:{}", "ab".repeat(32))));
        assert!(marks.irreversible.is_empty());
        // A handful of functions: far below a compiled migration's size.
        assert!(bytes.len() < 8 * 1024, "{} bytes", bytes.len());

        let one_way = assemble(&migration(None)).unwrap();
        assert_eq!(super::marks(&one_way).irreversible, ["sqlite", "postgres", "mysql"]);
    }

    /// `text` as the file `1_x.up.sql`, read as [`sql::read`] reads it.
    fn sql_text(text: &str) -> SqlText {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().join("20240101000000_x.up.sql");
        std::fs::write(&up, text).unwrap();
        SqlText { name: "1_x.up.sql".into(), ..sql::read(&up).unwrap().up[0].clone() }
    }

    #[test]
    fn statements_know_their_line() {
        let file =
            sql_text("-- c\nSELECT 1;\n\nSELECT 'a;b';\n-- wasmig:begin\nX; Y;\n-- wasmig:end\n");
        let found = statements(Dialect::Postgres, &file).unwrap();
        let got: Vec<(&str, &str)> =
            found.iter().map(|s| (s.sql.as_str(), s.prefix.as_str())).collect();
        assert_eq!(
            got,
            [
                ("SELECT 1", "1_x.up.sql line 2: "),
                ("SELECT 'a;b'", "1_x.up.sql line 4: "),
                ("X; Y", "1_x.up.sql line 6: ")
            ]
        );
        let bad = sql_text("SELECT 1;\nSELECT 'x;\n");
        let error = statements(Dialect::Sqlite, &bad).unwrap_err();
        assert_eq!(error.to_string(), "1_x.up.sql: line 2: a quote or a comment never ends");
    }
}
