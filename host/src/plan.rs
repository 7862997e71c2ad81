//! Deciding what to run: a pure function of the migration files, the ledger and the
//! requested target. No I/O, so every rule of the command line is unit-tested here.

use std::fmt;

use crate::id::MigrationId;

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Applying it.
    Forwards,
    /// Reversing it.
    Backwards,
}

impl Direction {
    /// `forwards` or `backwards`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forwards => "forwards",
            Direction::Backwards => "backwards",
        }
    }
}

/// What a `MIGRATION_ID` argument asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `all`: every pending (forwards) or applied (backwards) migration.
    All,
    /// `1`: the next pending one (forwards) or the most recently applied one (backwards).
    One,
    /// A migration ID.
    Id(MigrationId),
}

impl Target {
    /// Parses `all`, `1` or a migration ID.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        match text {
            "all" => Ok(Target::All),
            "1" => Ok(Target::One),
            _ => MigrationId::parse(text)
                .map(Target::Id)
                .map_err(|_| PlanError::InvalidTarget(text.to_string())),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::One => f.write_str("1"),
            Target::Id(id) => write!(f, "{id}"),
        }
    }
}

/// Why a request cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Neither `all`, `1` nor a migration ID.
    #[error(
        "`{0}` is not a migration target (expected `all`, `1` or a migration ID of at least 8 digits)"
    )]
    InvalidTarget(String),
    /// Forwards to an ID that is no migration file of the app.
    #[error("unknown migration ID {id}; valid IDs: {}", list(valid))]
    UnknownMigration { id: MigrationId, valid: Vec<MigrationId> },
    /// Backwards to an ID that is not among the app's applied migrations.
    #[error("migration {id} has not been applied; applied IDs: {}", list(valid))]
    NotApplied { id: MigrationId, valid: Vec<MigrationId> },
}

fn list(ids: &[MigrationId]) -> String {
    if ids.is_empty() {
        return "none".to_string();
    }
    ids.iter().map(MigrationId::as_str).collect::<Vec<_>>().join(", ")
}

/// The outcome of planning a forwards run of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwards {
    /// Apply these, in this order (possibly none: nothing pending).
    Apply(Vec<MigrationId>),
    /// The target ID has already run; nothing to do.
    AlreadyApplied(MigrationId),
}

/// Plans `forwards`. `files` are the app's migration IDs in ID order, `applied` the IDs the
/// ledger records for the app (any order).
pub fn forwards(
    files: &[MigrationId],
    applied: &[MigrationId],
    target: &Target,
) -> Result<Forwards, PlanError> {
    let mut pending = files.iter().filter(|id| !applied.contains(id)).cloned();
    match target {
        Target::All => Ok(Forwards::Apply(pending.collect())),
        Target::One => Ok(Forwards::Apply(pending.next().into_iter().collect())),
        Target::Id(id) if applied.contains(id) => Ok(Forwards::AlreadyApplied(id.clone())),
        Target::Id(id) if !files.contains(id) => {
            Err(PlanError::UnknownMigration { id: id.clone(), valid: files.to_vec() })
        }
        Target::Id(id) => Ok(Forwards::Apply(pending.filter(|p| p <= id).collect())),
    }
}

