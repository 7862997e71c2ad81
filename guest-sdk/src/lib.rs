//! Write [wasmig](https://example.invalid/wasmig) database migrations in Rust.
//!
//! A wasmig migration is a WebAssembly component with two entry points, `forwards` and
//! `backwards`. The host runs it in a sandbox whose only capability is a database
//! handle: the migration sends SQL through that handle and the host runs it inside the
//! migration's transaction, or only records it when previewing.
//!
//! This crate hides the component plumbing behind a [`Db`] handle, the [`Migration`]
//! trait and the [`export_migration!`] macro:
//!
//! ```
//! use wasmig_guest::{Db, Dialect, Migration, Result};
//!
//! struct CreateUsers;
//!
//! impl Migration for CreateUsers {
//!     fn forwards(db: &Db) -> Result<()> {
//!         let id = match db.dialect() {
//!             Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
//!             Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
//!             Dialect::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
//!         };
//!         db.execute(
//!             &format!("CREATE TABLE users (id {id}, email VARCHAR(255) NOT NULL)"),
//!             &[],
//!         )?;
//!         Ok(())
//!     }
//!
//!     fn backwards(db: &Db) -> Result<()> {
//!         db.execute("DROP TABLE users", &[])?;
//!         Ok(())
//!     }
//! }
//!
//! wasmig_guest::export_migration!(CreateUsers, description = "Create the users table");
//! # fn main() {}
//! ```
//!
//! A migration that must run outside a transaction, such as one using
//! `CREATE INDEX CONCURRENTLY` on PostgreSQL, says so:
//!
//! ```
//! # use wasmig_guest::{Db, Migration, Result};
//! # struct AddIndex;
//! # impl Migration for AddIndex {
//! #     fn forwards(db: &Db) -> Result<()> { Ok(()) }
//! #     fn backwards(db: &Db) -> Result<()> { Ok(()) }
//! # }
//! wasmig_guest::export_migration!(
//!     AddIndex,
//!     description = "Index users.email",
//!     transactional = false,
//! );
//! # fn main() {}
//! ```
//!
//! Statement parameters are [`Value`]s, bound by position; [`params!`] builds the slice
//! and [`Db::placeholder`] writes the right placeholder for the dialect:
//!
//! ```no_run
//! # use wasmig_guest::{Db, Result, params};
//! # fn backfill(db: &Db) -> Result<()> {
//! let sql = format!(
//!     "UPDATE users SET display_name = {} WHERE id = {}",
//!     db.placeholder(1),
//!     db.placeholder(2),
//! );
//! for row in &db.query("SELECT id, email FROM users", &[])? {
//!     let id: i64 = row.get(0)?;
//!     let email: String = row.get_by_name("email")?;
//!     let name = email.split('@').next().unwrap_or_default();
//!     db.execute(&sql, params![name, id])?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Build a migration crate (`crate-type = ["cdylib"]`) with
//! `cargo build --release --target wasm32-wasip2`; the resulting `.wasm` file is the
//! component wasmig loads.

mod db;
mod error;
mod rows;
mod value;

pub use db::{Db, Dialect};
pub use error::{DbError, Error, Result};
pub use rows::{Row, Rows};
pub use value::{FromValue, Value};

/// Bindings generated from the `wasmig:migration` WIT package.
///
/// Not part of the public API: use [`Db`] and [`export_migration!`] instead.
#[doc(hidden)]
#[allow(unsafe_code, missing_debug_implementations, unused_qualifications, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "migration-component",
        pub_export_macro: true,
        default_bindings_module: "wasmig_guest::bindings",
        // The SDK's own types are the WIT types: parameters and errors cross the
        // boundary without a conversion.
        with: {
            "wasmig:migration/types@0.1.0/value": crate::Value,
            "wasmig:migration/types@0.1.0/db-error": crate::DbError,
        },
    });
}

