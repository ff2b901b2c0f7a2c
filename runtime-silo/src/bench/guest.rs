//! A WASI command module run straight on an engine (no manager), so that
//! the only difference between two runs of a kernel is the engine
//! configuration; and the compile and instantiate measurements.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use wasmtime::{Config, Engine, InstancePre, Linker, Module, Store};

use runtime_silo::engine::EngineOptions;
use runtime_silo::wasi::{self, I32Exit, WasiConfig, WasiCtx};

use super::Report;
use super::stats::{median, ms, us};

/// An engine configuration under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `wasmtime::Config::default()`: Cranelift, signals-based traps (bounds
    /// checks done by guard pages), no epoch interruption.
    Default,
    /// The runtime silo's configuration ([`EngineOptions::default`]).
    Silo,
    /// The silo's configuration without epoch interruption: the difference
    /// to [`Setup::Silo`] is the cost of the epoch checks, the rest of the
    /// difference to [`Setup::Default`] that of explicit bounds checks.
    SiloNoEpoch,
}

impl Setup {
    pub const ALL: [Setup; 3] = [Setup::Default, Setup::Silo, Setup::SiloNoEpoch];

    /// The name used in report keys.
    pub fn name(self) -> &'static str {
        match self {
            Setup::Default => "default",
            Setup::Silo => "silo",
            Setup::SiloNoEpoch => "silo_no_epoch",
        }
    }

    fn config(self) -> Config {
        match self {
            Setup::Default => Config::default(),
            Setup::Silo => EngineOptions::default().config(),
            Setup::SiloNoEpoch => {
                let mut config = EngineOptions::default().config();
                config.epoch_interruption(false);
                config
            }
        }
    }
}

/// A compiled command module, ready to run any number of times.
pub struct Guest {
    engine: Engine,
    pre: InstancePre<WasiCtx>,
}

/// What one run printed and how long `_start` took.
pub struct Run {
    pub elapsed: Duration,
    pub stdout: Vec<u8>,
}

impl Guest {
    /// Compiles `wasm` under `setup`; also returns the compile time.
    pub fn compile(setup: Setup, wasm: &[u8]) -> Result<(Self, Duration)> {
        let engine = wasmtime_context(Engine::new(&setup.config()), "creating the engine")?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
        let start = Instant::now();
        let module = wasmtime_context(Module::from_binary(&engine, wasm), "compiling")?;
        let compiled = start.elapsed();
        let pre = wasmtime_context(linker.instantiate_pre(&module), "linking")?;
        Ok((Self { engine, pre }, compiled))
    }

    /// A new store with a WASI context for `args` whose stdout goes to the
    /// returned buffer.
    fn store(&self, args: &[&str]) -> Result<(Store<WasiCtx>, SharedBuffer)> {
        let stdout = SharedBuffer::default();
        let ctx = WasiCtx::new(WasiConfig {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            preopens: Vec::new(),
            stdin: Box::new(std::io::empty()),
            stdout: Box::new(stdout.clone()),
            stderr: Box::new(std::io::sink()),
            max_file_size: wasi::DEFAULT_MAX_FILE_SIZE,
        })?;
        let mut store = Store::new(&self.engine, ctx);
        // Never reached: the epoch is not advanced here. With epoch
        // interruption on, the generated checks still run (their cost is
        // what `Setup::Silo` measures).
        store.set_epoch_deadline(1 << 40);
        Ok((store, stdout))
    }

    /// Creates a store and instantiates: what every deploy pays.
    pub fn instantiate_once(&self) -> Result<Duration> {
        let start = Instant::now();
        let (mut store, _) = self.store(&["bench"])?;
        self.pre.instantiate(&mut store)?;
        Ok(start.elapsed())
    }

    /// Instantiates and runs `_start` with `args` (argv[0] included);
    /// times `_start` only.
    pub fn run(&self, args: &[&str]) -> Result<Run> {
        let (mut store, stdout) = self.store(args)?;
        let instance = self.pre.instantiate(&mut store)?;
        let start_fn = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let start = Instant::now();
        let result = start_fn.call(&mut store, ());
        let elapsed = start.elapsed();
        if let Err(error) = result {
            match error.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => {}
                Some(I32Exit(code)) => bail!("{args:?} exited with {code}"),
                None => return wasmtime_context(Err(error), &format!("running {args:?}")),
            }
        }
        Ok(Run {
            elapsed,
            stdout: stdout.take(),
        })
    }
}

/// Compile time and throughput of each module with the silo configuration.
pub fn compile_throughput(
    report: &mut Report,
    modules: &[(&str, &[u8])],
    runs: usize,
) -> Result<()> {
    let mut total_bytes = 0usize;
    let mut total_time = Duration::ZERO;
    for (name, wasm) in modules {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(Guest::compile(Setup::Silo, wasm)?.1);
        }
        let time = median(&samples);
        report.number(format!("compile.{name}.kib"), wasm.len() as f64 / 1024.0, 1);
        report.number(format!("compile.{name}.ms"), ms(time), 2);
        total_bytes += wasm.len();
        total_time += time;
    }
    let kib_per_s = total_bytes as f64 / 1024.0 / total_time.as_secs_f64();
    report.number("compile_kib_per_s", kib_per_s, 1);
    Ok(())
}

/// Store + WASI context + instance creation with the silo configuration.
pub fn instantiation(report: &mut Report, modules: &[(&str, &[u8])], runs: usize) -> Result<()> {
    // Many short samples: instantiation takes microseconds.
    let samples_wanted = runs * 20;
    for (name, wasm) in modules {
        let (guest, _) = Guest::compile(Setup::Silo, wasm)?;
        guest.instantiate_once()?;
        let samples = (0..samples_wanted)
            .map(|_| guest.instantiate_once())
            .collect::<Result<Vec<_>>>()?;
        report.number(format!("instantiate.{name}.us"), us(median(&samples)), 1);
    }
    Ok(())
}

/// wasmtime's own error type, as an `anyhow` error with what was being done.
fn wasmtime_context<T>(result: wasmtime::Result<T>, what: &str) -> Result<T> {
    result.map_err(|e| anyhow::Error::from(e).context(what.to_owned()))
}

/// A `Write` into a buffer that the bench keeps a handle to.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
