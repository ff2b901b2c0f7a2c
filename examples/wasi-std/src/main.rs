//! `wasi-std CHECK [ARG]...`: one probe of Rust's std over WASI preview1 per
//! CHECK, printing what it observed in a stable form for the runtime-silo
//! conformance tests (`runtime-silo/tests/examples_wasi_std.rs`).
//!
//! These are what the hand-written WAT suite cannot express well: std's own
//! use of WASI (wasi-libc's preopen lookup, `fd_readdir` cookies and buffer
//! refills, errno to `io::ErrorKind` mapping, `poll_oneoff` for sleeps).
//! A probe that sees something wrong prints `FAIL ...` and exits 1.

mod fs_checks;

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHECKS: &str =
    "args | env | exit CODE | clock | stdin | read-dir DIR | metadata DIR | errors DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = || args.get(2).map(String::as_str).unwrap_or(".");
    let result = match args.get(1).map(String::as_str) {
        Some("args") => args_check(),
        Some("env") => env_check(),
        Some("exit") => match args.get(2).and_then(|c| c.parse().ok()) {
            Some(code) => std::process::exit(code),
            None => Err("exit needs a numeric code".into()),
        },
        Some("clock") => clock_check(),
        Some("stdin") => stdin_check(),
        Some("read-dir") => fs_checks::read_dir(dir()),
        Some("metadata") => fs_checks::metadata(dir()),
        Some("errors") => fs_checks::errors(dir()),
        _ => {
            eprintln!("usage: wasi-std {CHECKS}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            println!("FAIL {message}");
            ExitCode::FAILURE
        }
    }
}

type Check = Result<(), String>;

/// Every argument, exactly (`args_os`, so nothing is lost to UTF-8 checks).
fn args_check() -> Check {
    for (i, arg) in std::env::args_os().enumerate() {
        println!("{i}: {arg:?}");
    }
    Ok(())
}

/// The whole environment, sorted, and a lookup of an absent variable.
fn env_check() -> Check {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (name, value) in vars {
        println!("{name}={value}");
    }
    match std::env::var("WASI_STD_SURELY_ABSENT") {
        Err(std::env::VarError::NotPresent) => Ok(()),
        other => Err(format!("absent variable gave {other:?}")),
    }
}

/// Monotonic and wall clocks, and a sleep (WASI `poll_oneoff`).
fn clock_check() -> Check {
    let start = Instant::now();
    let before = Instant::now();
    if before < start {
        return Err("monotonic clock went backwards".into());
    }
    let nap = Duration::from_millis(30);
    std::thread::sleep(nap);
    let slept = start.elapsed();
    if slept < nap {
        return Err(format!("slept {slept:?}, asked for {nap:?}"));
    }
    println!("sleep: ok");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("wall clock before 1970: {e}"))?;
    // 2020-01-01: a clock that reads earlier is not the host's real time.
    if now.as_secs() < 1_577_836_800 {
        return Err(format!("wall clock reads {now:?} since 1970"));
    }
    println!("wall clock: ok");
    Ok(())
}

/// Reads all of stdin; prints its length and its text upper-cased.
fn stdin_check() -> Check {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    println!("{} bytes", input.len());
    println!("{}", String::from_utf8_lossy(&input).to_uppercase());
    Ok(())
}
