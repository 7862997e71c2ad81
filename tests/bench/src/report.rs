//! The bench's figures, as an aligned text table for people and as JSON for scripts (for
//! instance the performance table of docs/benchmark.md).

use std::fmt;

use serde::Serialize;

use crate::measure::Summary;

/// Everything the bench measured, with what it was measured on.
#[derive(Debug, Serialize)]
pub struct Report {
    /// UTC, RFC 3339.
    pub date: String,
    /// CPUs available to the bench (what `nproc` prints).
    pub nproc: usize,
    /// The wasmig binary measured.
    pub wasmig: String,
    /// Migrations in workload A.
    pub n: usize,
    /// Migrations in workload B.
    pub check_n: usize,
    /// Timed runs per figure.
    pub runs: usize,
    /// Workload A: forwards all + backwards all, per contender; `null` when skipped.
    pub forwards_backwards_ms: Contenders,
    /// Workload B: `check --format json`, warm cache.
    pub check_ms: Summary,
    pub peak_rss_kib: PeakRss,
    pub ratios: Ratios,
    /// Contenders skipped, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Contenders {
    pub wasmig_warm: Option<Summary>,
    /// Warm, with `[history] store_artefacts = false`: the sandbox without the history.
    pub wasmig_warm_unstored: Option<Summary>,
    pub wasmig_cold: Option<Summary>,
    pub floor: Option<Summary>,
    /// The floor that also stores each migration's component with its ledger row, as
    /// wasmig does by default.
    pub floor_stored_components: Option<Summary>,
    /// That floor with its journal kept between transactions, as wasmig's SQLite
    /// connection keeps it: the floor for exactly what wasmig does with the database.
    pub floor_stored_journal_kept: Option<Summary>,
    pub sqlx_cli: Option<Summary>,
}

/// Peak resident set of wasmig's `forwards all -y`, KiB.
#[derive(Debug, Serialize)]
pub struct PeakRss {
    /// Over workload B's project (`check_n` migrations, warm cache).
    pub forwards_check_n_warm: u64,
    /// Over workload A's project (`n` migrations, warm cache), the highest of the runs.
    pub forwards_n_warm: u64,
}

/// Ratios of medians; `null` when the denominator was skipped.
#[derive(Debug, Serialize)]
pub struct Ratios {
    pub warm_over_floor: Option<f64>,
    pub warm_over_floor_stored_components: Option<f64>,
    pub warm_over_floor_stored_journal_kept: Option<f64>,
    pub warm_over_sqlx_cli: Option<f64>,
    pub warm_unstored_over_floor: Option<f64>,
    pub cold_over_floor: Option<f64>,
}

impl Ratios {
    pub fn of(contenders: &Contenders) -> Ratios {
        let ratio = |top: Option<Summary>, bottom: Option<Summary>| {
            Some(top?.median_ms / bottom?.median_ms)
        };
        Ratios {
            warm_over_floor: ratio(contenders.wasmig_warm, contenders.floor),
            warm_over_floor_stored_components: ratio(
                contenders.wasmig_warm,
                contenders.floor_stored_components,
            ),
            warm_over_floor_stored_journal_kept: ratio(
                contenders.wasmig_warm,
                contenders.floor_stored_journal_kept,
            ),
            warm_over_sqlx_cli: ratio(contenders.wasmig_warm, contenders.sqlx_cli),
            warm_unstored_over_floor: ratio(contenders.wasmig_warm_unstored, contenders.floor),
            cold_over_floor: ratio(contenders.wasmig_cold, contenders.floor),
        }
    }
}

/// The report as plain text: a header, then one aligned table of timings, memory and ratios.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wasmig bench  {}  nproc {}", self.date, self.nproc)?;
        writeln!(f, "wasmig: {}", self.wasmig)?;
        writeln!(
            f,
            "A: forwards all + backwards all of {} migrations (one app), from an empty SQLite \
             database; median of {} interleaved run(s)",
            self.n, self.runs
        )?;
        writeln!(
            f,
            "B: check --format json over {} pending migrations in 5 apps, warm cache; median of \
             {} run(s)",
            self.check_n, self.runs
        )?;
        writeln!(f)?;

        let mut rows = vec![row(["", "median", "min", "max", "per migration"])];
        let timings = [
            ("wasmig warm", self.forwards_backwards_ms.wasmig_warm, self.n),
            (
                "wasmig warm, nothing stored",
                self.forwards_backwards_ms.wasmig_warm_unstored,
                self.n,
            ),
            ("wasmig cold", self.forwards_backwards_ms.wasmig_cold, self.n),
            ("floor (sqlite3)", self.forwards_backwards_ms.floor, self.n),
            (
                "floor + stored components",
                self.forwards_backwards_ms.floor_stored_components,
                self.n,
            ),
            (
                "floor + stored, journal kept",
                self.forwards_backwards_ms.floor_stored_journal_kept,
                self.n,
            ),
            ("sqlx-cli", self.forwards_backwards_ms.sqlx_cli, self.n),
            (&*format!("check ({}, warm)", self.check_n), Some(self.check_ms), self.check_n),
        ];
        for (label, summary, count) in timings {
            rows.push(match summary {
                Some(s) => row([
                    label,
                    &millis(s.median_ms),
                    &millis(s.min_ms),
                    &millis(s.max_ms),
                    &format!("{:.2} ms", s.median_ms / count as f64),
                ]),
                None => row([label, "skipped", "", "", ""]),
            });
        }
        let memory = [
            (
                format!("peak RSS forwards ({}, warm)", self.check_n),
                self.peak_rss_kib.forwards_check_n_warm,
            ),
            (format!("peak RSS forwards ({}, warm)", self.n), self.peak_rss_kib.forwards_n_warm),
        ];
        for (label, kib) in memory {
            rows.push(row([&label, &format!("{:.1} MiB", kib as f64 / 1024.0), "", "", ""]));
        }
        rows.push(row(["", "", "", "", ""]));
        let ratios = [
            ("warm / floor", self.ratios.warm_over_floor),
            ("warm / floor + stored components", self.ratios.warm_over_floor_stored_components),
            (
                "warm / floor + stored, journal kept",
                self.ratios.warm_over_floor_stored_journal_kept,
            ),
            ("warm / sqlx-cli", self.ratios.warm_over_sqlx_cli),
            ("warm, nothing stored / floor", self.ratios.warm_unstored_over_floor),
            ("cold / floor", self.ratios.cold_over_floor),
        ];
        for (label, ratio) in ratios {
            let value = ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"));
            rows.push(row([label, &value, "", "", ""]));
        }
        f.write_str(&aligned(&rows))?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|cell| (*cell).to_owned()).collect()
}

fn millis(ms: f64) -> String {
    format!("{ms:.1} ms")
}

/// The first column left-aligned, the others right-aligned, each as wide as its widest cell.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for cells in rows {
        let line: String = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(
                |(c, (cell, &width))| {
                    if c == 0 { format!("{cell:<width$}") } else { format!("  {cell:>width$}") }
                },
            )
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
