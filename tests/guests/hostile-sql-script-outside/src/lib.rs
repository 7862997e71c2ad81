//! Test guest: plays the SQL of the table `hostile_script` outside a transaction.

include!("../../hostile-sql-script/src/script.rs");

wasmig_guest::export_migration!(
    Script,
    description = "Play hostile_script outside a transaction",
    transactional = false
);
