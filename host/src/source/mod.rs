//! Finding an app's migrations in its folder: component files `<ID>_<slug>.wasm`, and SQL
//! migrations (`<ID>_<slug>.up.sql` with the files beside it, see [`sql`]), which wasmig
//! assembles into components itself.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::App;
use crate::error::{Error, Result};
pub use crate::id::{MIN_ID_DIGITS, MigrationId};

pub mod sql;

/// One migration of an app: its component file, or the `.up.sql` file of a SQL migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// The ID part of the file name.
    pub id: MigrationId,
    /// The part of the file name after the ID, for people.
    pub slug: String,
    /// Where the component is; for a SQL migration, its `.up.sql` file.
    pub path: PathBuf,
}

impl MigrationFile {
    /// Whether it is a SQL migration, which wasmig assembles into a component itself.
    pub fn is_sql(&self) -> bool {
        sql::is_sql(&self.path)
    }
}

/// Lists the migrations of `app` in ID order. Directories (such as the source crates of the
/// migrations), hidden files and files with other extensions are ignored; a symlink is
/// followed. A `.wasm` or `.sql` file whose name is not one a migration has, two migrations
/// with the same ID (a component and SQL files among them), SQL files without their
/// `.up.sql`, and a symlink that leads nowhere are errors.
pub fn discover(app: &App) -> Result<Vec<MigrationFile>> {
    let fail = |path: &Path, message: String| Error::Source {
        app: app.name.clone(),
        path: path.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(&app.dir)
        .map_err(|e| fail(&app.dir, format!("cannot read migrations folder: {e}")))?;
    let mut files = Vec::new();
    // The SQL files by stem, and one file of each.
    let mut sql_stems: std::collections::BTreeMap<String, (PathBuf, bool)> = Default::default();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&app.dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_wasm = path.extension().is_some_and(|ext| ext == "wasm");
        if name.starts_with('.') || !(is_wasm || sql::is_sql(&path)) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let is_file = if file_type.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(target) => target.is_file(),
                Err(e) => return Err(fail(&path, format!("a symlink to nothing readable: {e}"))),
            }
        } else {
            file_type.is_file()
        };
        if !is_file {
            continue;
        }
        if is_wasm {
            let (id, slug) = parse_file_name(&name).map_err(|message| fail(&path, message))?;
            files.push(MigrationFile { id, slug, path });
            continue;
        }
        let parsed = sql::parse_sql_file_name(&name).map_err(|message| fail(&path, message))?;
        let is_up = parsed.way == sql::Way::Up && parsed.dialect.is_none();
        let seen = sql_stems.entry(parsed.stem).or_insert_with(|| (path.clone(), false));
        if is_up {
            *seen = (path, true);
        }
    }
    for (stem, (path, has_up)) in sql_stems {
        let bad = || format!("bad file name: {}", sql::EXPECTED);
        let (id, slug) = parse_stem(&stem).ok_or_else(|| fail(&path, bad()))?;
        if !has_up {
            let up = sql::file_name(&stem, sql::Way::Up, None);
            return Err(fail(&path, format!("a SQL migration needs its {up}, which is missing")));
        }
        files.push(MigrationFile { id, slug, path });
    }
    files.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.path.cmp(&b.path)));
    for pair in files.windows(2) {
        if pair[0].id.significant() == pair[1].id.significant() {
            return Err(fail(
                &pair[1].path,
                format!("duplicate migration ID {} (also {})", pair[1].id, pair[0].path.display()),
            ));
        }
    }
    Ok(files)
}

/// Splits `<ID>_<slug>`, when it is that.
fn parse_stem(stem: &str) -> Option<(MigrationId, String)> {
    let (id, slug) = stem.split_once('_')?;
    let id = MigrationId::parse(id).ok()?;
    (!slug.is_empty()).then(|| (id, slug.to_string()))
}

/// Splits `<ID>_<slug>.wasm`.
pub fn parse_file_name(name: &str) -> std::result::Result<(MigrationId, String), String> {
    let expected = "expected <ID>_<slug>.wasm with an ID of at least 8 digits";
    let stem = name.strip_suffix(".wasm").ok_or_else(|| expected.to_string())?;
    parse_stem(stem).ok_or_else(|| format!("bad file name: {expected}"))
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
    fn sql_migrations_are_found_beside_components_and_symlinks_followed() {
        let dir = tempfile::tempdir().unwrap();
        let app = App { name: "a".into(), dir: dir.path().to_path_buf(), depends_on: vec![] };
        for name in [
            "20240101000000_a.wasm",
            "20240102000000_b.up.sql",
            "20240102000000_b.down.sql",
            "20240102000000_b.up.postgres.sql",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("c.sql"), b"SELECT 1;").unwrap();
        let link = dir.path().join("20240103000000_c.up.sql");
        std::os::unix::fs::symlink(elsewhere.path().join("c.sql"), &link).unwrap();
        let files = discover(&app).unwrap();
        let found: Vec<(&str, bool)> = files.iter().map(|f| (f.id.as_str(), f.is_sql())).collect();
        assert_eq!(
            found,
            [("20240101000000", false), ("20240102000000", true), ("20240103000000", true)]
        );
        assert!(files[1].path.ends_with("20240102000000_b.up.sql"));

        std::fs::remove_file(elsewhere.path().join("c.sql")).unwrap();
        let err = discover(&app).unwrap_err().to_string();
        assert!(err.contains("20240103000000_c.up.sql") && err.contains("symlink"), "{err}");
        std::fs::remove_file(&link).unwrap();

        // Each of these files alone makes the folder an error that says so.
        for (name, says) in [
            ("20240101000000_a.up.sql", "duplicate migration ID 20240101000000"),
            ("20240104000000_d.down.sql", "20240104000000_d.up.sql, which is missing"),
            ("schema.sql", "bad file name"),
            ("2024_short.up.sql", "bad file name"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, b"").unwrap();
            let err = discover(&app).unwrap_err().to_string();
            assert!(err.contains(name) || err.contains("20240101000000_a"), "{err}");
            assert!(err.contains(says), "{name}: {err}");
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
