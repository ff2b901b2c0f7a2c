//! Helpers shared by the `examples_*` tests, which run the Rust wasm
//! examples of `examples/` (built by `cargo xtask examples`).
//!
//! `$BEDROCK_EXAMPLES_DIR` says where the `.wasm` files are. `cargo xtask
//! test` always sets it: to their directory, or to the empty string when
//! their build failed. A test that needs an example therefore fails when the
//! variable is set but the example is not there, and skips (printing a note
//! once per test binary) only when the variable is absent, as under a plain
//! `cargo test -p runtime-silo`.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// Where the examples are; see the module doc.
pub const EXAMPLES_DIR_VAR: &str = "BEDROCK_EXAMPLES_DIR";

/// The path of `<name>.wasm`, or `None` if this run has no examples at all
/// (the variable is absent). Panics with what to do if the variable is set
/// but the example is missing.
pub fn example(name: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os(EXAMPLES_DIR_VAR) else {
        static NOTE: Once = Once::new();
        NOTE.call_once(|| {
            // Straight to the process's stderr: libtest captures `eprintln!`
            // of passing tests, and this note must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "note: skipping the tests that run the wasm examples: ${EXAMPLES_DIR_VAR} is not \
                 set (`cargo xtask test` sets it; or run `cargo xtask examples` and set it to the \
                 directory of the paths it prints)"
            );
        });
        return None;
    };
    assert!(
        !dir.is_empty(),
        "${EXAMPLES_DIR_VAR} is set but empty: building the wasm examples failed \
         (see the `wasm examples build` line of `cargo xtask test`)"
    );
    let path = Path::new(&dir).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} does not exist (${EXAMPLES_DIR_VAR}={}); `cargo xtask examples` builds it",
        path.display(),
        Path::new(&dir).display()
    );
    Some(path)
}

/// The path of an example, or returns from the calling test (which then
/// passes, having skipped) when this run has no examples. Test files
/// declare `#[macro_use] mod examples_support;`.
macro_rules! require_example {
    ($name:expr) => {
        match examples_support::example($name) {
            Some(path) => path,
            None => return,
        }
    };
}

/// A scratch directory for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "runtime-silo-examples-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `runtime-silo run ARGS...` with a null stdin, to completion.
pub fn run_cli<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_runtime-silo"))
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn runtime-silo")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `run` argument for a path (tests use UTF-8 paths only).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
