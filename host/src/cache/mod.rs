//! The compile cache: compiled components stored by content, so a component is compiled
//! once per machine rather than once per command, and what a migration said about itself,
//! so `check` can list migrations without compiling them.
//!
//! ```text
//! <cache dir>/
//!   CACHEDIR.TAG                   marks the folder as a cache for backup tools
//!   v2/components/<key>.cwasm      a compiled component, verified before use (artefact)
//!   v2/components/<key>.json       what it said when this wasmig validated it (validation)
//!   v2/folders/<folder key>.json   per migrations folder: checksums and descriptions (index)
//! ```
//!
//! Every write goes to a temporary file in the same folder and is renamed into place, so
//! a reader sees a whole file or none, and two processes filling the cache at once each
//! leave a whole file behind. Nothing in the cache is trusted: an artefact is verified
//! against its own digest and key before it is deserialized, and anything that does not
//! verify is recompiled. A cache that cannot be read or written costs speed, never a run.

mod artefact;
mod index;

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use artefact::Image;
pub(crate) use artefact::component_from_image;
pub use index::{FileStamp, FolderIndex, Indexed};

/// The layout version: a change of the artefact or index format bumps it, so files of
/// another wasmig never meet this one.
const LAYOUT: &str = "v2";

/// The environment variable naming the cache folder; it overrides `cache_dir` in
/// `wasmig.toml`.
pub const CACHE_DIR_ENV: &str = "WASMIG_CACHE_DIR";

/// A cache key: sha256 over the layout version, the engine's compatibility hash (which
/// covers the compiler, its settings, the enabled Wasm features and the wasmtime version)
/// and the component's own sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// What identifies an engine's compiled code, and the rules a component was validated
/// under: two runtimes with the same fingerprint can load each other's artefacts and trust
/// each other's validation records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineFingerprint([u8; 32]);

impl EngineFingerprint {
    /// The fingerprint of `engine` validating under `policy` (what decides whether a
    /// component is accepted: the import allowlist, wasmig's version). Without the policy,
    /// a wasmig with a stricter allowlist would trust the record of a component another
    /// one accepted.
    pub fn of(engine: &wasmtime::Engine, policy: &str) -> Self {
        let mut hasher = DigestHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.0.update(policy.as_bytes());
        EngineFingerprint(hasher.0.finalize().into())
    }

    /// The cache key of a component with sha256 `checksum` (hex) compiled by an engine
    /// with this fingerprint.
    pub fn key(&self, checksum: &str) -> Key {
        let mut digest = Sha256::new();
        digest.update(b"wasmig compiled component ");
        digest.update(LAYOUT);
        digest.update(self.0);
        digest.update(checksum.as_bytes());
        Key(digest.finalize().into())
    }
}

/// Feeds what a [`Hash`] implementation writes into sha256, giving a digest that is
/// stable across processes (unlike `DefaultHasher`, which is seeded).
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("a sha256 digest has 8 bytes"))
    }
}

/// Where the compile cache is: `WASMIG_CACHE_DIR`, else `configured` (the config file's
/// `cache_dir`, already absolute), else `$XDG_CACHE_HOME/wasmig`, else `~/.cache/wasmig`.
/// `None` when none of them is set. `env` reads an environment variable.
pub fn locate(
    configured: Option<PathBuf>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    set(CACHE_DIR_ENV)
        .or(configured)
        .or_else(|| set("XDG_CACHE_HOME").map(|dir| dir.join("wasmig")))
        .or_else(|| set("HOME").map(|home| home.join(".cache").join("wasmig")))
}

/// The compile cache in one folder.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// What a component said about itself when it passed validation (its size, the import
/// allowlist, the world, `describe`) by this version of wasmig: validating the same bytes
/// again would say the same, so a run takes this instead of instantiating the component
/// once more before its call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated {
    /// The wasmig version that validated it; another version's record is not used, since
    /// the allowlist or the world may differ.
    wasmig: String,
    /// What its `describe` said.
    pub description: String,
    /// Whether it runs in a transaction.
    pub transactional: bool,
    /// The backends it cannot go backwards on (a SQL migration without a `.down.sql`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub irreversible: Vec<String>,
    /// The digest of the source it was made from, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
}

impl Validated {
    /// A record made by this version of wasmig.
    pub fn new(description: String, transactional: bool) -> Self {
        Validated {
            wasmig: env!("CARGO_PKG_VERSION").to_string(),
            description,
            transactional,
            irreversible: Vec::new(),
            source_digest: None,
        }
    }
}

/// How full the cache is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheInfo {
    /// The cache folder.
    pub dir: PathBuf,
    /// Compiled components.
    pub entries: u64,
    /// Their size on disk.
    pub bytes: u64,
    /// Migrations folders with recorded descriptions.
    pub folders: u64,
}

