//! The host tools the build and the tests need, and installing them.
//!
//! The project must set itself up on a fresh Debian 12 machine as root
//! (that is what CI is), so there xtask installs what is missing with
//! `apt-get`. Anywhere else it only says exactly what to install: it never
//! runs `sudo`, and never `rustup component add` or `rustup target add`,
//! which hang on machines that cannot reach rustup's servers.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result, bail};
use crate::process::{describe, run_until, which};
use crate::toolchain::{self, CrossToolchain, OVERRIDE_VAR};
use crate::wasm;

/// A program xtask runs, and the Debian package that provides it.
#[derive(Debug)]
pub struct Tool {
    pub binary: &'static str,
    pub package: &'static str,
    /// What it is for, in the instructions for non-Debian hosts.
    pub purpose: &'static str,
}

pub const QEMU: Tool = Tool {
    binary: "qemu-system-x86_64",
    package: "qemu-system-x86",
    purpose: "QEMU for x86_64",
};
pub const LD_LLD: Tool = Tool {
    binary: "ld.lld",
    package: "lld",
    purpose: "LLVM's linker lld",
};
pub const MKE2FS: Tool = Tool {
    binary: "mke2fs",
    package: "e2fsprogs",
    purpose: "e2fsprogs, to make ext4 disk images",
};

/// Every tool needed, whatever the toolchain (lld links the kernel when the
/// cross toolchain has no `rust-lld`, and later the user-space programs).
pub const TOOLS: [&Tool; 3] = [&QEMU, &LD_LLD, &MKE2FS];

/// Debian packages that provide a cross toolchain (see `toolchain`).
pub const DEBIAN_CROSS_TOOLCHAIN: [&str; 3] = ["rustc-web", "cargo-web", "rust-web-src"];

/// Debian's C library for wasm32 (`/usr/lib/wasm32-wasi`), which the wasm
/// examples link against unless the toolchain brings its own (see `wasm`).
pub const WASI_LIBC: &str = "wasi-libc";

/// Upper bound for `apt-get update` plus `apt-get install` together. A
/// normal install takes a minute or two; a dead mirror must not hang CI.
const APT_DEADLINE: Duration = Duration::from_mins(15);

/// Options that make apt give up on an unresponsive mirror instead of
/// waiting indefinitely.
const APT_OPTIONS: [&str; 4] = [
    "-o",
    "Acquire::http::Timeout=30",
    "-o",
    "Acquire::Retries=2",
];

/// What was found on this host; every command starts by establishing it.
#[derive(Debug)]
pub struct Host {
    pub toolchain: CrossToolchain,
    pub qemu: PathBuf,
    pub ld_lld: PathBuf,
    pub mke2fs: PathBuf,
}

/// Finds every tool and the cross toolchain, installing what is missing
/// where that is possible, or fails saying what to install.
pub fn ensure_host() -> Result<Host> {
    let mut toolchain = discover_toolchain()?;
    let mut missing = missing_packages(|tool| which(tool.binary).is_some(), toolchain.is_some());
    if wasm::needs_wasi_libc(toolchain.as_ref()) && !wasm::has_debian_wasi_libc() {
        missing.push(WASI_LIBC);
    }
    if !missing.is_empty() {
        match installer() {
            Installer::Apt => apt_install(&missing)?,
            installer => bail!("{}", instructions(&missing, installer)),
        }
        toolchain = discover_toolchain()?;
    }
    let toolchain = toolchain.ok_or_else(|| {
        Error::new("still no cross toolchain with rust-src after installing Debian's rust-web-src")
    })?;
    let find = |tool: &Tool| {
        which(tool.binary).ok_or_else(|| {
            Error::new(format!(
                "{} is still missing after installing {}",
                tool.binary, tool.package
            ))
        })
    };
    Ok(Host {
        toolchain,
        qemu: find(&QEMU)?,
        ld_lld: find(&LD_LLD)?,
        mke2fs: find(&MKE2FS)?,
    })
}

fn discover_toolchain() -> Result<Option<CrossToolchain>> {
    toolchain::discover().context(|| "finding the cross toolchain".into())
}

/// The packages to install: those of absent tools, plus Debian's toolchain
/// if no toolchain with rust-src exists.
fn missing_packages(present: impl Fn(&Tool) -> bool, have_toolchain: bool) -> Vec<&'static str> {
    let tools = TOOLS.iter().filter(|t| !present(t)).map(|t| t.package);
    let rust = DEBIAN_CROSS_TOOLCHAIN
        .iter()
        .copied()
        .filter(|_| !have_toolchain);
    tools.chain(rust).collect()
}

/// How missing packages can be obtained on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Installer {
    /// Debian with apt, and we are root: install ourselves.
    Apt,
    /// Debian, but not root: tell the exact apt command.
    AptNeedsRoot,
    /// Anything else: describe what to install.
    Unknown,
}

fn installer() -> Installer {
    let debian = Path::new("/etc/debian_version").exists() && which("apt-get").is_some();
    // The owner of /proc/self is this process's effective uid.
    let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    match (debian, root) {
        (true, true) => Installer::Apt,
        (true, false) => Installer::AptNeedsRoot,
        (false, _) => Installer::Unknown,
    }
}

