//! The body of a silo's thread: load, compile (or hit the cache), load the
//! code into an engine of its own, instantiate in a store of its own, run the
//! entry point, and say how it ended.
//!
//! Everything that depends on the deployed code happens here, on the silo's
//! own thread, and ends as an [`ExitStatus`]: nothing in a request can make
//! this code fail in any other way.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wasmtime::component::Component;
use wasmtime::{Engine, ExternType, Module, Store};

use super::artifact::{self, Compiled};
use super::cache::CodeCache;
use super::component::{self, AppHost, AppPre};
use super::limiter::{MemoryGauge, SiloLimiter};
use super::outcome;
use super::record::SiloRecord;
use super::request::{DeployRequest, Limits, OutputMode, StdinSource, WasmSource};
use super::status::{ExitStatus, Rejection};
use super::ticker::{Ticker, TickerHold};
use crate::engine::EngineOptions;
use crate::wasi::{self, Preopen, WasiConfig, WasiCtx};

/// Store data of a core-module silo.
pub(crate) struct CommandData {
    limiter: SiloLimiter,
    wasi: WasiCtx,
}

/// Store data of a component silo.
pub(crate) struct ComponentData {
    limiter: SiloLimiter,
    host: AppHost,
}

/// What a silo's thread needs from its manager.
pub(crate) struct Runtime {
    /// The configuration of every silo's engine.
    pub(crate) options: EngineOptions,
    /// Compiles for the cache; runs nothing.
    pub(crate) compiler: Engine,
    pub(crate) cache: CodeCache,
    pub(crate) ticker: Ticker,
    /// Linear memory of all live silos, in bytes.
    pub(crate) memory_total: Arc<AtomicU64>,
}

/// Runs the silo described by `request` to its end.
pub(crate) fn run(
    runtime: &Runtime,
    record: &Arc<SiloRecord>,
    request: DeployRequest,
) -> ExitStatus {
    let DeployRequest {
        name,
        wasm,
        limits,
        args,
        env,
        preopens,
        stdin,
        stdout,
        stderr,
    } = request;
    let bytes = match load(&wasm) {
        Ok(bytes) => bytes,
        Err(rejection) => return ExitStatus::Rejected(rejection),
    };
    let artifact = runtime
        .cache
        .get_or_compile(&bytes, |input| artifact::compile(&runtime.compiler, input));
    drop(bytes);
    if record.kill_requested() {
        return ExitStatus::Killed;
    }
    // The silo's own engine: its epoch is this silo's alone, so advancing it
    // stops this silo and no other.
    let engine = match runtime.options.build() {
        Ok(engine) => engine,
        Err(e) => {
            return ExitStatus::Rejected(Rejection::Instantiation(format!(
                "creating the silo's engine: {e:#}"
            )));
        }
    };
    let silo = Silo {
        runtime,
        engine,
        record,
        limits,
        stdout,
        stderr,
    };
    match artifact.and_then(|artifact| artifact.load(&silo.engine)) {
        Ok(Compiled::Module(module)) => {
            let mut argv = Vec::with_capacity(args.len() + 1);
            argv.push(name);
            argv.extend(args);
            silo.run_command(&module, argv, env, preopens, stdin)
        }
        Ok(Compiled::Component(component)) => silo.run_component(&component),
        Err(rejection) => ExitStatus::Rejected(rejection),
    }
}

fn load(source: &WasmSource) -> Result<Arc<[u8]>, Rejection> {
    match source {
        WasmSource::Bytes(bytes) => Ok(bytes.clone()),
        WasmSource::Path(path) => crate::platform::read_file(path)
            .map(Arc::from)
            .map_err(|e| Rejection::Unreadable(format!("{}: {e}", path.display()))),
    }
}

/// The parts of a silo that do not depend on what kind of code it runs.
struct Silo<'a> {
    runtime: &'a Runtime,
    engine: Engine,
    record: &'a Arc<SiloRecord>,
    limits: Limits,
    stdout: OutputMode,
    stderr: OutputMode,
}

