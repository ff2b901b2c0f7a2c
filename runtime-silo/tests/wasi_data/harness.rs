//! Test harness for the WASI preview1 conformance suite: runs hand-written
//! WAT programs against `runtime_silo::wasi` with a plain wasmtime Engine and
//! Linker (no silo manager), capturing stdout/stderr.
//!
//! A test supplies the body of a module; [`assemble`] wraps it in a prelude
//! that imports every `wasi_snapshot_preview1` function (so each run also
//! checks that all 46 exist with the right signatures), exports a 2-page
//! memory, and defines helpers:
//! - `(str "text")` anywhere expands to `(i32.const PTR) (i32.const LEN)` of
//!   the string placed in a data segment (so paths read naturally);
//! - `$print ptr len`, `$print_num i64`: output to stdout;
//! - `$expect got want` / `$ok got` / `$expect64`: on mismatch print
//!   `FAIL step N: got X want Y` and exit 100; steps count from 1 per run;
//! - `$open dirfd ptr len oflags fdflags -> fd` (expects success; all
//!   inheritable rights, minus `fd_write` with `O_DIRECTORY`),
//!   `$try_open dirfd lookup ptr len oflags base inheriting fdflags -> errno`
//!   (fd left at `$FD_OUT` = 240);
//! - `$write fd ptr len -> errno` (count at 24), `$read fd buf len -> errno`
//!   (count at 40).
//!
//! Memory map: 0-127 helper scratch, 240 open result, 256-1023 `R` area for
//! results, 1024-8191 `BUF`, 8192+ strings.

#![allow(dead_code)] // each test binary uses a subset

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use runtime_silo::wasi::fs::HostDir;
use runtime_silo::wasi::{I32Exit, Preopen, WasiConfig, WasiCtx, add_to_linker};
use wasmtime::{Config, Engine, Linker, Module, OptLevel, Store};

/// Memory size of test modules, in bytes (2 pages).
pub const MEMORY_BYTES: u32 = 2 * 65536;

/// Rights every preopen can hand down (`DIRECTORY | FILE`, bits 0-27).
pub const INHERITABLE: u64 = 0x0FFF_FFFF;

/// Rights bits used by tests.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
}

/// WASI errno values used by tests.
pub mod errno {
    pub const BADF: i32 = 8;
    pub const EXIST: i32 = 20;
    pub const FAULT: i32 = 21;
    pub const ILSEQ: i32 = 25;
    pub const INVAL: i32 = 28;
    pub const ISDIR: i32 = 31;
    pub const LOOP: i32 = 32;
    pub const NAMETOOLONG: i32 = 37;
    pub const NOENT: i32 = 44;
    pub const NOSYS: i32 = 52;
    pub const NOTDIR: i32 = 54;
    pub const NOTEMPTY: i32 = 55;
    pub const NOTSOCK: i32 = 57;
    pub const NOTSUP: i32 = 58;
    pub const PERM: i32 = 63;
    pub const SPIPE: i32 = 70;
    pub const XDEV: i32 = 75;
    pub const NOTCAPABLE: i32 = 76;
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        // Test modules are tiny; skip optimisation to keep compile time low.
        config.cranelift_opt_level(OptLevel::None);
        Engine::new(&config).expect("engine")
    })
}

/// A unique temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("bedrock-wasi-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) -> &Self {
        std::fs::write(self.join(rel), contents).expect("write test file");
        self
    }

    pub fn mkdir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.join(rel)).expect("mkdir");
        self
    }

    pub fn symlink(&self, target: &str, rel: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.join(rel)).expect("symlink");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).expect("read test file")
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.join(rel)).is_ok()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Captured output stream.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

/// How to run a program.
#[derive(Default)]
pub struct Setup {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `(guest path, host dir)`.
    pub preopens: Vec<(String, PathBuf)>,
    pub stdin: Vec<u8>,
    /// `WasiConfig::max_file_size`; `None` for the default.
    pub max_file_size: Option<u64>,
}

