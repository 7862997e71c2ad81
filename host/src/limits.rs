//! Every limit the sandbox puts on a migration, with its default, its `[limits]` key in
//! `wasmig.toml`, and what it protects the host against.
//!
//! A migration is code from someone else. The limits make sure that whatever it does, it
//! cannot hang the run, exhaust the host's memory, or flood the database or the terminal;
//! hitting one stops the call with an error naming the limit and its key, and the
//! migration's transaction is rolled back.

use std::time::Duration;

use serde::Deserialize;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// Resource limits of one call into a migration (`describe`, `forwards` or `backwards`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time a call may spend outside the database: running guest code, or blocked in a
    /// WASI call such as a sleep. Stops an endless loop or an endless wait; time spent
    /// waiting on the database does not count, so a long-running statement is not cut off.
    /// `cpu_seconds`, default 30.
    pub cpu_time: Duration,
    /// Linear memory per instance, in bytes: stops a migration that allocates without
    /// bound from taking the host's memory. `memory_mib`, default 256.
    pub memory_bytes: usize,
    /// Core instances per call: language runtimes such as componentize-py use a dozen; the
    /// limit stops a component that instantiates without bound. `instances`, default 100.
    pub instances: usize,
    /// Tables per call, for the same reason. `tables`, default 100.
    pub tables: usize,
    /// Linear memories per call, for the same reason (each may use `memory_bytes`).
    /// `memories`, default 100.
    pub memories: usize,
    /// Elements per table: a table lives in host memory, so a table grown without bound
    /// would exhaust it. `table_elements`, default 1,000,000.
    pub table_elements: usize,
    /// WASI handles (streams, pollables) open at once: each lives in host memory, so a
    /// migration opening them without closing them would exhaust it. `resources`, default
    /// 10,000 (a language runtime uses a handful).
    pub resources: usize,
    /// SQL text plus parameter bytes a call may send through its database handle: every
    /// statement is kept (for the preview, and in a live run for the log), so this bounds
    /// the host memory they take, and stops a migration flooding the database.
    /// `sql_mib`, default 64.
    pub sql_bytes: u64,
    /// Statements (`execute` and `query` calls) per call: time spent in the database does
    /// not count against `cpu_time`, so without this a loop of cheap statements would never
    /// stop. `statements`, default 100,000.
    pub statements: u64,
    /// Bytes of guest stdout/stderr kept for the log; the rest is counted, not kept, so a
    /// chatty migration cannot exhaust host memory. `log_kib`, default 64.
    pub log_bytes: usize,
    /// Size of a component file, checked before it is read: stops a huge file from taking
    /// the host's memory and compile time. `component_mib`, default 64 (a Python or
    /// JavaScript migration, runtime included, is about 20 MiB).
    pub component_bytes: u64,
    /// Bytes of one `query` result the host holds for a migration (counted as the rows
    /// arrive; a larger result is refused as a database error): without it one query could
    /// make the host read a whole table into memory. `query_mib`, default 64.
    pub query_bytes: u64,
    /// Time one statement may run inside the database (PostgreSQL `statement_timeout`,
    /// MariaDB `max_statement_time`, MySQL `max_execution_time` for reads, SQLite a
    /// progress handler): `cpu_time` does not see time in the database. `statement_seconds`,
    /// unset by default.
    pub statement_time: Option<Duration>,
    /// Time a statement may wait for a lock (PostgreSQL `lock_timeout`, MySQL
    /// `innodb_lock_wait_timeout` and `lock_wait_timeout`, SQLite's busy timeout), so a
    /// migration waiting on a busy table fails fast instead of stalling the traffic queued
    /// behind it. `lock_wait_seconds`, unset by default (SQLite then waits 30 s).
    pub lock_wait: Option<Duration>,
}

/// What the host keeps of a message a migration returns (its error) or of its description:
/// the rest is cut, with a note saying how much, so a migration cannot flood the terminal
/// or the ledger.
pub const MESSAGE_BYTES: usize = 16 << 10;
/// The same for a description, which is stored in every ledger row.
pub const DESCRIPTION_BYTES: usize = 1 << 10;