impl Cache {
    /// The cache in `dir`; nothing is created until something is stored.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache { dir: dir.into() }
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled component stored under `key`, when there is one that verifies; `None`
    /// for a miss and for a file that is corrupt, truncated, of another engine or stored
    /// under another key, so that the caller compiles instead.
    pub fn load(
        &self,
        engine: &wasmtime::Engine,
        key: Key,
    ) -> Option<wasmtime::component::Component> {
        let path = self.artefact_path(key);
        match artefact::load(engine, &path, &key.0) {
            Ok(component) => component,
            Err(e) => {
                tracing::debug!("compile cache: {} not used: {e}", path.display());
                None
            }
        }
    }

    /// Checks that compiled components can be stored, creating the cache's folders: what a
    /// command that exists to fill the cache asks first, since a store that fails is
    /// otherwise only logged.
    pub fn ensure_writable(&self) -> Result<()> {
        let folder = self.dir.join(LAYOUT).join("components");
        let probe = self.create(&folder).and_then(|()| temporary_in(&folder));
        probe.map(drop).map_err(|e| Error::io(&folder, e))
    }

    /// Stores the compiled component `image` under `key`; says whether it did. A failure
    /// is logged and otherwise ignored: the cache is an optimisation.
    pub fn store(&self, key: Key, image: &Image) -> bool {
        let path = self.artefact_path(key);
        let stored = self.write(&path, |file| artefact::write(file, image.as_bytes(), &key.0));
        if let Err(e) = &stored {
            tracing::warn!("compile cache: cannot store {}: {e}", path.display());
        }
        stored.is_ok()
    }

    /// The validation record of the component stored under `key`, when this wasmig made it
    /// and the compiled component is there too (it is verified when it is used).
    pub fn validated(&self, key: Key) -> Option<Validated> {
        let bytes = std::fs::read(self.validation_path(key)).ok()?;
        let record = serde_json::from_slice::<Validated>(&bytes).ok()?;
        let current = record.wasmig == env!("CARGO_PKG_VERSION");
        (current && self.artefact_path(key).is_file()).then_some(record)
    }

    /// Records that the component stored under `key` passed validation and what it said.
    /// A failure is logged and otherwise ignored.
    pub fn record_validated(&self, key: Key, record: &Validated) {
        let path = self.validation_path(key);
        let written = self.write(&path, |file| {
            serde_json::to_writer(&mut *file, record)?;
            file.write_all(b"\n")
        });
        if let Err(e) = written {
            tracing::warn!("compile cache: cannot record {}: {e}", path.display());
        }
    }

    /// The recorded checksums and descriptions of the migrations in `folder`; empty when
    /// nothing is recorded or the record is unreadable.
    pub fn folder(&self, folder: &Path) -> FolderIndex {
        FolderIndex::read(&self.folder_path(folder), folder)
    }

    /// Records `entries` (by file name) for `folder`, keeping what was recorded before.
    pub fn record(&self, folder: &Path, entries: Vec<(String, Indexed)>) {
        if entries.is_empty() {
            return;
        }
        let path = self.folder_path(folder);
        let mut index = FolderIndex::read(&path, folder);
        if !index.merge(entries) {
            return;
        }
        if let Err(e) = self.write(&path, |file| index.write(file)) {
            tracing::warn!("compile cache: cannot record {}: {e}", path.display());
        }
    }

    /// Counts what the cache holds.
    pub fn info(&self) -> Result<CacheInfo> {
        let mut info = CacheInfo { dir: self.dir.clone(), ..CacheInfo::default() };
        let root = self.dir.join(LAYOUT);
        for entry in read_dir_if_any(&root.join("components"), "cwasm")? {
            info.entries += 1;
            info.bytes += entry.metadata().map_err(|e| Error::io(entry.path(), e))?.len();
        }
        for entry in read_dir_if_any(&root.join("components"), "json")? {
            info.bytes += entry.metadata().map_err(|e| Error::io(entry.path(), e))?.len();
        }
        info.folders = read_dir_if_any(&root.join("folders"), "json")?.len() as u64;
        Ok(info)
    }

    /// Removes everything wasmig stored, and tells what that was. Files of other wasmig
    /// versions' layouts beside it are left alone. A process still using a removed
    /// artefact keeps its own mapping of it.
    pub fn clear(&self) -> Result<CacheInfo> {
        let info = self.info()?;
        let root = self.dir.join(LAYOUT);
        match std::fs::remove_dir_all(&root) {
            Ok(()) => Ok(info),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(info),
            Err(e) => Err(Error::io(root, e)),
        }
    }

    fn artefact_path(&self, key: Key) -> PathBuf {
        self.dir.join(LAYOUT).join("components").join(format!("{}.cwasm", key.hex()))
    }

    fn validation_path(&self, key: Key) -> PathBuf {
        self.artefact_path(key).with_extension("json")
    }

    fn folder_path(&self, folder: &Path) -> PathBuf {
        let name = hex::encode(&Sha256::digest(folder.as_os_str().as_encoded_bytes())[..16]);
        self.dir.join(LAYOUT).join("folders").join(format!("{name}.json"))
    }

