//! Test guest: plays the SQL of the table `hostile_script` inside its transaction.

include!("script.rs");

wasmig_guest::export_migration!(Script, description = "Play hostile_script");
