//! What can stop an import: a folder that cannot be read, IDs that cannot keep the tool's
//! order, files that would be overwritten, or a plan holding files that cannot be converted.

use std::io;
use std::path::PathBuf;

use super::tool::Tool;

/// Why `wasmig import` did not plan or write a conversion. Each message names the file or
/// folder it is about; nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The source folder, or an app folder it must look into, could not be listed.
    #[error("cannot read folder {}: {source}", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file of the source folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The folder holds nothing the tool would run.
    #[error("no {tool} migrations in {}", path.display())]
    NoMigrations { tool: Tool, path: PathBuf },

    /// Two migrations would get IDs whose numeric order is not the tool's order.
    #[error(
        "{}: its wasmig ID {id} would not sort after {earlier_id} of {}, which {tool} runs first",
        later.display(), earlier.display()
    )]
    OrderNotKept { tool: Tool, earlier: PathBuf, earlier_id: String, later: PathBuf, id: String },

    /// A file the import would write exists already.
    #[error("{} already exists; nothing was written", path.display())]
    TargetExists { path: PathBuf },

    /// The app already has a migration with one of the IDs the import would use.
    #[error("{}: migration ID {id} is taken by {}; nothing was written", source_file.display(), existing.display())]
    IdTaken { id: String, existing: PathBuf, source_file: PathBuf },

    /// The plan lists files that cannot be converted, so none is written.
    #[error(
        "{count} file(s) cannot be converted (first: {}: {reason}); nothing was written",
        first.display()
    )]
    Unconvertible { count: usize, first: PathBuf, reason: String },

    /// Writing a converted file failed; the files this import had written are removed.
    #[error("cannot write {}: {source}; nothing was kept", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
