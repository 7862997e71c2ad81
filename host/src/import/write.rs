//! Writing a plan into the app's folder: all of its files or none. Nothing is overwritten,
//! and no new ID may be one the app already uses.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::report::{ImportPlan, Mapping, PlannedFile};

/// Refuses a plan whose files exist already, or whose IDs the app's folder already uses for
/// a migration of any kind (component, source or SQL file). A missing folder holds nothing.
pub(crate) fn check_targets(
    app_dir: &Path,
    files: &[PlannedFile],
    mapping: &[Mapping],
) -> Result<(), ImportError> {
    for file in files {
        if std::fs::symlink_metadata(&file.path).is_ok() {
            return Err(ImportError::TargetExists { path: file.path.clone() });
        }
    }
    let entries = match std::fs::read_dir(app_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ImportError::ReadFolder { path: app_dir.to_path_buf(), source }),
    };
    let read_error = |source| ImportError::ReadFolder { path: app_dir.to_path_buf(), source };
    for entry in entries {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        let Some(digits) = name.to_str().and_then(leading_id) else { continue };
        let value = significant(digits);
        if let Some(taken) = mapping.iter().find(|m| significant(m.id.as_str()) == value) {
            return Err(ImportError::IdTaken {
                id: taken.id.to_string(),
                existing: entry.path(),
                source_file: taken.source.clone(),
            });
        }
    }
    Ok(())
}

/// The ID at the start of a migration's file or folder name: digits, then `_`.
fn leading_id(name: &str) -> Option<&str> {
    let (digits, _) = name.split_once('_')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn significant(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

/// Writes every file of `plan` and returns their paths, after checking again that none
/// exists and no ID is taken. Each file is written in full beside its target, then moved to
/// its name only if that name is still free; if any step fails, the files already written
/// are removed, so the app's folder is as it was.
pub fn write(plan: &ImportPlan) -> Result<Vec<PathBuf>, ImportError> {
    if let Some(first) = plan.skipped.first() {
        return Err(ImportError::Unconvertible {
            count: plan.skipped.len(),
            first: first.file.clone(),
            reason: first.reason.clone(),
        });
    }
    check_targets(&plan.app_dir, &plan.files, &plan.mapping)?;
    std::fs::create_dir_all(&plan.app_dir)
        .map_err(|source| ImportError::Write { path: plan.app_dir.clone(), source })?;
    let mut written = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        if let Err(error) = write_new(&plan.app_dir, file) {
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
        written.push(file.path.clone());
    }
    Ok(written)
}

fn write_new(dir: &Path, file: &PlannedFile) -> Result<(), ImportError> {
    let failed = |source| ImportError::Write { path: file.path.clone(), source };
    let mut temporary =
        tempfile::Builder::new().prefix(".wasmig-import-").tempfile_in(dir).map_err(failed)?;
    temporary.write_all(file.contents.as_bytes()).map_err(failed)?;
    temporary.as_file().sync_all().map_err(failed)?;
    match temporary.persist_noclobber(&file.path) {
        Ok(_) => Ok(()),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(ImportError::TargetExists { path: file.path.clone() })
        }
        Err(error) => Err(failed(error.error)),
    }
}
