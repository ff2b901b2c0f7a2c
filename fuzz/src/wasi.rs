//! `wasi_path`: the runtime silo's WASI path resolution
//! (`runtime-silo/src/wasi/path.rs`) through the preview1 functions that
//! use it, called by a tiny wasm guest on a fresh `WasiCtx` whose preopen
//! (descriptor 3) is a real directory served by the runtime silo's own
//! provider, `HostDir`.
//!
//! The resolver is private to the runtime silo's `wasi` module, and its
//! provider interface is being reworked; the public way in, which is also
//! the guests' own, is the WASI functions (`runtime_silo::wasi::
//! add_to_linker`) over `HostDir::open`, so this target needs nothing
//! exposed and survives changes behind them.
//!
//! Each input gets a new tree in a scratch directory
//! (`$BEDROCK_FUZZ_SCRATCH`, default the system temporary directory):
//! `TOP/sandbox/` (the preopen) and, beside it, `TOP/OUTSIDE-CANARY/secret`.
//!
//! Input: text, one operation a line (at most [`MAX_OPS`]), words
//! separated by blanks; malformed lines, and lines naming the canary,
//! are skipped. Set-up, straight on the host before the guest runs:
//! `d PATH`, `f PATH`, `l PATH TARGET` (directory, file, symlink with any
//! target) under `sandbox/`. Guest calls, `FD` a descriptor number, `F` 1
//! to follow a final symlink:
//!
//! | line | call |
//! |---|---|
//! | `o FD F OFLAGS d\|f PATH` | `path_open` (directory or file rights) |
//! | `s FD F PATH` | `path_filestat_get` |
//! | `r FD PATH` | `path_readlink` |
//! | `m FD PATH` | `path_create_directory` |
//! | `x FD PATH` | `path_remove_directory` |
//! | `u FD PATH` | `path_unlink_file` |
//! | `y FD PATH TARGET` | `path_symlink` |
//! | `n FD PATH FD2 PATH2` | `path_rename` |
//! | `e FD` | `fd_readdir` |
//! | `R FD` | `fd_read` (256 bytes) |
//! | `w FD` | `fd_write` (6 bytes) |
//! | `c FD` | `fd_close` |
//!
//! Checks: no escape from the preopen, seen from outside it: no
//! `path_filestat_get` describes the canary, its directory, `TOP` or
//! anything above; no listing shows the canary's directory; no read
//! returns the secret; after the input, `TOP` and the canary directory
//! hold exactly what they held before and the secret is unchanged. And
//! every call returns an errno (no trap, no panic in the runtime).
//!
//! Run the fuzzer itself where a bug could do no harm (see README.md): an
//! escape means the guest reached the host's files.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use runtime_silo::engine::EngineOptions;
use runtime_silo::wasi::abi::Rights;
use runtime_silo::wasi::fs::HostDir;
use runtime_silo::wasi::{Preopen, WasiConfig, WasiCtx, add_to_linker};
use wasmtime::{Engine, InstancePre, Linker, Memory, Module, Store, TypedFunc};

/// Most lines run from one input.
pub const MAX_OPS: usize = 64;
/// Longest path written to guest memory (more than `PATH_MAX`, 4096).
const MAX_PATH: usize = 0x2000;

const OUT: u32 = 0x10;
const IOVEC: u32 = 0x20;
const PATH1: u32 = 0x100;
const PATH2: u32 = PATH1 + MAX_PATH as u32;
const BUF: u32 = PATH2 + MAX_PATH as u32;
const BUF_LEN: u32 = 0x2000;

const CANARY_DIR: &str = "OUTSIDE-CANARY";
const SECRET: &[u8] = b"SECRET-CANARY";

