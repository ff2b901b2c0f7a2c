//! The `runtime-silo` binary: `run` behaves like `wasmtime run` for the flags
//! they share, and `serve` speaks its line protocol.

mod silo_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use silo_support::*;

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("runtime-silo-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime_silo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runtime-silo"))
}

fn run(args: &[&str]) -> Output {
    runtime_silo()
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn runtime-silo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Prints each NUL-terminated string of an argv-like vector on a line:
/// `$print_strings (count_ptr_list_ptr)` with `$count` strings whose
/// pointers start at `$list`.
const PRINT_STRINGS: &str = r#"
  (func $print_strings (param $list i32) (param $count i32)
    (local $s i32) (local $end i32)
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $s (i32.load (local.get $list)))
        (local.set $end (local.get $s))
        (block $found
          (loop $scan
            (br_if $found (i32.eqz (i32.load8_u (local.get $end))))
            (local.set $end (i32.add (local.get $end) (i32.const 1)))
            (br $scan)))
        ;; Turn the NUL into a newline and print the string with it.
        (i32.store8 (local.get $end) (i32.const 10))
        (call $write (i32.const 1) (local.get $s)
          (i32.add (i32.sub (local.get $end) (local.get $s)) (i32.const 1)))
        (local.set $list (i32.add (local.get $list) (i32.const 4)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $each))))
"#;

