//! A step faked (`--fake`): recorded as applied without running, its component stored as
//! a live run stores it.

use super::artefact::Packing;
use super::{Executor, Step, Trace, record};
use crate::error::Result;

impl Executor<'_> {
    /// Records `step` as applied without running it, its component stored as a live run
    /// stores it.
    pub(super) async fn fake(
        &mut self,
        step: &Step,
        packing: Option<Packing>,
        trace: &mut Trace,
    ) -> Result<()> {
        let packed = self.packed(step, packing).await?;
        record(self.conn(), &step.migration, false).await?;
        self.store(&step.migration, packed, trace).await
    }
}
