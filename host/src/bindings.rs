//! Host bindings generated from the WIT package in `wit/`: the `migration-component` world,
//! its `database` import (implemented in [`crate::sandbox`]) and its `migration` export.

wasmtime::component::bindgen!({
    world: "migration-component",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});
