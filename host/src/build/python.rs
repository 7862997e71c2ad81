//! Python migrations: a module `<ID>_<slug>.py` importing the `wasmig` SDK, built by
//! componentize-py with the SDK beside it, and the template `wasmig new --lang python`
//! writes.

use std::path::Path;
use std::process::Command;

use super::SourceFile;
use super::componentizer::{Componentized, Sdk, WORLD};
use super::scaffold::{NewSource, quoted};
use super::toolchain::Toolchain;

/// The Python SDK, importable as `wasmig` by a Python migration.
pub const PYTHON_SDK: &str = include_str!("../../../guest-sdk/python/wasmig.py");

/// The rules of Python migrations.
pub(super) const PYTHON: Componentized = Componentized {
    name: "python",
    extension: ".py",
    sdk: Sdk { file_name: "wasmig.py", text: PYTHON_SDK },
    toolchain: Toolchain::componentize_py,
    arguments,
    template,
};

/// componentize-py imports the module by its name, from the staging folder.
fn arguments(command: &mut Command, source: &SourceFile, out: &Path) {
    command
        .args(["-d", "wit", "-w", WORLD, "componentize", &source.stem, "-p", "."])
        .arg("-o")
        .arg(out);
}

/// The module `wasmig new` writes.
fn template(new: &NewSource<'_>) -> String {
    let (id, name) = (new.id, new.name);
    let description = quoted(name);
    format!(
        r#""""Migration {id}: {name}"""

from wasmig import Db, migration


# componentize-py looks for the class named Migration.
@migration("{description}", transactional=True)
class Migration:
    def forwards(self, db: Db) -> None:
        # Emit the SQL of this change, e.g.
        # db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)")
        pass

    def backwards(self, db: Db) -> None:
        # Undo exactly what forwards did, e.g.
        # db.execute("DROP TABLE example")
        pass
"#
    )
}
