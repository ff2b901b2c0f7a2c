//! Booting the kernel in QEMU.
//!
//! The kernel is an ELF with a PVH note, so QEMU loads it directly with
//! `-kernel` (no bootloader, no disk image). It reports its outcome through
//! the `isa-debug-exit` device, which turns a port write into QEMU's exit
//! status (see `bedrock_testproto::ExitCode`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bedrock_testproto::{DEBUG_EXIT_DEVICE, ExitCode};

use crate::error::{Context, Result, bail};
use crate::process::{KillOnDrop, describe};

/// Which accelerator runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Pure emulation: slow but works everywhere and is deterministic
    /// enough for tests; the default.
    Tcg,
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
}

/// Where the guest's serial port goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    /// The user's terminal, multiplexed with the QEMU monitor so that
    /// Ctrl-A X quits and Ctrl-A C opens the monitor.
    Terminal,
    /// QEMU's stdout, which the caller redirects to a log file. (Not
    /// `-serial file:PATH`: QEMU's option syntax would need commas in the
    /// path doubled.)
    Stdout,
}

/// One boot of the kernel.
#[derive(Clone, Debug)]
pub struct Machine {
    pub kernel: PathBuf,
    pub smp: u32,
    pub memory_mib: u32,
    pub accel: Accel,
    /// Show QEMU's graphical window; otherwise `-display none`.
    pub display: bool,
    pub serial: Serial,
    /// Kernel command line words, joined with spaces.
    pub cmdline: Vec<String>,
    /// Passed with `-initrd`; PVH hands it to the kernel as module 0.
    pub initrd: Option<PathBuf>,
}

impl Machine {
    /// QEMU's arguments for this boot.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        push(&["-machine", "q35", "-no-reboot"]);
        push(&["-device", DEBUG_EXIT_DEVICE]);
        match self.accel {
            // TCG's `max` model offers every feature QEMU can emulate.
            Accel::Tcg => push(&["-accel", "tcg", "-cpu", "max"]),
            // QEMU's default CPU model. `-cpu host` (and `max`, which under
            // KVM is `host` and more) copies the host's CPUID, and on some of
            // the nested-KVM machines Bedrock is developed on QEMU then fails
            // (the outer hypervisor advertises features it cannot provide);
            // on others all three work. The default model starts everywhere
            // tried so far; at worst QEMU warns that the host lacks one of
            // the model's features (`CPUID.01H:ECX.pni`) and leaves it out.
            // The kernel detects features with CPUID and never assumes them.
            Accel::Kvm => push(&["-accel", "kvm"]),
        }
        push(&["-smp", &self.smp.to_string()]);
        push(&["-m", &format!("{}M", self.memory_mib)]);
        if !self.display {
            push(&["-display", "none"]);
        }
        match self.serial {
            Serial::Terminal => push(&["-serial", "mon:stdio"]),
            // Nobody can type into a logged run: no monitor at all.
            Serial::Stdout => push(&["-serial", "stdio", "-monitor", "none"]),
        }
        push(&["-append", &self.cmdline.join(" ")]);
        args.push("-kernel".into());
        args.push(self.kernel.clone().into());
        if let Some(initrd) = &self.initrd {
            args.push("-initrd".into());
            args.push(initrd.clone().into());
        }
        args
    }

    fn command(&self, qemu: &Path) -> Command {
        let mut command = Command::new(qemu);
        command.args(self.args());
        command
    }
}

/// Fails with a helpful message if KVM cannot be used here.
pub fn check_kvm() -> Result<()> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(drop)
        .context(|| "KVM is not usable (/dev/kvm); run without --kvm to use TCG".into())
}

/// Boots with the serial port on the terminal and waits as long as it runs.
pub fn run_interactive(qemu: &Path, machine: &Machine) -> Result<ExitStatus> {
    let mut command = machine.command(qemu);
    eprintln!("xtask: {}", describe(&command));
    command
        .status()
        .context(|| format!("running {}", qemu.display()))
}

/// How a logged boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// QEMU exited with this status.
    Exited(i32),
    /// QEMU was killed by this signal (not by us).
    Signalled(i32),
    /// QEMU was still running at the deadline and was killed.
    TimedOut(Duration),
}

