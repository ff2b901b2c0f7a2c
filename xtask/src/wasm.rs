//! Building the wasm examples (`examples/`): Rust std programs for
//! `wasm32-wasip1`, run by the runtime silo's tests and benchmarks.
//!
//! They build with the cross toolchain (see `toolchain`), in one of two ways:
//! - the toolchain ships a prebuilt `wasm32-wasip1` standard library
//!   (`rustup target add wasm32-wasip1` on a developer machine): plain
//!   `--target wasm32-wasip1`, linked by the toolchain's `rust-lld` against
//!   its own bundled wasi-libc;
//! - otherwise (Debian's rustc-web, a rustup toolchain with only `rust-src`):
//!   `-Zbuild-std=std,panic_abort`, linked against Debian's `wasi-libc`
//!   (`/usr/lib/wasm32-wasi`) instead of the self-contained one the target
//!   expects, with `wasm-ld` from lld (or the toolchain's `rust-lld`).
//!
//! The `.wasm` files land in `<target>/cross/wasm32-wasip1/<profile>/`, the
//! directory `cargo xtask test` hands to the runtime-silo tests as
//! [`EXAMPLES_DIR_VAR`].

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::build::Profile;
use crate::error::{Context, Result, bail};
use crate::packages::ensure_host;
use crate::process::{describe, which};
use crate::toolchain::{CrossToolchain, Linker};
use crate::workspace::Workspace;

/// The target of every example.
pub const WASM_TARGET: &str = "wasm32-wasip1";

/// The examples' own workspace (outside the host workspace).
const EXAMPLES_MANIFEST: &str = "examples/Cargo.toml";

/// The example programs; each becomes `<name>.wasm`.
pub const EXAMPLES: [&str; 5] = ["hello", "compute", "trap", "files", "wasi-std"];

/// Environment variable through which the runtime-silo tests find the
/// built examples. Set by `cargo xtask test`; set but empty means the
/// build failed, so the tests that need the examples fail instead of
/// skipping (they skip only when it is absent, under a plain `cargo test`).
pub const EXAMPLES_DIR_VAR: &str = "BEDROCK_EXAMPLES_DIR";

/// Where Debian's `wasi-libc` package installs the C library for wasm32.
pub const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// The C runtime start file of a WASI command (defines `_start`).
const CRT1_COMMAND: &str = "crt1-command.o";

/// What the built examples are and where they are.
#[derive(Debug)]
pub struct Examples {
    /// The directory holding every `<name>.wasm`.
    pub dir: PathBuf,
    /// `(name, path)` of each example, in [`EXAMPLES`] order.
    pub wasm: Vec<(&'static str, PathBuf)>,
}

/// How the standard library for `wasm32-wasip1` is obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
enum WasmStd {
    /// The toolchain has it prebuilt, with its own wasi-libc and linker.
    Prebuilt,
    /// Built from source with `-Zbuild-std`, linked against the wasi-libc
    /// in `libc_dir` by `linker` (the toolchain's `rust-lld` or `wasm-ld`).
    BuildStd { libc_dir: PathBuf, linker: PathBuf },
}

/// Whether the toolchain of `sysroot` ships a prebuilt standard library
/// for wasm32-wasip1 (then neither wasi-libc nor `wasm-ld` is needed).
pub fn has_prebuilt_std(sysroot: &Path) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .join("lib")
        .is_dir()
}

