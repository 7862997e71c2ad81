//! The migration tools `wasmig import` reads, with what each records in its history table.

use std::fmt;

/// A migration tool whose folder `wasmig import` converts and whose history `wasmig adopt`
/// reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Tool {
    /// sqlx-cli: `<VERSION>_<DESCRIPTION>.sql`, or `.up.sql` and `.down.sql`.
    Sqlx,
    /// diesel: a folder `<VERSION>_<name>/` holding `up.sql` and `down.sql`.
    Diesel,
    /// golang-migrate: `<version>_<title>.up.sql` and `.down.sql`.
    GolangMigrate,
    /// goose: `<version>_<name>.sql` with `-- +goose Up` and `-- +goose Down` sections.
    Goose,
    /// dbmate: `<version>_<name>.sql` with `-- migrate:up` and `-- migrate:down` sections.
    Dbmate,
    /// Flyway: `V<version>__<description>.sql`, with `U<version>__...` as its undo.
    Flyway,
    /// refinery: `V<version>__<name>.sql` and unversioned `U<version>__<name>.sql`.
    Refinery,
}

impl Tool {
    /// Every tool, in the order the documentation lists them.
    pub const ALL: [Tool; 7] = [
        Tool::Sqlx,
        Tool::Diesel,
        Tool::GolangMigrate,
        Tool::Goose,
        Tool::Dbmate,
        Tool::Flyway,
        Tool::Refinery,
    ];

    /// The name on the command line and in `-- wasmig:origin`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "diesel",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Goose => "goose",
            Tool::Dbmate => "dbmate",
            Tool::Flyway => "flyway",
            Tool::Refinery => "refinery",
        }
    }

    /// The tool named `name` on the command line or in `-- wasmig:origin`.
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|tool| tool.name() == name)
    }

    /// The table in which the tool records what it applied, under its default name.
    /// golang-migrate and dbmate share `schema_migrations`; golang-migrate's has a `dirty`
    /// column, dbmate's has not.
    pub fn history_table(self) -> &'static str {
        match self {
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
            Tool::Goose => "goose_db_version",
            Tool::Flyway => "flyway_schema_history",
            Tool::Refinery => "refinery_schema_history",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn command_line_names_are_the_documented_ones() {
        for tool in Tool::ALL {
            let value = tool.to_possible_value().unwrap();
            assert_eq!(value.get_name(), tool.name());
            assert_eq!(Tool::from_name(tool.name()), Some(tool));
            assert_eq!(Tool::from_str(tool.name(), false), Ok(tool));
        }
        assert_eq!(Tool::value_variants().len(), Tool::ALL.len());
        assert_eq!(Tool::from_name("alembic"), None);
    }
}
