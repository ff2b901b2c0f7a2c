//! The Linux anchor: Debian's kernel package, and an initramfs whose
//! `/init` is a static build of `bench/linux`.
//!
//! Everything lands in `<target>/bench/linux/`, which doubles as the cache:
//! the `.deb` and the kernel extracted from it are reused by later runs, so
//! `apt-get` runs only the first time. On a host without apt, a
//! `vmlinuz-<release>` placed in that directory by hand is used as it is.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bedrock_initrd::{NewEntry, S_IFREG};

use crate::error::{Context, Result, bail};
use crate::process::{KillOnDrop, describe, output_of, run_until, which};
use crate::workspace::Workspace;

/// Debian's meta package; it depends on the current kernel image package
/// (`linux-image-6.1.0-NN-amd64` on Debian 12).
const META_PACKAGE: &str = "linux-image-amd64";
/// The benchmark program's package in this workspace.
const PROGRAM: &str = "bedrock-bench-linux";
/// The runtime silo's package (its wasm benchmark runs in the guest).
const RUNTIME_SILO: &str = "runtime-silo";
/// The wasm apps the runtime silo's guest benchmark reads from `/`.
const WASM_APPS: [&str; 2] = ["hello.wasm", "compute.wasm"];
/// The std benchmark program's package, in the native silos' workspace.
const STD_PROGRAM: &str = "std-bench";
const NATIVE_MANIFEST: &str = "examples/native/Cargo.toml";
/// The host target: the guest is x86_64 Linux like the host.
const LINUX_TARGET: &str = "x86_64-unknown-linux-gnu";
/// Upper bound for apt's work: a 70 MB download from a mirror.
const APT_DEADLINE: Duration = Duration::from_mins(10);
/// Upper bound for extracting the kernel from the package.
const EXTRACT_DEADLINE: Duration = Duration::from_mins(2);

/// A Linux kernel ready to boot with `-kernel`.
#[derive(Debug)]
pub struct Kernel {
    pub image: PathBuf,
    /// From the file name: `6.1.0-56-amd64`.
    pub release: String,
}

/// Debian's kernel, from the cache or fetched with apt into `dir`.
pub fn kernel(dir: &Path) -> Result<Kernel> {
    fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    if let Some(kernel) = cached_kernel(dir)? {
        return Ok(kernel);
    }
    if which("apt-get").is_none() || which("dpkg-deb").is_none() {
        bail!(
            "no Linux kernel in {dir} and no apt-get/dpkg-deb to fetch Debian's \
             ({META_PACKAGE}); put a bzImage there named vmlinuz-<release>",
            dir = dir.display()
        );
    }
    let package = image_package()?;
    let deb = match cached_deb(dir, &package)? {
        Some(deb) => deb,
        None => download(dir, &package)?,
    };
    extract_kernel(&deb, dir)?;
    cached_kernel(dir)?.ok_or_else(|| {
        crate::error::Error::new(format!(
            "{} holds no boot/vmlinuz-*: not a kernel image package?",
            deb.display()
        ))
    })
}

/// The last `vmlinuz-*` in `dir` by name, if any. There is one unless a
/// person put another there: the cache is checked before apt is asked.
fn cached_kernel(dir: &Path) -> Result<Option<Kernel>> {
    let mut names = file_names(dir)?;
    names.sort();
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let release = name.strip_prefix("vmlinuz-")?.to_owned();
            Some(Kernel {
                image: dir.join(&name),
                release,
            })
        })
        .next_back())
}

