//! Hostile test guest: a perfectly good component of another world. It exports a `run`
//! function instead of the `wasmig:migration` interface, so the host must refuse it at
//! load time.

#[allow(unsafe_code, missing_debug_implementations, unused_qualifications, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package hostile:other;

            world other {
                export run: func() -> string;
            }
        ",
    });
}

struct Other;

impl bindings::Guest for Other {
    fn run() -> String {
        "not a migration".to_string()
    }
}

// Only WebAssembly has components to export; a native build (clippy) just keeps `run`.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Other with_types_in bindings);
};
#[cfg(not(target_arch = "wasm32"))]
#[used]
static RUN: fn() -> String = <Other as bindings::Guest>::run;