impl Setup {
    /// One preopen, `guest` -> `dir`.
    pub fn dir(guest: &str, dir: &Path) -> Self {
        Setup {
            preopens: vec![(guest.into(), dir.to_path_buf())],
            ..Setup::default()
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Stdout as text (lossy) and as bytes.
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    /// Exit status (`_start` returning is 0), or the trap message.
    pub exit: Result<i32, String>,
}

impl Outcome {
    /// Asserts exit 0 and the exact stdout.
    #[track_caller]
    pub fn ok(&self, stdout: &str) {
        assert_eq!(
            self.exit,
            Ok(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert_eq!(self.stdout, stdout);
    }
}

struct StdinBytes(std::io::Cursor<Vec<u8>>);

impl Read for StdinBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

/// Runs `body` (see the module docs) with `setup`.
pub fn run(setup: Setup, body: &str) -> Outcome {
    run_module(setup, &assemble(body))
}

/// Runs a complete WAT module exporting `_start`.
pub fn run_module(setup: Setup, wat: &str) -> Outcome {
    let module = Module::new(engine(), wat).unwrap_or_else(|e| panic!("{e:?}\n{wat}"));
    let stdout = Capture::default();
    let stderr = Capture::default();
    let preopens = setup
        .preopens
        .iter()
        .map(|(guest, dir)| Preopen {
            guest_path: guest.clone(),
            fs: Arc::new(HostDir::open(dir).expect("preopen")),
        })
        .collect();
    let ctx = WasiCtx::new(WasiConfig {
        args: setup.args,
        env: setup.env,
        preopens,
        stdin: Box::new(StdinBytes(std::io::Cursor::new(setup.stdin))),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
        max_file_size: setup
            .max_file_size
            .unwrap_or(runtime_silo::wasi::DEFAULT_MAX_FILE_SIZE),
    })
    .expect("WasiCtx::new");
    let mut linker = Linker::new(engine());
    add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).expect("add_to_linker");
    let mut store = Store::new(engine(), ctx);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .expect("_start");
    let exit = match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => Ok(*code),
            None => Err(format!("{e:?}")),
        },
    };
    Outcome {
        stdout: stdout.text(),
        stdout_bytes: stdout.bytes(),
        stderr: stderr.text(),
        exit,
    }
}

/// Every preview1 import, with its core signature.
const IMPORTS: &[(&str, &str)] = &[
    ("args_get", "(param i32 i32) (result i32)"),
    ("args_sizes_get", "(param i32 i32) (result i32)"),
    ("environ_get", "(param i32 i32) (result i32)"),
    ("environ_sizes_get", "(param i32 i32) (result i32)"),
    ("clock_res_get", "(param i32 i32) (result i32)"),
    ("clock_time_get", "(param i32 i64 i32) (result i32)"),
    ("fd_advise", "(param i32 i64 i64 i32) (result i32)"),
    ("fd_allocate", "(param i32 i64 i64) (result i32)"),
    ("fd_close", "(param i32) (result i32)"),
    ("fd_datasync", "(param i32) (result i32)"),
    ("fd_fdstat_get", "(param i32 i32) (result i32)"),
    ("fd_fdstat_set_flags", "(param i32 i32) (result i32)"),
    ("fd_fdstat_set_rights", "(param i32 i64 i64) (result i32)"),
    ("fd_filestat_get", "(param i32 i32) (result i32)"),
    ("fd_filestat_set_size", "(param i32 i64) (result i32)"),
    (
        "fd_filestat_set_times",
        "(param i32 i64 i64 i32) (result i32)",
    ),
    ("fd_pread", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_prestat_get", "(param i32 i32) (result i32)"),
    ("fd_prestat_dir_name", "(param i32 i32 i32) (result i32)"),
    ("fd_pwrite", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_read", "(param i32 i32 i32 i32) (result i32)"),
    ("fd_readdir", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_renumber", "(param i32 i32) (result i32)"),
    ("fd_seek", "(param i32 i64 i32 i32) (result i32)"),
    ("fd_sync", "(param i32) (result i32)"),
    ("fd_tell", "(param i32 i32) (result i32)"),
    ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
    ("path_create_directory", "(param i32 i32 i32) (result i32)"),
    (
        "path_filestat_get",
        "(param i32 i32 i32 i32 i32) (result i32)",
    ),
    (
        "path_filestat_set_times",
        "(param i32 i32 i32 i32 i64 i64 i32) (result i32)",
    ),
    (
        "path_link",
        "(param i32 i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    (
        "path_open",
        "(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)",
    ),
    (
        "path_readlink",
        "(param i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    ("path_remove_directory", "(param i32 i32 i32) (result i32)"),
    (
        "path_rename",
        "(param i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    ("path_symlink", "(param i32 i32 i32 i32 i32) (result i32)"),
    ("path_unlink_file", "(param i32 i32 i32) (result i32)"),
    ("poll_oneoff", "(param i32 i32 i32 i32) (result i32)"),
    ("proc_exit", "(param i32)"),
    ("proc_raise", "(param i32) (result i32)"),
    ("sched_yield", "(result i32)"),
    ("random_get", "(param i32 i32) (result i32)"),
    ("sock_accept", "(param i32 i32 i32) (result i32)"),
    ("sock_recv", "(param i32 i32 i32 i32 i32 i32) (result i32)"),
    ("sock_send", "(param i32 i32 i32 i32 i32) (result i32)"),
    ("sock_shutdown", "(param i32 i32) (result i32)"),
];

const HELPERS: &str = r#"
  (global $step (mut i32) (i32.const 0))
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $print_num (param $v i64)
    (local $p i32)
    (local.set $p (i32.const 128))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (call $print (local.get $p) (i32.sub (i32.const 128) (local.get $p))))
  (func $fail (param $got i64) (param $want i64)
    (call $print (str "FAIL step "))
    (call $print_num (i64.extend_i32_u (global.get $step)))
    (call $print (str ": got "))
    (call $print_num (local.get $got))
    (call $print (str " want "))
    (call $print_num (local.get $want))
    (call $print (str "\n"))
    (call $proc_exit (i32.const 100)))
  (func $expect64 (param $got i64) (param $want i64)
    (global.set $step (i32.add (global.get $step) (i32.const 1)))
    (if (i64.ne (local.get $got) (local.get $want))
      (then (call $fail (local.get $got) (local.get $want)))))
  (func $expect (param $got i32) (param $want i32)
    (call $expect64 (i64.extend_i32_u (local.get $got)) (i64.extend_i32_u (local.get $want))))
  (func $ok (param $got i32) (call $expect (local.get $got) (i32.const 0)))
  (func $try_open (param $dirfd i32) (param $lookup i32) (param $ptr i32) (param $len i32)
      (param $oflags i32) (param $base i64) (param $inheriting i64) (param $fdflags i32) (result i32)
    (i32.store (i32.const 240) (i32.const -1))
    (call $path_open (local.get $dirfd) (local.get $lookup) (local.get $ptr) (local.get $len)
      (local.get $oflags) (local.get $base) (local.get $inheriting) (local.get $fdflags)
      (i32.const 240)))
  (func $open (param $dirfd i32) (param $ptr i32) (param $len i32) (param $oflags i32)
      (param $fdflags i32) (result i32)
    (call $ok (call $try_open (local.get $dirfd) (i32.const 1) (local.get $ptr) (local.get $len)
      (local.get $oflags)
      ;; Like wasi-libc's O_RDONLY for directories: no write right.
      (select (i64.const 0x0FFFFFBF) (i64.const 0x0FFFFFFF) (i32.and (local.get $oflags) (i32.const 2)))
      (i64.const 0x0FFFFFFF) (local.get $fdflags)))
    (i32.load (i32.const 240)))
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
  (func $read (param $fd i32) (param $buf i32) (param $len i32) (result i32)
    (i32.store (i32.const 32) (local.get $buf))
    (i32.store (i32.const 36) (local.get $len))
    (call $fd_read (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
"#;

/// First address used for `(str ...)` data.
const STRINGS_BASE: u32 = 8192;

/// Wraps a test body into a full module (see the module docs).
pub fn assemble(body: &str) -> String {
    let mut wat = String::from("(module\n");
    for (name, sig) in IMPORTS {
        wat.push_str(&format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} {sig}))\n"
        ));
    }
    wat.push_str("  (memory (export \"memory\") 2)\n");
    wat.push_str(HELPERS);
    wat.push_str(body);
    wat.push_str("\n)\n");
    expand_strings(&wat)
}

/// Replaces each `(str "...")` with its address and length, and appends
/// the data segments.
fn expand_strings(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut data = String::new();
    let mut next = STRINGS_BASE;
    let mut rest = src;
    while let Some(at) = rest.find("(str \"") {
        out.push_str(&rest[..at]);
        let literal_start = at + "(str \"".len();
        let tail = &rest[literal_start..];
        let end = literal_end(tail);
        let literal = &tail[..end];
        let len = unescaped_len(literal);
        out.push_str(&format!("(i32.const {next}) (i32.const {len})"));
        data.push_str(&format!("  (data (i32.const {next}) \"{literal}\")\n"));
        next += len.max(1);
        rest = tail[end + 1..]
            .trim_start_matches(' ')
            .strip_prefix(')')
            .expect("(str ...) closes");
    }
    out.push_str(rest);
    // Insert the data segments before the module's final parenthesis.
    let close = out.rfind(')').expect("module closes");
    out.insert_str(close, &data);
    out
}

/// Index of the closing quote of a WAT string literal body.
fn literal_end(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while bytes[i] != b'"' {
        i += if bytes[i] == b'\\' {
            if bytes[i + 1].is_ascii_hexdigit() {
                3
            } else {
                2
            }
        } else {
            1
        };
    }
    i
}

/// Byte length of a WAT string literal body after unescaping.
fn unescaped_len(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() {
        i += if bytes[i] == b'\\' {
            if bytes[i + 1].is_ascii_hexdigit() {
                3
            } else {
                2
            }
        } else {
            1
        };
        n += 1;
    }
    n
}
