//! What wasmig learnt about the migrations of one folder: for each component file, its
//! checksum and what it said when described, kept with the file's size and times so that a
//! file which has not changed since need not be read, compiled or run again. This is how
//! `check` lists pending migrations without compiling them.
//!
//! An entry is used only while the file's stamp (size, modification and change times,
//! inode) is exactly as recorded. A file changed within the same clock tick as it was
//! recorded could keep its stamp, so entries for files changed in the last
//! [`SETTLE`] are not recorded at all (git's "racily clean" rule).

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How long after its last change a file's stamp is trusted to identify its contents.
const SETTLE: Duration = Duration::from_secs(2);

/// What identifies a file's contents without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    len: u64,
    modified_ns: i128,
    changed_ns: i128,
    inode: u64,
}

impl FileStamp {
    /// The stamp of a file with `metadata`, when it has settled: `None` for a file changed
    /// too recently for its stamp to identify its contents.
    pub fn settled(metadata: &Metadata) -> Option<Self> {
        Self::settled_at(metadata, SystemTime::now())
    }

    fn settled_at(metadata: &Metadata, now: SystemTime) -> Option<Self> {
        let modified_ns = nanos(metadata.modified().ok()?);
        #[cfg(unix)]
        let (changed_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            let changed =
                i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec());
            (changed, metadata.ino())
        };
        #[cfg(not(unix))]
        let (changed_ns, inode) = (modified_ns, 0);
        let last_change = modified_ns.max(changed_ns);
        if nanos(now) - last_change < SETTLE.as_nanos() as i128 {
            return None;
        }
        Some(FileStamp { len: metadata.len(), modified_ns, changed_ns, inode })
    }
}

/// Nanoseconds since the Unix epoch.
fn nanos(time: SystemTime) -> i128 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// What is recorded for one component file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indexed {
    /// The file's stamp when it was read.
    pub stamp: FileStamp,
    /// sha256 of its bytes.
    pub checksum: String,
    /// What its `describe` said.
    pub description: String,
    /// Whether it runs in a transaction.
    pub transactional: bool,
}

/// The recorded entries of one migrations folder, by file name.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FolderIndex {
    folder: PathBuf,
    entries: BTreeMap<String, Indexed>,
}

impl FolderIndex {
    /// The index at `path` for `folder`; empty when there is none or it is unreadable or
    /// belongs to another folder.
    pub(super) fn read(path: &Path, folder: &Path) -> Self {
        let read = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<FolderIndex>(&bytes).ok());
        match read {
            Some(index) if index.folder == folder => index,
            _ => FolderIndex { folder: folder.to_path_buf(), entries: BTreeMap::new() },
        }
    }

    /// The entry of `file` (in the folder), if the file is unchanged since it was recorded.
    pub fn get(&self, file: &Path) -> Option<&Indexed> {
        let name = file.file_name()?.to_str()?;
        self.get_at(name, &file.metadata().ok()?, SystemTime::now())
    }

    fn get_at(&self, file: &str, metadata: &Metadata, now: SystemTime) -> Option<&Indexed> {
        let entry = self.entries.get(file)?;
        (FileStamp::settled_at(metadata, now) == Some(entry.stamp)).then_some(entry)
    }

    /// Adds or replaces entries; whether anything changed.
    pub(super) fn merge(&mut self, entries: Vec<(String, Indexed)>) -> bool {
        let mut changed = false;
        for (file, entry) in entries {
            if self.entries.get(&file) != Some(&entry) {
                self.entries.insert(file, entry);
                changed = true;
            }
        }
        changed
    }

    pub(super) fn write(&self, file: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
        serde_json::to_writer(&mut *file, self)?;
        file.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    /// A moment late enough for every file of the test to have settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    fn entry(metadata: &Metadata, description: &str) -> Indexed {
        Indexed {
            stamp: FileStamp::settled_at(metadata, later()).expect("settled"),
            checksum: "00".into(),
            description: description.into(),
            transactional: true,
        }
    }

    #[test]
    fn a_file_changed_just_now_is_not_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("20240101000000_a.wasm");
        std::fs::write(&file, b"one").unwrap();
        let metadata = file.metadata().unwrap();
        assert_eq!(FileStamp::settled(&metadata), None);
        // Backdating the modification time does not help: the change time is now.
        let then = SystemTime::now() - Duration::from_secs(3600);
        File::options().write(true).open(&file).unwrap().set_modified(then).unwrap();
        assert_eq!(FileStamp::settled(&file.metadata().unwrap()), None);
        assert!(FileStamp::settled_at(&metadata, later()).is_some());
    }

    #[test]
    fn an_entry_holds_while_its_file_is_unchanged() {
        const NAME: &str = "20240101000000_a.wasm";
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(NAME);
        std::fs::write(&file, b"one").unwrap();
        let mut index = FolderIndex::read(&dir.path().join("none.json"), dir.path());
        assert!(index.merge(vec![(NAME.into(), entry(&file.metadata().unwrap(), "first"))]));
        assert!(!index.merge(vec![(NAME.into(), entry(&file.metadata().unwrap(), "first"))]));

        let recorded = dir.path().join("index.json");
        index.write(&mut File::create(&recorded).unwrap()).unwrap();
        let index = FolderIndex::read(&recorded, dir.path());
        let metadata = file.metadata().unwrap();
        assert_eq!(index.get_at(NAME, &metadata, later()).unwrap().description, "first");
        assert!(index.get_at("b", &metadata, later()).is_none());
        // Not while the file may still be changing.
        assert!(index.get(&file).is_none());

        // Rewritten with the same size: the times differ.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, b"two").unwrap();
        assert!(index.get_at(NAME, &file.metadata().unwrap(), later()).is_none());

        // An index of another folder, or a damaged one, is empty.
        assert!(FolderIndex::read(&recorded, Path::new("/elsewhere")).entries.is_empty());
        std::fs::write(&recorded, b"{ not json").unwrap();
        assert!(FolderIndex::read(&recorded, dir.path()).entries.is_empty());
    }
}
