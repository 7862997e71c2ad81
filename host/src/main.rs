//! The `wasmig` binary: everything it does is in the library's [`wasmig::cli`].

/// Compiling a component allocates and frees a great many small objects (Winch's and
/// Cranelift's per-function state) on several threads at once: with mimalloc a cold run
/// of 200 migrations takes about a fifth less time than with the system allocator, a warm
/// one the same, for a few MiB more peak memory (more for very large components: see the
/// docs/benchmark.md). Transparent huge pages stay off: they would raise the peak
/// of a warm run several times over and gain nothing here. The library leaves the choice
/// of allocator to the program that embeds it (the `mimalloc` feature, on by default, is
/// only this binary's).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wasmig::cli::main()
}