/// Boots with serial output (and QEMU's own messages) going to `log`,
/// killing QEMU if it runs longer than `timeout`.
pub fn run_logged(
    qemu: &Path,
    machine: &Machine,
    log: &Path,
    timeout: Duration,
) -> Result<Outcome> {
    debug_assert_eq!(machine.serial, Serial::Stdout);
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::create(log).context(|| format!("creating {}", log.display()))?;
    let stderr = file
        .try_clone()
        .context(|| format!("duplicating the handle of {}", log.display()))?;
    let mut command = machine.command(qemu);
    command.stdin(Stdio::null()).stdout(file).stderr(stderr);
    let shown = describe(&command);
    let mut child = KillOnDrop::spawn(&mut command).context(|| format!("running {shown}"))?;
    let status = child
        .wait_until(Instant::now() + timeout)
        .context(|| format!("waiting for {shown}"))?;
    Ok(match status {
        None => Outcome::TimedOut(timeout),
        Some(status) => outcome_of(status),
    })
}

fn outcome_of(status: ExitStatus) -> Outcome {
    match status.code() {
        Some(code) => Outcome::Exited(code),
        // On Unix a reaped child without an exit code was killed by a signal.
        None => Outcome::Signalled(status.signal().unwrap_or(0)),
    }
}

/// Explains a QEMU exit status in terms of the test protocol.
pub fn describe_status(status: i32) -> String {
    match ExitCode::from_qemu_status(status) {
        Some(code) => format!("{status} (kernel exit {code:?})"),
        None => format!("{status} (not a kernel exit code)"),
    }
}

/// The exit status of `cargo xtask run` for QEMU's, and a message for any
/// status other than the kernel's success.
pub fn run_exit(status: ExitStatus) -> (u8, Option<String>) {
    let Some(code) = status.code() else {
        let signal = status.signal().unwrap_or(0);
        let message = format!("QEMU was killed by signal {signal}");
        return (u8::try_from(128 + signal).unwrap_or(1), Some(message));
    };
    match ExitCode::from_qemu_status(code) {
        Some(ExitCode::Success) => (0, None),
        Some(ExitCode::Failure) => (1, Some("the kernel reported failure".to_owned())),
        None => (
            u8::try_from(code).unwrap_or(1),
            Some(format!("QEMU exited with status {}", describe_status(code))),
        ),
    }
}

/// Checks the optional `--initrd` file before QEMU gets a chance to fail
/// with a less helpful message.
pub fn check_initrd(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("initrd {} is not a file", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            kernel: "/k/bedrock".into(),
            smp: 2,
            memory_mib: 256,
            accel: Accel::Tcg,
            display: false,
            serial: Serial::Stdout,
            cmdline: vec!["test=boot_banner".into(), "frobnicate=7".into()],
            initrd: None,
        }
    }

    fn strings(m: &Machine) -> Vec<String> {
        m.args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    /// True if `needle` appears in `hay` as consecutive elements.
    fn has(hay: &[String], needle: &[&str]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn test_boot_arguments() {
        let args = strings(&machine());
        assert!(has(&args, &["-machine", "q35"]));
        assert!(has(
            &args,
            &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        ));
        assert!(has(&args, &["-accel", "tcg", "-cpu", "max"]));
        assert!(has(&args, &["-smp", "2"]));
        assert!(has(&args, &["-m", "256M"]));
        assert!(has(&args, &["-display", "none"]));
        assert!(has(&args, &["-serial", "stdio", "-monitor", "none"]));
        assert!(has(&args, &["-append", "test=boot_banner frobnicate=7"]));
        assert!(has(&args, &["-kernel", "/k/bedrock"]));
        assert!(args.contains(&"-no-reboot".to_owned()));
        assert!(!args.contains(&"-initrd".to_owned()));
    }

    #[test]
    fn interactive_kvm_boot_arguments() {
        let m = Machine {
            accel: Accel::Kvm,
            display: true,
            serial: Serial::Terminal,
            cmdline: vec![],
            initrd: Some("/m.bin".into()),
            ..machine()
        };
        let args = strings(&m);
        assert!(has(&args, &["-accel", "kvm"]));
        assert!(!args.contains(&"-cpu".to_owned()));
        assert!(!args.contains(&"-display".to_owned()));
        assert!(has(&args, &["-serial", "mon:stdio"]));
        assert!(has(&args, &["-append", ""]));
        assert!(has(&args, &["-initrd", "/m.bin"]));
    }

    #[test]
    fn run_exit_maps_kernel_codes() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(run_exit(exited(33)), (0, None));
        assert_eq!(run_exit(exited(35)).0, 1);
        let (code, message) = run_exit(exited(0));
        assert_eq!(code, 0);
        assert!(message.unwrap().contains("not a kernel exit code"));
        assert_eq!(run_exit(exited(3)).0, 3);
        assert_eq!(run_exit(ExitStatus::from_raw(9)).0, 137);
    }

    #[test]
    fn status_descriptions() {
        assert_eq!(describe_status(33), "33 (kernel exit Success)");
        assert_eq!(describe_status(1), "1 (not a kernel exit code)");
    }
}
