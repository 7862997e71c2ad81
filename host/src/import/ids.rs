//! How another tool's versions become wasmig IDs: the version's number when that keeps the
//! tool's order (the usual case), a folder-wide fixed-width form when it does not.

use std::fmt;

use crate::id::{MIN_ID_DIGITS, MigrationId};

use super::error::ImportError;
use super::found::{Migration, Order};
use super::tool::Tool;

/// The rule a plan used to turn versions into IDs; the report states it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdRule {
    /// The version's number is the ID, zero-padded to 8 digits when shorter. This is the
    /// rule [`origin_id`] applies.
    Number,
    /// The versions have different numbers of digits and the tool orders them as text, so
    /// each gets trailing zeros up to `width` digits: text order and numeric order agree.
    TrailingZeros { width: usize },
    /// Dotted versions (Flyway's `1.2`): each part zero-padded to the width its position
    /// needs in this folder, joined, and the whole zero-padded to 8 digits. No rule without
    /// the folder can keep the order of dotted versions in plain numbers: `1.1`, `1.2`, ...
    /// all come before `2`.
    Parts { widths: Vec<usize> },
}

impl fmt::Display for IdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRule::Number => {
                f.write_str("each version's number is its ID, zero-padded to 8 digits")
            }
            IdRule::TrailingZeros { width } => write!(
                f,
                "the versions differ in length and are ordered as text, so each is extended \
                 with trailing zeros to {width} digits"
            ),
            IdRule::Parts { widths } => {
                let example = example_parts(widths.len());
                let id = parts_id(&example, widths);
                let example = example.join(".");
                write!(
                    f,
                    "each part of a dotted version is zero-padded to {} digits and the parts are \
                     joined ({example} -> {id})",
                    widths.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )
            }
        }
    }
}

const EXAMPLE: [&str; 3] = ["1", "2", "3"];

fn example_parts(count: usize) -> Vec<String> {
    (0..count).map(|i| EXAMPLE[i % 3].to_string()).collect()
}

/// The ID a version gets under [`IdRule::Number`], the rule of every folder whose versions
/// are integers (and of diesel and dbmate folders whose versions all have one length):
/// `None` for a version that is not a plain number, such as Flyway's `1.1`, which only the
/// plan of its folder can map (through the `-- wasmig:origin` line it writes).
pub fn origin_id(tool: Tool, version: &str) -> Option<MigrationId> {
    let digits = match tool {
        Tool::Diesel => version.replace('-', ""),
        Tool::Flyway => {
            let parts = flyway_parts(version)?;
            if parts.len() != 1 {
                return None;
            }
            parts.into_iter().next()?
        }
        _ => version.to_string(),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(number_id(&digits))
}

/// A Flyway version's parts as integers without leading zeros, trailing zero parts dropped
/// (Flyway holds `1.0` and `1` for one version); `None` when it is not a version.
pub(crate) fn flyway_parts(version: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for part in version.replace('_', ".").split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        parts.push(significant(part).to_string());
    }
    while parts.len() > 1 && parts.last().is_some_and(|part| part == "0") {
        parts.pop();
    }
    Some(parts)
}