/// The message for a host where xtask cannot install `packages` itself.
fn instructions(packages: &[&str], installer: Installer) -> String {
    let apt = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if installer == Installer::AptNeedsRoot {
        return format!(
            "missing Debian packages: {}\nInstall them as root (xtask does this itself when run as root):\n    {apt}",
            packages.join(" ")
        );
    }
    let mut lines = vec!["missing host tools; please install:".to_owned()];
    for tool in TOOLS.iter().filter(|t| packages.contains(&t.package)) {
        lines.push(format!("  - {} (provides `{}`)", tool.purpose, tool.binary));
    }
    if packages.contains(&DEBIAN_CROSS_TOOLCHAIN[0]) {
        lines.push("  - a Rust toolchain with the standard library sources, e.g.".to_owned());
        lines.push(
            "      rustup toolchain install nightly && rustup component add rust-src --toolchain nightly"
                .to_owned(),
        );
        lines.push(format!(
            "    (or set {OVERRIDE_VAR} to a rustup toolchain name, or to a directory holding cargo and rustc)"
        ));
    }
    if packages.contains(&WASI_LIBC) {
        lines.push(format!(
            "  - wasi-libc, the C library for wasm32 (in {}), or a toolchain with \
             `rustup target add {}`",
            wasm::DEBIAN_WASI_LIBC,
            wasm::WASM_TARGET
        ));
    }
    lines.push(format!("On Debian 12 that is: {apt}"));
    lines.join("\n")
}

/// `apt-get update` then `apt-get install` of `packages`, both under one
/// deadline.
fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("xtask: installing {} with apt-get", packages.join(" "));
    let deadline = Instant::now() + APT_DEADLINE;
    for args in apt_commands(packages) {
        let mut command = Command::new("apt-get");
        command
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            // Keep stdout for results (`cargo xtask test` ends with a summary).
            .stdout(io::stderr());
        eprintln!("xtask: {}", describe(&command));
        run_until(&mut command, deadline).context(|| {
            format!(
                "installing packages (apt-get has {} minutes in all)",
                APT_DEADLINE.as_secs() / 60
            )
        })?;
    }
    Ok(())
}

/// `apt-get update`, for a caller that found apt's package lists empty or
/// stale (a fresh container has none). `Ok(false)` where xtask may not run
/// apt (not Debian, or not root): the caller then says what is missing.
pub fn refresh_apt_lists() -> Result<bool> {
    if installer() != Installer::Apt {
        return Ok(false);
    }
    let [update, _] = apt_commands(&[]);
    let mut command = Command::new("apt-get");
    command
        .args(&update)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(io::stderr());
    eprintln!("xtask: {}", describe(&command));
    run_until(&mut command, Instant::now() + APT_DEADLINE)
        .context(|| "refreshing apt's package lists".into())?;
    Ok(true)
}

/// The argument lists of the two apt-get runs.
fn apt_commands(packages: &[&str]) -> [Vec<String>; 2] {
    let with_options = |rest: &[&str]| -> Vec<String> {
        APT_OPTIONS
            .iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let mut install = with_options(&["install", "-y", "--no-install-recommends"]);
    install.extend(packages.iter().map(|p| (*p).to_owned()));
    [with_options(&["update"]), install]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_missing_means_nothing_to_install() {
        assert!(missing_packages(|_| true, true).is_empty());
    }

    #[test]
    fn absent_tools_and_toolchain_map_to_debian_packages() {
        let got = missing_packages(|t| t.binary != "ld.lld", false);
        assert_eq!(got, ["lld", "rustc-web", "cargo-web", "rust-web-src"]);
        let got = missing_packages(|t| t.binary == "mke2fs", true);
        assert_eq!(got, ["qemu-system-x86", "lld"]);
    }

    #[test]
    fn apt_runs_update_then_a_noninteractive_install() {
        let [update, install] = apt_commands(&["lld", "e2fsprogs"]);
        assert_eq!(update.last().unwrap(), "update");
        assert!(update.contains(&"Acquire::http::Timeout=30".to_owned()));
        let tail = &install[install.len() - 5..];
        assert_eq!(
            tail,
            [
                "install",
                "-y",
                "--no-install-recommends",
                "lld",
                "e2fsprogs"
            ]
        );
    }

    #[test]
    fn instructions_name_exact_packages() {
        let text = instructions(&["qemu-system-x86"], Installer::AptNeedsRoot);
        assert!(text.contains("apt-get install -y --no-install-recommends qemu-system-x86"));

        let text = instructions(
            &["lld", "rustc-web", "cargo-web", "rust-web-src"],
            Installer::Unknown,
        );
        assert!(text.contains("`ld.lld`"), "{text}");
        assert!(text.contains("rustup component add rust-src --toolchain nightly"));
        assert!(!text.contains("qemu-system-x86_64"), "{text}");

        let text = instructions(&[WASI_LIBC], Installer::Unknown);
        assert!(text.contains("rustup target add wasm32-wasip1"), "{text}");
    }
}