#[test]
fn stdout_passes_through_and_the_exit_code_propagates() {
    let scratch = Scratch::new("exit");
    let app = scratch.file(
        "hello.wat",
        &command(
            r#"(data (i32.const 128) "hello\n")
               (data (i32.const 160) "to stderr\n")
               (data (i32.const 192) "no newline")
               (func (export "_start")
                 (call $write (i32.const 1) (i32.const 128) (i32.const 6))
                 (call $write (i32.const 2) (i32.const 160) (i32.const 10))
                 (call $write (i32.const 1) (i32.const 192) (i32.const 10))
                 (call $proc_exit (i32.const 7)))"#,
        ),
    );
    let out = run(&[app.to_str().expect("utf-8 path")]);
    // Output the app did not end with a newline is not lost at exit.
    assert_eq!(text(&out.stdout), "hello\nno newline");
    assert_eq!(text(&out.stderr), "to stderr\n");
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn returning_from_start_exits_with_zero() {
    let scratch = Scratch::new("zero");
    let app = scratch.file("nop.wat", r#"(module (func (export "_start")))"#);
    let out = run(&[app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn args_and_env_reach_the_app() {
    let scratch = Scratch::new("args");
    let app = scratch.file(
        "args.wat",
        &command_importing(
            r#"(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
               (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
               (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
               (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))"#,
            &format!(
                r#"{PRINT_STRINGS}
               (func (export "_start")
                 (drop (call $args_sizes_get (i32.const 1024) (i32.const 1028)))
                 (drop (call $args_get (i32.const 2048) (i32.const 4096)))
                 (call $print_strings (i32.const 2048) (i32.load (i32.const 1024)))
                 (drop (call $environ_sizes_get (i32.const 1024) (i32.const 1028)))
                 (drop (call $environ_get (i32.const 2048) (i32.const 8192)))
                 (call $print_strings (i32.const 2048) (i32.load (i32.const 1024))))"#
            ),
        ),
    );
    let app = app.to_str().expect("utf-8 path");
    let out = run(&[
        "--env",
        "GREETING=hi there",
        "--env",
        "EMPTY=",
        app,
        "one",
        "--two",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{app}\none\n--two\n3\nGREETING=hi there\nEMPTY=\n")
    );
}

#[test]
fn dir_preopens_a_host_directory() {
    let scratch = Scratch::new("dir");
    let data = scratch.0.join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::write(data.join("greeting.txt"), "hello from the host\n").expect("write");
    // path_open(fd 3, "greeting.txt", read right) then fd_read and print.
    let app = scratch.file(
        "cat.wat",
        &command_importing(
            r#"(import "wasi_snapshot_preview1" "path_open"
                 (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#,
            r#"(data (i32.const 128) "greeting.txt")
               (func (export "_start")
                 (local $errno i32)
                 (local.set $errno (call $path_open
                   (i32.const 3) (i32.const 0) (i32.const 128) (i32.const 12)
                   (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
                 (if (local.get $errno) (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno)))))
                 (i32.store (i32.const 0) (i32.const 1024))
                 (i32.store (i32.const 4) (i32.const 1024))
                 (drop (call $fd_read (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 8))))"#,
        ),
    );
    let dir_arg = format!("{}::/data", data.display());
    let out = run(&["--dir", &dir_arg, app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello from the host\n");

    let out = run(&["--dir", "/no/such/dir", app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/no/such/dir"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_trap_prints_its_message_and_exits_like_an_abort() {
    let scratch = Scratch::new("trap");
    let app = scratch.file(
        "trap.wat",
        r#"(module (func $inner unreachable) (func (export "_start") (call $inner)))"#,
    );
    let out = run(&[app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(134));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("Error: trapped: unreachable instruction executed\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("inner"),
        "backtrace names the function: {stderr}"
    );
}

#[test]
fn rejected_code_exits_with_one() {
    let scratch = Scratch::new("reject");
    let app = scratch.file("lib.wat", r#"(module (func (export "add")))"#);
    let out = run(&[app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must export `_start`"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&["/no/such/app.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the wasm file"));
}

#[test]
fn a_component_app_runs_from_the_command_line() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hello_component.wat");
    let out = run(&[app.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello from a component\n");
}

/// A `serve` session over the child's stdin/stdout.
struct Session {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: BufReader<std::process::ChildStdout>,
}

impl Session {
    fn start() -> Self {
        let mut child = runtime_silo()
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            input,
            output,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.output.read_line(&mut line).expect("read response");
        line.trim_end_matches('\n').to_owned()
    }

    fn request(&mut self, request: &str) -> String {
        writeln!(self.input, "{request}").expect("send request");
        self.input.flush().expect("flush");
        self.line()
    }
}

#[test]
fn serve_deploys_lists_waits_kills_and_returns_logs() {
    let scratch = Scratch::new("serve");
    let hello = scratch.file(
        "hello.wat",
        &command(
            r#"(data (i32.const 128) "hi\n")
               (func (export "_start") (call $write (i32.const 1) (i32.const 128) (i32.const 3)))"#,
        ),
    );
    let spin = scratch.file("spin.wat", &spin());
    let mut session = Session::start();

    assert_eq!(
        session.request(&format!("deploy hello {}", hello.display())),
        "ok 1"
    );
    assert_eq!(session.request("wait 1"), "ok exited exited with code 0");
    assert_eq!(session.request("logs 1 stdout"), "ok 3");
    let mut logged = [0u8; 4];
    session.output.read_exact(&mut logged).expect("log bytes");
    assert_eq!(&logged, b"hi\n\n");

    assert_eq!(
        session.request(&format!(
            "deploy \"my spinner\" {} --wall-ms 5000",
            spin.display()
        )),
        "ok 2"
    );
    assert_eq!(session.request("kill 2"), "ok");
    assert_eq!(session.request("wait 2"), "ok killed killed on request");

    assert_eq!(session.request("list"), "ok 2");
    assert!(session.line().starts_with("1 hello finished 0 "));
    let spinner = session.line();
    assert!(
        spinner.starts_with("2 \"my spinner\" finished 0 "),
        "{spinner}"
    );
    assert!(spinner.ends_with(" killed killed on request"), "{spinner}");

    assert_eq!(
        session.request(&format!("deploy again {}", hello.display())),
        "ok 3"
    );
    assert_eq!(session.request("wait 3"), "ok exited exited with code 0");
    let stats = session.request("stats");
    assert!(
        stats.starts_with("ok live=0 known=3 memory=0 cache_hits=1 compilations=2 cpus="),
        "{stats}"
    );

    assert_eq!(session.request("remove 1"), "ok exited exited with code 0");
    assert_eq!(session.request("wait 1"), "err no silo with id 1");
    assert!(session.request("frobnicate").starts_with("err "));
    assert!(session.request("kill x").starts_with("err "));
    assert_eq!(session.request("quit"), "ok");
    let status = session.child.wait().expect("serve exits");
    assert!(status.success());
}