fn significant(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

fn padded(digits: String) -> MigrationId {
    let text = format!("{digits:0>MIN_ID_DIGITS$}");
    // Only ASCII digits reach here, and at least MIN_ID_DIGITS of them.
    MigrationId::parse(&text).unwrap_or_else(|_| unreachable!("`{text}` is a migration ID"))
}

fn number_id(digits: &str) -> MigrationId {
    padded(significant(digits).to_string())
}

fn parts_id(parts: &[String], widths: &[usize]) -> MigrationId {
    let mut digits = String::new();
    for (index, width) in widths.iter().enumerate() {
        let part = parts.get(index).map_or("0", String::as_str);
        digits.push_str(&format!("{part:0>width$}"));
    }
    padded(significant(&digits).to_string())
}

/// The IDs of `migrations` (in the tool's order) and the rule that gave them, or the first
/// pair whose order no rule keeps.
pub(crate) fn assign(
    tool: Tool,
    order: Order,
    migrations: &[Migration],
) -> Result<(IdRule, Vec<MigrationId>), ImportError> {
    let single = |m: &Migration| m.version.parts.first().map_or("0", String::as_str).to_string();
    let numbers = || migrations.iter().map(|m| number_id(&single(m))).collect::<Vec<_>>();
    match order {
        Order::Numeric => {
            let ids = numbers();
            check(tool, migrations, &ids)?;
            Ok((IdRule::Number, ids))
        }
        Order::Text => {
            let ids = numbers();
            if check(tool, migrations, &ids).is_ok() {
                return Ok((IdRule::Number, ids));
            }
            let width = migrations.iter().map(|m| single(m).len()).max().unwrap_or(0);
            let ids: Vec<MigrationId> =
                migrations.iter().map(|m| padded(format!("{:0<width$}", single(m)))).collect();
            check(tool, migrations, &ids)?;
            Ok((IdRule::TrailingZeros { width }, ids))
        }
        Order::Dotted => {
            if migrations.iter().all(|m| m.version.parts.len() == 1) {
                let ids = numbers();
                check(tool, migrations, &ids)?;
                return Ok((IdRule::Number, ids));
            }
            let count = migrations.iter().map(|m| m.version.parts.len()).max().unwrap_or(0);
            let widths: Vec<usize> = (0..count)
                .map(|index| {
                    migrations
                        .iter()
                        .filter_map(|m| m.version.parts.get(index).map(String::len))
                        .max()
                        .unwrap_or(1)
                })
                .collect();
            let ids: Vec<MigrationId> =
                migrations.iter().map(|m| parts_id(&m.version.parts, &widths)).collect();
            check(tool, migrations, &ids)?;
            Ok((IdRule::Parts { widths }, ids))
        }
    }
}

/// Every ID must sort strictly after the one before it, as the tool ran them.
fn check(tool: Tool, migrations: &[Migration], ids: &[MigrationId]) -> Result<(), ImportError> {
    for (index, pair) in ids.windows(2).enumerate() {
        if pair[0] >= pair[1] {
            return Err(ImportError::OrderNotKept {
                tool,
                earlier: migrations[index].source.clone(),
                earlier_id: pair[0].to_string(),
                later: migrations[index + 1].source.clone(),
                id: pair[1].to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::found::Version;
    use super::*;

    fn migration(recorded: &str, parts: &[&str]) -> Migration {
        Migration {
            source: PathBuf::from(recorded),
            version: Version {
                recorded: recorded.to_string(),
                parts: parts.iter().map(ToString::to_string).collect(),
            },
            name: String::new(),
            up: String::new(),
            down: None,
            no_transaction: false,
            notes: Vec::new(),
        }
    }

    fn assign_ids(
        order: Order,
        versions: &[&[&str]],
    ) -> Result<(IdRule, Vec<String>), ImportError> {
        let migrations: Vec<Migration> =
            versions.iter().map(|parts| migration(&parts.join("."), parts)).collect();
        assign(Tool::Flyway, order, &migrations)
            .map(|(rule, ids)| (rule, ids.iter().map(ToString::to_string).collect()))
    }

    #[test]
    fn numbers_are_zero_padded_to_eight_digits() {
        let (rule, ids) =
            assign_ids(Order::Numeric, &[&["1"], &["00002"], &["20240101120000"]]).unwrap();
        assert_eq!(rule, IdRule::Number);
        assert_eq!(ids, ["00000001", "00000002", "20240101120000"]);
        assert_eq!(rule.to_string(), "each version's number is its ID, zero-padded to 8 digits");
    }

    #[test]
    fn text_ordered_versions_keep_their_numbers_when_that_keeps_the_order() {
        let (rule, ids) =
            assign_ids(Order::Text, &[&["00000000000000"], &["20240101000000"]]).unwrap();
        assert_eq!(rule, IdRule::Number);
        assert_eq!(ids, ["00000000", "20240101000000"]);
    }

    #[test]
    fn text_ordered_versions_of_several_lengths_get_trailing_zeros() {
        // diesel's newer form adds four digits; text order puts June's old form last.
        let versions: &[&[&str]] = &[&["202501010000000000"], &["20250601000000"]];
        let (rule, ids) = assign_ids(Order::Text, versions).unwrap();
        assert_eq!(rule, IdRule::TrailingZeros { width: 18 });
        assert_eq!(ids, ["202501010000000000", "202506010000000000"]);
        // `1` and `10` become one ID: no rule keeps them apart.
        let error = assign_ids(Order::Text, &[&["10"], &["1"]]).unwrap_err();
        assert!(matches!(error, ImportError::OrderNotKept { .. }), "{error}");
    }

    #[test]
    fn dotted_versions_get_a_fixed_width_per_part() {
        let versions: &[&[&str]] = &[&["1"], &["1", "1"], &["1", "2"], &["1", "10"], &["2"]];
        let (rule, ids) = assign_ids(Order::Dotted, versions).unwrap();
        assert_eq!(rule, IdRule::Parts { widths: vec![1, 2] });
        assert_eq!(ids, ["00000100", "00000101", "00000102", "00000110", "00000200"]);
        assert_eq!(
            rule.to_string(),
            "each part of a dotted version is zero-padded to 1, 2 digits and the parts are \
             joined (1.2 -> 00000102)"
        );
        let dates: &[&[&str]] = &[&["2024", "1", "15"], &["2024", "2", "3", "1"]];
        let (_, ids) = assign_ids(Order::Dotted, dates).unwrap();
        assert_eq!(ids, ["20241150", "20242031"]);
    }

    #[test]
    fn single_part_flyway_versions_are_numbers() {
        let (rule, ids) = assign_ids(Order::Dotted, &[&["1"], &["2"], &["10"]]).unwrap();
        assert_eq!(rule, IdRule::Number);
        assert_eq!(ids, ["00000001", "00000002", "00000010"]);
    }

    #[test]
    fn origin_ids_exist_for_plain_numbers_only() {
        let id = |tool, version| origin_id(tool, version).map(|id| id.to_string());
        assert_eq!(id(Tool::Sqlx, "20240101120000").as_deref(), Some("20240101120000"));
        assert_eq!(id(Tool::Goose, "3").as_deref(), Some("00000003"));
        assert_eq!(id(Tool::Diesel, "2024-01-01-000000").as_deref(), Some("20240101000000"));
        assert_eq!(id(Tool::Diesel, "00000000000000").as_deref(), Some("00000000"));
        assert_eq!(id(Tool::Dbmate, "001").as_deref(), Some("00000001"));
        assert_eq!(id(Tool::Flyway, "1.0").as_deref(), Some("00000001"));
        assert_eq!(id(Tool::Flyway, "1.1"), None);
        assert_eq!(id(Tool::Refinery, "x"), None);
        assert_eq!(id(Tool::GolangMigrate, ""), None);
    }

    #[test]
    fn flyway_parts_follow_flyway() {
        assert_eq!(flyway_parts("1_1").unwrap(), ["1", "1"]);
        assert_eq!(flyway_parts("001.020.0").unwrap(), ["1", "20"]);
        assert_eq!(flyway_parts("0").unwrap(), ["0"]);
        assert_eq!(flyway_parts("1..2"), None);
        assert_eq!(flyway_parts("1.a"), None);
    }
}
