//! `cargo xtask`: sets up, builds, boots and tests Bedrock.
//!
//! Every command first makes sure the host has what it needs (installing it
//! on Debian as root, see `packages`), so a fresh machine needs nothing but
//! `cargo xtask test`.

mod bench;
mod build;
mod error;
mod harness;
mod packages;
mod process;
mod qemu;
mod scenarios;
mod toolchain;
mod wasm;
mod workspace;

use std::env;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::build::{Profile, build_all};
use crate::error::Result;
use crate::packages::{Host, ensure_host};
use crate::qemu::{Accel, Machine, Serial};
use crate::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, run and test the Bedrock kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find (and on Debian as root, install) the host tools and the cross
    /// toolchain, and print what was found.
    #[command(alias = "doctor")]
    Setup,
    /// Build the kernel, the ring-3 programs and the boot archive; print
    /// the kernel ELF's and the archive's paths.
    Build(BuildArgs),
    /// Build the wasm examples (examples/, wasm32-wasip1) and print the
    /// path of each `.wasm`.
    Examples(BuildArgs),
    /// Run clippy over the kernel-only code too (the host build of the
    /// kernel crate skips it), with warnings as errors.
    Lint,
    /// Build the kernel and boot it in QEMU, serial on this terminal
    /// (Ctrl-A X quits).
    Run(RunArgs),
    /// Run the host unit tests and the kernel's test scenarios in QEMU.
    Test(TestArgs),
    /// Benchmark Bedrock against Linux in the same QEMU (Debian's kernel,
    /// fetched once); table on stdout, figures in target/bench/results.json
    /// and docs/benchmarks.md.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Number of CPUs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=255))]
    smp: u32,
    /// Guest memory.
    #[arg(long, value_name = "MiB", default_value_t = 512, value_parser = clap::value_parser!(u32).range(16..))]
    memory: u32,
    /// Use KVM.
    #[arg(long, conflicts_with = "tcg")]
    kvm: bool,
    /// Use TCG, QEMU's emulator (the default).
    #[arg(long)]
    tcg: bool,
    /// No graphical window (implied when neither $DISPLAY nor $WAYLAND_DISPLAY is set).
    #[arg(long)]
    headless: bool,
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
    /// A file to pass as boot module 0.
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,
    /// Extra kernel command-line words.
    #[arg(last = true, value_name = "CMDLINE")]
    cmdline: Vec<String>,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// Run the scenarios under KVM instead of TCG.
    #[arg(long)]
    kvm: bool,
    /// Run only the scenarios whose name contains this.
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Skip the host unit tests (`cargo test --workspace`).
    #[arg(long)]
    no_host: bool,
    /// Test a kernel built with the release profile.
    #[arg(long)]
    release: bool,
    /// Per-scenario timeout in seconds, instead of each scenario's own.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Run both guests under KVM instead of TCG (Debian's Linux 6.1 does not
    /// boot under the nested KVM of some hosts).
    #[arg(long)]
    kvm: bool,
    /// Leave docs/benchmarks.md as it is.
    #[arg(long)]
    no_docs: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    let ws = Workspace::locate()?;
    match command {
        Command::Setup => setup(),
        Command::Build(args) => {
            let host = ensure_host()?;
            let images = build_all(
                &host.toolchain,
                &ws,
                Profile::from_release_flag(args.release),
            )?;
            println!("{}", images.kernel.display());
            println!("{}", images.boot_archive.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Examples(args) => wasm::examples(&ws, Profile::from_release_flag(args.release)),
        Command::Lint => lint(&ws),
        Command::Run(args) => run(&ws, args),
        Command::Test(args) => test(&ws, args),
        Command::Bench(args) => bench(&ws, args),
    }
}

fn setup() -> Result<ExitCode> {
    let Host {
        toolchain,
        qemu,
        ld_lld,
        mke2fs,
    } = ensure_host()?;
    let qemu_version = version_line(&qemu);
    println!("cross toolchain: {}", toolchain.source);
    println!("  cargo:   {}", toolchain.cargo.display());
    println!(
        "  rustc:   {} ({})",
        toolchain.rustc.display(),
        toolchain.version
    );
    println!("  sysroot: {}", toolchain.sysroot.display());
    println!("  host:    {}", toolchain.host);
    println!("  linker:  {}", toolchain.linker);
    println!("qemu:   {} ({qemu_version})", qemu.display());
    println!("ld.lld: {}", ld_lld.display());
    println!("mke2fs: {}", mke2fs.display());
    Ok(ExitCode::SUCCESS)
}

/// The first line of `<program> --version`, or why there is none.
fn version_line(program: &std::path::Path) -> String {
    let mut command = std::process::Command::new(program);
    command.arg("--version");
    match process::output_of(command) {
        Ok(text) => text.lines().next().unwrap_or_default().to_owned(),
        Err(error) => error.to_string(),
    }
}

fn run(ws: &Workspace, args: RunArgs) -> Result<ExitCode> {
    let accel = if args.kvm { Accel::Kvm } else { Accel::Tcg };
    if accel == Accel::Kvm {
        qemu::check_kvm()?;
    }
    if let Some(initrd) = &args.initrd {
        qemu::check_initrd(initrd)?;
    }
    let host = ensure_host()?;
    let images = build_all(
        &host.toolchain,
        ws,
        Profile::from_release_flag(args.release),
    )?;
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| env::var_os(var).is_some_and(|v| !v.is_empty()));
    let machine = Machine {
        kernel: images.kernel,
        smp: args.smp,
        memory_mib: args.memory,
        accel,
        display: has_display && !args.headless,
        serial: Serial::Terminal,
        cmdline: args.cmdline,
        // The boot archive carries init and the other ring-3 programs.
        initrd: Some(args.initrd.unwrap_or(images.boot_archive)),
    };
    let status = qemu::run_interactive(&host.qemu, &machine)?;
    let (code, message) = qemu::run_exit(status);
    if let Some(message) = message {
        eprintln!("xtask: {message}");
    }
    Ok(ExitCode::from(code))
}

