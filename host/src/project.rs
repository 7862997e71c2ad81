//! A loaded project: its validated settings, the runtime its migrations run in, and what
//! every command needs of it: connecting to its database, finding changed files, and
//! loading its components.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};

use crate::backend::{Access, Connection, TimeLimits};
use crate::cache::{Cache, FolderIndex};
use crate::config::{App, Settings};
use crate::error::{ChangedFile, Result};
use crate::ledger::LedgerRow;
use crate::lock;
use crate::report::Hooks;
use crate::runtime::{LoadedMigration, Runtime};
use crate::source::{self, MigrationFile};

/// A loaded project: its settings and the runtime its migrations run in.
#[derive(Debug)]
pub struct Project {
    /// The validated settings.
    pub settings: Settings,
    pub(crate) runtime: Arc<Runtime>,
    /// How many components are compiled at once: the cores this process may use.
    parallel: usize,
    /// In a fleet, the migrations loaded once for every target, by file.
    loaded: Option<Loaded>,
}

/// Migrations loaded once and shared by the targets of a fleet, by file.
pub(crate) type Loaded = Arc<Mutex<HashMap<PathBuf, LoadedMigration>>>;

impl Project {
    /// A project from validated settings.
    pub fn new(settings: Settings) -> Result<Self> {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cache = settings.cache_dir.clone().map(Cache::new);
        let runtime =
            Runtime::with_compiler(settings.limits.clone(), settings.compiler)?.with_cache(cache);
        Ok(Project { runtime: Arc::new(runtime), settings, parallel, loaded: None })
    }

    /// The same project on another database, sharing this one's runtime and the
    /// migrations it loaded: one target of a fleet.
    pub(crate) fn on_target(&self, url: &str, loaded: &Loaded) -> Project {
        let mut settings = self.settings.clone();
        settings.database_url = url.to_string();
        Project {
            settings,
            runtime: self.runtime.clone(),
            parallel: self.parallel,
            loaded: Some(loaded.clone()),
        }
    }

    /// How many components are compiled (or migration sources built) at once.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Reads `config_path`; `database_url` (flag or environment) overrides the file.
    pub fn load(config_path: &Path, database_url: Option<String>) -> Result<Self> {
        Self::new(Settings::load(config_path, database_url)?)
    }

    pub(crate) async fn connect(&self, access: Access) -> Result<Connection> {
        let mut conn = Connection::open(&self.settings.database_url, access).await?;
        if let Err(e) = conn.set_time_limits(&TimeLimits::from(&self.settings.limits)).await {
            conn.close().await;
            return Err(e);
        }
        Ok(conn)
    }

    /// Connects to change the database, taking the run lock, or, for a preview, to read it.
    pub(crate) async fn connect_to_run(
        &self,
        preview: bool,
        hooks: &dyn Hooks,
    ) -> Result<Connection> {
        if preview {
            return self.connect(Access::ReadOnly).await;
        }
        let mut conn = self.connect(Access::ReadWrite).await?;
        if let Err(e) = lock::acquire(&mut conn, self.settings.lock_timeout, hooks).await {
            conn.close().await;
            return Err(e);
        }
        Ok(conn)
    }

    /// The sha256 of a migration file: what the compile cache recorded while the file is
    /// unchanged since (`index`, its folder's record), else read from the file.
    pub(crate) fn file_checksum(
        &self,
        app: &str,
        index: Option<&FolderIndex>,
        file: &MigrationFile,
    ) -> Result<String> {
        match index.and_then(|index| index.get(&file.path)) {
            Some(entry) => Ok(entry.checksum.clone()),
            None => {
                let bytes = crate::runtime::component_bytes(app, file.id.as_str(), &file.path)?;
                Ok(source::checksum(&bytes))
            }
        }
    }

    /// The applied migrations of `app` (`rows`) whose file among `files` holds other bytes
    /// than were applied.
    pub(crate) fn changed_files(
        &self,
        app: &App,
        files: &[MigrationFile],
        rows: &[LedgerRow],
    ) -> Result<Vec<ChangedFile>> {
        let index = self.runtime.cache().map(|cache| cache.folder(&app.dir));
        let mut changed = Vec::new();
        for row in rows {
            let Some(file) = files.iter().find(|f| f.id == row.migration_id) else { continue };
            let checksum = self.file_checksum(&app.name, index.as_ref(), file)?;
            if checksum != row.checksum {
                changed.push(ChangedFile {
                    app: app.name.clone(),
                    id: row.migration_id.to_string(),
                    applied: row.checksum.clone(),
                    file: checksum,
                });
            }
        }
        Ok(changed)
    }

    /// Loads the components of `files` (each with its app), in order, several at once on
    /// all cores, each compiled unless the compile cache has it: all of them are loaded and
    /// validated before anything runs. What they said about themselves is recorded in the
    /// cache, so that `check` can list them later without loading them.
    pub(crate) async fn load_all<'f>(
        &self,
        files: impl IntoIterator<Item = (&'f App, &'f MigrationFile)>,
    ) -> Result<Vec<LoadedMigration>> {
        let known = |file: &MigrationFile| {
            let loaded = self.loaded.as_ref()?.lock().ok()?;
            loaded.get(&file.path).filter(|m| m.id == file.id).cloned()
        };
        // What the compile cache recorded of each folder: a file unchanged since need not
        // be read to learn its checksum.
        let mut indexes: BTreeMap<PathBuf, FolderIndex> = BTreeMap::new();
        let files: Vec<_> = files
            .into_iter()
            .map(|(app, file)| {
                let in_app = file.path.parent() == Some(app.dir.as_path());
                let cache = self.runtime.cache().filter(|_| in_app);
                let indexed = cache.and_then(|cache| {
                    let index =
                        indexes.entry(app.dir.clone()).or_insert_with(|| cache.folder(&app.dir));
                    index.get(&file.path).cloned()
                });
                (app, file, indexed)
            })
            .collect();
        let loaded: Vec<LoadedMigration> = futures::stream::iter(files)
            .map(|(app, file, indexed)| async move {
                match known(file) {
                    Some(migration) => Ok(migration),
                    None => self.runtime.load_known(&app.name, file, indexed).await,
                }
            })
            // One more than the cores: while a load describes its component or waits for a
            // file, the others' compiles keep every core busy.
            .buffered(self.parallel + 1)
            .try_collect()
            .await?;
        if let Some(memo) = &self.loaded
            && let Ok(mut memo) = memo.lock()
        {
            for migration in &loaded {
                memo.entry(migration.path.clone()).or_insert_with(|| migration.clone());
            }
        }
        if let Some(cache) = self.runtime.cache() {
            let mut by_folder: BTreeMap<&Path, Vec<_>> = BTreeMap::new();
            for migration in &loaded {
                // Only files of the apps' folders: not a component taken from the database.
                let in_app = |folder: &Path| {
                    self.settings.app(&migration.app).is_ok_and(|app| app.dir == folder)
                };
                if let (Some(folder), Some(entry)) = (migration.path.parent(), migration.indexed())
                    && in_app(folder)
                {
                    by_folder.entry(folder).or_default().push(entry);
                }
            }
            for (folder, entries) in by_folder {
                cache.record(folder, entries);
            }
        }
        Ok(loaded)
    }
}
