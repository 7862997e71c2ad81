//! JavaScript migrations: an ES module `<ID>_<slug>.js` importing `./wasmig.js`, built by
//! componentize-js with the SDK beside it, and the template `wasmig new --lang js` writes.

use std::path::Path;
use std::process::Command;

use super::SourceFile;
use super::componentizer::{Componentized, Sdk, WORLD};
use super::scaffold::{NewSource, quoted};
use super::toolchain::Toolchain;

/// The JavaScript SDK, importable as `./wasmig.js` by a JavaScript migration.
pub const JS_SDK: &str = include_str!("../../../guest-sdk/js/wasmig.js");

/// The rules of JavaScript migrations.
pub(super) const JS: Componentized = Componentized {
    name: "js",
    extension: ".js",
    sdk: Sdk { file_name: "wasmig.js", text: JS_SDK },
    toolchain: Toolchain::componentize_js,
    arguments,
    template,
};

/// componentize-js reads the module file from the staging folder.
fn arguments(command: &mut Command, source: &SourceFile, out: &Path) {
    let file_name = source.path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    // Without HTTP, which componentize-js would import by default: a migration imports
    // only what its sandbox grants.
    command
        .arg(file_name)
        .args(["--wit", "wit", "-n", WORLD, "-d", "http", "-d", "fetch-event", "-o"])
        .arg(out);
}

/// The module `wasmig new` writes.
fn template(new: &NewSource<'_>) -> String {
    let (id, name) = (new.id, new.name);
    let description = quoted(name);
    format!(
        r#"// Migration {id}: {name}

import {{ defineMigration }} from "./wasmig.js";

export const migration = defineMigration({{
  description: "{description}",
  transactional: true,

  forwards(db) {{
    // Emit the SQL of this change, e.g.
    // db.execute("CREATE TABLE example (id INTEGER PRIMARY KEY)");
  }},

  backwards(db) {{
    // Undo exactly what forwards did, e.g.
    // db.execute("DROP TABLE example");
  }},
}});
"#
    )
}
