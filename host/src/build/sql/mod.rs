//! SQL migrations as a language: `<ID>_<slug>.up.sql` (with the files beside it, see
//! [`crate::source::sql`]) needs no toolchain and no build. wasmig assembles the component
//! itself, in memory, whenever it loads the app (`assemble`, `module`); `wasmig build`
//! only checks that the files assemble, and says there is nothing to build. Here: those
//! rules, the template `wasmig new --lang sql` writes, and the component of a SQL migration
//! as the runtime reads it.

mod assemble;
mod module;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::scaffold::{NewSource, write_new};
use super::toolchain::Toolchain;
use super::{BuildOutcome, BuildResult, LanguageRules, Recognised, Schedule, SourceFile};
use crate::error::{Error, LoadReason, Result};
use crate::source::sql::{self, Way};
pub use assemble::{AssembleError, IDENTITY_SECTION, IRREVERSIBLE_SECTION, Marks, assemble, marks};

/// The rules of SQL migrations.
pub(super) struct Sql;

impl LanguageRules for Sql {
    fn name(&self) -> &'static str {
        "sql"
    }

    fn recognise(&self, path: &Path, _name: &str) -> Option<Recognised> {
        let stem = sql::stem_of(path).filter(|_| !path.is_dir())?;
        Some(Recognised { stem, may_be_helper: false })
    }

    fn toolchain(&self) -> Result<Toolchain> {
        Ok(Toolchain { program: PathBuf::new(), identity: String::new() })
    }

    fn schedule(&self) -> Schedule {
        Schedule::EachSource
    }

    fn build(&self, _tool: &Toolchain, sources: &[&SourceFile]) -> Vec<(PathBuf, BuildResult)> {
        let check = |source: &SourceFile| {
            let started = Instant::now();
            component_bytes(&source.path).map_err(|reason| Error::Build {
                app: source.app.clone(),
                path: source.path.clone(),
                message: reason.to_string(),
            })?;
            Ok((BuildOutcome::NotNeeded, started.elapsed()))
        };
        sources.iter().map(|&source| (source.path.clone(), check(source))).collect()
    }

    fn scaffold(&self, new: &NewSource<'_>) -> Result<PathBuf> {
        let up = new.dir.join(sql::file_name(new.stem, Way::Up, None));
        let down = new.dir.join(sql::file_name(new.stem, Way::Down, None));
        let description = new.name.replace(['\r', '\n'], " ");
        write_new(
            &up,
            &format!(
                "-- wasmig:description {description}\n\
                 -- Migration {id}: statements end with `;`; each runs in the migration's \
                 transaction.\n\
                 -- Put `-- wasmig:no-transaction` above to run it outside one (e.g. CREATE \
                 INDEX CONCURRENTLY),\n\
                 -- and a file {stem}.up.<sqlite|postgres|mysql>.sql beside this one to \
                 write it for one backend.\n\
                 \n\
                 -- CREATE TABLE example (id INTEGER PRIMARY KEY);\n",
                id = new.id,
                stem = new.stem,
            ),
        )?;
        write_new(
            &down,
            "-- Undo exactly what the .up.sql file did. Without this file the migration is\n\
             -- irreversible: `wasmig backwards` refuses it.\n\
             \n\
             -- DROP TABLE example;\n",
        )?;
        Ok(up)
    }
}

/// The component of the SQL migration whose `.up.sql` file is `up`, assembled from its
/// files; or why it cannot be.
pub fn component_bytes(up: &Path) -> std::result::Result<Vec<u8>, LoadReason> {
    // Worded as every other file wasmig cannot read.
    std::fs::metadata(up).map_err(LoadReason::Unreadable)?;
    let migration =
        sql::read(up).map_err(|e| LoadReason::BadSql { file: e.file, message: e.message })?;
    assemble(&migration)
        .map_err(|e| LoadReason::BadSql { file: up.with_file_name(&e.file), message: e.message })
}