/// `text` cut to at most `max` bytes (on a character boundary), with a note of what was cut.
pub fn truncated(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let cut = text.len() - (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    text.truncate(text.len() - cut);
    text.push_str(&format!("… ({cut} more bytes cut by wasmig)"));
    text
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time: Duration::from_secs(30),
            memory_bytes: (256 * MIB) as usize,
            instances: 100,
            tables: 100,
            memories: 100,
            table_elements: 1_000_000,
            resources: 10_000,
            sql_bytes: 64 * MIB,
            statements: 100_000,
            log_bytes: (64 * KIB) as usize,
            component_bytes: 64 * MIB,
            query_bytes: 64 * MIB,
            statement_time: None,
            lock_wait: None,
        }
    }
}

/// The `[limits]` table of `wasmig.toml`: each key raises (or lowers) one limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsTable {
    cpu_seconds: Option<u64>,
    memory_mib: Option<u64>,
    instances: Option<u64>,
    tables: Option<u64>,
    memories: Option<u64>,
    table_elements: Option<u64>,
    resources: Option<u64>,
    sql_mib: Option<u64>,
    statements: Option<u64>,
    log_kib: Option<u64>,
    component_mib: Option<u64>,
    query_mib: Option<u64>,
    statement_seconds: Option<u64>,
    lock_wait_seconds: Option<u64>,
}

/// The largest linear memory a 32-bit WebAssembly instance can address.
const MAX_MEMORY_MIB: u64 = 4096;
/// A day: a budget beyond this is a typo, not a migration.
const MAX_CPU_SECONDS: u64 = 24 * 60 * 60;

impl LimitsTable {
    /// The limits, with the defaults for keys the table does not set, or why a value is
    /// not usable.
    pub(crate) fn resolve(&self) -> Result<Limits, String> {
        let defaults = Limits::default();
        let size = |value: Option<u64>, key: &str, unit: u64, max: u64, default: u64| match value {
            None => Ok(default),
            Some(0) => Err(format!("[limits] {key} must be at least 1")),
            Some(n) if n > max => Err(format!("[limits] {key} must be at most {max}")),
            Some(n) => Ok(n * unit),
        };
        let count = |value: Option<u64>, key: &str, default: usize| {
            size(value, key, 1, u32::MAX.into(), default as u64).map(|n| n as usize)
        };
        Ok(Limits {
            cpu_time: Duration::from_secs(size(
                self.cpu_seconds,
                "cpu_seconds",
                1,
                MAX_CPU_SECONDS,
                defaults.cpu_time.as_secs(),
            )?),
            memory_bytes: size(
                self.memory_mib,
                "memory_mib",
                MIB,
                MAX_MEMORY_MIB,
                defaults.memory_bytes as u64,
            )? as usize,
            instances: count(self.instances, "instances", defaults.instances)?,
            tables: count(self.tables, "tables", defaults.tables)?,
            memories: count(self.memories, "memories", defaults.memories)?,
            table_elements: count(self.table_elements, "table_elements", defaults.table_elements)?,
            resources: count(self.resources, "resources", defaults.resources)?,
            sql_bytes: size(self.sql_mib, "sql_mib", MIB, 1 << 20, defaults.sql_bytes)?,
            statements: size(self.statements, "statements", 1, u64::MAX, defaults.statements)?,
            log_bytes: size(self.log_kib, "log_kib", KIB, 1 << 20, defaults.log_bytes as u64)?
                as usize,
            component_bytes: size(
                self.component_mib,
                "component_mib",
                MIB,
                1 << 20,
                defaults.component_bytes,
            )?,
            query_bytes: size(self.query_mib, "query_mib", MIB, 1 << 20, defaults.query_bytes)?,
            statement_time: self
                .statement_seconds
                .map(|n| size(Some(n), "statement_seconds", 1, MAX_CPU_SECONDS, 0))
                .transpose()?
                .map(Duration::from_secs),
            lock_wait: self
                .lock_wait_seconds
                .map(|n| size(Some(n), "lock_wait_seconds", 1, MAX_CPU_SECONDS, 0))
                .transpose()?
                .map(Duration::from_secs),
        })
    }
}

