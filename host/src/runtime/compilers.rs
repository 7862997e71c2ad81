//! Compiling components: on the runtime's engine, which spreads one component's functions
//! over all cores, or, while other compiles keep the cores busy, one component per core.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::cache::{self, EngineFingerprint, Image};

/// Compiles components for the runtime's engine.
///
/// The engine compiles the functions of a component in parallel on rayon's pool: what a
/// lone compile (one new migration, a large JavaScript or Python component) needs to use
/// every core. When many compiles run at once (a cold cache, a new checkout) the cores are
/// busy with whole components, and splitting each into pool tasks only adds hand-offs:
/// on 2 cores, 200 small Rust components compile in about 10% less time one per core.
/// So a compile that starts while as many others run as there are cores minus one is
/// done, functions one after another on its own thread, by a second engine configured as
/// the first but for parallel compilation; its image is then loaded into the runtime's
/// engine (both give the same image, [`Engine::precompile_compatibility_hash`] says so).
#[derive(Clone)]
pub(super) struct Compilers {
    engine: Engine,
    fingerprint: EngineFingerprint,
    shared: Arc<Shared>,
}

struct Shared {
    /// The runtime engine's configuration with parallel compilation turned off.
    serial_config: Config,
    /// The policy the runtime's fingerprint covers besides the engine.
    policy: String,
    /// The serial engine, once a compile has needed it; `None` if it could not be built
    /// or would not give the runtime's engine the same images.
    serial: OnceLock<Option<Engine>>,
    /// Compiles under way, on either engine.
    running: AtomicUsize,
    /// Cores to keep busy.
    cores: usize,
}

impl std::fmt::Debug for Compilers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compilers")
            .field("fingerprint", &self.fingerprint)
            .field("cores", &self.shared.cores)
            .finish_non_exhaustive()
    }
}

impl Compilers {
    /// Compilers for `engine`, built from `config`, whose cache fingerprint with `policy`
    /// is `fingerprint`, on a machine of `cores` cores.
    pub(super) fn new(
        engine: Engine,
        config: &Config,
        fingerprint: EngineFingerprint,
        policy: String,
        cores: usize,
    ) -> Self {
        let mut serial_config = config.clone();
        serial_config.parallel_compilation(false);
        let shared = Shared {
            serial_config,
            policy,
            serial: OnceLock::new(),
            running: AtomicUsize::new(0),
            cores: cores.max(1),
        };
        Compilers { engine, fingerprint, shared: Arc::new(shared) }
    }

    /// The runtime's engine.
    pub(super) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The runtime engine's fingerprint in the compile cache.
    pub(super) fn fingerprint(&self) -> EngineFingerprint {
        self.fingerprint
    }

    /// Compiles the component `bytes` for the runtime's engine: the component, and the
    /// image it was loaded from, which is what the compile cache stores. Blocks.
    pub(super) fn compile(&self, bytes: &[u8]) -> wasmtime::Result<(Component, Image)> {
        let running = Running::start(&self.shared.running);
        let image = if running.alongside >= self.shared.cores - 1
            && let Some(serial) = self.serial()
        {
            Image::compile(serial, bytes)?
        } else {
            in_compile_pool(|| Image::compile(&self.engine, bytes))?
        };
        drop(running);
        let component = cache::component_from_image(&self.engine, &image)?;
        Ok((component, image))
    }

    /// The serial engine, built on first use.
    fn serial(&self) -> Option<&Engine> {
        let shared = &self.shared;
        let built = shared.serial.get_or_init(|| match Engine::new(&shared.serial_config) {
            Ok(engine) if EngineFingerprint::of(&engine, &shared.policy) == self.fingerprint => {
                Some(engine)
            }
            Ok(_) => {
                tracing::debug!("the serial engine gives other images: not used");
                None
            }
            Err(e) => {
                tracing::debug!("cannot build the serial engine: {e}");
                None
            }
        });
        built.as_ref()
    }
}

/// One compile under way, counted in `running` until it is dropped.
struct Running<'a> {
    running: &'a AtomicUsize,
    /// The compiles that were under way when this one started.
    alongside: usize,
}

impl<'a> Running<'a> {
    fn start(running: &'a AtomicUsize) -> Self {
        let alongside = running.fetch_add(1, Ordering::AcqRel);
        Running { running, alongside }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `compile` on a thread of rayon's global pool, the pool wasmtime's parallel
/// compilation splits each component's functions over, and waits for it. Started from a
/// blocking thread outside the pool, every component's functions would be queued on the
/// pool's shared injector and the components would take turns; started on a pool thread,
/// each component's functions go first to that thread's own queue, the other threads steal
/// what is left, and two components compile side by side with less hand-off (measured on
/// 2 cores: about 5% less wall time for 200 components, close to the noise).
fn in_compile_pool<T: Send>(compile: impl FnOnce() -> T + Send) -> T {
    rayon::scope(|_| compile())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component with a core module and an exported function: code to compile.
    const COMPONENT: &str = r#"(component
        (core module $m (func (export "answer") (result i32) i32.const 42))
        (core instance $i (instantiate $m))
        (func (export "answer") (result s32) (canon lift (core func $i "answer"))))"#;

    fn compilers(cores: usize) -> Compilers {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let fingerprint = EngineFingerprint::of(&engine, "test");
        Compilers::new(engine, &config, fingerprint, "test".into(), cores)
    }

    fn answer(compilers: &Compilers, component: &Component) -> i32 {
        let mut store = wasmtime::Store::new(compilers.engine(), ());
        let linker = wasmtime::component::Linker::new(compilers.engine());
        let instance = linker.instantiate(&mut store, component).unwrap();
        let func = instance.get_typed_func::<(), (i32,)>(&mut store, "answer").unwrap();
        func.call(&mut store, ()).unwrap().0
    }

    #[test]
    fn a_component_compiled_alongside_others_runs_on_the_runtime_engine() {
        let bytes = COMPONENT.as_bytes();
        // On one core every compile has "as many others as cores minus one" alongside.
        let serial = compilers(1);
        // What the cache stores, whichever engine compiled it: the runtime engine's image.
        let expected = serial.engine().precompile_component(bytes).unwrap();
        let (component, image) = serial.compile(bytes).unwrap();
        assert_eq!(image.as_bytes(), expected);
        let serial_engine = serial.serial().expect("the serial engine gives the same images");
        assert!(!Engine::same(serial_engine, serial.engine()));
        assert_eq!(EngineFingerprint::of(serial_engine, "test"), serial.fingerprint());
        assert_eq!(answer(&serial, &component), 42);
        assert_eq!(serial.shared.running.load(Ordering::Acquire), 0);

        // Alone on many cores, the runtime's engine compiles it and no second one is built.
        let parallel = compilers(64);
        let (component, image) = parallel.compile(bytes).unwrap();
        assert_eq!(image.as_bytes(), expected);
        assert_eq!(answer(&parallel, &component), 42);
        assert!(parallel.shared.serial.get().is_none());
    }

    #[test]
    fn an_invalid_component_is_refused_by_either_engine() {
        for cores in [1, 64] {
            let error = compilers(cores).compile(b"\0asm\x0d\0\x01\0garbage").unwrap_err();
            assert!(!format!("{error:#}").is_empty());
        }
    }
}
