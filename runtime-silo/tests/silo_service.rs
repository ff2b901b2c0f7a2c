//! The `silo:` service's file tree (runtime_silo::service), driven in
//! hosted mode through the same calls Bedrock's IPC server makes: deploy
//! from a spec, status, wait, logs, list, stats, kill, remove, and every
//! bad request answered with its errno or reason.

use std::path::PathBuf;
use std::sync::Arc;

use bedrock_abi::Errno;
use bedrock_abi::silo_service::{parse_deploy, status_tag};
use runtime_silo::service::{MAX_SPEC, Service};
use runtime_silo::silo::Manager;

const HELLO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi from a service\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 18))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 3))))"#;

const SPIN: &str = r#"(module (func (export "_start") (loop (br 0))))"#;

/// A directory of its own with the two apps.
fn apps(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "runtime-silo-service-{test}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.wat"), HELLO).unwrap();
    std::fs::write(dir.join("spin.wat"), SPIN).unwrap();
    dir
}

fn service() -> Service {
    Service::new(Arc::new(Manager::new().expect("manager")))
}

fn read_all(s: &mut Service, path: &str) -> Result<String, Errno> {
    let h = s.open(path.as_bytes())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = s.read(h, out.len() as u64, &mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    s.close(h);
    Ok(String::from_utf8(out).unwrap())
}

/// Writes `spec` to `/deploy` in two pieces and reads the answer.
fn deploy(s: &mut Service, spec: &str) -> String {
    let h = s.open(b"/deploy").unwrap();
    let (a, b) = spec.split_at(spec.len() / 2);
    assert_eq!(s.write(h, a.as_bytes()), Ok(a.len()));
    assert_eq!(s.write(h, b.as_bytes()), Ok(b.len()));
    let mut answer = Vec::new();
    let mut buf = [0u8; 4];
    loop {
        // Offsets are ignored on the stream: the caller's file position
        // (after its writes) must not matter.
        let n = s.read(h, 12345, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    assert_eq!(s.write(h, b"name = \"again\""), Err(Errno::Inval));
    s.close(h);
    String::from_utf8(answer).unwrap()
}

fn names(s: &mut Service, path: &str) -> Vec<String> {
    let h = s.open(path.as_bytes()).unwrap();
    let mut names = Vec::new();
    for index in 0.. {
        let mut name = [0u8; 64];
        let n = s.readdir(h, index, &mut name).unwrap();
        if n == 0 {
            break;
        }
        names.push(String::from_utf8(name[..n].to_vec()).unwrap());
    }
    s.close(h);
    names
}

#[test]
fn deploy_wait_logs_list_stats_remove() {
    let dir = apps("deploy");
    let mut s = service();
    let spec = format!(
        "name = \"hello\"\nwasm = {:?}\nargs = [\"x\"]\nmemory_mib = 8\n",
        dir.join("hello.wat")
    );
    let answer = deploy(&mut s, &spec);
    let id = parse_deploy(&answer).unwrap_or_else(|e| panic!("deploy refused: {e}"));

    let waited = read_all(&mut s, &format!("/{id}/wait")).unwrap();
    assert_eq!(status_tag(&waited), "exited", "{waited}");
    assert!(waited.contains("code 3"), "{waited}");
    assert_eq!(read_all(&mut s, &format!("/{id}/status")).unwrap(), waited);
    assert_eq!(
        read_all(&mut s, &format!("/{id}/stdout")).unwrap(),
        "hi from a service\n"
    );
    assert_eq!(read_all(&mut s, &format!("/{id}/stderr")).unwrap(), "");

    let list = read_all(&mut s, "/list").unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("{id} hello finished "))),
        "{list}"
    );
    let stats = read_all(&mut s, "/stats").unwrap();
    assert!(
        stats.contains("known=1") && stats.contains("live=0"),
        "{stats}"
    );
    assert_eq!(names(&mut s, "/"), [id.to_string()]);
    assert_eq!(
        names(&mut s, &format!("/{id}")),
        ["status", "wait", "stdout", "stderr", "ctl"]
    );

    let ctl = s.open(format!("/{id}/ctl").as_bytes()).unwrap();
    assert_eq!(s.write(ctl, b"remove\n"), Ok(7));
    s.close(ctl);
    assert_eq!(
        s.open(format!("/{id}/status").as_bytes()),
        Err(Errno::NoEnt)
    );
    assert!(names(&mut s, "/").is_empty());
}

