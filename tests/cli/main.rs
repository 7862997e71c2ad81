//! Runs the real `wasmig` binary on temp copies of the sample project and asserts its
//! output, exit status and the database afterwards.

mod support;

mod backwards;
mod check_clean;
mod failures;
mod forwards;
mod library;
mod new;
