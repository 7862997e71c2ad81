//! Finding an app's migration components: `<ID>_<slug>.wasm` files in its folder.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::App;
use crate::error::{Error, Result};
pub use crate::id::{MIN_ID_DIGITS, MigrationId};

/// One migration component file of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// The ID part of the file name.
    pub id: MigrationId,
    /// The part of the file name after the ID, for people.
    pub slug: String,
    /// Where the component is.
    pub path: PathBuf,
}

/// Lists the migrations of `app` in ID order. Directories (such as the source crates of the
/// migrations), hidden files and files with other extensions are ignored; a `.wasm` file
/// whose name is not `<ID>_<slug>.wasm`, or two files with the same ID, are errors.
pub fn discover(app: &App) -> Result<Vec<MigrationFile>> {
    let entries = std::fs::read_dir(&app.dir).map_err(|e| Error::Source {
        app: app.name.clone(),
        path: app.dir.clone(),
        message: format!("cannot read migrations folder: {e}"),
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&app.dir, e))?;
        let path = entry.path();
        let is_file = entry.file_type().map_err(|e| Error::io(&path, e))?.is_file();
        if !is_file || path.extension().is_none_or(|ext| ext != "wasm") {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let (id, slug) = parse_file_name(&name).map_err(|message| Error::Source {
            app: app.name.clone(),
            path: path.clone(),
            message,
        })?;
        files.push(MigrationFile { id, slug, path });
    }
    files.sort_by(|a, b| a.id.cmp(&b.id));
    for pair in files.windows(2) {
        if pair[0].id.significant() == pair[1].id.significant() {
            return Err(Error::Source {
                app: app.name.clone(),
                path: pair[1].path.clone(),
                message: format!(
                    "duplicate migration ID {} (also {})",
                    pair[1].id,
                    pair[0].path.display()
                ),
            });
        }
    }
    Ok(files)
}

/// Splits `<ID>_<slug>.wasm`.
pub fn parse_file_name(name: &str) -> std::result::Result<(MigrationId, String), String> {
    let expected = "expected <ID>_<slug>.wasm with an ID of at least 8 digits";
    let stem = name.strip_suffix(".wasm").ok_or_else(|| expected.to_string())?;
    let (id, slug) = stem.split_once('_').ok_or_else(|| format!("bad file name: {expected}"))?;
    let id = MigrationId::parse(id).map_err(|_| format!("bad file name: {expected}"))?;
    if slug.is_empty() {
        return Err(format!("bad file name: {expected}"));
    }
    Ok((id, slug.to_string()))
}

/// The checksum recorded in the ledger: sha256 of the component bytes, lowercase hex.
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a component file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_names() {
        let (i, slug) = parse_file_name("20240101000000_create_users.wasm").unwrap();
        assert_eq!((i.as_str(), slug.as_str()), ("20240101000000", "create_users"));
        for bad in
            ["create_users.wasm", "2024_x.wasm", "20240101000000.wasm", "20240101000000_.wasm"]
        {
            assert!(parse_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discover_sorts_ignores_non_components_and_rejects_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let app = App { name: "a".into(), dir: dir.path().to_path_buf(), depends_on: vec![] };
        for name in ["100000000_b.wasm", "99999999_a.wasm", "README.md", ".hidden.wasm"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("99999999_a")).unwrap();
        let files = discover(&app).unwrap();
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["99999999", "100000000"]);

        std::fs::write(dir.path().join("0099999999_dup.wasm"), b"").unwrap();
        let err = discover(&app).unwrap_err().to_string();
        assert!(err.contains("duplicate migration ID"), "{err}");
        std::fs::remove_file(dir.path().join("0099999999_dup.wasm")).unwrap();

        std::fs::write(dir.path().join("oops.wasm"), b"").unwrap();
        let err = discover(&app).unwrap_err().to_string();
        assert!(err.starts_with("app a: ") && err.contains("oops.wasm"), "{err}");
    }

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
