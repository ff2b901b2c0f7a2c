//! Building with the cross toolchain: the kernel, the ring-3 programs (the
//! no_std test programs, the native silos with Rust std and the runtime
//! silo), and the boot archive (the one `-initrd` module) that carries the
//! programs plus the wasm apps and boot manifests the runtime silo runs.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result, bail};
use crate::process::describe;
use crate::toolchain::{CrossToolchain, Linker};
use crate::workspace::Workspace;

/// The kernel's package and binary name.
const KERNEL: &str = "bedrock";
/// Bare-metal `x86_64`: no OS, no red zone, soft-float; ships no `core`.
const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// Flags for every kernel compilation unit:
/// - `code-model=kernel`: the kernel is linked in the top 2 GiB of the
///   address space, where 32-bit sign-extended addresses reach it;
/// - `relocation-model=static`: it is loaded where it was linked, no PIE;
/// - `force-frame-pointers`: panic and exception reports walk the stack.
const KERNEL_RUSTFLAGS: [&str; 3] = [
    "-Ccode-model=kernel",
    "-Crelocation-model=static",
    "-Cforce-frame-pointers=yes",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Release,
}

impl Profile {
    pub fn from_release_flag(release: bool) -> Self {
        if release { Self::Release } else { Self::Dev }
    }

    /// The directory cargo puts this profile's artifacts in.
    fn dir_name(self) -> &'static str {
        match self {
            Self::Dev => "debug",
            Self::Release => "release",
        }
    }
}

/// The ring-3 test programs' package (outside the host workspace).
const USER_TESTS_MANIFEST: &str = "bedrock/user-tests/Cargo.toml";
/// Ring-3 programs (static PIE) put into the boot archive.
const USER_PROGRAMS: [&str; 2] = ["init", "usertest"];
/// Ring-3 programs are position independent: the loader picks the base.
const USER_RUSTFLAGS: [&str; 1] = ["-Crelocation-model=pie"];

/// The native silos' workspace (Rust std programs over the native-silo
/// libOS; outside the host workspace).
const NATIVE_MANIFEST: &str = "examples/native/Cargo.toml";
/// std's hermit backend is what the libOS implements.
const NATIVE_TARGET: &str = "x86_64-unknown-hermit";
/// Native silos put into the boot archive (`std-bench` is started by
/// `usertest bench`).
const NATIVE_PROGRAMS: [&str; 4] = ["silo-client", "std-bench", "std-hello", "std-selftest"];

/// Everything a boot needs: the kernel ELF and the boot archive.
#[derive(Debug)]
pub struct Images {
    pub kernel: PathBuf,
    pub boot_archive: PathBuf,
}

/// The runtime silo's package and binary.
const RUNTIME_SILO: &str = "runtime-silo";
/// The cargo profile it is always built with (root Cargo.toml): one build
/// per CI run whatever profile the rest uses, optimised because Cranelift
/// runs in the guest.
const RUNTIME_SILO_PROFILE: &str = "runtime-silo";
/// Boot manifests and small test apps packed beside the runtime silo.
const RUNTIME_SILO_BOOT_DIR: &str = "runtime-silo/boot";
/// Wasm examples packed into the boot archive (as `NAME.wasm`).
const PACKED_EXAMPLES: [&str; 3] = ["hello", "compute", "trap"];
/// Bytes of `hello.wasm` kept in `truncated.wasm`: a valid header and the
/// start of its sections, cut mid-way, which the runtime must reject.
const TRUNCATED_LEN: usize = 64;

