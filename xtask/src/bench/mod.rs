//! `cargo xtask bench`: Bedrock against Linux in the same QEMU.
//!
//! Both guests boot in one run, one after the other, on identical machines
//! (`q35`, 2 vCPUs, 512 MiB, the same accelerator) and run the same
//! benchmark code (`bench/core`): Bedrock as `usertest bench` started by
//! the kernel as init (`init=usertest init.args=bench`), Linux as the
//! static `/init` of an initramfs booted with Debian's kernel package. Each
//! prints its result lines on the serial port; this module reads both logs
//! and reports each benchmark as Bedrock's figure, Linux's and their ratio
//! on stdout, in `<target>/bench/results.json` and in the generated section
//! of `docs/benchmarks.md`.
//!
//! Before the guests, the runtime silo's host figures (issue 3) are taken
//! by `runtime-silo bench` (see [`runtime`]) and reported alongside. In the
//! guests, each side's bench program ends with the runtime silo's guest
//! benchmark, compared in [`wasm`] (issue 7).
//!
//! Figures are reported, never judged: a ratio that misses its goal is
//! printed as such and the command still succeeds. It fails only when a
//! side could not be built, fetched, booted or did not finish its run.

mod linux;
mod report;
mod results;
mod runtime;
mod wasm;

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::build::{Profile, build_all};
use crate::error::{Context, Result, bail};
use crate::packages::ensure_host;
use crate::qemu::{self, Accel, Machine, Outcome, Serial, describe_status};
use crate::workspace::Workspace;
use report::Setting;
use results::Run;

#[derive(Debug)]
pub struct Options {
    pub accel: Accel,
    /// Rewrite the figures section of `docs/benchmarks.md`.
    pub update_docs: bool,
}

/// The guests' hardware, the same for both sides.
const SMP: u32 = 2;
const MEMORY_MIB: u32 = 512;
/// A side's boot and run take 1-3 min here under TCG, most of it the
/// runtime silo's wasm benchmark (Cranelift and the compute kernels under
/// TCG); Linux's boot takes up to a minute on a loaded host. The bound
/// matters under KVM, where a guest KVM cannot emulate leaves QEMU paused
/// rather than exited.
const SIDE_TIMEOUT: Duration = Duration::from_mins(15);
/// What QEMU prints when KVM gave up on a guest instruction; the VM then
/// never finishes.
const KVM_FAILURE: &str = "KVM internal error";
/// Boots of each side, alternating (Bedrock, Linux, Bedrock, ...): the
/// host's load drifts over seconds, and alternating spreads the drift over
/// both sides instead of biasing one. Each side's rounds are pooled.
const PASSES: usize = 2;
/// Serial log lines shown when a side did not finish.
const LOG_TAIL_LINES: usize = 30;

/// Builds and fetches everything, boots both sides and reports.
pub fn run(ws: &Workspace, options: &Options) -> Result<ExitCode> {
    let started = Instant::now();
    let host = ensure_host()?;
    let dir = ws.target_dir.join("bench");
    let linux_dir = dir.join("linux");

    // Everything is ready before the first guest boots, so that a failed
    // build or download costs no boot.
    eprintln!("xtask: building Bedrock (release) and the Linux bench programs");
    let images = build_all(&host.toolchain, ws, Profile::Release)?;
    let programs = linux::build_programs(ws)?;
    let kernel = linux::kernel(&linux_dir)?;
    let runtime_silo = runtime::build(&host.toolchain, ws)?;
    let initramfs = linux_dir.join("init.cpio");
    linux::write_initramfs(&programs, runtime_silo.examples(), &initramfs)?;
    // On the host alone, before QEMU starts competing for the CPUs.
    let runtime_figures = runtime::measure(&runtime_silo)?;

    let machine = |kernel: &Path, initrd: &Path, cmdline: &[&str]| Machine {
        kernel: kernel.to_owned(),
        smp: SMP,
        memory_mib: MEMORY_MIB,
        accel: options.accel,
        display: false,
        serial: Serial::Stdout,
        cmdline: cmdline.iter().map(|w| (*w).to_owned()).collect(),
        initrd: Some(initrd.to_owned()),
    };
    let bedrock_machine = machine(
        &images.kernel,
        &images.boot_archive,
        &["init=usertest", "init.args=bench"],
    );
    // `panic=-1`: should /init die, the kernel reboots at once, which
    // QEMU's -no-reboot turns into an exit instead of a hang.
    let linux_machine = machine(
        &kernel.image,
        &initramfs,
        &["console=ttyS0", "quiet", "panic=-1"],
    );
    let (mut bedrock_runs, mut linux_runs) = (Vec::new(), Vec::new());
    for pass in 1..=PASSES {
        bedrock_runs.push(boot(
            &host.qemu,
            &bedrock_machine,
            &dir.join(format!("bedrock-{pass}.log")),
            "Bedrock",
        )?);
        linux_runs.push(boot(
            &host.qemu,
            &linux_machine,
            &dir.join(format!("linux-{pass}.log")),
            "Linux",
        )?);
    }
    let (bedrock, linux) = (Run::pooled(&bedrock_runs), Run::pooled(&linux_runs));
    let wasm_figures =
        wasm::compare(&bedrock_runs, &linux_runs).map_err(crate::error::Error::new)?;

    let rows = results::compare(&bedrock, &linux);
    let linux_kernel = linux.info("kernel").unwrap_or(&kernel.release).to_owned();
    let setting = Setting {
        accel: match options.accel {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        },
        anchor: anchor(&linux_kernel),
        linux_kernel,
        machine: machine_text(options.accel),
        qemu: crate::version_line(&host.qemu),
        date: report::now_utc(),
        linux_facts: linux
            .info
            .iter()
            .filter(|(key, _)| ["meltdown", "spectre_v2"].contains(&key.as_str()))
            .cloned()
            .collect(),
    };
    print!("{}", report::table(&setting, &rows));
    print!("{}", wasm_figures.table());
    print!("{}", runtime_figures.table());
    let json_path = dir.join("results.json");
    let mut fields = report::fields(&setting, &rows);
    for (key, value) in results::reported_info(&bedrock_runs, &linux_runs) {
        fields.push((key, report::Value::from_info(&value)));
    }
    fields.extend(wasm_figures.fields());
    fields.extend(runtime_figures.fields());
    let json = report::to_json(&fields);
    fs::write(&json_path, json).context(|| format!("writing {}", json_path.display()))?;
    println!("results: {}", json_path.display());
    if options.update_docs {
        let section = report::doc_section(&setting, &rows)
            + &wasm_figures.doc_section()
            + &runtime_figures.doc_section();
        update_docs(&ws.root.join("docs").join("benchmarks.md"), &section)?;
    }
    eprintln!("xtask: bench took {} s in all", started.elapsed().as_secs());
    Ok(ExitCode::SUCCESS)
}