/// The glue [`export_migration!`] expands to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::wasmig::migration::migration::{Context, Description, Guest};

    use crate::{Db, Migration};

    /// Runs `M::forwards` for the host's `forwards` export.
    pub fn forwards<M: Migration>(ctx: Context) -> Result<(), String> {
        M::forwards(&Db::from_context(ctx)).map_err(|error| error.to_string())
    }

    /// Runs `M::backwards` for the host's `backwards` export.
    pub fn backwards<M: Migration>(ctx: Context) -> Result<(), String> {
        M::backwards(&Db::from_context(ctx)).map_err(|error| error.to_string())
    }

    /// The exports of a migration, kept alive where there is no component to export.
    pub type EntryPoints =
        (fn() -> Description, fn(Context) -> Result<(), String>, fn(Context) -> Result<(), String>);

    /// Builds the answer to the host's `describe` export.
    pub fn describe(description: &str, transactional: bool) -> Description {
        Description { description: description.to_owned(), transactional }
    }
}

/// A database migration: a change to the schema or data and its exact inverse.
///
/// Implement it on a unit struct and export that struct with [`export_migration!`].
/// Each method gets the database handle of the run; every statement it sends runs
/// inside the migration's transaction (unless the migration is exported with
/// `transactional = false`), and an error rolls the whole migration back.
pub trait Migration {
    /// Applies the migration.
    fn forwards(db: &Db) -> Result<()>;

    /// Undoes exactly what [`forwards`](Migration::forwards) did.
    fn backwards(db: &Db) -> Result<()>;
}

/// Builds a `&[Value]` of statement parameters, converting each argument with
/// [`Value::from`].
///
/// ```
/// use wasmig_guest::{Value, params};
///
/// let p: &[Value] = params![1, "alice", None::<i64>, true];
/// assert_eq!(p[1], Value::Text("alice".into()));
/// assert_eq!(p[2], Value::Null);
/// ```
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[$crate::Value]
    };
    ($($param:expr),+ $(,)?) => {
        &[$($crate::Value::from($param)),+]
    };
}

/// Exports a type implementing [`Migration`] as the migration of this component.
///
/// Use it exactly once, at the root of a `cdylib` crate:
///
/// ```
/// # use wasmig_guest::{Db, Migration, Result};
/// # struct CreateUsers;
/// # impl Migration for CreateUsers {
/// #     fn forwards(db: &Db) -> Result<()> { Ok(()) }
/// #     fn backwards(db: &Db) -> Result<()> { Ok(()) }
/// # }
/// wasmig_guest::export_migration!(CreateUsers, description = "Create the users table");
/// # fn main() {}
/// ```
///
/// or, for a migration that must run outside a transaction:
///
/// ```text
/// wasmig_guest::export_migration!(AddIndex, description = "Index emails", transactional = false);
/// ```
///
/// `description` is the one line `wasmig check` shows and the ledger stores.
/// `transactional` defaults to `true`; set it to `false` only for statements that
/// cannot run in a transaction, such as `CREATE INDEX CONCURRENTLY` on PostgreSQL.
/// A non-transactional migration that fails half-way is not rolled back.
///
/// An [`Error`] returned by the migration becomes the error the host reports.
#[macro_export]
macro_rules! export_migration {
    ($migration:ty, description = $description:expr $(,)?) => {
        $crate::export_migration!($migration, description = $description, transactional = true);
    };
    ($migration:ty, description = $description:expr, transactional = $transactional:expr $(,)?) => {
        // The generated exports are `extern "C"` functions with fixed symbol names.
        #[allow(unsafe_code)]
        const _: () = {
            struct __WasmigMigration;

            impl $crate::__private::Guest for __WasmigMigration {
                fn describe() -> $crate::__private::Description {
                    $crate::__private::describe($description, $transactional)
                }

                fn forwards(
                    ctx: $crate::__private::Context,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::forwards::<$migration>(ctx)
                }

                fn backwards(
                    ctx: $crate::__private::Context,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::backwards::<$migration>(ctx)
                }
            }

            // Only WebAssembly has components to export. Elsewhere (a native `cargo
            // check` or `cargo test` of the workspace) the exports' symbol names would
            // not even link into a shared library, so the entry points are only kept
            // alive, which keeps the migration from being reported as dead code.
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::export! { __WasmigMigration with_types_in $crate::bindings }
            #[cfg(not(target_arch = "wasm32"))]
            #[used]
            static __WASMIG_ENTRY_POINTS: $crate::__private::EntryPoints = (
                <__WasmigMigration as $crate::__private::Guest>::describe,
                <__WasmigMigration as $crate::__private::Guest>::forwards,
                <__WasmigMigration as $crate::__private::Guest>::backwards,
            );
        };
    };
}