/// Builds the kernel, the ring-3 programs and the boot archive.
pub fn build_all(toolchain: &CrossToolchain, ws: &Workspace, profile: Profile) -> Result<Images> {
    let kernel = build_kernel(toolchain, ws, profile)?;
    let mut programs = build_user_programs(toolchain, ws, profile)?;
    programs.extend(build_native_programs(toolchain, ws, profile)?);
    programs.push((RUNTIME_SILO, build_runtime_silo(toolchain, ws)?));
    let mut files = programs
        .iter()
        .map(|(name, path)| Ok(((*name).to_owned(), read(path)?)))
        .collect::<Result<Vec<_>>>()?;
    files.extend(runtime_silo_files(toolchain, ws, profile)?);
    let boot_archive = write_boot_archive(ws, &files)?;
    Ok(Images {
        kernel,
        boot_archive,
    })
}

/// Runs the cross toolchain's cargo with `args` in the workspace root and
/// `rustflags` (already encoded); `what` names it if it fails. Cargo's and
/// rustc's diagnostics go to stderr, so that stdout carries only xtask's
/// own results.
fn cross_cargo(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    args: Vec<OsString>,
    rustflags: String,
    what: &str,
) -> Result<()> {
    let mut command = toolchain.cargo_command();
    command
        .current_dir(&ws.root)
        .args(args)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .stdout(io::stderr());
    let shown = describe(&command);
    let status = command.status().context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("{what} failed ({status}): {shown}");
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).context(|| format!("reading {}", path.display()))
}

/// Builds runtime-silo (wasmtime + Cranelift) for Bedrock: the host
/// workspace's package for the hermit target with `-Zbuild-std`, in the
/// `runtime-silo` profile; returns its ELF.
pub fn build_runtime_silo(toolchain: &CrossToolchain, ws: &Workspace) -> Result<PathBuf> {
    let target_dir = ws.cross_target_dir();
    cross_cargo(
        toolchain,
        ws,
        runtime_silo_cargo_args(&target_dir),
        join_rustflags(&[], toolchain.linker),
        "runtime-silo build for Bedrock",
    )?;
    let path = target_dir
        .join(NATIVE_TARGET)
        .join(RUNTIME_SILO_PROFILE)
        .join(RUNTIME_SILO);
    if path.is_file() {
        Ok(path)
    } else {
        bail!("{} was not built", path.display())
    }
}

fn runtime_silo_cargo_args(target_dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "build",
        "--package",
        RUNTIME_SILO,
        "--bin",
        RUNTIME_SILO,
        "--target",
        NATIVE_TARGET,
        "--profile",
        RUNTIME_SILO_PROFILE,
        "-Zbuild-std=std,panic_abort",
        "-Zbuild-std-features=compiler-builtins-mem",
        "--target-dir",
    ]
    .map(OsString::from)
    .into();
    args.push(target_dir.into());
    args
}

/// What the runtime silo runs at boot: the wasm examples, a truncated copy
/// of `hello.wasm`, and `runtime-silo/boot/` (manifests, WAT apps).
fn runtime_silo_files(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    profile: Profile,
) -> Result<Vec<(String, Vec<u8>)>> {
    let examples = crate::wasm::build_examples(toolchain, ws, profile)?;
    let mut files = Vec::new();
    for (name, path) in &examples.wasm {
        if PACKED_EXAMPLES.contains(name) {
            files.push((format!("{name}.wasm"), read(path)?));
        }
    }
    let hello = files
        .iter()
        .find(|(name, _)| name == "hello.wasm")
        .map(|(_, bytes)| bytes[..TRUNCATED_LEN.min(bytes.len())].to_vec())
        .unwrap_or_default();
    files.push(("truncated.wasm".to_owned(), hello));
    let dir = ws.root.join(RUNTIME_SILO_BOOT_DIR);
    let mut entries = std::fs::read_dir(&dir)
        .context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()
        .context(|| format!("reading {}", dir.display()))?;
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && !name.starts_with('.') {
            files.push((name.to_owned(), read(&path)?));
        }
    }
    Ok(files)
}