fn cached_deb(dir: &Path, package: &str) -> Result<Option<PathBuf>> {
    let prefix = format!("{package}_");
    Ok(file_names(dir)?
        .into_iter()
        .find(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        .map(|n| dir.join(n)))
}

fn file_names(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).context(|| format!("reading {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("reading {}", dir.display()))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// The kernel image package the meta package depends on now, after
/// refreshing apt's lists if they do not know it (and xtask may).
fn image_package() -> Result<String> {
    match query_image_package() {
        Ok(package) => Ok(package),
        Err(error) if crate::packages::refresh_apt_lists()? => {
            query_image_package().context(|| format!("{error}; after apt-get update"))
        }
        Err(error) => Err(error),
    }
}

fn query_image_package() -> Result<String> {
    let mut query = Command::new("apt-cache");
    query.args(["depends", META_PACKAGE]);
    let shown = describe(&query);
    let text = output_of(query)?;
    image_dependency(&text).map(str::to_owned).ok_or_else(|| {
        crate::error::Error::new(format!(
            "{shown} names no linux-image package (are apt's package lists \
             missing? `apt-get update` fetches them): {text:?}"
        ))
    })
}

/// The `Depends: linux-image-...` of `apt-cache depends` output.
fn image_dependency(apt_cache_output: &str) -> Option<&str> {
    apt_cache_output.lines().find_map(|line| {
        let package = line.trim().strip_prefix("Depends:")?.trim();
        package.starts_with("linux-image-").then_some(package)
    })
}

/// `apt-get download <package>` into `dir`; returns the `.deb`.
fn download(dir: &Path, package: &str) -> Result<PathBuf> {
    eprintln!(
        "xtask: fetching Debian's Linux kernel ({package}) into {}",
        dir.display()
    );
    let mut command = Command::new("apt-get");
    command
        .args(["-o", "Acquire::http::Timeout=30", "download", package])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(io::stderr());
    run_until(&mut command, Instant::now() + APT_DEADLINE).context(|| {
        format!(
            "downloading the Linux anchor's kernel into {}",
            dir.display()
        )
    })?;
    cached_deb(dir, package)?.ok_or_else(|| {
        crate::error::Error::new(format!(
            "apt-get download {package} succeeded but left no {package}_*.deb in {}",
            dir.display()
        ))
    })
}

/// Extracts only `boot/vmlinuz-*` (8 MB) of the package into `dir`, by
/// `dpkg-deb --fsys-tarfile | tar -x`: `dpkg -x` would unpack the modules
/// too, several hundred MB the initramfs boot never loads.
fn extract_kernel(deb: &Path, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + EXTRACT_DEADLINE;
    let mut unpack = Command::new("dpkg-deb");
    unpack
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let shown_unpack = describe(&unpack);
    let mut unpacker =
        KillOnDrop::spawn(&mut unpack).context(|| format!("running {shown_unpack}"))?;
    let tarball = unpacker
        .take_stdout()
        .ok_or_else(|| crate::error::Error::new(format!("{shown_unpack}: no output pipe")))?;
    let mut tar = Command::new("tar");
    // Members are named `./boot/vmlinuz-<release>`; keep the file name.
    tar.args(["-x", "--wildcards", "--strip-components=2", "-C"])
        .arg(dir)
        .arg("./boot/vmlinuz-*")
        .stdin(tarball)
        .stdout(io::stderr());
    let result = run_until(&mut tar, deadline);
    let status = unpacker
        .wait_until(deadline)
        .context(|| format!("waiting for {shown_unpack}"))?;
    result.context(|| format!("extracting the kernel from {}", deb.display()))?;
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!("{shown_unpack} failed ({status})"),
        None => bail!("{shown_unpack} was still running at its deadline; killed it"),
    }
}

/// The Linux guest's programs, built static.
#[derive(Debug)]
pub struct Programs {
    /// `bench/linux`, the initramfs's `/init`.
    pub init: PathBuf,
    /// `examples/native/std-bench`, `/std-bench`, which `/init` runs after
    /// its own benchmarks.
    pub std_bench: PathBuf,
    /// `runtime-silo`, `/runtime-silo`, whose wasm benchmark `/init` runs
    /// last.
    pub runtime_silo: PathBuf,
}

/// Builds `bench/linux` and the std benchmark program as static
/// executables (glibc's `libc.a`, which every Debian host that links Rust
/// programs has). The std program lives in the native silos' workspace
/// (its Bedrock build is a native silo); for Linux it is built like
/// `bench/linux`, with the host toolchain and std as shipped, into the same
/// target directory.
pub fn build_programs(ws: &Workspace) -> Result<Programs> {
    let init = build_static(ws, None, PROGRAM)?;
    let std_bench = build_static(ws, Some(NATIVE_MANIFEST), STD_PROGRAM)?;
    let runtime_silo = build_static(ws, None, RUNTIME_SILO)?;
    Ok(Programs {
        init,
        std_bench,
        runtime_silo,
    })
}

/// Builds `package` (of the workspace at `manifest`, else the main one)
/// for Linux with `+crt-static` and checks that the result is static.
fn build_static(ws: &Workspace, manifest: Option<&str>, package: &str) -> Result<PathBuf> {
    let target_dir = ws.target_dir.join("bench").join("cargo");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(&ws.root).arg("build");
    if let Some(manifest) = manifest {
        command.args(["--manifest-path", manifest]);
    }
    command
        .args(["--release", "--package", package, "--target", LINUX_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // With `--target`, these flags reach only the program and its
        // dependencies, never build scripts. Its own target directory keeps
        // the flags from invalidating the workspace's normal build.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(io::stderr());
    let shown = describe(&command);
    let status = command.status().context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("building the Linux bench program {package} failed ({status}): {shown}");
    }
    let program = target_dir.join(LINUX_TARGET).join("release").join(package);
    let elf = fs::read(&program).context(|| format!("reading {}", program.display()))?;
    if has_interpreter(&elf) {
        bail!(
            "{} is dynamically linked; the initramfs's programs must be static",
            program.display()
        );
    }
    Ok(program)
}

/// True if the ELF64 image asks for a dynamic loader (has `PT_INTERP`).
/// Anything unparsable counts as dynamic: better refused here than a
/// kernel panic ("No working init found") in the guest.
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        return true;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return true;
    };
    (0..usize::from(phnum)).any(|i| {
        usize::try_from(phoff)
            .ok()
            .and_then(|off| off.checked_add(i * usize::from(phentsize)))
            .and_then(u32_at)
            .is_none_or(|kind| kind == PT_INTERP)
    })
}

/// An initramfs (cpio newc) holding `/init`, `/std-bench`,
/// `/runtime-silo` and the wasm apps of `examples` it runs, written to
/// `path`. The kernel's built-in initramfs already has `/dev/console`, so
/// `/init` starts with the console as stdin, stdout and stderr.
pub fn write_initramfs(programs: &Programs, examples: &Path, path: &Path) -> Result<()> {
    let read = |p: &Path| fs::read(p).context(|| format!("reading {}", p.display()));
    let mut files = vec![
        ("init", read(&programs.init)?, 0o755),
        ("std-bench", read(&programs.std_bench)?, 0o755),
        ("runtime-silo", read(&programs.runtime_silo)?, 0o755),
    ];
    for app in WASM_APPS {
        files.push((app, read(&examples.join(app))?, 0o644));
    }
    let entries: Vec<NewEntry<'_>> = files
        .iter()
        .map(|(name, data, mode)| NewEntry {
            name,
            mode: S_IFREG | mode,
            data,
        })
        .collect();
    let archive =
        bedrock_initrd::write_newc(&entries).context(|| "packing the initramfs".into())?;
    fs::write(path, archive).context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_package_comes_from_apt_cache_depends() {
        let output = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(image_dependency(output), Some("linux-image-6.1.0-56-amd64"));
        let other =
            "linux-image-amd64\n  Depends: initramfs-tools\n  Depends: linux-image-6.1.0-9-amd64\n";
        assert_eq!(image_dependency(other), Some("linux-image-6.1.0-9-amd64"));
        assert_eq!(image_dependency("W: Unable to locate package"), None);
    }

    fn elf_with_headers(kinds: &[u32]) -> Vec<u8> {
        let mut elf = vec![0u8; 64 + 56 * kinds.len()];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&(kinds.len() as u16).to_le_bytes());
        for (i, kind) in kinds.iter().enumerate() {
            let at = 64 + 56 * i;
            elf[at..at + 4].copy_from_slice(&kind.to_le_bytes());
        }
        elf
    }

    #[test]
    fn dynamic_and_broken_executables_are_told_apart_from_static_ones() {
        assert!(!has_interpreter(&elf_with_headers(&[1, 1, 7])));
        assert!(has_interpreter(&elf_with_headers(&[6, 3, 1])));
        let mut truncated = elf_with_headers(&[1, 1]);
        truncated.truncate(100);
        assert!(has_interpreter(&truncated));
        assert!(has_interpreter(b"#!/bin/sh\n"));
        // The host's own test binary is dynamic (no crt-static here).
        let me = fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(has_interpreter(&me));
    }

    #[test]
    fn the_initramfs_holds_the_programs_executable_and_the_wasm_apps() {
        let dir = std::env::temp_dir().join(format!("xtask-initramfs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let programs = Programs {
            init: dir.join("init-elf"),
            std_bench: dir.join("std-elf"),
            runtime_silo: dir.join("runtime-elf"),
        };
        fs::write(&programs.init, b"init bytes").unwrap();
        fs::write(&programs.std_bench, b"std bytes").unwrap();
        fs::write(&programs.runtime_silo, b"runtime bytes").unwrap();
        fs::write(dir.join("hello.wasm"), b"hello").unwrap();
        fs::write(dir.join("compute.wasm"), b"compute").unwrap();
        let cpio = dir.join("init.cpio");
        write_initramfs(&programs, &dir, &cpio).unwrap();
        let bytes = fs::read(&cpio).unwrap();
        let archive = bedrock_initrd::Archive::parse(&bytes).unwrap();
        let files: Vec<_> = archive
            .files()
            .map(|f| (f.name, f.data, f.mode & 0o111 == 0o111))
            .collect();
        assert_eq!(
            files,
            [
                ("init", &b"init bytes"[..], true),
                // bench/linux's `STD_BENCH` and `RUNTIME_SILO`.
                ("std-bench", &b"std bytes"[..], true),
                ("runtime-silo", &b"runtime bytes"[..], true),
                ("hello.wasm", &b"hello"[..], false),
                ("compute.wasm", &b"compute"[..], false),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_newest_cached_kernel_is_used() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert!(cached_kernel(&dir).unwrap().is_none());
        for name in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-56-amd64",
            "init.cpio",
        ] {
            fs::write(dir.join(name), b"x").unwrap();
        }
        // The last by name (there is one unless put there by hand).
        let kernel = cached_kernel(&dir).unwrap().unwrap();
        assert_eq!(kernel.release, "6.1.0-9-amd64");
        assert_eq!(kernel.image, dir.join("vmlinuz-6.1.0-9-amd64"));
        fs::write(
            dir.join("linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"),
            b"x",
        )
        .unwrap();
        let deb = cached_deb(&dir, "linux-image-6.1.0-56-amd64")
            .unwrap()
            .unwrap();
        assert!(deb.ends_with("linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"));
        assert!(
            cached_deb(&dir, "linux-image-6.1.0-57-amd64")
                .unwrap()
                .is_none()
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
