//! What a tool's reader finds in its folder: each migration's version, name and SQL in the
//! tool's own order, the files that cannot be converted and why, and the files the tool
//! itself would not read.

use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::text;

/// How a tool orders its versions, which decides how they become wasmig IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// By the version's integer value.
    Numeric,
    /// By the version's digits compared as text (diesel's versions, dbmate's file names).
    Text,
    /// By Flyway's dotted parts, each an integer, a missing part counting as zero.
    Dotted,
}

/// One version of one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    /// The version exactly as the tool writes it into its history table.
    pub recorded: String,
    /// Its digit groups: one, or Flyway's parts with trailing zero parts dropped.
    pub parts: Vec<String>,
}

impl Version {
    /// A version of one group of digits.
    pub fn digits(recorded: impl Into<String>, digits: &str) -> Self {
        Version { recorded: recorded.into(), parts: vec![digits.to_string()] }
    }
}

/// One migration as the tool sees it, with its SQL already freed of the tool's markers.
#[derive(Debug, Clone)]
pub(crate) struct Migration {
    /// The file (or diesel folder) it comes from.
    pub source: PathBuf,
    pub version: Version,
    /// The name part of the file name, as written.
    pub name: String,
    pub up: String,
    /// `None`: the tool has no down part for it, so the wasmig migration is irreversible.
    pub down: Option<String>,
    pub no_transaction: bool,
    /// What a reader of the report should know about this conversion.
    pub notes: Vec<String>,
}

/// A file the import cannot convert; while any is listed, nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub file: PathBuf,
    pub reason: String,
}

/// Everything a reader found.
#[derive(Debug)]
pub(crate) struct Found {
    pub order: Order,
    /// In the tool's order.
    pub migrations: Vec<Migration>,
    pub skipped: Vec<Skipped>,
    /// Files in the folder that the tool does not treat as migrations.
    pub ignored: Vec<PathBuf>,
}

impl Found {
    pub fn new(order: Order) -> Self {
        Found { order, migrations: Vec::new(), skipped: Vec::new(), ignored: Vec::new() }
    }

    pub fn skip(&mut self, file: impl Into<PathBuf>, reason: impl Into<String>) {
        self.skipped.push(Skipped { file: file.into(), reason: reason.into() });
    }

    /// Sorts the migrations with `order` (the tool's), then refuses every group that `same`
    /// calls one version: the tool would refuse or mix them up, so none of them is converted.
    pub fn sort_and_refuse_duplicates(
        &mut self,
        order: impl Fn(&Migration, &Migration) -> std::cmp::Ordering,
        same: impl Fn(&Migration, &Migration) -> bool,
    ) {
        self.migrations.sort_by(&order);
        let mut groups: Vec<Vec<Migration>> = Vec::new();
        for migration in std::mem::take(&mut self.migrations) {
            match groups.last_mut() {
                Some(group) if same(&group[0], &migration) => group.push(migration),
                _ => groups.push(vec![migration]),
            }
        }
        for mut group in groups {
            if group.len() == 1 {
                self.migrations.extend(group.pop());
                continue;
            }
            for migration in &group {
                let others: Vec<String> = group
                    .iter()
                    .filter(|other| other.source != migration.source)
                    .map(|other| other.source.display().to_string())
                    .collect();
                let reason =
                    format!("version {} is also {}", migration.version.recorded, others.join(", "));
                self.skip(migration.source.clone(), reason);
            }
        }
    }
}

/// One entry of a folder.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub path: PathBuf,
    /// The file name; `None` when it is not UTF-8 (no tool's pattern matches it then).
    pub name: Option<String>,
    pub is_dir: bool,
}

/// The entries of `dir` that are not hidden, sorted by name so that every report lists them
/// in the same order.
pub(crate) fn list(dir: &Path) -> Result<Vec<Entry>, ImportError> {
    let read_error = |source| ImportError::ReadFolder { path: dir.to_path_buf(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let name = entry.file_name().to_str().map(str::to_string);
        if name.as_deref().is_some_and(|name| name.starts_with('.')) {
            continue;
        }
        // Follows a symbolic link to what it names, as the tools do when they read a file.
        let metadata = std::fs::metadata(&path)
            .map_err(|source| ImportError::ReadFile { path: path.clone(), source })?;
        entries.push(Entry { path, name, is_dir: metadata.is_dir() });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// The files under `dir` and its sub-folders (Flyway and refinery look into both), sorted by
/// path. Linked folders are not entered, so a link cannot make the walk endless.
pub(crate) fn walk(dir: &Path) -> Result<Vec<Entry>, ImportError> {
    let mut files = Vec::new();
    for entry in list(dir)? {
        if !entry.is_dir {
            files.push(entry);
            continue;
        }
        let linked = std::fs::symlink_metadata(&entry.path)
            .map_err(|source| ImportError::ReadFile { path: entry.path.clone(), source })?
            .file_type()
            .is_symlink();
        if !linked {
            files.extend(walk(&entry.path)?);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The text of a migration file, without a byte-order mark, or why it cannot be converted.
pub(crate) fn read_sql(path: &Path) -> Result<Result<String, String>, ImportError> {
    let bytes = std::fs::read(path)
        .map_err(|source| ImportError::ReadFile { path: path.to_path_buf(), source })?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Err("it is not UTF-8 text".to_string()));
    };
    let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
    if let Some(line) = text::wasmig_directive_line(&text) {
        // wasmig would read such a line as a directive of its own.
        return Ok(Err(format!("line {line} already holds a `-- wasmig:` directive")));
    }
    Ok(Ok(text))
}
