//! What every language's `wasmig new` template shares: the new migration's slug and fresh
//! ID, its description as a string literal, and writing files that must not exist yet.

use std::path::Path;

use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::{Error, Result};
use crate::source::{MigrationId, parse_file_name};

/// A new migration, as a language's template is filled in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSource<'a> {
    /// The app's migrations folder, where the source goes.
    pub dir: &'a Path,
    /// The app.
    pub app: &'a str,
    /// `<ID>_<slug>`.
    pub stem: &'a str,
    /// The fresh ID.
    pub id: &'a MigrationId,
    /// The slug of `name`.
    pub slug: &'a str,
    /// What the migration does, as the user wrote it: its description.
    pub name: &'a str,
}

/// `name` as the text of a double-quoted string literal (Rust, Python and JavaScript
/// agree on these escapes).
pub(super) fn quoted(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r")
}

/// Writes `contents` to `path`, which must not exist: `new` never overwrites a source.
pub(super) fn write_new(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(contents.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Lowercase ASCII letters and digits, runs of anything else as one `_`.
pub(crate) fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_string()
}

/// `now` as `YYYYMMDDHHMMSS`, or one more than the largest ID already in `dir` (as a
/// component or a source folder) if that is not larger.
pub(crate) fn fresh_id(dir: &Path, now: OffsetDateTime) -> Result<MigrationId> {
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year][month][day][hour][minute][second]"))
        .map_err(|e| Error::NewId(e.to_string()))?;
    let mut id: u128 = stamp.parse().map_err(|_| Error::NewId(format!("bad timestamp {stamp}")))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let component_name = if name.ends_with(".wasm") { name } else { format!("{name}.wasm") };
        if let Ok((existing, _)) = parse_file_name(&component_name)
            && let Ok(existing) = existing.as_str().parse::<u128>()
        {
            id = id.max(existing + 1);
        }
    }
    MigrationId::parse(&id.to_string()).map_err(Error::NewId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Add tags to posts!"), "add_tags_to_posts");
        assert_eq!(slugify("  --  "), "");
    }

    #[test]
    fn fresh_ids_come_after_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(fresh_id(dir.path(), now).unwrap().as_str(), "20231114221320");
        std::fs::create_dir(dir.path().join("20991231000000_future")).unwrap();
        assert_eq!(fresh_id(dir.path(), now).unwrap().as_str(), "20991231000001");
    }
}