    /// Writes a file atomically: `fill` writes a temporary file in the same folder, which
    /// is then renamed over `path`. What `fill` writes is buffered: a JSON serialiser
    /// writes a token at a time.
    fn write(
        &self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let folder = path.parent().expect("cache files live in a folder");
        self.create(folder)?;
        let mut temporary = temporary_in(folder)?;
        let mut buffered = BufWriter::new(temporary.as_file_mut());
        fill(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        temporary.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Creates `folder` in the cache, tagging the cache when it does.
    fn create(&self, folder: &Path) -> std::io::Result<()> {
        if !folder.is_dir() {
            std::fs::create_dir_all(folder)?;
            self.tag();
        }
        Ok(())
    }

    /// Marks the cache folder for backup tools (<https://bford.info/cachedir/>).
    fn tag(&self) {
        let tag = self.dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            let text = "Signature: 8a477f597d28d172789f06886806bc55\n\
                        # This folder is wasmig's compile cache; `wasmig cache clear` empties it.\n";
            // Best effort: the tag only spares backups.
            let _ = std::fs::write(tag, text);
        }
    }
}

/// A temporary file in `folder`, named so that listings of the cache skip it.
fn temporary_in(folder: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(".tmp-").tempfile_in(folder)
}

/// The files of `dir` with `extension` (not the temporary files of a write under way);
/// none when `dir` does not exist.
fn read_dir_if_any(dir: &Path, extension: &str) -> Result<Vec<std::fs::DirEntry>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.collect::<std::io::Result<Vec<_>>>().map_err(|e| Error::io(dir, e))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    Ok(entries
        .into_iter()
        .filter(|e| e.path().extension().is_some_and(|x| x == extension))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_cache_folder_is_found_in_the_documented_order() {
        let configured = Some(PathBuf::from("/project/.cache"));
        let all = env(&[("WASMIG_CACHE_DIR", "/w"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(locate(configured.clone(), &all), Some(PathBuf::from("/w")));
        let no_override = env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(locate(configured, &no_override), Some(PathBuf::from("/project/.cache")));
        assert_eq!(locate(None, &no_override), Some(PathBuf::from("/x/wasmig")));
        let home = env(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")]);
        assert_eq!(locate(None, home), Some(PathBuf::from("/h/.cache/wasmig")));
        assert_eq!(locate(None, env(&[])), None);
    }

    #[test]
    fn keys_differ_by_component_and_by_engine() {
        let a = EngineFingerprint([1; 32]);
        let b = EngineFingerprint([2; 32]);
        assert_eq!(a.key("00ff"), a.key("00ff"));
        assert_ne!(a.key("00ff"), a.key("00fe"));
        assert_ne!(a.key("00ff"), b.key("00ff"));
    }

    #[test]
    fn an_engine_fingerprint_follows_the_engine_configuration() {
        let default = wasmtime::Engine::default();
        let same = wasmtime::Engine::default();
        assert_eq!(EngineFingerprint::of(&default, "p"), EngineFingerprint::of(&same, "p"));
        assert_ne!(EngineFingerprint::of(&default, "p"), EngineFingerprint::of(&same, "q"));
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = wasmtime::Engine::new(&config).unwrap();
        assert_ne!(EngineFingerprint::of(&default, "p"), EngineFingerprint::of(&other, "p"));
    }

    #[test]
    fn the_winch_and_cranelift_engines_never_share_artefacts() {
        let mut winch = wasmtime::Config::new();
        winch.strategy(wasmtime::Strategy::Winch);
        let mut cranelift = wasmtime::Config::new();
        cranelift.strategy(wasmtime::Strategy::Cranelift);
        let (winch, cranelift) =
            (wasmtime::Engine::new(&winch).unwrap(), wasmtime::Engine::new(&cranelift).unwrap());
        assert_ne!(EngineFingerprint::of(&winch, "p"), EngineFingerprint::of(&cranelift, "p"));
    }

    #[test]
    fn a_validation_record_counts_only_for_this_wasmig_and_beside_its_artefact() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = EngineFingerprint([3; 32]).key("00ff");
        let record = Validated::new("Add tags".into(), false);
        cache.record_validated(key, &record);
        assert_eq!(cache.validated(key), None, "no compiled component beside it");

        std::fs::write(cache.artefact_path(key), b"checked when it is mapped").unwrap();
        assert_eq!(cache.validated(key), Some(record.clone()));
        let other_key = EngineFingerprint([3; 32]).key("00fe");
        assert_eq!(cache.validated(other_key), None);

        let older = Validated { wasmig: "0.0.1".into(), ..record };
        cache.record_validated(key, &older);
        assert_eq!(cache.validated(key), None, "recorded by another wasmig");
        std::fs::write(cache.validation_path(key), b"{ not json").unwrap();
        assert_eq!(cache.validated(key), None);
    }
}
