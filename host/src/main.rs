//! The `wasmig` binary: everything it does is in the library's [`wasmig::cli`].

fn main() -> std::process::ExitCode {
    wasmig::cli::main()
}