/// Boots one side with its serial output in `log` and reads its run.
fn boot(qemu: &Path, machine: &Machine, log: &Path, side: &str) -> Result<Run> {
    eprintln!("xtask: benchmarking {side} (serial log {})", log.display());
    let started = Instant::now();
    let outcome = qemu::run_logged(qemu, machine, log, SIDE_TIMEOUT)?;
    let bytes = fs::read(log).context(|| format!("reading {}", log.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    match results::parse_log(&text) {
        Ok(run) => {
            eprintln!("xtask: {side} done in {} s", started.elapsed().as_secs());
            for (key, value) in run.info.iter().filter(|(k, _)| k == "setup") {
                eprintln!("xtask: {side} {key}: {value}");
            }
            Ok(run)
        }
        Err(why) => {
            let hint = if text.contains(KVM_FAILURE) {
                "\nQEMU reported a KVM internal error: this host's KVM cannot run \
                 this guest (see docs/benchmarks.md); run without --kvm"
            } else {
                ""
            };
            bail!(
                "{side}: {why}; QEMU {}; last lines of {}:\n{}{hint}",
                describe_outcome(outcome),
                log.display(),
                crate::harness::tail(&text, LOG_TAIL_LINES)
            )
        }
    }
}

fn describe_outcome(outcome: Outcome) -> String {
    match outcome {
        Outcome::Exited(status) => format!("exited with status {}", describe_status(status)),
        Outcome::Signalled(signal) => format!("was killed by signal {signal}"),
        Outcome::TimedOut(after) => format!("timed out after {} s and was killed", after.as_secs()),
    }
}

/// `linux-6.1 same qemu` for release `6.1.0-56-amd64`.
fn anchor(release: &str) -> String {
    let version: Vec<_> = release.split(['.', '-']).take(2).collect();
    format!("linux-{} same qemu", version.join("."))
}

/// The guests' hardware as `results.json` states it (see `qemu::Machine`).
fn machine_text(accel: Accel) -> String {
    let cpu = match accel {
        Accel::Tcg => "-cpu max",
        Accel::Kvm => "QEMU's default CPU model",
    };
    format!("q35, {cpu}, {SMP} vCPUs, {MEMORY_MIB} MiB")
}

/// Replaces the generated figures in `docs/benchmarks.md`; a document
/// without the markers is left alone with a warning.
fn update_docs(path: &Path, section: &str) -> Result<()> {
    let doc = fs::read_to_string(path).context(|| format!("reading {}", path.display()))?;
    match report::replace_doc_section(&doc, section) {
        Some(updated) => {
            fs::write(path, updated).context(|| format!("writing {}", path.display()))?;
            println!("figures written to {}", path.display());
        }
        None => eprintln!(
            "xtask: warning: {} lacks the `{}` / `{}` markers; figures not written there",
            path.display(),
            report::DOC_BEGIN,
            report::DOC_END
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_names_major_and_minor() {
        assert_eq!(anchor("6.1.0-56-amd64"), "linux-6.1 same qemu");
        assert_eq!(anchor("6.12.9+bpo-amd64"), "linux-6.12 same qemu");
        assert_eq!(anchor("6"), "linux-6 same qemu");
    }

    #[test]
    fn machine_text_follows_the_accelerator() {
        assert_eq!(machine_text(Accel::Tcg), "q35, -cpu max, 2 vCPUs, 512 MiB");
        assert!(machine_text(Accel::Kvm).contains("default CPU model"));
    }
}
