//! The import allowlist: which interfaces a migration component may import. A component
//! importing anything else is refused when it is loaded, before any of its code runs.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The WASI interfaces a migration may import, by package. Rust's standard library (and
/// other language runtimes) import these even when a migration does not use them; every
/// one is served by the deny-all sandbox of [`crate::sandbox::SandboxState`]. Everything
/// else (HTTP, unknown packages) is refused when the component is loaded.
///
/// `wasi:sockets` is accepted because Python's runtime (componentize-py) always imports it,
/// as Rust's standard library does for `std::net`: refusing the import would refuse every
/// Python migration. The network stays closed at run time instead: the sandbox allows no
/// TCP, no UDP, no name lookup and no socket address, so every socket operation fails with
/// "access denied" (tests/cli/hostile.rs probes each one in Rust, Python and JavaScript).
const ALLOWED_WASI: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:clocks", &["*"]),
    ("wasi:random", &["*"]),
    ("wasi:io", &["*"]),
    // No directory is ever preopened: these only let a runtime link its file API.
    ("wasi:filesystem", &["types", "preopens"]),
    // Denied at run time, see above.
    (
        "wasi:sockets",
        &[
            "network",
            "instance-network",
            "udp",
            "udp-create-socket",
            "tcp",
            "tcp-create-socket",
            "ip-name-lookup",
        ],
    ),
];

/// What the compile cache's fingerprint covers of the policy: this wasmig's version and
/// the allowlist, so that a validation record is only trusted under the same policy.
pub(super) fn fingerprint() -> String {
    format!("wasmig {} {ALLOWED_WASI:?}", env!("CARGO_PKG_VERSION"))
}

/// The imports of `component` that a migration may not use, in the component's order.
pub(super) fn refused_imports(component: &Component, engine: &Engine) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .filter(|name| !import_allowed(name))
        .map(str::to_string)
        .collect()
}

/// Whether a migration may import the interface `name` (`wasi:io/poll@0.2.6`).
fn import_allowed(name: &str) -> bool {
    let Some((package, interface)) = name.split_once('/') else { return false };
    let interface = interface.split_once('@').map_or(interface, |(interface, _)| interface);
    if package == "wasmig:migration" {
        return true;
    }
    ALLOWED_WASI.iter().any(|(allowed, interfaces)| {
        *allowed == package && interfaces.iter().any(|i| *i == "*" || *i == interface)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_takes_the_sdk_imports_and_refuses_the_rest() {
        for allowed in [
            "wasmig:migration/types@0.1.0",
            "wasmig:migration/database@0.1.0",
            "wasi:io/poll@0.2.6",
            "wasi:io/streams@0.2.9",
            "wasi:cli/environment@0.2.6",
            "wasi:cli/terminal-stderr@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:random/insecure-seed@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:sockets/ip-name-lookup@0.2.9",
            "wasi:sockets/udp-create-socket@0.2.9",
        ] {
            assert!(import_allowed(allowed), "{allowed}");
        }
        for refused in [
            "wasi:sockets/other@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/run@0.2.6",
            "wasi:filesystem/other@0.2.6",
            "evil:pkg/iface",
            "wasi:iox/poll@0.2.6",
            "a-plain-function",
        ] {
            assert!(!import_allowed(refused), "{refused}");
        }
    }
}
