//! A native silo driving the runtime silo's `silo:` service with nothing
//! but `std::fs` (protocol: `bedrock_abi::silo_service`): deploys wasm apps,
//! waits for them, reads their output, kills and removes them.
//!
//! - `silo-client check`: the whole protocol, each answer checked; prints
//!   `silo-client: ok` (the `wasm_silo_service` scenario).
//! - `silo-client cycles N`: N times deploy hello.wasm, wait, check, remove,
//!   then deploy an endless app, kill it, remove it (the
//!   `wasm_memory_baseline` scenario measures the runtime silo around it).
//!
//! Any failed check panics: the silo ends with status 134 and the message.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};

use bedrock_abi::silo_service::{self as proto, parse_deploy, status_tag};
// The libOS: entry point and the hermit ABI std calls.
use bedrock_native_silo as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("check") => check(),
        Some("cycles") => {
            let n = args.get(2).and_then(|n| n.parse().ok()).expect("cycles N");
            for i in 0..n {
                let id = deploy_hello(&format!("cycle{i}")).expect("deploy");
                expect_hello(id, &format!("cycle{i}"));
                remove(id);
                let spin = deploy_spin();
                ctl(spin, proto::KILL).expect("kill");
                let status = read(&path(spin, proto::WAIT));
                assert_eq!(status_tag(&status), "killed", "{status}");
                remove(spin);
            }
            println!("silo-client: {n} cycles ok");
        }
        _ => {
            eprintln!("usage: silo-client check | cycles N");
            std::process::exit(2);
        }
    }
}

/// Writes `spec` to `silo:/deploy` and reads the answer: the id or the
/// service's reason for refusing.
fn deploy(spec: &str) -> Result<u64, String> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("{}:{}", proto::SCHEME, proto::DEPLOY))
        .map_err(|e| format!("open deploy: {e}"))?;
    f.write_all(spec.as_bytes())
        .map_err(|e| format!("write spec: {e}"))?;
    let mut answer = String::new();
    f.read_to_string(&mut answer)
        .map_err(|e| format!("read answer: {e}"))?;
    parse_deploy(&answer).map_err(str::to_owned)
}

fn deploy_hello(arg: &str) -> Result<u64, String> {
    deploy(&format!(
        "name = \"hello\"\nwasm = \"/hello.wasm\"\nargs = [\"{arg}\"]\nenv = {{ GREETING = \"via silo:\" }}\nmemory_mib = 16\n"
    ))
}

/// An app that runs until killed.
fn deploy_spin() -> u64 {
    deploy("name = \"spin\"\nwasm = \"/spin.wat\"\n").expect("deploy spin")
}

fn path(id: u64, file: &str) -> String {
    format!("{}:/{id}/{file}", proto::SCHEME)
}

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Waits for hello `id` (deployed with `arg`) and checks its end and output.
fn expect_hello(id: u64, arg: &str) {
    let status = read(&path(id, proto::WAIT));
    assert_eq!(status, "exited exited with code 0\n", "hello {id}");
    let stdout = read(&path(id, proto::STDOUT));
    assert_eq!(
        stdout,
        format!(
            "Hello from a Bedrock silo!\nargv[0] = hello\nargv[1] = {arg}\nGREETING = via silo:\n"
        ),
        "hello {id} printed"
    );
}

fn ctl(id: u64, command: &str) -> std::io::Result<()> {
    fs::write(path(id, proto::CTL), command)
}

fn remove(id: u64) {
    ctl(id, proto::REMOVE).unwrap_or_else(|e| panic!("remove {id}: {e}"));
}

fn check() {
    let hello = deploy_hello("check").expect("deploy hello");
    expect_hello(hello, "check");
    println!("silo-client: deployed hello as silo {hello}, it exited 0 and printed its greeting");

    // An endless app: running until killed through its ctl file.
    let spin = deploy_spin();
    assert_eq!(read(&path(spin, proto::STATUS)), "running\n");
    let ids: Vec<String> = fs::read_dir("silo:/")
        .expect("read_dir silo:/")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert!(
        ids.contains(&hello.to_string()) && ids.contains(&spin.to_string()),
        "silo:/ lists {ids:?}"
    );
    let list = read("silo:/list");
    // Starting (being compiled) or running, not finished.
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("{spin} spin ")) && !l.contains(" finished ")),
        "list: {list}"
    );
    let busy = ctl(spin, proto::REMOVE).expect_err("removing a running silo");
    assert_eq!(busy.raw_os_error(), Some(16), "EBUSY: {busy}");
    ctl(spin, proto::KILL).expect("kill");
    let status = read(&path(spin, proto::WAIT));
    assert_eq!(status_tag(&status), "killed", "{status}");
    println!(
        "silo-client: killed the endless silo {spin}: {}",
        status.trim_end()
    );

    // Bad requests get reasons and errnos, and the service goes on.
    let refused = deploy("name = \"x\"\nwasm = 7\n").expect_err("a bad spec");
    assert!(refused.contains("invalid type"), "{refused}");
    let missing = fs::read_to_string(path(9999, proto::STATUS)).expect_err("no such silo");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    let rejected = deploy("name = \"bad\"\nwasm = \"/not-wasm.wasm\"\n").expect("deploy bad");
    let status = read(&path(rejected, proto::WAIT));
    assert_eq!(status_tag(&status), "rejected", "{status}");
    println!(
        "silo-client: refused: {refused}; rejected: {}",
        status.trim_end()
    );

    let stats = read("silo:/stats");
    assert!(stats.contains("live=0"), "{stats}");
    for id in [hello, spin, rejected] {
        remove(id);
    }
    println!("silo-client: ok ({})", stats.trim_end());
}
