//! `runtime-silo`: run one wasm app like `wasmtime run`, deploy the apps of
//! a boot manifest, or serve the silo manager's line protocol.
//!
//! Exit status of `run`, as `wasmtime run` does it:
//! - the app exited (`proc_exit(n)` or `_start` returned): `n` (the OS keeps
//!   the low 8 bits);
//! - the app trapped, or was stopped by a limit or deadline (wasmtime reports
//!   those as traps too): the message on stderr and 134, i.e. 128 + SIGABRT,
//!   the status of a native program that aborts;
//! - the code was rejected (unreadable, malformed, invalid, no `_start`,
//!   unknown import) or a component's `run` returned `err`: the message on
//!   stderr and 1.

mod bench;

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use runtime_silo::options::{DirMapping, EnvVar};
use runtime_silo::service::Service;
use runtime_silo::silo::{
    DeployRequest, ExitStatus, Limits, Manager, OutputMode, StdinSource, WasmSource,
};
use runtime_silo::{boot, serve};

/// Exit status for a trap: 128 + SIGABRT (6), as `wasmtime run` uses on Unix.
const TRAP_EXIT: u8 = 134;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Bedrock's runtime silo: wasm apps under wasmtime + Cranelift"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WASI preview1 command module or a `strat9:silo/app` component.
    Run {
        /// Set an environment variable for the app (`NAME` alone passes the
        /// host's value through).
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        env: Vec<EnvVar>,
        /// Grant the app a host directory, seen as GUEST (default: HOST as
        /// written).
        #[arg(long = "dir", value_name = "HOST[::GUEST]")]
        dirs: Vec<DirMapping>,
        /// The app: `.wasm` binary or `.wat` text.
        wasm: PathBuf,
        /// Arguments passed to the app after its name.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a silo manager speaking the line protocol on stdin/stdout.
    Serve,
    /// Deploy the apps a boot manifest (TOML) lists, wait for them all and
    /// report how each ended; fails if any ended against its expectations.
    Boot {
        /// The manifest (on Bedrock `/NAME` is a boot-archive file).
        manifest: PathBuf,
    },
    /// Serve the silo manager as the `silo:` scheme (Bedrock), after
    /// deploying the apps of each boot manifest given (their report goes
    /// to stdout as with `boot`, expectations included).
    Service {
        /// Boot manifests (on Bedrock `/NAME` is a boot-archive file).
        manifests: Vec<PathBuf>,
    },
    /// Measure compile throughput, instantiation, deploy-to-first-output
    /// and the compute kernels against wasmtime's default configuration;
    /// print `key value` lines (or JSON).
    Bench {
        /// Directory of the built examples (`hello.wasm`, `compute.wasm`;
        /// `cargo xtask examples --release` prints it). Default:
        /// $BEDROCK_EXAMPLES_DIR.
        #[arg(long, value_name = "DIR")]
        examples: Option<PathBuf>,
        /// Repetitions of each measurement (medians are reported).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Run every compute kernel at this scale instead of its default
        /// (sized for a few hundred milliseconds).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        scale: Option<u32>,
        /// Print one JSON object instead of `key value` lines.
        #[arg(long, conflicts_with = "guest")]
        json: bool,
        /// Measure only what the two guests of `cargo xtask bench` compare
        /// (Bedrock and Linux, same QEMU): everything under the silo
        /// configuration, no default-wasmtime reference; print `BENCH info
        /// wasm.KEY=VALUE` lines, then `BENCH info wasm.done=1`.
        #[arg(long)]
        guest: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            env,
            dirs,
            wasm,
            args,
        } => run(env, dirs, wasm, args),
        Command::Serve => serve_stdio(),
        Command::Boot { manifest } => boot(manifest),
        Command::Service { manifests } => service(manifests),
        Command::Bench {
            examples,
            runs,
            scale,
            json,
            guest,
        } => bench(examples, runs, scale, json, guest),
    }
}

fn bench(
    examples: Option<PathBuf>,
    runs: u32,
    scale: Option<u32>,
    json: bool,
    guest: bool,
) -> ExitCode {
    let Some(examples) =
        examples.or_else(|| std::env::var_os("BEDROCK_EXAMPLES_DIR").map(PathBuf::from))
    else {
        return fail(
            "bench needs --examples DIR (or $BEDROCK_EXAMPLES_DIR): the directory `cargo xtask examples --release` builds into",
        );
    };
    let options = bench::Options {
        examples,
        runs,
        scale,
        guest,
    };
    match bench::run(&options) {
        Ok(report) if json => {
            print!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Ok(report) if guest => {
            print!("{}", report.to_bench_lines());
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.to_lines());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("bench: {e:#}")),
    }
}