/// The host's clippy over the kernel crate with `cfg(kernel)` on (see
/// bedrock/build.rs), in its own target directory so that it never
/// invalidates the normal host build.
fn lint(ws: &Workspace) -> Result<ExitCode> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(&ws.root)
        .args(["clippy", "--package", "bedrock", "--lib", "--target-dir"])
        .arg(ws.target_dir.join("lint"))
        .args(["--", "-D", "warnings"])
        .env("BEDROCK_LINT_KERNEL", "1");
    let shown = crate::process::describe(&command);
    let status = command
        .status()
        .map_err(|e| crate::error::Error::new(format!("running {shown}: {e}")))?;
    if status.success() {
        println!("kernel lint ... ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("kernel lint ... FAILED ({status})");
        Ok(ExitCode::FAILURE)
    }
}

fn test(ws: &Workspace, args: TestArgs) -> Result<ExitCode> {
    let options = harness::Options {
        accel: if args.kvm { Accel::Kvm } else { Accel::Tcg },
        filter: args.filter,
        host_tests: !args.no_host,
        profile: Profile::from_release_flag(args.release),
        timeout: args.timeout.map(Duration::from_secs),
    };
    if options.accel == Accel::Kvm {
        qemu::check_kvm()?;
    }
    let host = ensure_host()?;
    let tally = harness::run(&host, ws, &options)?;
    println!("{}", tally.summary());
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(ws: &Workspace, args: BenchArgs) -> Result<ExitCode> {
    let options = bench::Options {
        accel: if args.kvm { Accel::Kvm } else { Accel::Tcg },
        update_docs: !args.no_docs,
    };
    if options.accel == Accel::Kvm {
        qemu::check_kvm()?;
    }
    bench::run(ws, &options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_passes_words_after_double_dash_to_the_kernel() {
        let cli =
            Cli::try_parse_from(["xtask", "run", "--smp", "4", "--", "log=debug", "x=1"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run: {cli:?}");
        };
        assert_eq!(args.smp, 4);
        assert_eq!(args.memory, 512);
        assert_eq!(args.cmdline, ["log=debug", "x=1"]);
    }

    #[test]
    fn kvm_and_tcg_conflict() {
        assert!(Cli::try_parse_from(["xtask", "run", "--kvm", "--tcg"]).is_err());
    }
}
