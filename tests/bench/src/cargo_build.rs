//! Building what the bench runs with cargo: the `wasmig` binary in release mode and the
//! bench guest component (tests/guests/bench-table) for `wasm32-wasip2`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use anyhow::{Context, Result, bail};

/// The guest package, and the file its cdylib becomes.
const GUEST_PACKAGE: &str = "guest_bench_table";
const GUEST_TARGET: &str = "wasm32-wasip2";
/// The release profile `wasmig build` gives a migration workspace that sets no `lto` of its
/// own (host/src/build/rust.rs), so the bench compiles what users ship.
const GUEST_LTO: &str = "profile.release.lto=true";

/// The wasmig workspace this bench belongs to, as cargo reports it.
#[derive(Debug)]
pub struct Workspace {
    cargo: OsString,
    root: PathBuf,
    target_dir: PathBuf,
}

impl Workspace {
    /// Asks `cargo metadata` for the workspace root and target directory (which honours
    /// `CARGO_TARGET_DIR` and `.cargo/config.toml`, unlike a guessed `target/`).
    pub fn locate() -> Result<Workspace> {
        // `cargo run` tells the program which cargo started it.
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let output = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
            .arg(&manifest)
            .output()
            .context("cannot run `cargo metadata`")?;
        if !output.status.success() {
            bail!("`cargo metadata` failed:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("`cargo metadata` printed no JSON")?;
        let path_field = |name: &str| {
            metadata[name]
                .as_str()
                .map(PathBuf::from)
                .with_context(|| format!("`cargo metadata` gave no `{name}`"))
        };
        Ok(Workspace {
            root: path_field("workspace_root")?,
            target_dir: path_field("target_directory")?,
            cargo,
        })
    }

    /// `cargo build --release -p wasmig`; returns the binary's path.
    pub fn build_wasmig(&self) -> Result<PathBuf> {
        self.cargo_build(&["build", "--release", "-p", "wasmig"])?;
        Ok(self.target_dir.join("release").join("wasmig"))
    }

    /// Builds the bench guest in release mode with link-time optimisation (as `wasmig build`
    /// builds migrations) and returns the component's bytes.
    pub fn build_guest(&self) -> Result<Vec<u8>> {
        let target = ["--target", GUEST_TARGET, "-p", GUEST_PACKAGE];
        self.cargo_build(&[&["build", "--release", "--config", GUEST_LTO][..], &target].concat())
            .with_context(|| {
                format!("is the target installed? `rustup target add {GUEST_TARGET}`")
            })?;
        let path = self
            .target_dir
            .join(GUEST_TARGET)
            .join("release")
            .join(format!("{GUEST_PACKAGE}.wasm"));
        fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// Runs cargo in the workspace root, its progress shown on this terminal.
    fn cargo_build(&self, args: &[&str]) -> Result<()> {
        eprintln!("$ cargo {}", args.join(" "));
        let status = Command::new(&self.cargo)
            .args(args)
            .current_dir(&self.root)
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        Ok(())
    }
}
