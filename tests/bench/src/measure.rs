//! Running one child process and measuring it: wall time and peak resident memory.
//!
//! Every contender is an external program, so every figure here is what a user would see
//! from a shell: process start, dynamic loading, the work, and exit. The child is reaped
//! with `wait4`, which returns its own resource usage; `getrusage(RUSAGE_CHILDREN)` would
//! mix every child the bench has run so far.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

/// How many lines of a failed child's stderr an error shows.
const STDERR_TAIL_LINES: usize = 20;

/// One finished, successful child process.
#[derive(Debug)]
pub struct Execution {
    /// From just before `spawn` to the moment the child was reaped.
    pub wall: Duration,
    /// The child's peak resident set (`ru_maxrss`), in KiB on Linux.
    pub max_rss_kib: u64,
    /// What it wrote to stdout (empty when `stdout` was not kept).
    pub stdout: Vec<u8>,
}

/// Where the child's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Captured and returned in [`Execution::stdout`].
    Keep,
    /// Sent to `/dev/null`: the figure then excludes the cost of the bench reading it.
    Discard,
}

/// Runs `command` to completion with stdin from `stdin` (or `/dev/null`, so a prompt
/// declines instead of hanging), stderr captured, and measures it.
///
/// A nonzero exit is an error that shows the tail of the child's stderr.
pub fn run(mut command: Command, stdin: Option<&Path>, stdout: Stdout) -> Result<Execution> {
    let stdin = match stdin {
        Some(path) => Stdio::from(
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => Stdio::null(),
    };
    command.stdin(stdin).stderr(Stdio::piped()).stdout(match stdout {
        Stdout::Keep => Stdio::piped(),
        Stdout::Discard => Stdio::null(),
    });

    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {command:?}"))?;
    let child_stdout = child.stdout.take();
    let child_stderr = child.stderr.take();
    // The pipes are drained while the child runs: a child that fills a pipe buffer
    // (64 KiB of progress lines is only a few hundred migrations) would otherwise block.
    let (waited, wall, out, err) = thread::scope(|scope| {
        let out = scope.spawn(|| read_all(child_stdout));
        let err = scope.spawn(|| read_all(child_stderr));
        let waited = wait_with_rusage(child.id());
        let wall = started.elapsed();
        (waited, wall, out.join(), err.join())
    });
    let (status, max_rss_kib) = waited.with_context(|| format!("cannot wait for {command:?}"))?;
    let stdout = out.map_err(|_| anyhow!("stdout reader panicked"))??;
    let stderr = err.map_err(|_| anyhow!("stderr reader panicked"))??;

    if !status.success() {
        bail!("{command:?} failed ({status}); end of its stderr:\n{}", tail(&stderr));
    }
    Ok(Execution { wall, max_rss_kib, stdout })
}

fn read_all(pipe: Option<impl Read>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

/// Reaps the child `pid` and returns its exit status and peak resident set in KiB.
///
/// The `std::process::Child` handle of this pid must not be waited on afterwards: the
/// child is gone, and dropping the handle does not wait.
#[allow(unsafe_code)]
fn wait_with_rusage(pid: u32) -> io::Result<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are a
    // valid value; `wait4` is given pointers to two live, writable locals of the types it
    // expects, and `pid` is a child of this process that nothing else waits for.
    let (returned, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let returned = loop {
            let returned = libc::wait4(pid, &mut status, 0, &mut usage);
            if returned != -1 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break returned;
            }
        };
        (returned, usage)
    };
    if returned == -1 {
        return Err(io::Error::last_os_error());
    }
    let max_rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    Ok((ExitStatus::from_raw(status), max_rss_kib))
}

/// Median and spread of repeated wall times, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
}

impl Summary {
    /// Summarises the samples; `None` when there are none. The median, not the mean, is the
    /// headline figure: one run disturbed by the machine (another build, a flush) moves a
    /// mean a lot and a median hardly.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let (&min_ms, &max_ms) = (ms.first()?, ms.last()?);
        let middle = ms.len() / 2;
        let median_ms = if ms.len().is_multiple_of(2) {
            (ms[middle - 1] + ms[middle]) / 2.0
        } else {
            ms[middle]
        };
        Some(Summary { median_ms, min_ms, max_ms, runs: ms.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&ms(&[30, 10, 20])).unwrap();
        assert_eq!((odd.median_ms, odd.min_ms, odd.max_ms), (20.0, 10.0, 30.0));
        assert_eq!(Summary::of(&ms(&[40, 10, 20, 30])).unwrap().median_ms, 25.0);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn failed_child_shows_its_stderr() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo boom >&2; exit 3"]);
        let error = run(command, None, Stdout::Keep).unwrap_err().to_string();
        assert!(error.contains("boom"), "{error}");
    }

    #[test]
    fn measures_output_and_memory() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo hello"]);
        let execution = run(command, None, Stdout::Keep).unwrap();
        assert_eq!(execution.stdout, b"hello\n");
        assert!(execution.max_rss_kib > 0);
    }
}
