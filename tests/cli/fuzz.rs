//! Fuzzing the loader: whatever bytes sit in a migration file (noise, something that starts
//! like a component, a real component with a few bytes changed), `Runtime::load` gives a
//! value, never a panic.
//!
//! A short run is part of `cargo test`. For a long one, raise the case count:
//! `WASMIG_FUZZ_CASES=20000 cargo test -p wasmig --test cli fuzz`.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use wasmig::Limits;
use wasmig::runtime::Runtime;
use wasmig::source::{MigrationFile, MigrationId};

use crate::support::components;

/// The case count: `WASMIG_FUZZ_CASES`, or `default` for the run inside `cargo test`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("WASMIG_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// One engine for every case, with a short time budget for a mutant that loops in
/// `describe`.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(Limits { cpu_time: Duration::from_secs(1), ..Limits::default() }).unwrap()
    })
}

/// Loads `bytes` as migration `20240101000000_fuzz` of app `fuzz`: Ok or Err, both fine.
fn load(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20240101000000_fuzz.wasm");
    std::fs::write(&path, bytes).unwrap();
    let file = MigrationFile {
        id: MigrationId::parse("20240101000000").unwrap(),
        slug: "fuzz".into(),
        path: path.clone(),
    };
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if let Err(error) = tokio.block_on(runtime().load("fuzz", &file)) {
        // Every failure names the file it is about.
        let message = error.to_string();
        assert!(message.contains(&*path.to_string_lossy()), "{message}");
    }
}

/// A change to a component's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        2 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        match mutation {
            Mutation::Set(at, byte) => {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
            Mutation::Insert(at, byte) => bytes.insert(at.index(bytes.len()), *byte),
            Mutation::Remove(at) => {
                bytes.remove(at.index(bytes.len()));
            }
            Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        }
    }
    bytes
}

/// A real migration and a real test guest to mutate.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let built = components();
        let sample = built.samples.values().next().expect("a sample migration");
        [sample, &built.guests["typed-values"]]
            .into_iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn loading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        load(&bytes);
    }

    #[test]
    fn loading_bytes_that_start_like_a_component_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        load(&[b"\0asm\x0d\0\x01\0".as_slice(), &body].concat());
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn loading_a_mutated_component_never_panics(
        seed in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seeds();
        load(&mutate(seeds[seed.index(seeds.len())].clone(), &mutations));
    }
}