fn run(env: Vec<EnvVar>, dirs: Vec<DirMapping>, wasm: PathBuf, args: Vec<String>) -> ExitCode {
    let mut preopens = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        match dir.open() {
            Ok(preopen) => preopens.push(preopen),
            Err(e) => return fail(&format!("failed to open directory for --dir {dir}: {e}")),
        }
    }
    let manager = match Manager::new() {
        Ok(manager) => manager,
        Err(e) => return fail(&e.to_string()),
    };
    // argv[0] is the path as given, as with wasmtime.
    let mut request = DeployRequest::new(wasm.display().to_string(), WasmSource::Path(wasm));
    request.args = args;
    request.env = env.into_iter().filter_map(EnvVar::resolve).collect();
    request.preopens = preopens;
    request.limits = Limits::unlimited();
    request.stdin = StdinSource::Inherit;
    request.stdout = OutputMode::Inherit;
    request.stderr = OutputMode::Inherit;
    let status = match manager.deploy(request).and_then(|id| manager.wait(id)) {
        Ok(status) => status,
        Err(e) => return fail(&e.to_string()),
    };
    match status {
        // Like a native program: std's exit flushes nothing of ours (the app
        // wrote straight to the inherited streams).
        ExitStatus::Exited(code) => std::process::exit(code),
        ExitStatus::Failed(_) | ExitStatus::Rejected(_) => fail(&status.to_string()),
        ExitStatus::Trapped(ref trap) => {
            eprintln!("Error: {status}");
            if let Some(backtrace) = &trap.backtrace {
                eprintln!("{backtrace}");
            }
            ExitCode::from(TRAP_EXIT)
        }
        ExitStatus::Killed | ExitStatus::DeadlineExceeded(_) | ExitStatus::LimitExceeded(_) => {
            eprintln!("Error: {status}");
            ExitCode::from(TRAP_EXIT)
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("Error: {message}");
    ExitCode::FAILURE
}

fn read_manifest(path: &Path) -> Result<boot::Manifest, String> {
    let bytes = runtime_silo::platform::read_file(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    boot::Manifest::parse(&String::from_utf8_lossy(&bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn boot(path: PathBuf) -> ExitCode {
    let manifest = match read_manifest(&path) {
        Ok(manifest) => manifest,
        Err(e) => return fail(&e),
    };
    let manager = match Manager::new() {
        Ok(manager) => manager,
        Err(e) => return fail(&e.to_string()),
    };
    match boot::run(&manager, &manifest, &mut io::stdout().lock()) {
        Ok(summary) if summary.unexpected == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => fail(&format!("boot: {e}")),
    }
}

fn serve_stdio() -> ExitCode {
    let manager = match Manager::new() {
        Ok(manager) => manager,
        Err(e) => return fail(&e.to_string()),
    };
    match serve::serve(&manager, io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("serve: {e}")),
    }
}

/// `service MANIFEST...`: the boot manifests' apps run in the background
/// (one after the other, each reported as `boot` does) while the `silo:`
/// scheme is served; runs until the silo is ended.
fn service(paths: Vec<PathBuf>) -> ExitCode {
    let manifests = match paths
        .iter()
        .map(|p| read_manifest(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(manifests) => manifests,
        Err(e) => return fail(&e),
    };
    let manager = match Manager::new() {
        Ok(manager) => Arc::new(manager),
        Err(e) => return fail(&e.to_string()),
    };
    let booting = manager.clone();
    let started = std::thread::Builder::new()
        .name("boot-manifests".into())
        .spawn(move || {
            for manifest in &manifests {
                if let Err(e) = boot::run(&booting, manifest, &mut io::stdout().lock()) {
                    eprintln!("Error: boot: {e}");
                }
            }
        });
    if let Err(e) = started {
        return fail(&format!("cannot start the boot manifests: {e}"));
    }
    match runtime_silo::platform::serve_silo_service(Service::new(manager)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("silo: service: {e}")),
    }
}