/// Builds the ring-3 programs; returns (archive name, ELF path) pairs.
pub fn build_user_programs(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    profile: Profile,
) -> Result<Vec<(&'static str, PathBuf)>> {
    let target_dir = ws.cross_target_dir();
    let mut args: Vec<OsString> = [
        "build",
        "--manifest-path",
        USER_TESTS_MANIFEST,
        "--target",
        KERNEL_TARGET,
    ]
    .map(OsString::from)
    .into();
    // Ring-3 programs need no `alloc` yet; memcpy & co. come from compiler_builtins.
    args.extend(
        [
            "-Zbuild-std=core,compiler_builtins",
            "-Zbuild-std-features=compiler-builtins-mem",
            "--target-dir",
        ]
        .map(OsString::from),
    );
    args.push(target_dir.clone().into());
    if profile == Profile::Release {
        args.push("--release".into());
    }
    cross_cargo(
        toolchain,
        ws,
        args,
        join_rustflags(&USER_RUSTFLAGS, toolchain.linker),
        "user program build",
    )?;
    USER_PROGRAMS
        .iter()
        .map(|name| {
            let path = target_dir
                .join(KERNEL_TARGET)
                .join(profile.dir_name())
                .join(name);
            if path.is_file() {
                Ok((*name, path))
            } else {
                bail!("{} was not built", path.display())
            }
        })
        .collect()
}

/// Builds the native silos (std, `-Zbuild-std=std,panic_abort`); returns
/// (archive name, ELF path) pairs. Their link is also the check that std
/// calls no hermit-ABI symbol the libOS lacks: ld.lld refuses an undefined
/// symbol that live code references.
pub fn build_native_programs(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    profile: Profile,
) -> Result<Vec<(&'static str, PathBuf)>> {
    let target_dir = ws.cross_target_dir();
    cross_cargo(
        toolchain,
        ws,
        native_cargo_args(profile, &target_dir),
        join_rustflags(&[], toolchain.linker),
        "native silo build",
    )?;
    NATIVE_PROGRAMS
        .iter()
        .map(|name| {
            let path = target_dir
                .join(NATIVE_TARGET)
                .join(profile.dir_name())
                .join(name);
            if path.is_file() {
                Ok((*name, path))
            } else {
                bail!("{} was not built", path.display())
            }
        })
        .collect()
}

fn native_cargo_args(profile: Profile, target_dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "build",
        "--manifest-path",
        NATIVE_MANIFEST,
        "--target",
        NATIVE_TARGET,
        "-Zbuild-std=std,panic_abort",
        // No libc: memcpy & co. come from compiler_builtins.
        "-Zbuild-std-features=compiler-builtins-mem",
        "--target-dir",
    ]
    .map(OsString::from)
    .into();
    args.push(target_dir.into());
    if profile == Profile::Release {
        args.push("--release".into());
    }
    args
}

/// Packs `files` (name, contents) into the boot archive (cpio newc, the
/// format the kernel's `initrd` module reads) and returns its path.
pub fn write_boot_archive(ws: &Workspace, files: &[(String, Vec<u8>)]) -> Result<PathBuf> {
    let entries: Vec<_> = files
        .iter()
        .map(|(name, data)| bedrock_initrd::NewEntry::file(name, data))
        .collect();
    let archive =
        bedrock_initrd::write_newc(&entries).context(|| "packing the boot archive".into())?;
    let path = ws.cross_target_dir().join("bootfs.cpio");
    std::fs::write(&path, archive).context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Builds the kernel and returns the path of its ELF.
///
/// Cargo's and rustc's diagnostics go to stderr, so that stdout carries
/// only xtask's own results.
pub fn build_kernel(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    profile: Profile,
) -> Result<PathBuf> {
    let target_dir = ws.cross_target_dir();
    cross_cargo(
        toolchain,
        ws,
        cargo_args(profile, &target_dir),
        encoded_rustflags(toolchain.linker),
        "kernel build",
    )?;
    let elf = kernel_elf(&target_dir, profile);
    if !elf.is_file() {
        bail!(
            "the kernel build succeeded but {} does not exist",
            elf.display()
        );
    }
    Ok(elf)
}

fn cargo_args(profile: Profile, target_dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "build",
        "--package",
        KERNEL,
        "--bin",
        KERNEL,
        "--target",
        KERNEL_TARGET,
        "-Zbuild-std=core,alloc,compiler_builtins",
        // The kernel gets memcpy/memset/... from compiler_builtins: it has no libc.
        "-Zbuild-std-features=compiler-builtins-mem",
        "--target-dir",
    ]
    .map(OsString::from)
    .into();
    args.push(target_dir.into());
    if profile == Profile::Release {
        args.push("--release".into());
    }
    args
}