/// The guest: one export per WASI function, forwarding its arguments.
const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $path_remove_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "open") (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)
    (call $path_open (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 5) (local.get 6) (local.get 7) (local.get 8)))
  (func (export "stat") (param i32 i32 i32 i32 i32) (result i32)
    (call $path_filestat_get (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4)))
  (func (export "readlink") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $path_readlink (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 5)))
  (func (export "mkdir") (param i32 i32 i32) (result i32)
    (call $path_create_directory (local.get 0) (local.get 1) (local.get 2)))
  (func (export "rmdir") (param i32 i32 i32) (result i32)
    (call $path_remove_directory (local.get 0) (local.get 1) (local.get 2)))
  (func (export "unlink") (param i32 i32 i32) (result i32)
    (call $path_unlink_file (local.get 0) (local.get 1) (local.get 2)))
  (func (export "symlink") (param i32 i32 i32 i32 i32) (result i32)
    (call $path_symlink (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4)))
  (func (export "rename") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $path_rename (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 5)))
  (func (export "readdir") (param i32 i32 i32 i64 i32) (result i32)
    (call $fd_readdir (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4)))
  (func (export "read") (param i32 i32 i32 i32) (result i32)
    (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "write") (param i32 i32 i32 i32) (result i32)
    (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "close") (param i32) (result i32)
    (call $fd_close (local.get 0)))
)
"#;

struct Host {
    engine: Engine,
    pre: InstancePre<WasiCtx>,
    scratch: PathBuf,
}

/// The engine (the runtime silo's configuration, small memories, no epoch
/// deadlines), the linked guest and the scratch directory, made once per
/// process.
fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let options = EngineOptions {
            memory_reservation: 1 << 20,
            ..EngineOptions::default()
        };
        let mut config = options.config();
        config.epoch_interruption(false);
        let engine = Engine::new(&config).expect("engine");
        let module = Module::new(&engine, GUEST).expect("the guest compiles");
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).expect("WASI links");
        let pre = linker.instantiate_pre(&module).expect("the guest links");
        let base =
            std::env::var_os("BEDROCK_FUZZ_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from);
        let scratch = base.join(format!("bedrock-fuzz-wasi-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch).expect("scratch directory");
        Host {
            engine,
            pre,
            scratch,
        }
    })
}

/// A name usable under `sandbox/` for the set-up (relative, no `..`).
fn setup_path(sandbox: &Path, path: &str) -> Option<PathBuf> {
    let plain = path
        .split('/')
        .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
    plain.then(|| sandbox.join(path))
}

/// `(dev, ino)` of `path` itself.
fn id(path: &Path) -> (u64, u64) {
    let m = fs::symlink_metadata(path).expect("metadata");
    (m.dev(), m.ino())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("listing")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs the operations of `data`.
pub fn wasi_path(data: &[u8]) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = host();
    let text = String::from_utf8_lossy(data);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.contains("CANARY"))
        .take(MAX_OPS)
        .map(|l| l.split_ascii_whitespace().collect())
        .collect();

    let top = host
        .scratch
        .join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
    let sandbox = top.join("sandbox");
    let canary = top.join(CANARY_DIR);
    fs::create_dir_all(&sandbox).expect("sandbox");
    fs::create_dir_all(&canary).expect("canary directory");
    fs::write(canary.join("secret"), SECRET).expect("secret");
    for words in &lines {
        // Set-up errors (a parent that is a file, ...) are ignored.
        let _ = match words[..] {
            ["d", path] => setup_path(&sandbox, path).map(fs::create_dir_all),
            ["f", path] => setup_path(&sandbox, path).map(|p| fs::write(p, b"inside")),
            ["l", path, target] => {
                setup_path(&sandbox, path).map(|p| std::os::unix::fs::symlink(target, p))
            }
            _ => None,
        };
    }
    let outside: HashSet<(u64, u64)> = [
        top.clone(),
        canary.clone(),
        canary.join("secret"),
        host.scratch.clone(),
        PathBuf::from("/"),
    ]
    .iter()
    .map(|p| id(p))
    .collect();

    run(host, &sandbox, &lines, &outside);

    // Nothing changed outside the sandbox.
    assert_eq!(names(&top), [CANARY_DIR, "sandbox"], "outside the sandbox");
    assert_eq!(names(&canary), ["secret"], "outside the sandbox");
    assert_eq!(fs::read(canary.join("secret")).expect("secret"), SECRET);
    // Only input trees (numbered) in the scratch directory.
    for name in names(&host.scratch) {
        assert!(
            name.parse::<u64>().is_ok(),
            "{name:?} appeared beside the trees"
        );
    }
    // `remove_dir_all` does not follow symlinks.
    fs::remove_dir_all(&top).expect("removing the tree");
}

