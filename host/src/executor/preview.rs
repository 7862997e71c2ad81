//! A step previewed (`--preview`): run against a recording handle, so that its statements
//! are reported and none is executed.

use super::{Executor, Step, Trace};
use crate::error::{Error, Result, Rollback};
use crate::runtime::Preparing;

impl Executor<'_> {
    /// Runs a step against a recording handle: `execute` is recorded, `query` reads inside
    /// a read-only transaction that is rolled back.
    pub(super) async fn preview(
        &mut self,
        step: &Step,
        preparing: Option<Preparing>,
        trace: &mut Trace,
    ) -> Result<()> {
        let what = step.what();
        let code = self.ready(step, preparing).await?;
        trace.compiled = code.compiled();
        self.conn().begin_read_only().await.map_err(|e| {
            Error::database(format!("{what}: cannot begin a read-only transaction"), e)
        })?;
        let outcome = self.call(step, &code, true).await;
        let _ = self.conn().rollback().await;
        trace.statements = outcome.capture.statements;
        trace.log = outcome.log;
        outcome.result.map_err(|failure| step.failed(failure, Rollback::NotNeeded, false))
    }
}