/// Plans `backwards`. `applied` are the app's applied IDs in run order (oldest first);
/// returns the IDs to reverse, newest-applied first.
pub fn backwards(applied: &[MigrationId], target: &Target) -> Result<Vec<MigrationId>, PlanError> {
    let start = match target {
        Target::All => 0,
        Target::One => applied.len().saturating_sub(1),
        Target::Id(id) => applied
            .iter()
            .position(|a| a == id)
            .ok_or_else(|| PlanError::NotApplied { id: id.clone(), valid: applied.to_vec() })?,
    };
    Ok(applied[start..].iter().rev().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<MigrationId> {
        list.iter().map(|s| MigrationId::parse(s).unwrap()).collect()
    }

    fn target(text: &str) -> Target {
        Target::parse(text).unwrap()
    }

    const FILES: [&str; 4] =
        ["20240101000000", "20240102000000", "20240103000000", "20240104000000"];

    #[test]
    fn parses_targets() {
        assert_eq!(target("all"), Target::All);
        assert_eq!(target("1"), Target::One);
        assert_eq!(target("20240101000000"), Target::Id(ids(&["20240101000000"])[0].clone()));
        for bad in ["2", "0", "latest", "1234567", "-1", ""] {
            assert!(matches!(Target::parse(bad), Err(PlanError::InvalidTarget(_))), "{bad}");
        }
    }

    #[test]
    fn forwards_all_applies_every_pending_in_id_order() {
        let plan = forwards(&ids(&FILES), &ids(&[FILES[1]]), &Target::All).unwrap();
        assert_eq!(plan, Forwards::Apply(ids(&[FILES[0], FILES[2], FILES[3]])));
    }

    #[test]
    fn forwards_all_with_nothing_pending_is_empty() {
        let plan = forwards(&ids(&FILES), &ids(&FILES), &Target::All).unwrap();
        assert_eq!(plan, Forwards::Apply(vec![]));
    }

    #[test]
    fn forwards_one_applies_the_next_pending_only() {
        let plan = forwards(&ids(&FILES), &ids(&FILES[..2]), &Target::One).unwrap();
        assert_eq!(plan, Forwards::Apply(ids(&[FILES[2]])));
        let plan = forwards(&ids(&FILES), &ids(&FILES), &Target::One).unwrap();
        assert_eq!(plan, Forwards::Apply(vec![]));
    }

    #[test]
    fn forwards_to_an_id_applies_pending_up_to_and_including_it() {
        let plan = forwards(&ids(&FILES), &ids(&[FILES[0]]), &target(FILES[2])).unwrap();
        assert_eq!(plan, Forwards::Apply(ids(&[FILES[1], FILES[2]])));
    }

    #[test]
    fn forwards_to_an_applied_id_reports_it() {
        let plan = forwards(&ids(&FILES), &ids(&FILES[..2]), &target(FILES[1])).unwrap();
        assert_eq!(plan, Forwards::AlreadyApplied(ids(&[FILES[1]])[0].clone()));
    }

    #[test]
    fn forwards_to_an_unknown_id_fails_even_when_nothing_is_pending() {
        let err = forwards(&ids(&FILES), &ids(&FILES), &target("20991231000000")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown migration ID 20991231000000; valid IDs: 20240101000000, 20240102000000, \
             20240103000000, 20240104000000"
        );
        let err = forwards(&[], &[], &target("20991231000000")).unwrap_err();
        assert!(err.to_string().ends_with("valid IDs: none"), "{err}");
    }

    #[test]
    fn backwards_one_reverses_the_most_recently_applied_by_run_order() {
        // Run order differs from ID order: the older ID was applied last.
        let applied = ids(&[FILES[1], FILES[0]]);
        assert_eq!(backwards(&applied, &Target::One).unwrap(), ids(&[FILES[0]]));
    }

    #[test]
    fn backwards_all_reverses_everything_newest_first() {
        let applied = ids(&[FILES[0], FILES[2], FILES[1]]);
        assert_eq!(
            backwards(&applied, &Target::All).unwrap(),
            ids(&[FILES[1], FILES[2], FILES[0]])
        );
    }

    #[test]
    fn backwards_to_an_id_includes_it_and_everything_applied_after() {
        let applied = ids(&[FILES[0], FILES[2], FILES[1], FILES[3]]);
        let plan = backwards(&applied, &target(FILES[2])).unwrap();
        assert_eq!(plan, ids(&[FILES[3], FILES[1], FILES[2]]));
    }

    #[test]
    fn backwards_with_nothing_applied_is_empty() {
        assert_eq!(backwards(&[], &Target::One).unwrap(), vec![]);
        assert_eq!(backwards(&[], &Target::All).unwrap(), vec![]);
    }

    #[test]
    fn backwards_to_an_unapplied_id_lists_the_valid_ones() {
        let applied = ids(&FILES[..2]);
        let err = backwards(&applied, &target(FILES[3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "migration 20240104000000 has not been applied; applied IDs: 20240101000000, 20240102000000"
        );
    }
}
