//! `runtime-silo bench`: the host-side figures of the runtime silo.
//!
//! Part of the binary, not of the library: Bedrock's runtime silo does not
//! ship it. What it measures, with the examples built by `cargo xtask
//! examples --release` (`hello.wasm`, `compute.wasm`):
//! - compile throughput: KiB of wasm per second through validation and
//!   Cranelift, with the silo engine configuration;
//! - instantiation: a fresh store, WASI context and instance of a compiled
//!   module (what every deploy pays, cache hit or not);
//! - deploy-to-first-output through the silo manager: from
//!   [`Manager::deploy`](runtime_silo::silo::Manager::deploy) to the first
//!   byte `hello` writes, with an empty code cache (cold) and with the code
//!   cached;
//! - each compute kernel under the silo configuration and under wasmtime's
//!   default one (`Config::default()`: Cranelift, signals-based traps with
//!   guard pages, so no explicit bounds checks, no epoch checks), and the
//!   silo configuration without epoch interruption, to split the cost.
//!
//! Every figure is the median of `--runs` repetitions. The output is
//! `key value` lines (or one JSON object), see [`report`].

mod compute;
mod deploy;
mod guest;
mod host;
mod report;
mod stats;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use guest::Setup;
pub use report::Report;

/// The goals of issue 3, printed with the figures. The compute goal applies
/// to the geometric mean of the per-kernel ratios (silo time over default
/// wasmtime's): one number for "how much slower is a silo", in which no
/// single kernel dominates; the per-kernel ratios are reported beside it.
pub const GOAL_COMPUTE_RATIO: f64 = 1.15;
pub const GOAL_CACHED_DEPLOY_MS: f64 = 2.0;

/// What `runtime-silo bench` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory holding `hello.wasm` and `compute.wasm`.
    pub examples: PathBuf,
    /// Repetitions of each measurement; medians are reported.
    pub runs: u32,
    /// One scale for every compute kernel instead of each one's default
    /// (which targets a few hundred milliseconds per run).
    pub scale: Option<u32>,
    /// Guest mode (`cargo xtask bench` runs it in both QEMU guests): the
    /// silo configuration only, no default-wasmtime reference (its
    /// signals-based traps do not exist on Bedrock) and no goals.
    pub guest: bool,
}

/// Runs every measurement and collects the figures.
pub fn run(options: &Options) -> Result<Report> {
    let hello = read(&options.examples, "hello")?;
    let compute = read(&options.examples, "compute")?;
    let runs = options.runs.max(1) as usize;

    let mut report = Report::default();
    host::describe(&mut report, options);
    eprintln!("bench: compiling");
    guest::compile_throughput(
        &mut report,
        &[("hello", &hello), ("compute", &compute)],
        runs,
    )?;
    eprintln!("bench: instantiating");
    guest::instantiation(
        &mut report,
        &[("hello", &hello), ("compute", &compute)],
        runs,
    )?;
    eprintln!("bench: deploying");
    deploy::first_output(&mut report, &hello, runs)?;
    eprintln!("bench: compute kernels");
    if options.guest {
        compute::kernels(&mut report, &compute, runs, options.scale, &[Setup::Silo])?;
        return Ok(report);
    }
    compute::kernels(&mut report, &compute, runs, options.scale, &Setup::ALL)?;
    // `<key>_goal`: the figure `<key>` must be at most this.
    report.number("compute_ratio_geomean_goal", GOAL_COMPUTE_RATIO, 2);
    report.number(
        "deploy_first_output.cached_ms_goal",
        GOAL_CACHED_DEPLOY_MS,
        1,
    );
    Ok(report)
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(format!("{name}.wasm"));
    // On Bedrock `/NAME` is a boot-archive file.
    runtime_silo::platform::read_file(&path).with_context(|| {
        format!(
            "reading {} (build the examples with `cargo xtask examples --release`)",
            path.display()
        )
    })
}