/// `cargo xtask examples`: builds them and prints one path per line.
pub fn examples(ws: &Workspace, profile: Profile) -> Result<ExitCode> {
    let host = ensure_host()?;
    let examples = build_examples(&host.toolchain, ws, profile)?;
    for (_, path) in &examples.wasm {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether Debian's wasi-libc is installed.
pub fn has_debian_wasi_libc() -> bool {
    Path::new(DEBIAN_WASI_LIBC).join(CRT1_COMMAND).is_file()
}

/// Whether a build with `toolchain` (or with Debian's, if `None`) needs
/// Debian's wasi-libc; `packages` installs it when it does.
pub fn needs_wasi_libc(toolchain: Option<&CrossToolchain>) -> bool {
    !toolchain.is_some_and(|t| has_prebuilt_std(&t.sysroot))
}

/// Builds every example with `toolchain` and returns where they are.
///
/// Cargo's output goes to stderr, so that stdout carries only results.
pub fn build_examples(
    toolchain: &CrossToolchain,
    ws: &Workspace,
    profile: Profile,
) -> Result<Examples> {
    let std = wasm_std(toolchain)?;
    let target_dir = ws.cross_target_dir();
    let mut command = toolchain.cargo_command();
    command
        .current_dir(&ws.root)
        .args(cargo_args(&std, profile, &target_dir))
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags(&std))
        .stdout(io::stderr());
    let shown = describe(&command);
    let status = command.status().context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("wasm examples build failed ({status}): {shown}");
    }
    let dir = output_dir(&target_dir, profile);
    let wasm = EXAMPLES
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.wasm"));
            if path.is_file() {
                Ok((*name, path))
            } else {
                bail!(
                    "the examples build succeeded but {} is missing",
                    path.display()
                )
            }
        })
        .collect::<Result<_>>()?;
    Ok(Examples { dir, wasm })
}

/// Where cargo puts the examples of `profile`.
pub fn output_dir(cross_target_dir: &Path, profile: Profile) -> PathBuf {
    cross_target_dir.join(WASM_TARGET).join(match profile {
        Profile::Dev => "debug",
        Profile::Release => "release",
    })
}

/// Decides how to get std for wasm, checking that what that needs exists.
fn wasm_std(toolchain: &CrossToolchain) -> Result<WasmStd> {
    if has_prebuilt_std(&toolchain.sysroot) {
        return Ok(WasmStd::Prebuilt);
    }
    let libc_dir = PathBuf::from(DEBIAN_WASI_LIBC);
    if !has_debian_wasi_libc() {
        bail!(
            "{} has no {WASM_TARGET} standard library and {} is missing: \
             install Debian's wasi-libc (apt-get install wasi-libc), or use a toolchain \
             with `rustup target add {WASM_TARGET}`",
            toolchain.source,
            libc_dir.join(CRT1_COMMAND).display()
        );
    }
    // Named explicitly even when it is the toolchain's own `rust-lld`:
    // outside self-contained mode rustc need not look for it in the sysroot.
    let linker = match toolchain.linker {
        Linker::RustLld => toolchain
            .sysroot
            .join("lib/rustlib")
            .join(&toolchain.host)
            .join("bin/rust-lld"),
        Linker::LdLld => find_wasm_ld().ok_or_else(|| {
            crate::error::Error::new(
                "wasm-ld (LLVM's linker for wasm) not found: install lld (Debian: apt-get install lld)",
            )
        })?,
    };
    Ok(WasmStd::BuildStd { libc_dir, linker })
}

/// `wasm-ld`, or a versioned `wasm-ld-N` (Debian's `lld-N` packages install
/// only those; the `lld` package adds the plain name), newest first, or
/// LLVM's own directory `/usr/lib/llvm-N/bin`.
fn find_wasm_ld() -> Option<PathBuf> {
    if let Some(path) = which("wasm-ld") {
        return Some(path);
    }
    let path_dirs = std::env::var_os("PATH").unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::env::split_paths(&path_dirs)
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let version = versioned_name(name.to_str()?, "wasm-ld-")?;
            Some((version, entry.path()))
        })
        .chain(
            std::fs::read_dir("/usr/lib")
                .into_iter()
                .flatten()
                .filter_map(|entry| {
                    let name = entry.ok()?.file_name();
                    let version = versioned_name(name.to_str()?, "llvm-")?;
                    Some((
                        version,
                        Path::new("/usr/lib").join(name).join("bin/wasm-ld"),
                    ))
                }),
        )
        .filter(|(_, path)| crate::process::is_executable(path))
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, path)| path)
}

/// The version N of a name `<prefix>N` (N all digits).
fn versioned_name(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())
        .flatten()
}

fn cargo_args(std: &WasmStd, profile: Profile, target_dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "build",
        "--manifest-path",
        EXAMPLES_MANIFEST,
        "--workspace",
        "--bins",
        "--target",
        WASM_TARGET,
    ]
    .map(OsString::from)
    .into();
    if matches!(std, WasmStd::BuildStd { .. }) {
        // panic_abort: the examples' profiles set panic = "abort", and wasm
        // has no unwinding to build panic_unwind for.
        args.push("-Zbuild-std=std,panic_abort".into());
    }
    args.push("--target-dir".into());
    args.push(target_dir.into());
    if profile == Profile::Release {
        args.push("--release".into());
    }
    args
}

