//! Hostile test guest: a complete migration that also imports `evil:pkg/iface`, an
//! interface outside the allowlist. The host must refuse it at load time, naming the
//! import, before any of its code runs.

#[allow(unsafe_code, missing_debug_implementations, unused_qualifications, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package evil:pkg;

            interface iface {
                steal: func() -> string;
            }

            world evil {
                include wasmig:migration/migration-component@0.1.0;
                import iface;
            }
        ",
        world: "evil:pkg/evil",
        generate_all,
    });
}

use bindings::exports::wasmig::migration::migration::{Context, Description, Guest};

struct Evil;

impl Guest for Evil {
    fn describe() -> Description {
        Description { description: "Hostile: evil-import".to_string(), transactional: true }
    }

    fn forwards(_ctx: Context) -> Result<(), String> {
        Err(bindings::evil::pkg::iface::steal())
    }

    fn backwards(_ctx: Context) -> Result<(), String> {
        Err(bindings::evil::pkg::iface::steal())
    }
}

// Only WebAssembly has components to export; a native build (clippy) just keeps them.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Evil with_types_in bindings);
};
#[cfg(not(target_arch = "wasm32"))]
#[used]
static ENTRY_POINTS: [fn(Context) -> Result<(), String>; 2] =
    [<Evil as Guest>::forwards, <Evil as Guest>::backwards];
#[cfg(not(target_arch = "wasm32"))]
#[used]
static DESCRIBE: fn() -> Description = <Evil as Guest>::describe;
