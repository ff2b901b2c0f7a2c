//! Building the kernel with the cross toolchain.

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
    let mut command = toolchain.cargo_command();
    command
        .current_dir(&ws.root)
        .args(cargo_args(profile, &target_dir))
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            encoded_rustflags(toolchain.linker),
        )
        .stdout(io::stderr());
    let shown = describe(&command);
    let status = command.status().context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("kernel build failed ({status}): {shown}");
    }
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
    let mut flags = KERNEL_RUSTFLAGS.to_vec();
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
