//! WASI preview1 conformance through Rust's std: the `wasi-std` example's
//! probes (see its module doc), run in silos with captured output. They
//! cover what the WAT suite cannot express well: wasi-libc's preopen lookup,
//! directory listings across several `fd_readdir` calls, std's errno
//! handling, sleeps through `poll_oneoff`.

#[macro_use]
mod examples_support;
mod silo_support;

use std::path::Path;

use runtime_silo::options::DirMapping;
use runtime_silo::silo::{DeployRequest, ExitStatus, Manager, StdinSource};
use silo_support::{PATIENCE, manager, stdout, wait};

/// Runs `wasi-std ARGS...` to its end; returns its status and stdout.
fn probe(
    manager: &Manager,
    wasm: &Path,
    args: &[&str],
    setup: impl FnOnce(&mut DeployRequest),
) -> (ExitStatus, String) {
    let mut request = DeployRequest::new("wasi-std", wasm.to_path_buf());
    request.args = args.iter().map(|a| (*a).to_owned()).collect();
    setup(&mut request);
    let id = manager.deploy(request).expect("deploy");
    let status = wait(manager, id, PATIENCE);
    (status, stdout(manager, id))
}

/// Gives the request `dir` as `/data`.
fn preopen(dir: &Path) -> impl FnOnce(&mut DeployRequest) {
    let mapping = DirMapping {
        host: dir.to_path_buf(),
        guest: "/data".into(),
    };
    move |request| request.preopens = vec![mapping.open().expect("preopen")]
}

#[test]
fn arguments_arrive_exactly() {
    let wasm = require_example!("wasi-std");
    let manager = manager();
    let (status, out) = probe(&manager, &wasm, &["args", "", "a b", "é✓", "-x"], |_| {});
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(
        out,
        "0: \"wasi-std\"\n1: \"args\"\n2: \"\"\n3: \"a b\"\n4: \"é✓\"\n5: \"-x\"\n"
    );
}

#[test]
fn the_environment_is_exactly_what_was_given() {
    let wasm = require_example!("wasi-std");
    let manager = manager();
    let (status, out) = probe(&manager, &wasm, &["env"], |request| {
        request.env = vec![
            ("ZED".into(), "last=really".into()),
            ("EMPTY".into(), String::new()),
            ("A".into(), "1".into()),
        ];
    });
    assert_eq!(status, ExitStatus::Exited(0), "{out}");
    assert_eq!(out, "A=1\nEMPTY=\nZED=last=really\n");
}

#[test]
fn process_exit_codes_reach_the_manager_unchanged() {
    let wasm = require_example!("wasi-std");
    let manager = manager();
    for code in [0, 1, 3, 255, 300] {
        let (status, _) = probe(&manager, &wasm, &["exit", &code.to_string()], |_| {});
        assert_eq!(status, ExitStatus::Exited(code));
    }
}

#[test]
fn clocks_and_sleep() {
    let wasm = require_example!("wasi-std");
    let manager = manager();
    let (status, out) = probe(&manager, &wasm, &["clock"], |_| {});
    assert_eq!(status, ExitStatus::Exited(0), "{out}");
    assert_eq!(out, "sleep: ok\nwall clock: ok\n");
}

#[test]
fn stdin_is_read_to_its_end() {
    let wasm = require_example!("wasi-std");
    let manager = manager();
    let (status, out) = probe(&manager, &wasm, &["stdin"], |request| {
        request.stdin = StdinSource::Bytes(b"hello, silo".to_vec());
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(out, "11 bytes\nHELLO, SILO\n");
}

#[test]
fn read_dir_lists_a_tree_and_remove_dir_all_removes_it() {
    let wasm = require_example!("wasi-std");
    let scratch = examples_support::Scratch::new("read-dir");
    let manager = manager();
    let (status, out) = probe(
        &manager,
        &wasm,
        &["read-dir", "/data"],
        preopen(scratch.path()),
    );
    assert_eq!(status, ExitStatus::Exited(0), "{out}");
    let mut expected = vec!["entries: 44".to_owned()];
    let mut entries: Vec<String> = (0..40).map(|i| format!("file-{i:02}.txt {i}")).collect();
    entries.extend(
        [
            "sub/",
            "sub/deeper/",
            "sub/deeper/leaf 6",
            "sub/inner.txt 5",
        ]
        .map(String::from),
    );
    entries.sort();
    expected.extend(entries);
    expected.push("removed: true".into());
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    assert!(!scratch.path().join("tree").exists());
}

#[test]
fn file_metadata_truncation_and_seeking() {
    let wasm = require_example!("wasi-std");
    let scratch = examples_support::Scratch::new("metadata");
    let manager = manager();
    let (status, out) = probe(
        &manager,
        &wasm,
        &["metadata", "/data"],
        preopen(scratch.path()),
    );
    assert_eq!(status, ExitStatus::Exited(0), "{out}");
    assert_eq!(
        out,
        "len after write: 10\nlen after shrink: 4\nfrom offset 2: [50, 51, 0, 0, 0, 0]\n\
         end - 1: 7\nis_file: true, is_dir: false\nmodified recently: true\nroot is_dir: true\n"
    );
}

#[test]
fn errors_carry_the_wasi_errno_and_escapes_fail() {
    let wasm = require_example!("wasi-std");
    let scratch = examples_support::Scratch::new("errors");
    let manager = manager();
    let (status, out) = probe(
        &manager,
        &wasm,
        &["errors", "/data"],
        preopen(scratch.path()),
    );
    assert_eq!(status, ExitStatus::Exited(0), "{out}");
    // WASI errno numbers (std's names for them vary between Rust versions,
    // so only the numbers are checked): noent 44, exist 20, notempty 55,
    // isdir 31, notdir 54, perm 63 (our `..` escape), notcapable 76
    // (wasi-libc itself: no preopen matches the path).
    let expected = [
        ("open missing", "44"),
        ("mkdir existing", "20"),
        ("rmdir non-empty", "55"),
        ("unlink directory", "31"),
        ("rmdir file", "54"),
        ("open file as dir", "54"),
        ("create in missing dir", "44"),
        ("create_new existing", "20"),
        ("escape with ..", "63"),
        ("absolute outside", "76"),
    ];
    let got: Vec<(&str, &str)> = out
        .lines()
        .map(|line| {
            let (what, rest) = line.split_once(": ").expect("`what: result` lines");
            let errno = rest
                .rsplit_once('(')
                .and_then(|(_, n)| n.strip_suffix(')'))
                .unwrap_or(rest);
            (what, errno)
        })
        .collect();
    assert_eq!(got, expected, "{out}");
    // The probe cleaned up after itself, and nothing appeared outside.
    assert_eq!(
        std::fs::read_dir(scratch.path()).expect("scratch").count(),
        0
    );
}
