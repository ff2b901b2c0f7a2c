//! Where things are: the workspace root and the directories xtask writes.
//!
//! Two toolchains build in this workspace (the host one for xtask and unit
//! tests, the cross one for the kernel). Each gets its own target directory
//! so they never contend for cargo's lock or mix incompatible artifacts.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

#[derive(Clone, Debug)]
pub struct Workspace {
    /// The directory of the workspace's `Cargo.toml`.
    pub root: PathBuf,
    /// The host target directory, `$CARGO_TARGET_DIR` or `<root>/target`.
    pub target_dir: PathBuf,
}

impl Workspace {
    /// The workspace containing this xtask, as compiled in.
    pub fn locate() -> Result<Self> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .expect("xtask lives in a subdirectory of the workspace")
            .to_path_buf();
        let cwd = env::current_dir().context(|| "reading the current directory".into())?;
        let target_dir =
            resolve_target_dir(env::var_os("CARGO_TARGET_DIR").as_deref(), &cwd, &root);
        Ok(Self { root, target_dir })
    }

    /// Target directory of the cross toolchain (kernel builds).
    pub fn cross_target_dir(&self) -> PathBuf {
        self.target_dir.join("cross")
    }

    /// Serial logs and generated boot files of test scenarios.
    pub fn qemu_log_dir(&self) -> PathBuf {
        self.target_dir.join("qemu-logs")
    }
}

/// `$CARGO_TARGET_DIR` made absolute the way cargo does (relative to the
/// directory cargo was started in), or `<root>/target` if unset or empty.
fn resolve_target_dir(env_value: Option<&OsStr>, cwd: &Path, root: &Path) -> PathBuf {
    match env_value.filter(|v| !v.is_empty()) {
        Some(dir) => cwd.join(dir),
        None => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_defaults_under_the_root() {
        let got = resolve_target_dir(None, Path::new("/cwd"), Path::new("/ws"));
        assert_eq!(got, Path::new("/ws/target"));
        let got = resolve_target_dir(Some(OsStr::new("")), Path::new("/cwd"), Path::new("/ws"));
        assert_eq!(got, Path::new("/ws/target"));
    }

    #[test]
    fn target_dir_from_env_is_made_absolute() {
        let rel = resolve_target_dir(Some(OsStr::new("out")), Path::new("/cwd"), Path::new("/ws"));
        assert_eq!(rel, Path::new("/cwd/out"));
        let abs = resolve_target_dir(Some(OsStr::new("/t")), Path::new("/cwd"), Path::new("/ws"));
        assert_eq!(abs, Path::new("/t"));
    }
}