type Open = TypedFunc<(u32, u32, u32, u32, u32, u64, u64, u32, u32), u32>;
type Fd = TypedFunc<u32, u32>;
type FdPath = TypedFunc<(u32, u32, u32), u32>;
type Rw = TypedFunc<(u32, u32, u32, u32), u32>;

fn run(host: &Host, sandbox: &Path, lines: &[Vec<&str>], outside: &HashSet<(u64, u64)>) {
    let ctx = WasiCtx::new(WasiConfig {
        args: vec!["fuzz".into()],
        env: Vec::new(),
        preopens: vec![Preopen {
            guest_path: "/".into(),
            fs: Arc::new(HostDir::open(sandbox).expect("preopen")),
        }],
        stdin: Box::new(io::empty()),
        stdout: Box::new(io::sink()),
        stderr: Box::new(io::sink()),
        max_file_size: runtime_silo::wasi::DEFAULT_MAX_FILE_SIZE,
    })
    .expect("WASI context");
    let mut store = Store::new(&host.engine, ctx);
    let instance = host.pre.instantiate(&mut store).expect("instantiate");
    let memory = instance
        .get_memory(&mut store, "memory")
        .expect("memory export");
    macro_rules! func {
        ($name:literal) => {
            instance.get_typed_func(&mut store, $name).expect($name)
        };
    }
    let open: Open = func!("open");
    let stat: TypedFunc<(u32, u32, u32, u32, u32), u32> = func!("stat");
    let readlink: TypedFunc<(u32, u32, u32, u32, u32, u32), u32> = func!("readlink");
    let mkdir: FdPath = func!("mkdir");
    let rmdir: FdPath = func!("rmdir");
    let unlink: FdPath = func!("unlink");
    let symlink: TypedFunc<(u32, u32, u32, u32, u32), u32> = func!("symlink");
    let rename: TypedFunc<(u32, u32, u32, u32, u32, u32), u32> = func!("rename");
    let readdir: TypedFunc<(u32, u32, u32, u64, u32), u32> = func!("readdir");
    let read: Rw = func!("read");
    let write: Rw = func!("write");
    let close: Fd = func!("close");
    let mut g = Guest { store, memory };

    for words in lines {
        let result = match words[..] {
            ["o", fd, follow, oflags, kind, path] => {
                let len = g.path(PATH1, path);
                let (base, inheriting) = if kind == "d" {
                    (Rights::DIRECTORY, Rights::DIRECTORY_INHERITING)
                } else {
                    (Rights::FILE, Rights::EMPTY)
                };
                g.call(
                    &open,
                    (
                        num(fd),
                        num(follow) & 1,
                        PATH1,
                        len,
                        num(oflags) & 0xf,
                        base.bits(),
                        inheriting.bits(),
                        0,
                        OUT,
                    ),
                )
            }
            ["s", fd, follow, path] => {
                let len = g.path(PATH1, path);
                let r = g.call(&stat, (num(fd), num(follow) & 1, PATH1, len, BUF));
                if r == 0 {
                    let dev = g.u64_at(BUF);
                    let ino = g.u64_at(BUF + 8);
                    assert!(
                        !outside.contains(&(dev, ino)),
                        "sandbox escape: {path:?} from fd {fd} is outside the sandbox"
                    );
                }
                r
            }
            ["r", fd, path] => {
                let len = g.path(PATH1, path);
                g.call(&readlink, (num(fd), PATH1, len, BUF, BUF_LEN, OUT))
            }
            [op @ ("m" | "x" | "u"), fd, path] => {
                let len = g.path(PATH1, path);
                let f = match op {
                    "m" => &mkdir,
                    "x" => &rmdir,
                    _ => &unlink,
                };
                g.call(f, (num(fd), PATH1, len))
            }
            ["y", fd, path, target] => {
                let len = g.path(PATH1, path);
                let target_len = g.path(PATH2, target);
                g.call(&symlink, (PATH2, target_len, num(fd), PATH1, len))
            }
            ["n", fd, path, fd2, path2] => {
                let len = g.path(PATH1, path);
                let len2 = g.path(PATH2, path2);
                g.call(&rename, (num(fd), PATH1, len, num(fd2), PATH2, len2))
            }
            ["e", fd] => {
                let r = g.call(&readdir, (num(fd), BUF, BUF_LEN, 0, OUT));
                if r == 0 {
                    let listing = g.bytes(BUF, BUF_LEN);
                    assert!(
                        !contains(&listing, CANARY_DIR.as_bytes()),
                        "sandbox escape: fd {fd} lists the directory above the sandbox"
                    );
                }
                r
            }
            ["R", fd] => {
                g.iovec(BUF, 256);
                let r = g.call(&read, (num(fd), IOVEC, 1, OUT));
                if r == 0 {
                    let n = g.u32_at(OUT).min(256);
                    let bytes = g.bytes(BUF, n);
                    assert!(
                        !contains(&bytes, SECRET),
                        "sandbox escape: fd {fd} reads the secret outside the sandbox"
                    );
                }
                r
            }
            ["w", fd] => {
                g.write(BUF, b"fuzzed");
                g.iovec(BUF, 6);
                g.call(&write, (num(fd), IOVEC, 1, OUT))
            }
            ["c", fd] => g.call(&close, num(fd)),
            _ => continue,
        };
        // An errno, never anything else.
        assert!(result <= 76, "WASI call {words:?} returned {result}");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A number word (anything else is 0; big values wrap, as a guest's would).
fn num(word: &str) -> u32 {
    word.parse::<u64>().map_or(0, |n| n as u32)
}

struct Guest {
    store: Store<WasiCtx>,
    memory: Memory,
}

impl Guest {
    fn write(&mut self, at: u32, bytes: &[u8]) {
        self.memory
            .write(&mut self.store, at as usize, bytes)
            .expect("inside the guest's memory");
    }

    /// Writes `path` (cut to [`MAX_PATH`]) at `at`; returns its length.
    fn path(&mut self, at: u32, path: &str) -> u32 {
        let bytes = &path.as_bytes()[..path.len().min(MAX_PATH)];
        self.write(at, bytes);
        bytes.len() as u32
    }

    /// One iovec at [`IOVEC`]: `len` bytes at `at`.
    fn iovec(&mut self, at: u32, len: u32) {
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&at.to_le_bytes());
        v[4..].copy_from_slice(&len.to_le_bytes());
        self.write(IOVEC, &v);
    }

    fn bytes(&mut self, at: u32, len: u32) -> Vec<u8> {
        let mut b = vec![0u8; len as usize];
        self.memory
            .read(&self.store, at as usize, &mut b)
            .expect("inside the guest's memory");
        b
    }

    fn u32_at(&mut self, at: u32) -> u32 {
        u32::from_le_bytes(self.bytes(at, 4).try_into().expect("4 bytes"))
    }

    fn u64_at(&mut self, at: u32) -> u64 {
        u64::from_le_bytes(self.bytes(at, 8).try_into().expect("8 bytes"))
    }

    fn call<P: wasmtime::WasmParams>(&mut self, f: &TypedFunc<P, u32>, params: P) -> u32 {
        f.call(&mut self.store, params)
            .unwrap_or_else(|e| panic!("the WASI call trapped: {e:?}"))
    }
}
