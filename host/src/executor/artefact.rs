//! A step's component stored with its ledger row (`[history] store_artefacts`), so that
//! `backwards` can run it without its file: read again and compressed on a blocking thread
//! while the step before runs, and stored in the step's own transaction.

use super::{Executor, Step, Trace};
use crate::error::{Error, LoadError, LoadReason, Result};
use crate::ledger;
use crate::plan::Direction;
use crate::runtime::{Alongside, LoadedMigration};

/// A migration's component being read again and compressed on a blocking thread, for
/// storing with its ledger row ([`ledger::pack`]).
#[derive(Debug)]
pub(super) struct Packing {
    result: tokio::sync::oneshot::Receiver<Result<ledger::Packed>>,
}

impl Packing {
    /// Packing the component of `m`, to be stored unless it compresses to more than
    /// `max_bytes`, and the blocking work that does it. The file must still hold the bytes
    /// that were validated, so what is stored is what runs.
    pub(super) fn new(m: &LoadedMigration, max_bytes: u64) -> (Self, Alongside) {
        let (app, id, path, checksum) =
            (m.app.clone(), m.id.clone(), m.path.clone(), m.checksum.clone());
        let (sender, result) = tokio::sync::oneshot::channel();
        let work = move || {
            let bytes = crate::runtime::component_bytes(&app, &id.to_string(), &path);
            let packed = bytes.and_then(|bytes| {
                let now = crate::source::checksum(&bytes);
                if now != checksum {
                    let reason = LoadReason::ChangedAfterValidation {
                        validated: checksum,
                        now,
                        storing: true,
                    };
                    return Err(LoadError::new(&app, &id.to_string(), &path, reason).into());
                }
                ledger::pack(&checksum, &bytes, max_bytes)
            });
            // The receiver is gone only when the run stopped before this step.
            let _ = sender.send(packed);
        };
        (Packing { result }, Box::new(work))
    }

    /// [`Packing::new`], its work started on a blocking thread of its own.
    pub(super) fn start(m: &LoadedMigration, max_bytes: u64) -> Self {
        let (packing, work) = Self::new(m, max_bytes);
        tokio::task::spawn_blocking(work);
        packing
    }

    async fn finish(self) -> Result<ledger::Packed> {
        self.result.await.map_err(|_| Error::TaskLost { task: "compress task", detail: None })?
    }
}

/// The most a step's component may compress to for it to be stored with its ledger row;
/// `None` when nothing is stored: storing is off (`store_artefacts`), or it goes backwards.
pub(super) fn packing_limit(store_artefacts: Option<u64>, step: &Step) -> Option<u64> {
    store_artefacts.filter(|_| step.direction == Direction::Forwards)
}

impl Executor<'_> {
    /// The component of `step` compressed for storing, from `packing` (started ahead) or
    /// packed now; `None` when nothing is stored: storing is off, or the step goes
    /// backwards.
    pub(super) async fn packed(
        &self,
        step: &Step,
        packing: Option<Packing>,
    ) -> Result<Option<ledger::Packed>> {
        let Some(max_bytes) = packing_limit(self.store_artefacts, step) else { return Ok(None) };
        let packing = packing.unwrap_or_else(|| Packing::start(&step.migration, max_bytes));
        packing.finish().await.map(Some)
    }

    /// Stores the component of `m` with its ledger row, in the same transaction, unless
    /// storing is off (`packed` is `None`) or it is too large (a warning then says so).
    pub(super) async fn store(
        &mut self,
        m: &LoadedMigration,
        packed: Option<ledger::Packed>,
        trace: &mut Trace,
    ) -> Result<()> {
        let (Some(packed), Some(max_bytes)) = (packed, self.store_artefacts) else {
            return Ok(());
        };
        if ledger::store_artefact(self.conn(), &m.checksum, packed).await?.is_none() {
            trace.warning = Some(format!(
                "app {} migration {}: its component was not stored in the database: \
                 compressed, it is over {} MiB ([history] artefact_mib), so `backwards` \
                 will need its file",
                m.app,
                m.id,
                max_bytes >> 20
            ));
        }
        Ok(())
    }
}
