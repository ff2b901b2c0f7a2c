//! What a caller hands to [`Manager::deploy`](super::Manager::deploy).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::wasi::Preopen;

/// Everything needed to start one silo.
///
/// Build one with [`DeployRequest::new`] and adjust the public fields; the
/// defaults are a sandbox with no files, no input, captured output and
/// [`Limits::default`].
pub struct DeployRequest {
    /// Human-readable name, shown by `list`; also the app's `argv[0]`.
    pub name: String,
    /// The code: a core module (`_start` command) or a `strat9:silo/app`
    /// component, binary or text.
    pub wasm: WasmSource,
    /// Resource limits.
    pub limits: Limits,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// Directories the app may see, each under a guest path.
    pub preopens: Vec<Preopen>,
    /// Where standard input comes from.
    pub stdin: StdinSource,
    /// Where standard output goes.
    pub stdout: OutputMode,
    /// Where standard error goes.
    pub stderr: OutputMode,
}

impl DeployRequest {
    /// A request with default limits, no arguments, environment or preopens,
    /// empty stdin and captured stdout/stderr.
    pub fn new(name: impl Into<String>, wasm: impl Into<WasmSource>) -> Self {
        Self {
            name: name.into(),
            wasm: wasm.into(),
            limits: Limits::default(),
            args: Vec::new(),
            env: Vec::new(),
            preopens: Vec::new(),
            stdin: StdinSource::Null,
            stdout: OutputMode::Capture,
            stderr: OutputMode::Capture,
        }
    }
}

/// Where the wasm code comes from.
#[derive(Debug, Clone)]
pub enum WasmSource {
    /// The bytes themselves (binary or WAT text).
    Bytes(Arc<[u8]>),
    /// A file, read on the silo's thread (so a slow disk never blocks the
    /// manager); a read error rejects the silo.
    Path(PathBuf),
}

impl From<Vec<u8>> for WasmSource {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bytes(bytes.into())
    }
}

impl From<&[u8]> for WasmSource {
    fn from(bytes: &[u8]) -> Self {
        Self::Bytes(bytes.into())
    }
}

impl From<&str> for WasmSource {
    /// WAT text.
    fn from(text: &str) -> Self {
        Self::Bytes(text.as_bytes().into())
    }
}

impl From<PathBuf> for WasmSource {
    fn from(path: PathBuf) -> Self {
        Self::Path(path)
    }
}

/// What the app reads on standard input.
pub enum StdinSource {
    /// End of file at once.
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// The runtime process's own standard input (used by `runtime-silo run`).
    Inherit,
}

/// What happens to one of the app's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Kept in the silo's bounded log ring, read back with
    /// [`Manager::logs`](super::Manager::logs).
    Capture,
    /// Passed straight to the runtime process's own stream, not captured
    /// (used by `runtime-silo run`).
    Inherit,
}

/// Per-silo resource limits.
///
/// Memory and table limits are enforced by a wasmtime `ResourceLimiter` on the
/// silo's own store; time limits by epoch interruption, checked on every tick
/// of the manager's timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of linear memory over all the silo's memories.
    ///
    /// A `memory.grow` past it returns -1 as the wasm spec requires, so an app
    /// may recover; if the app then traps, the silo's status is
    /// [`LimitExceeded`](super::ExitStatus::LimitExceeded) rather than the
    /// trap it ended with, since the refusal is the root cause.
    pub memory_bytes: u64,
    /// Total elements over all the silo's tables (same growth rule).
    pub table_elements: u64,
    /// Instances (a core module needs 1; a component one per core module).
    pub instances: usize,
    /// Linear memories.
    pub memories: usize,
    /// Tables.
    pub tables: usize,
    /// Largest size in bytes the silo may give any file, through WASI
    /// (`fd_write`, `fd_allocate`, `fd_filestat_set_size`, ...; `fbig`
    /// beyond). It bounds the host storage one file can claim; it is not a
    /// quota over all files. See `WasiConfig::max_file_size`.
    pub file_bytes: u64,
    /// Wall-clock time the silo may run, counted from instantiation.
    pub wall_time: Option<Duration>,
    /// CPU time the silo's thread may use, counted from instantiation.
    pub cpu_time: Option<Duration>,
}

impl Default for Limits {
    /// A multi-tenant default: 256 MiB of memory, 100 000 table elements,
    /// 64 instances, files up to 1 GiB, no time limit.
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            instances: 64,
            memories: 64,
            tables: 64,
            file_bytes: crate::wasi::DEFAULT_MAX_FILE_SIZE,
            wall_time: None,
            cpu_time: None,
        }
    }
}

impl Limits {
    /// No limit beyond what wasm itself imposes (what `wasmtime run` does).
    pub fn unlimited() -> Self {
        Self {
            memory_bytes: u64::MAX,
            table_elements: u64::MAX,
            instances: usize::MAX,
            memories: usize::MAX,
            tables: usize::MAX,
            file_bytes: u64::MAX,
            wall_time: None,
            cpu_time: None,
        }
    }
}
