//! The wasm examples under `runtime-silo run`: output, arguments,
//! environment, `--dir` preopens and exit statuses, as `wasmtime run` would
//! give them.

#[macro_use]
mod examples_support;

use compute_kernels::Kernel;
use examples_support::{Scratch, arg, run_cli, text};

#[test]
fn hello_prints_its_greeting_arguments_and_environment() {
    let hello = require_example!("hello");
    let out = run_cli(["--env", "GREETING=hi there", arg(&hello), "a", "b c"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Hello from a Bedrock silo!\nargv[0] = {}\nargv[1] = a\nargv[2] = b c\nGREETING = hi there\n",
            hello.display()
        )
    );
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
}

#[test]
fn hello_sees_no_host_environment_unless_passed() {
    let hello = require_example!("hello");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runtime-silo"))
        .args(["run", arg(&hello)])
        .env("GREETING", "from the host")
        .output()
        .expect("spawn");
    assert!(text(&out.stdout).ends_with("GREETING is not set\n"));
    // `--env NAME` alone passes the host's value through.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runtime-silo"))
        .args(["run", "--env", "GREETING", arg(&hello)])
        .env("GREETING", "from the host")
        .output()
        .expect("spawn");
    assert!(text(&out.stdout).ends_with("GREETING = from the host\n"));
}

#[test]
fn files_works_in_a_preopened_directory() {
    let files = require_example!("files");
    let scratch = Scratch::new("files");
    let dir = format!("{}::/data", scratch.path().display());
    let out = run_cli(["--dir", &dir, arg(&files), "/data"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let expected = [
        "mkdir /data/files-demo",
        "write /data/files-demo/notes.txt (41 bytes)",
        r#"read /data/files-demo/notes.txt (53 bytes): "silos keep their files in their preopens\nsecond line\n""#,
        "list /data/files-demo: kept.txt (file, 5 bytes), notes.txt (file, 53 bytes)",
        "rename /data/files-demo/notes.txt -> /data/files-demo/renamed.txt",
        "/data/files-demo/notes.txt exists: false",
        "remove /data/files-demo/renamed.txt",
        "mkdir+rmdir /data/files-demo/empty-subdir",
        "list /data/files-demo: kept.txt (file, 5 bytes)",
        "done",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    // What the app did happened in the host directory behind /data.
    let demo = scratch.path().join("files-demo");
    assert_eq!(
        std::fs::read_to_string(demo.join("kept.txt")).expect("kept.txt"),
        "kept\n"
    );
    let mut names: Vec<_> = std::fs::read_dir(&demo)
        .expect("files-demo")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["kept.txt"]);
}

#[test]
fn files_without_a_preopen_fails_cleanly() {
    let files = require_example!("files");
    let out = run_cli([arg(&files), "/data"]);
    // The app's own error path: exit 1 with its message, not a trap.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("files: mkdir: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exit_codes_propagate() {
    let wasi_std = require_example!("wasi-std");
    for (code, expected) in [("0", 0), ("3", 3), ("255", 255), ("300", 300 & 0xff)] {
        let out = run_cli([arg(&wasi_std), "exit", code]);
        assert_eq!(out.status.code(), Some(expected), "exit {code}");
    }
}

#[test]
fn a_trap_exits_134_with_the_trap_on_stderr() {
    let trap = require_example!("trap");
    let out = run_cli([arg(&trap), "divide-by-zero"]);
    assert_eq!(out.status.code(), Some(134));
    assert_eq!(text(&out.stdout), "trap: divide-by-zero\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("Error: trapped: integer divide by zero\n"),
        "{stderr}"
    );
    // The wasm backtrace names the function that trapped.
    assert!(stderr.contains("divide"), "{stderr}");
}

#[test]
fn compute_runs_the_kernel_named_by_its_argument() {
    let compute = require_example!("compute");
    let out = run_cli([arg(&compute), "fib", "--scale", "2"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}\n", Kernel::Fib.line(2)));
    let out = run_cli([arg(&compute), "no-such-kernel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("usage: compute"));
}
