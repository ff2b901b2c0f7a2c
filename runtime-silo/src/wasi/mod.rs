//! WASI preview1 (`wasi_snapshot_preview1`), implemented here on plain
//! `wasmtime::Linker` host functions.
//!
//! Why our own: `wasmtime-wasi` cannot be built for Bedrock's target
//! (x86_64-unknown-hermit on our libOS), and the filesystem has to run over a
//! provider trait so that the fs strate can serve it on Bedrock. This module
//! uses only `std` (time, fs in the host provider) and `getrandom`.
//!
//! Layout:
//! - [`abi`]: errno, rights, flags, struct layouts (the witx transcription);
//! - `memory`: bounds-checked guest memory access (bad pointers are `fault`);
//! - `fd_table`: descriptors with rights and flags;
//! - `path`: sandboxed path resolution (no escape from a directory fd);
//! - [`fs`]: the [`fs::FsProvider`] contract and [`fs::HostDir`];
//! - `clocks`, `poll`: time and `poll_oneoff`;
//! - `funcs`: the functions, by area; `linker`: [`add_to_linker`].
//!
//! Semantics follow the preview1 witx and, where it is silent, what wasmtime
//! and wasi-libc expect. Deliberate choices (each documented where it is
//! made): bad pointers give `fault` instead of a trap; sandbox escapes give
//! `perm`, missing rights `notcapable`; CPU-time clocks are `notsup`;
//! `proc_raise` is `nosys`; sockets give `notsock`/`badf` until the net
//! strate exists; rights are enforced (wasmtime no longer does).

pub mod abi;
mod clocks;
mod fd_table;
pub mod fs;
mod funcs;
mod io_errno;
mod linker;
mod memory;
mod path;
mod poll;

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};

pub use abi::{Errno, WasiResult};
pub use linker::add_to_linker;
pub use poll::{InterruptHandle, Interrupted, MAX_SUBSCRIPTIONS};

use abi::{Fdflags, Rights};
use clocks::Clocks;
use fd_table::{Descriptor, FdTable, Object, OpenDir};

/// The state of one silo's WASI world: arguments, environment, descriptor
/// table, clocks. Lives in the silo's `Store` data; see [`add_to_linker`].
pub struct WasiCtx {
    args: Vec<String>,
    /// `KEY=VALUE` strings, as `environ_get` hands them out.
    env: Vec<String>,
    fds: FdTable,
    clocks: Clocks,
    interrupt: InterruptHandle,
    /// See [`WasiConfig::max_file_size`].
    max_file_size: u64,
}

/// The default of [`WasiConfig::max_file_size`]: 1 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// How to build a [`WasiCtx`].
pub struct WasiConfig {
    /// Command-line arguments, `argv[0]` included.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Directories given to the guest, as descriptors 3, 4, ... in order.
    pub preopens: Vec<Preopen>,
    pub stdin: Box<dyn Read + Send>,
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
    /// The largest size, in bytes, the guest may give a file: writing past
    /// it, or `fd_allocate`/`fd_filestat_set_size` beyond it, fails with
    /// `fbig` (a write that crosses it is cut short there, as with
    /// `RLIMIT_FSIZE`). It bounds how much host storage one file can claim,
    /// sparse or not; files that are already larger stay readable and can
    /// be shrunk. [`DEFAULT_MAX_FILE_SIZE`] is a sensible value; `u64::MAX`
    /// leaves only the host's own limit.
    pub max_file_size: u64,
}

/// A directory preopened for the guest.
pub struct Preopen {
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/data` or `.`;
    /// wasi-libc matches paths against it.
    pub guest_path: String,
    /// The tree behind it.
    pub fs: Arc<dyn fs::FsProvider>,
}

/// The outcome of `proc_exit`: the call into the guest fails with this error
/// (wrapped in the `anyhow::Error` of the call); embedders downcast it to get
/// the exit status. The status is passed through unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl fmt::Display for I32Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "guest exited with status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

impl WasiCtx {
    /// Builds the context: stdio become descriptors 0-2 and the preopens
    /// 3, 4, .... Fails on values a guest could not receive intact
    /// (interior NUL bytes, `=` in a variable name, sizes beyond `u32`).
    pub fn new(config: WasiConfig) -> anyhow::Result<Self> {
        let WasiConfig {
            args,
            env,
            preopens,
            stdin,
            stdout,
            stderr,
            max_file_size,
        } = config;
        for arg in &args {
            ensure!(!arg.contains('\0'), "argument {arg:?} contains a NUL byte");
        }
        let env = env
            .into_iter()
            .map(|(key, value)| {
                ensure!(
                    !key.is_empty() && !key.contains(['=', '\0']),
                    "invalid environment variable name {key:?}"
                );
                ensure!(
                    !value.contains('\0'),
                    "environment variable {key} contains a NUL byte"
                );
                Ok(format!("{key}={value}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        funcs::args::string_list_sizes(&args).context("arguments too large")?;
        funcs::args::string_list_sizes(&env).context("environment too large")?;

        let mut fds = FdTable::default();
        let stdio = [
            (Object::Stdin(stdin), Rights::STDIN),
            (Object::Stdout(stdout), Rights::STDOUT),
            (Object::Stdout(stderr), Rights::STDOUT),
        ];
        for (object, rights) in stdio {
            fds.insert(Descriptor {
                object,
                rights_base: rights,
                rights_inheriting: Rights::EMPTY,
                flags: Fdflags::EMPTY,
            })?;
        }
        for Preopen { guest_path, fs } in preopens {
            if guest_path.is_empty() || guest_path.contains('\0') {
                bail!("invalid preopen guest path {guest_path:?}");
            }
            u32::try_from(guest_path.len()).context("preopen guest path too long")?;
            let dir = fs
                .root_dir()
                .map_err(|e| anyhow::anyhow!("preopen {guest_path}: {e}"))?;
            fds.insert(Descriptor {
                object: Object::Dir(OpenDir {
                    fs,
                    dir,
                    preopen: Some(guest_path),
                    listing: None,
                }),
                rights_base: Rights::DIRECTORY,
                rights_inheriting: Rights::DIRECTORY_INHERITING,
                flags: Fdflags::EMPTY,
            })
            .map_err(|e| anyhow::anyhow!("too many preopens: {e}"))?;
        }
        Ok(WasiCtx {
            args,
            env,
            fds,
            clocks: Clocks::new(),
            interrupt: InterruptHandle::new(),
            max_file_size,
        })
    }

    /// A handle that can wake this context out of a blocking `poll_oneoff`
    /// sleep from another thread (the silo's kill switch): the sleeping call
    /// then fails with [`Interrupted`], ending the guest call. Epoch
    /// interruption cannot do this, since it only acts while wasm runs.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }
}

impl fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args)
            .field("env_vars", &self.env.len())
            .field("open_fds", &self.fds.len())
            .finish_non_exhaustive()
    }
}
