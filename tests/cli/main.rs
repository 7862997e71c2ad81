//! Runs the real `wasmig` binary on temp copies of the sample project and asserts its
//! output, exit status and the database afterwards.

// Test helpers unwrap too: a panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod support;

mod backwards;
mod cache;
mod check_clean;
mod crash;
mod determinism;
mod failures;
mod fleet;
mod forwards;
mod fuzz;
mod history;
mod hostile;
mod json;
mod ledger_upgrade;
mod library;
mod lock;
mod new;
mod polyglot;
mod preview_sql;
mod sql;
mod values;
