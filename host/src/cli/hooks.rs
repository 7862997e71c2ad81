//! The terminal hooks of a command: lines (or a progress bar) on stderr as migrations
//! finish, the SQL of a text preview on stdout as it is made, questions asked on the
//! terminal, and colour only where `NO_COLOR` allows it.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::Format;
use super::text::{duration, script};
use crate::report::{Event, Hooks, MigrationReport, Outcome, Question};

/// A run shows a progress bar (on a terminal) only when it has more migrations than this.
const PROGRESS_ABOVE: usize = 3;

/// The CLI's hooks: lines (or a progress bar) on stderr as migrations finish, the SQL of
/// a text preview on stdout as it is made, and questions asked on the terminal.
#[derive(Debug)]
pub struct Terminal {
    format: Format,
    interactive: bool,
    progress: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    /// Hooks for a command printing in `format`.
    pub fn new(format: Format) -> Self {
        Terminal {
            format,
            interactive: std::io::stderr().is_terminal(),
            progress: Mutex::new(None),
        }
    }

    /// The progress bar, if one is shown.
    fn bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a line to stderr, above the progress bar if there is one.
    fn line(&self, text: &str) {
        match &*self.bar() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Takes the progress bar off the terminal, before the run's summary.
    pub(super) fn finish_progress(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }

    fn start_progress(&self, total: usize) {
        if !self.interactive || total <= PROGRESS_ABOVE {
            return;
        }
        let template = if no_color() {
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
        } else {
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
            .with_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar() = Some(bar);
    }

    fn finished(&self, migration: &MigrationReport) {
        let MigrationReport { app_name: app, migration_id: id, description, .. } = migration;
        for line in migration.log.lines() {
            self.line(&format!("  [{app} {id}] {line}"));
        }
        if migration.log_dropped > 0 {
            self.line(&format!(
                "  [{app} {id}] ... {} more bytes of output not shown",
                migration.log_dropped
            ));
        }
        let took = duration(migration.duration);
        match migration.outcome {
            Outcome::Applied | Outcome::Reversed => {
                let note = if migration.transactional { "" } else { " (non-transactional)" };
                let verb = migration.outcome.verb();
                self.line(&format!("{verb} {app} {id}: {description}{note} ({took})"));
            }
            Outcome::Faked => self.line(&format!("faked {app} {id}: {description}")),
            Outcome::RolledBack => {
                let direction = migration.direction.name();
                self.line(&format!("ran {app} {id} {direction} (dry run): {description} ({took})"));
            }
            Outcome::Previewed if self.format == Format::Text => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(script(migration).as_bytes()).and_then(|()| out.flush());
            }
            Outcome::Previewed | Outcome::Skipped | Outcome::Failed => {}
        }
        if let Some(path) = &migration.deleted_file {
            self.line(&format!("deleted {}", path.display()));
        }
        if let Some(bar) = &*self.bar() {
            bar.inc(1);
        }
    }
}

impl Hooks for Terminal {
    /// Asks on stderr; only `y` or `yes` (any case) agrees. Empty input, end of input or
    /// anything else declines.
    fn confirm(&self, question: &Question) -> bool {
        self.finish_progress();
        for detail in &question.details {
            eprintln!("  {detail}");
        }
        eprint!("{} [y/N] ", question.prompt);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(0) | Err(_) => {
                eprintln!();
                false
            }
            Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        }
    }

    fn event(&self, event: Event<'_>) {
        match event {
            Event::WaitingForLock { timeout } => self.line(&format!(
                "waiting for another wasmig run to finish (lock_timeout {}s)...",
                timeout.as_secs()
            )),
            Event::Planned { total } => self.start_progress(total),
            Event::Started { app, migration_id, direction } => {
                if let Some(bar) = &*self.bar() {
                    bar.set_message(format!("{app} {migration_id} {}", direction.name()));
                }
            }
            Event::Finished(migration) => self.finished(migration),
            Event::Warning(warning) => self.line(&format!("warning: {warning}")),
            Event::TargetEnded { line } => self.line(line),
        }
    }
}

/// Whether colour is off: `NO_COLOR` set to anything but the empty string.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}
