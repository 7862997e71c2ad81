//! The one place wasmig turns stored or precompiled bytes into executable code.
//!
//! An artefact file is the output of [`Component::serialize`] followed by a trailer:
//!
//! ```text
//! code | MAGIC (16 bytes) | key (32 bytes) | BLAKE3(key ‖ code) (32 bytes)
//! ```
//!
//! BLAKE3 rather than SHA-256 because every run verifies every artefact it maps, a few
//! hundred KB each: BLAKE3 does that several times faster, with the same strength against
//! corruption and collisions.
//!
//! The trailer binds the code to the key it is stored under: a corrupt or truncated file
//! fails the digest, a file copied or renamed to another key fails the key, and a file of
//! another engine or wasmtime version is stored under another key (the key covers the
//! engine's fingerprint). wasmtime ignores what follows its own image in the file.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 16] = b"wasmig-cwasm-v2\0";
const TRAILER: u64 = 16 + 32 + 32;

/// A compiled component as wasmtime serialises it: what the cache stores. Only wasmtime's
/// own output becomes one (a compile, or a compiled component serialised), which is what
/// lets the cache give a stored image back to wasmtime to map as code.
#[derive(Debug)]
pub struct Image(Vec<u8>);

impl Image {
    /// The component `bytes` (binary or text) compiled by `engine`.
    pub fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Image> {
        engine.precompile_component(bytes).map(Image)
    }

    /// `component` serialised.
    pub fn of(component: &Component) -> wasmtime::Result<Image> {
        component.serialize().map(Image)
    }

    /// The image's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Writes `code` and its trailer for `key` to `file`.
pub(super) fn write(
    file: &mut (impl Write + ?Sized),
    code: &[u8],
    key: &[u8; 32],
) -> io::Result<()> {
    file.write_all(code)?;
    file.write_all(MAGIC)?;
    file.write_all(key)?;
    file.write_all(&digest(key, code))
}

/// The component stored at `path` for `key`: `Ok(None)` when there is no file, an error
/// when there is one that does not verify or does not load.
pub(super) fn load(engine: &Engine, path: &Path, key: &[u8; 32]) -> io::Result<Option<Component>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    verify(&mut file, key)?;
    // SAFETY: `Component::deserialize_file` trusts the file to be an image that this
    // wasmtime, configured as `engine` is, produced, and to stay unchanged while the
    // component lives (it is memory-mapped). Both hold:
    // - `verify` has just read every byte of this open file and found the digest that
    //   `write` stored over exactly these bytes and this key; the key covers the engine's
    //   compatibility hash (compiler, settings, features, wasmtime version) and the
    //   component's checksum, so the image is what `Component::serialize` gave for this
    //   component on an engine like `engine`. wasmtime checks its own header as well.
    // - what is mapped is the file that was verified: `same_file` names this open file,
    //   not the path, which a concurrent writer may have renamed another file onto.
    // - wasmig never changes a cache file in place: files are written whole under a
    //   temporary name and renamed into place, and removed by unlinking, which leaves an
    //   existing mapping intact. The cache folder is the user's own, like the binary.
    let component = unsafe { Component::deserialize_file(engine, same_file(&file, path)) }
        .map_err(|e| io::Error::other(format!("does not load: {e:#}")))?;
    Ok(Some(component))
}