/// A limit a running migration ran into. Raised as a trap from the host side (a failed
/// memory growth, a refused statement), so the call stops at once; the message names the
/// limit's `[limits]` key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitHit {
    /// Linear memory would grow past `memory_bytes`.
    #[error(
        "out of memory: linear memory would grow to {} MiB, over the limit of {} MiB ([limits] memory_mib)",
        desired.div_ceil(MIB as usize),
        limit / MIB as usize
    )]
    Memory { desired: usize, limit: usize },
    /// A table would grow past `table_elements`.
    #[error(
        "host limit hit: a table would grow to {desired} elements, over the limit of {limit} ([limits] table_elements)"
    )]
    TableElements { desired: usize, limit: usize },
    /// One WASI handle too many.
    #[error(
        "host limit hit: more than {limit} WASI handles (streams, pollables) open at once ([limits] resources)"
    )]
    Resources { limit: usize },
    /// One statement too many.
    #[error("host limit hit: more than {limit} statements in one call ([limits] statements)")]
    Statements { limit: u64 },
    /// Too much SQL.
    #[error(
        "host limit hit: more than {} MiB of SQL in one call ([limits] sql_mib)",
        limit / MIB
    )]
    SqlBytes { limit: u64 },
}

impl LimitHit {
    /// The limit's key in the `[limits]` table.
    pub fn key(&self) -> &'static str {
        match self {
            LimitHit::Memory { .. } => "memory_mib",
            LimitHit::TableElements { .. } => "table_elements",
            LimitHit::Resources { .. } => "resources",
            LimitHit::Statements { .. } => "statements",
            LimitHit::SqlBytes { .. } => "sql_mib",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Limits, String> {
        toml::from_str::<LimitsTable>(text).map_err(|e| e.to_string())?.resolve()
    }

    #[test]
    fn an_empty_table_gives_the_defaults() {
        assert_eq!(table("").unwrap(), Limits::default());
        let limits = Limits::default();
        assert_eq!(limits.cpu_time, Duration::from_secs(30));
        assert_eq!(limits.memory_bytes, 256 << 20);
        assert_eq!(limits.log_bytes, 64 << 10);
    }

    #[test]
    fn keys_set_limits_in_their_units() {
        let limits = table(
            "cpu_seconds = 2\nmemory_mib = 32\nsql_mib = 1\nstatements = 10\nlog_kib = 4\n\
             component_mib = 3\ninstances = 7\ntables = 8\nmemories = 9\ntable_elements = 11\n\
             resources = 12\nquery_mib = 2\nstatement_seconds = 5\nlock_wait_seconds = 3",
        )
        .unwrap();
        assert_eq!(
            limits,
            Limits {
                cpu_time: Duration::from_secs(2),
                memory_bytes: 32 << 20,
                instances: 7,
                tables: 8,
                memories: 9,
                table_elements: 11,
                resources: 12,
                sql_bytes: 1 << 20,
                statements: 10,
                log_bytes: 4 << 10,
                component_bytes: 3 << 20,
                query_bytes: 2 << 20,
                statement_time: Some(Duration::from_secs(5)),
                lock_wait: Some(Duration::from_secs(3)),
            }
        );
    }

    #[test]
    fn refuses_zero_too_large_and_unknown_keys() {
        assert_eq!(
            table("cpu_seconds = 0").unwrap_err(),
            "[limits] cpu_seconds must be at least 1"
        );
        assert_eq!(
            table("memory_mib = 5000").unwrap_err(),
            "[limits] memory_mib must be at most 4096"
        );
        assert!(table("fuel = 3").unwrap_err().contains("fuel"));
        assert!(table("cpu_seconds = -1").is_err());
    }

    #[test]
    fn limit_messages_name_their_key() {
        let hit = LimitHit::Memory { desired: 300 << 20, limit: 256 << 20 };
        assert_eq!(
            hit.to_string(),
            "out of memory: linear memory would grow to 300 MiB, over the limit of 256 MiB ([limits] memory_mib)"
        );
        assert!(LimitHit::Statements { limit: 5 }.to_string().contains("[limits] statements"));
        assert!(LimitHit::SqlBytes { limit: 64 << 20 }.to_string().contains("64 MiB"));
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary_with_a_note() {
        assert_eq!(truncated("short".into(), 10), "short");
        let cut = truncated("é".repeat(10), 5);
        assert_eq!(cut, "éé… (16 more bytes cut by wasmig)");
    }
}