#[test]
fn kill_ends_a_running_silo() {
    let dir = apps("kill");
    let mut s = service();
    let answer = deploy(
        &mut s,
        &format!("name = \"spin\"\nwasm = {:?}\n", dir.join("spin.wat")),
    );
    let id = parse_deploy(&answer).unwrap();
    let ctl = s.open(format!("/{id}/ctl").as_bytes()).unwrap();
    assert_eq!(s.write(ctl, b"remove"), Err(Errno::Busy), "still running");
    assert_eq!(s.write(ctl, b"explode"), Err(Errno::Inval));
    assert_eq!(s.write(ctl, b"kill"), Ok(4));
    let waited = read_all(&mut s, &format!("/{id}/wait")).unwrap();
    assert_eq!(status_tag(&waited), "killed", "{waited}");
}

#[test]
fn bad_specs_are_answered_with_a_reason() {
    let dir = apps("bad");
    let mut s = service();
    let hello = dir.join("hello.wat");
    for (spec, reason) in [
        (
            "name = \"x\"\nwasm = \"/a.wasm\"\nwal_ms = 5\n".to_owned(),
            "unknown field `wal_ms`",
        ),
        ("name = \"x\"\n".to_owned(), "missing field `wasm`"),
        (
            "name = \"a b\"\nwasm = \"/a.wasm\"\n".to_owned(),
            "without blanks",
        ),
        (
            format!("name = \"x\"\nwasm = {hello:?}\nexpect = \"exited\"\n"),
            "boot manifests",
        ),
        ("not toml at all [".to_owned(), "TOML parse error"),
    ] {
        let answer = deploy(&mut s, &spec);
        let err = parse_deploy(&answer).expect_err(&spec);
        assert!(err.contains(reason), "{spec:?}: {err}");
        assert!(answer.starts_with("err "), "{answer}");
    }
    // A missing app is deployed and ends rejected, with the reason.
    let answer = deploy(&mut s, "name = \"gone\"\nwasm = \"/no/such/app.wasm\"\n");
    let id = parse_deploy(&answer).unwrap();
    let waited = read_all(&mut s, &format!("/{id}/wait")).unwrap();
    assert_eq!(status_tag(&waited), "rejected", "{waited}");

    let h = s.open(b"/deploy").unwrap();
    assert_eq!(s.write(h, &vec![b'#'; MAX_SPEC + 1]), Err(Errno::TooBig));
    assert_eq!(s.write(h, &[0xff, 0xfe]), Ok(2));
    let mut buf = [0u8; 64];
    let n = s.read(h, 0, &mut buf).unwrap();
    assert!(buf[..n].starts_with(b"err the spec is not UTF-8"));
}

#[test]
fn bad_paths_and_handles_get_errnos() {
    let mut s = service();
    for path in [
        "/nothing",
        "/999/status",
        "/x/status",
        "/deploy/x",
        "relative",
    ] {
        assert_eq!(s.open(path.as_bytes()).err(), Some(Errno::NoEnt), "{path}");
    }
    assert_eq!(s.open(&[b'/', 0xff]).err(), Some(Errno::Inval));
    let list = s.open(b"/list").unwrap();
    assert_eq!(s.write(list, b"x"), Err(Errno::Acces));
    let root = s.open(b"/").unwrap();
    assert_eq!(s.read(root, 0, &mut [0u8; 8]), Err(Errno::Inval));
    assert!(s.stat(root).unwrap().directory);
    assert_eq!(s.read(777, 0, &mut [0u8; 8]), Err(Errno::BadF));
    s.close(root);
    assert_eq!(s.stat(root), Err(Errno::BadF));
}