/// `CARGO_ENCODED_RUSTFLAGS` (flags separated by 0x1f), which unlike
/// `RUSTFLAGS` survives flags containing spaces.
fn encoded_rustflags(linker: Linker) -> String {
    join_rustflags(&KERNEL_RUSTFLAGS, linker)
}

fn join_rustflags(base: &[&str], linker: Linker) -> String {
    let mut flags = base.to_vec();
    if linker == Linker::LdLld {
        flags.push("-Clinker=ld.lld");
    }
    flags.join("\x1f")
}

fn kernel_elf(cross_target_dir: &Path, profile: Profile) -> PathBuf {
    cross_target_dir
        .join(KERNEL_TARGET)
        .join(profile.dir_name())
        .join(KERNEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_arguments_select_the_kernel_and_build_std() {
        let args = cargo_args(Profile::Release, Path::new("/t/cross"));
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args[..7],
            [
                "build",
                "--package",
                "bedrock",
                "--bin",
                "bedrock",
                "--target",
                "x86_64-unknown-none"
            ]
        );
        assert!(args.contains(&"-Zbuild-std=core,alloc,compiler_builtins"));
        assert!(args.ends_with(&["--target-dir", "/t/cross", "--release"]));
        let dev = cargo_args(Profile::Dev, Path::new("/t/cross"));
        assert!(!dev.iter().any(|a| a == "--release"));
    }

    #[test]
    fn native_silos_build_std_for_the_hermit_target() {
        let args = native_cargo_args(Profile::Dev, Path::new("/t/cross"));
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args[..5],
            [
                "build",
                "--manifest-path",
                "examples/native/Cargo.toml",
                "--target",
                "x86_64-unknown-hermit"
            ]
        );
        assert!(args.contains(&"-Zbuild-std=std,panic_abort"));
        assert!(args.ends_with(&["--target-dir", "/t/cross"]));
        let release = native_cargo_args(Profile::Release, Path::new("/t/cross"));
        assert!(release.iter().any(|a| a == "--release"));
    }

    #[test]
    fn runtime_silo_builds_for_the_hermit_target_in_its_own_profile() {
        let args = runtime_silo_cargo_args(Path::new("/t/cross"));
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args[..9],
            [
                "build",
                "--package",
                "runtime-silo",
                "--bin",
                "runtime-silo",
                "--target",
                "x86_64-unknown-hermit",
                "--profile",
                "runtime-silo"
            ]
        );
        assert!(args.contains(&"-Zbuild-std=std,panic_abort"));
        assert!(args.ends_with(&["--target-dir", "/t/cross"]));
    }

    #[test]
    fn rustflags_add_the_linker_only_when_needed() {
        assert_eq!(
            encoded_rustflags(Linker::RustLld),
            "-Ccode-model=kernel\x1f-Crelocation-model=static\x1f-Cforce-frame-pointers=yes"
        );
        assert!(encoded_rustflags(Linker::LdLld).ends_with("\x1f-Clinker=ld.lld"));
    }

    #[test]
    fn elf_path_follows_profile() {
        assert_eq!(
            kernel_elf(Path::new("/t/cross"), Profile::Dev),
            Path::new("/t/cross/x86_64-unknown-none/debug/bedrock")
        );
        assert_eq!(
            kernel_elf(Path::new("/t/cross"), Profile::Release),
            Path::new("/t/cross/x86_64-unknown-none/release/bedrock")
        );
    }
}
