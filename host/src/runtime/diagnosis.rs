//! Turning a call that did not return into a stop diagnosis a user can act on: the kind,
//! the limit and its key when a limit stopped it, a panic's message or a failed allocation
//! from the guest's output, and the top of the guest's backtrace.

use wasmtime::component::ResourceTableError;
use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::error::{Stop, StopKind};
use crate::limits::LimitHit;
use crate::sandbox::{Limits, SandboxState};

/// Why a call did not return.
pub(super) enum Stopped {
    /// A trap, or an error raised by the host on the guest's behalf.
    Trap(wasmtime::Error),
    /// Blocked in the host past the time budget (a sleep, a poll that never ends).
    Stalled,
}

/// What stopped a call run under `limits`, given the state its sandbox was left in.
pub(super) fn diagnose(stopped: &Stopped, state: &SandboxState, limits: &Limits) -> Stop {
    let seconds = limits.cpu_time.as_secs();
    let error = match stopped {
        Stopped::Stalled => {
            return Stop {
                kind: StopKind::Stalled,
                message: format!(
                    "out of CPU budget: spent more than {seconds} s outside the database, \
                     blocked in a WASI call (a sleep or a poll that never ends?) \
                     ([limits] cpu_seconds)"
                ),
            };
        }
        Stopped::Trap(error) => error,
    };
    let (kind, mut message) = if let Some(hit) = error.downcast_ref::<LimitHit>() {
        (StopKind::Limit(hit.clone()), hit.to_string())
    } else if let Some(ResourceTableError::Full) = error.downcast_ref::<ResourceTableError>() {
        let hit = LimitHit::Resources { limit: limits.resources };
        (StopKind::Limit(hit.clone()), hit.to_string())
    } else if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
        (StopKind::Exit(*code), format!("the migration called exit({code}) instead of returning"))
    } else {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => (
                StopKind::CpuBudget,
                format!(
                    "out of CPU budget: ran guest code for more than {seconds} s (an endless \
                     loop?) ([limits] cpu_seconds)"
                ),
            ),
            Some(Trap::StackOverflow) => {
                (StopKind::StackOverflow, "stack overflow (unbounded recursion?)".to_string())
            }
            Some(Trap::UnreachableCodeReached) => aborted(&state.log.tail()),
            Some(trap) => (StopKind::Trap, format!("trapped: {trap}")),
            None => (StopKind::Host, chain(error)),
        }
    };
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        let frames = backtrace_summary(backtrace);
        if !frames.is_empty() {
            message.push_str(&format!(" [wasm backtrace: {frames}]"));
        }
    }
    Stop { kind, message }
}

/// Why the guest aborted (reached an `unreachable` instruction), from the end of its
/// output `tail`: Rust's runtime aborts that way after a panic or a failed allocation, and
/// says which on stderr first.
fn aborted(tail: &str) -> (StopKind, String) {
    if let Some(panic) = panic_message(tail) {
        (StopKind::Panic, format!("guest panic: {panic}"))
    } else if let Some(line) = failed_allocation(tail) {
        (StopKind::OutOfMemory, format!("out of memory: {line}"))
    } else {
        (StopKind::Unreachable, "unreachable code reached (the guest aborted)".to_string())
    }
}

/// The message and location of the last Rust panic in the guest's output:
/// `thread '<unnamed>' panicked at src/lib.rs:12:9:\nboom\nnote: ...` gives
/// `boom (at src/lib.rs:12:9)`.
fn panic_message(log: &str) -> Option<String> {
    let start = log.rfind(" panicked at ")?;
    let rest = &log[start + " panicked at ".len()..];
    let (location, rest) = rest.split_once('\n').unwrap_or((rest, ""));
    let location = location.trim_end_matches(':').trim();
    let message: Vec<&str> = rest
        .lines()
        .take_while(|line| !line.starts_with("note: "))
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    let message = if message.is_empty() { "(no message)".to_string() } else { message.join(" ") };
    Some(format!("{message} (at {location})"))
}

/// The line in which the guest's allocator reported that it could not get memory.
fn failed_allocation(log: &str) -> Option<&str> {
    log.lines().rev().find(|line| line.starts_with("memory allocation of "))
}

/// The innermost frames of a backtrace that belong to the migration rather than to the
/// language's runtime or the SDK's glue: at most five, innermost first, demangled, with a
/// recursing function shown once.
fn backtrace_summary(backtrace: &WasmBacktrace) -> String {
    const RUNTIME: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "__rust",
        "rust_panic",
        "abort",
        "dlmalloc",
        "wit_bindgen",
        "wasmig_guest::",
    ];
    let names: Vec<String> = backtrace
        .frames()
        .iter()
        .filter_map(|frame| frame.func_name())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .collect();
    let own: Vec<&String> =
        names.iter().filter(|name| !RUNTIME.iter().any(|p| name.starts_with(p))).collect();
    let frames = if own.is_empty() { names.iter().collect() } else { own };
    let mut shown: Vec<String> = Vec::new();
    let mut previous: Option<&String> = None;
    for name in frames {
        if previous == Some(name) {
            if let Some(last) = shown.last_mut()
                && !last.ends_with(" (recursing)")
            {
                last.push_str(" (recursing)");
            }
            continue;
        }
        if shown.len() == 5 {
            break;
        }
        previous = Some(name);
        shown.push(name.clone());
    }
    shown.join(" <- ")
}

/// A wasmtime error with its causes, on one line.
pub(super) fn chain(error: &wasmtime::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_found_at_the_end_of_the_log() {
        let log = "starting\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(log).unwrap(), "boom (at src/lib.rs:12:9)");
        let multi = "thread 'main' panicked at a.rs:1:1:\nline one\nline two\n";
        assert_eq!(panic_message(multi).unwrap(), "line one line two (at a.rs:1:1)");
        assert_eq!(panic_message("just a log\n"), None);
        assert_eq!(
            failed_allocation("x\nmemory allocation of 1048576 bytes failed\n"),
            Some("memory allocation of 1048576 bytes failed")
        );
    }
}
