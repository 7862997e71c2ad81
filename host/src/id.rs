//! Migration IDs: the digits of a component's file name, ordered numerically.

use std::cmp::Ordering;
use std::fmt;

/// The least number of digits a migration ID has.
pub const MIN_ID_DIGITS: usize = 8;

/// A migration ID: ASCII digits, at least [`MIN_ID_DIGITS`] of them, ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MigrationId(String);

impl MigrationId {
    /// Parses an ID, or says why it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() < MIN_ID_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` is not a migration ID (at least {MIN_ID_DIGITS} digits)"
            ));
        }
        Ok(MigrationId(text.to_string()))
    }

    /// The ID as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn significant(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() { "0" } else { trimmed }
    }
}

impl Ord for MigrationId {
    /// Numeric order: compare without leading zeros, shorter first, then digit by digit.
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b)).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for MigrationId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MigrationId {
        MigrationId::parse(text).unwrap()
    }

    #[test]
    fn ids_order_numerically() {
        assert!(id("99999999") < id("100000000"));
        assert!(id("20240101000000") < id("20240101000001"));
        assert!(id("020240101") < id("20240102"));
    }

    #[test]
    fn rejects_short_or_non_digit_ids() {
        assert!(MigrationId::parse("1234567").is_err());
        assert!(MigrationId::parse("1234567a").is_err());
        assert!(MigrationId::parse("").is_err());
    }
}