/// The component `image` is, loaded into `engine`, which is the engine that compiled it or
/// one configured as that engine is.
pub(crate) fn component_from_image(engine: &Engine, image: &Image) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` trusts `image` to be what this wasmtime, configured
    // as `engine` is, produced. An `Image` is only ever wasmtime's own output in this
    // process (see `Image`). The only caller passes one compiled either by `engine` itself
    // or by an engine built from `engine`'s configuration with parallel compilation turned
    // off and checked, when it was built, to have `engine`'s compatibility hash (compiler,
    // settings, features, wasmtime version). wasmtime checks its own header as well. The
    // image is copied into memory of wasmtime's own, so nothing can change it after.
    unsafe { Component::deserialize(engine, image.as_bytes()) }
}

/// Reads the whole of `file` and checks its trailer against `key` and its digest.
fn verify(file: &mut File, key: &[u8; 32]) -> io::Result<()> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let length = file.metadata()?.len();
    let Some(code_length) = length.checked_sub(TRAILER) else {
        return Err(invalid("truncated: shorter than its trailer"));
    };
    let mut trailer = [0u8; TRAILER as usize];
    file.seek(SeekFrom::Start(code_length))?;
    file.read_exact(&mut trailer)?;
    let (magic, rest) = trailer.split_at(MAGIC.len());
    let (stored_key, stored_digest) = rest.split_at(32);
    if magic != MAGIC {
        return Err(invalid("not a wasmig artefact, or truncated"));
    }
    if stored_key != key {
        return Err(invalid("stored under another key"));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(key);
    let mut code = Read::by_ref(file).take(code_length);
    let mut buffer = vec![0u8; 256 << 10];
    let mut read = 0u64;
    loop {
        let n = code.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        read += n as u64;
    }
    if read != code_length {
        return Err(invalid("changed while it was read"));
    }
    if hasher.finalize().as_bytes()[..] != *stored_digest {
        return Err(invalid("corrupt: its digest does not match"));
    }
    Ok(())
}

fn digest(key: &[u8; 32], code: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(key);
    hasher.update(code);
    hasher.finalize().into()
}

/// A path that opens `file` itself rather than whatever `path` names by now: its
/// descriptor under `/proc/self/fd` where there is one.
fn same_file(file: &File, path: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let own = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if own.exists() {
            return own;
        }
    }
    let _ = file;
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const WAT: &str = r#"(component (core module (func (export "f"))))"#;

    fn stored(engine: &Engine, dir: &Path) -> PathBuf {
        let component = Component::new(engine, WAT).unwrap();
        let path = dir.join("a.cwasm");
        let mut file = File::create(&path).unwrap();
        write(&mut file, &component.serialize().unwrap(), &KEY).unwrap();
        path
    }

    fn error(engine: &Engine, path: &Path, key: &[u8; 32]) -> String {
        match load(engine, path, key) {
            Ok(Some(_)) => panic!("{} loaded", path.display()),
            Ok(None) => "missing".to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_stored_artefact_loads_and_a_missing_one_is_a_miss() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let path = stored(&engine, dir.path());
        assert!(load(&engine, &path, &KEY).unwrap().is_some());
        assert_eq!(error(&engine, &dir.path().join("none.cwasm"), &KEY), "missing");
    }

    #[test]
    fn a_corrupt_truncated_or_swapped_artefact_is_refused() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let path = stored(&engine, dir.path());
        let bytes = std::fs::read(&path).unwrap();

        let mut flipped = bytes.clone();
        flipped[bytes.len() / 3] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        assert!(error(&engine, &path, &KEY).contains("digest"));

        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(error(&engine, &path, &KEY).contains("not a wasmig artefact"));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(error(&engine, &path, &KEY).contains("not a wasmig artefact"));
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(error(&engine, &path, &KEY).contains("truncated"));

        std::fs::write(&path, &bytes).unwrap();
        assert!(error(&engine, &path, &[8; 32]).contains("another key"));

        // The bare image wasmtime wrote, without a trailer, is not trusted either.
        let component = Component::new(&engine, WAT).unwrap();
        std::fs::write(&path, component.serialize().unwrap()).unwrap();
        assert!(!error(&engine, &path, &KEY).is_empty());
    }

    #[test]
    fn an_artefact_of_another_engine_does_not_load() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Even under the right key and with a valid digest, wasmtime's own check refuses
        // it: never a crash.
        let path = stored(&other, dir.path());
        assert!(error(&Engine::default(), &path, &KEY).contains("does not load"));
    }
}