/// `CARGO_ENCODED_RUSTFLAGS` for the examples (flags separated by 0x1f).
///
/// With build-std, the target's defaults assume the self-contained
/// wasi-libc that only the prebuilt `rust-std` component ships, so the
/// flags point the linker at Debian's instead and add the start file
/// (`crt1-command.o`) the self-contained mode would have added.
fn rustflags(std: &WasmStd) -> String {
    let WasmStd::BuildStd { libc_dir, linker } = std else {
        return String::new();
    };
    let mut flags = vec![format!("-Clinker={}", linker.display())];
    flags.push("-L".to_owned());
    flags.push(libc_dir.display().to_string());
    flags.push("-Clink-self-contained=no".to_owned());
    flags.push(format!(
        "-Clink-arg={}",
        libc_dir.join(CRT1_COMMAND).display()
    ));
    flags.join("\x1f")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_std(linker: &str) -> WasmStd {
        WasmStd::BuildStd {
            libc_dir: DEBIAN_WASI_LIBC.into(),
            linker: linker.into(),
        }
    }

    fn strings(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn build_std_links_against_debian_wasi_libc() {
        let flags = rustflags(&build_std("/usr/bin/wasm-ld-14"));
        let flags: Vec<_> = flags.split('\x1f').collect();
        assert_eq!(
            flags,
            [
                "-Clinker=/usr/bin/wasm-ld-14",
                "-L",
                "/usr/lib/wasm32-wasi",
                "-Clink-self-contained=no",
                "-Clink-arg=/usr/lib/wasm32-wasi/crt1-command.o"
            ]
        );
        assert_eq!(rustflags(&WasmStd::Prebuilt), "");
    }

    #[test]
    fn cargo_arguments() {
        let args = cargo_args(
            &build_std("wasm-ld"),
            Profile::Release,
            Path::new("/t/cross"),
        );
        let args = strings(&args);
        assert_eq!(
            args[..3],
            ["build", "--manifest-path", "examples/Cargo.toml"]
        );
        assert!(args.contains(&"wasm32-wasip1"));
        assert!(args.contains(&"-Zbuild-std=std,panic_abort"));
        assert!(args.ends_with(&["--target-dir", "/t/cross", "--release"]));
        let args = cargo_args(&WasmStd::Prebuilt, Profile::Dev, Path::new("/t/cross"));
        let args = strings(&args);
        assert!(
            !args
                .iter()
                .any(|a| a.starts_with("-Z") || *a == "--release")
        );
    }

    #[test]
    fn output_directory_follows_the_profile() {
        assert_eq!(
            output_dir(Path::new("/t/cross"), Profile::Dev),
            Path::new("/t/cross/wasm32-wasip1/debug")
        );
        assert_eq!(
            output_dir(Path::new("/t/cross"), Profile::Release),
            Path::new("/t/cross/wasm32-wasip1/release")
        );
    }

    #[test]
    fn versioned_names() {
        assert_eq!(versioned_name("wasm-ld-14", "wasm-ld-"), Some(14));
        assert_eq!(versioned_name("llvm-19", "llvm-"), Some(19));
        assert_eq!(versioned_name("wasm-ld-14.bak", "wasm-ld-"), None);
        assert_eq!(versioned_name("wasm-ld-", "wasm-ld-"), None);
        assert_eq!(versioned_name("ld.lld-14", "wasm-ld-"), None);
    }

    #[test]
    fn prebuilt_std_is_detected_by_its_directory() {
        let sysroot = std::env::temp_dir().join(format!("xtask-wasm-{}", std::process::id()));
        assert!(!has_prebuilt_std(&sysroot));
        std::fs::create_dir_all(sysroot.join("lib/rustlib/wasm32-wasip1/lib")).unwrap();
        assert!(has_prebuilt_std(&sysroot));
        std::fs::remove_dir_all(&sysroot).unwrap();
    }
}
