//! Test scaffolding for the readers: a tool's folder and an app folder side by side in a
//! temporary directory, and assertions on what a plan writes there.

use std::path::{Path, PathBuf};

use super::{ImportPlan, Tool};

/// A temporary `from/` folder in some tool's layout and an empty `app/` folder beside it.
pub(crate) struct Folder {
    root: tempfile::TempDir,
}

impl Folder {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("from")).unwrap();
        Folder { root }
    }

    pub fn from(&self) -> PathBuf {
        self.root.path().join("from")
    }

    pub fn app(&self) -> PathBuf {
        self.root.path().join("app")
    }

    /// The path of `relative` in the tool's folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.from().join(relative)
    }

    /// Writes a file of the tool's folder, making its folders.
    pub fn file(&self, relative: &str, contents: &str) {
        self.bytes(relative, contents.as_bytes());
    }

    pub fn bytes(&self, relative: &str, contents: &[u8]) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Writes a file in the app's folder.
    pub fn app_file(&self, name: &str, contents: &str) {
        std::fs::create_dir_all(self.app()).unwrap();
        std::fs::write(self.app().join(name), contents).unwrap();
    }

    /// Asserts that `plan` holds exactly `expected` (app file name, contents) in this order,
    /// writes it, and asserts that the app folder then holds exactly those files.
    pub fn assert_files(&self, plan: &ImportPlan, expected: &[(&str, &str)]) {
        let planned: Vec<(PathBuf, &str)> =
            plan.files.iter().map(|file| (file.path.clone(), file.contents.as_str())).collect();
        let wanted: Vec<(PathBuf, &str)> =
            expected.iter().map(|(name, contents)| (self.app().join(name), *contents)).collect();
        assert_eq!(planned, wanted);
        assert!(plan.is_complete(), "{:?}", plan.skipped);
        let written = super::write(plan).unwrap();
        assert_eq!(written, wanted.iter().map(|(path, _)| path.clone()).collect::<Vec<_>>());
        let mut on_disk: Vec<(PathBuf, String)> = std::fs::read_dir(self.app())
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let contents = std::fs::read_to_string(&path).unwrap();
                (path, contents)
            })
            .collect();
        on_disk.sort();
        let mut wanted: Vec<(PathBuf, String)> =
            wanted.into_iter().map(|(path, contents)| (path, contents.to_string())).collect();
        wanted.sort();
        assert_eq!(on_disk, wanted);
    }

    /// The skipped files of `plan` as (path in the tool's folder, reason), sorted by path.
    pub fn skipped(&self, plan: &ImportPlan) -> Vec<(String, String)> {
        plan.skipped
            .iter()
            .map(|skipped| (self.relative(&skipped.file), skipped.reason.clone()))
            .collect()
    }

    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.from()).unwrap().display().to_string()
    }

    /// Asserts that nothing was written into the app's folder.
    pub fn assert_app_empty(&self) {
        let entries = std::fs::read_dir(self.app()).map(|entries| entries.count()).unwrap_or(0);
        assert_eq!(entries, 0, "the app folder should hold nothing");
    }
}

/// The plan for the folder's `from/` into its `app/`.
pub(crate) fn plan_of(tool: Tool, folder: &Folder) -> ImportPlan {
    super::plan(tool, &folder.from(), &folder.app()).unwrap()
}
