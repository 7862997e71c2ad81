//! `wasmig build`: compile every migration source of the selected apps into the component
//! file `<ID>_<slug>.wasm` beside it, by the rules of its language ([`crate::build`]).

use crate::build::{BuildReport, build_sources, sources};
use crate::config::Settings;
use crate::error::Result;

/// Builds every migration source of the apps `app_name` selects (`all`: every app), in
/// parallel on `parallel` threads.
pub fn build(settings: &Settings, app_name: &str, parallel: usize) -> Result<BuildReport> {
    let mut all = Vec::new();
    for app in settings.select(app_name)? {
        all.extend(sources(app)?);
    }
    build_sources(all, parallel)
}
