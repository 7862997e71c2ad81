//! The import plan, which is also its report: every file to write with its contents, the
//! mapping from the tool's versions to wasmig IDs, and what cannot be converted.

use std::path::PathBuf;

use crate::id::MigrationId;

use super::found::Skipped;
use super::ids::IdRule;
use super::tool::Tool;

/// What `wasmig import` would write, and why. `--dry-run` shows it; [`super::write`] writes it
/// when nothing is [`skipped`](ImportPlan::skipped).
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ImportPlan {
    pub tool: Tool,
    /// The tool's migrations folder.
    pub from: PathBuf,
    /// The app's migrations folder, where the files go.
    pub app_dir: PathBuf,
    /// How versions became IDs.
    pub id_rule: IdRule,
    /// One entry per converted migration, in ID order.
    pub mapping: Vec<Mapping>,
    /// Every file to write, in ID order, up before down.
    pub files: Vec<PlannedFile>,
    /// Files that cannot be converted; while any is listed nothing is written.
    pub skipped: Vec<Skipped>,
    /// Files in the folder the tool itself would not run, left alone.
    pub ignored: Vec<PathBuf>,
}

impl ImportPlan {
    /// Whether every migration of the folder converts, so the plan may be written.
    pub fn is_complete(&self) -> bool {
        self.skipped.is_empty()
    }
}

/// One converted migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Mapping {
    /// The tool's file (or diesel's folder) it comes from.
    pub source: PathBuf,
    /// The version as the tool records it in its history table (also in the
    /// `-- wasmig:origin` line of the `.up.sql` file).
    pub version: String,
    #[serde(serialize_with = "id_text")]
    pub id: MigrationId,
    pub slug: String,
    pub description: String,
    /// Whether a `.down.sql` file is written.
    pub reversible: bool,
    /// Whether it runs in a transaction (no `-- wasmig:no-transaction`).
    pub transactional: bool,
    /// What changed in the conversion beyond the tool's own markers, or needs a look.
    pub notes: Vec<String>,
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: String,
}

fn id_text<S: serde::Serializer>(id: &MigrationId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_str())
}