impl Silo<'_> {
    /// A WASI preview1 command: `_start` is the program.
    fn run_command(
        &self,
        module: &Module,
        args: Vec<String>,
        env: Vec<(String, String)>,
        preopens: Vec<Preopen>,
        stdin_source: StdinSource,
    ) -> ExitStatus {
        if let Err(rejection) = check_command_entry(module) {
            return ExitStatus::Rejected(rejection);
        }
        let mut linker = wasmtime::Linker::new(&self.engine);
        let linked = wasi::add_to_linker(&mut linker, |data: &mut CommandData| &mut data.wasi)
            .and_then(|_| linker.instantiate_pre(module));
        let pre = match linked {
            Ok(pre) => pre,
            Err(e) => return ExitStatus::Rejected(Rejection::Link(format!("{e:#}"))),
        };
        let (stdout, stderr) = self.outputs();
        let config = WasiConfig {
            args,
            env,
            preopens,
            stdin: stdin(stdin_source),
            stdout,
            stderr,
            max_file_size: self.limits.file_bytes,
        };
        let wasi = match WasiCtx::new(config) {
            Ok(wasi) => wasi,
            Err(e) => {
                return ExitStatus::Rejected(Rejection::Instantiation(format!(
                    "WASI setup failed: {e:#}"
                )));
            }
        };
        self.record.attach_interrupt(wasi.interrupt_handle());
        let limiter = self.limiter();
        let mut store = Store::new(&self.engine, CommandData { limiter, wasi });
        store.limiter(|data| &mut data.limiter);
        let _ticking = self.start_clocks(&mut store);

        let instance = match pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => {
                return outcome::instantiation_failed(
                    self.record,
                    e,
                    store.data().limiter.refused(),
                );
            }
        };
        let start = match instance.get_typed_func::<(), ()>(&mut store, "_start") {
            Ok(start) => start,
            Err(e) => return ExitStatus::Rejected(Rejection::MissingEntry(format!("{e:#}"))),
        };
        self.record.set_running();
        match start.call(&mut store, ()) {
            Ok(()) => ExitStatus::Exited(0),
            Err(e) => outcome::execution_failed(self.record, e, store.data().limiter.refused()),
        }
    }

    /// A `strat9:silo/app` component: `run` is the program.
    fn run_component(&self, component: &Component) -> ExitStatus {
        let mut linker = wasmtime::component::Linker::new(&self.engine);
        let linked =
            component::add_to_linker(&mut linker, |data: &mut ComponentData| &mut data.host)
                .and_then(|_| linker.instantiate_pre(component))
                .and_then(AppPre::new);
        let pre = match linked {
            Ok(pre) => pre,
            Err(e) => {
                return ExitStatus::Rejected(Rejection::Link(format!(
                    "not a `strat9:silo/app` component: {e:#}"
                )));
            }
        };
        let (stdout, stderr) = self.outputs();
        let limiter = self.limiter();
        let host = AppHost::new(stdout, stderr);
        let mut store = Store::new(&self.engine, ComponentData { limiter, host });
        store.limiter(|data| &mut data.limiter);
        let _ticking = self.start_clocks(&mut store);

        let app = match pre.instantiate(&mut store) {
            Ok(app) => app,
            Err(e) => {
                return outcome::instantiation_failed(
                    self.record,
                    e,
                    store.data().limiter.refused(),
                );
            }
        };
        self.record.set_running();
        match app.call_run(&mut store) {
            Ok(Ok(())) => ExitStatus::Exited(0),
            Ok(Err(message)) => ExitStatus::Failed(message),
            Err(e) => outcome::execution_failed(self.record, e, store.data().limiter.refused()),
        }
    }

    fn limiter(&self) -> SiloLimiter {
        let gauge = MemoryGauge::new(
            self.record.memory_bytes.clone(),
            self.runtime.memory_total.clone(),
        );
        SiloLimiter::new(self.limits.clone(), gauge)
    }

    fn outputs(&self) -> (Box<dyn Write + Send>, Box<dyn Write + Send>) {
        let stdout: Box<dyn Write + Send> = match self.stdout {
            OutputMode::Capture => Box::new(self.record.stdout.writer()),
            OutputMode::Inherit => Box::new(std::io::stdout()),
        };
        let stderr: Box<dyn Write + Send> = match self.stderr {
            OutputMode::Capture => Box::new(self.record.stderr.writer()),
            OutputMode::Inherit => Box::new(std::io::stderr()),
        };
        (stdout, stderr)
    }

    /// Arms the kill switch on `store`, starts the time limits and the ticks
    /// that enforce them, for as long as the returned hold lives.
    fn start_clocks<T: 'static>(&self, store: &mut Store<T>) -> TickerHold {
        // The engine's epoch only moves to stop this silo: one step past it
        // is the end (wasmtime's default: an `Interrupt` trap).
        store.set_epoch_deadline(1);
        self.record.arm(&self.engine);
        let limits = &self.limits;
        self.record.start_limits(limits.wall_time, limits.cpu_time);
        self.runtime.ticker.hold()
    }
}

fn stdin(source: StdinSource) -> Box<dyn Read + Send> {
    match source {
        StdinSource::Null => Box::new(std::io::empty()),
        StdinSource::Bytes(bytes) => Box::new(std::io::Cursor::new(bytes)),
        StdinSource::Inherit => Box::new(std::io::stdin()),
    }
}

/// A command module must export `_start: func()`.
fn check_command_entry(module: &Module) -> Result<(), Rejection> {
    match module.get_export("_start") {
        Some(ExternType::Func(ty)) if ty.params().len() == 0 && ty.results().len() == 0 => Ok(()),
        Some(ExternType::Func(ty)) => Err(Rejection::MissingEntry(format!(
            "`_start` must take and return nothing, found {ty}"
        ))),
        Some(_) => Err(Rejection::MissingEntry(
            "`_start` must be a function, found another kind of export".into(),
        )),
        None => {
            let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
            Err(Rejection::MissingEntry(format!(
                "a command module must export `_start`; this one exports [{}]",
                exports.join(", ")
            )))
        }
    }
}
