//! `init`: the first ring-3 program the kernel starts at a normal boot.
//! It reports that user space is up, checks its initial handles (the boot
//! archive, the platform authority) and starts the system and its demo:
//! - the runtime silo (`runtime-silo service /demo.toml`), which deploys
//!   the wasm apps of the boot manifest `demo.toml` and serves `silo:`;
//! - the native std program `std-hello`, as a silo of its own;
//! - then it waits, through `silo:`, for the first wasm app to end and
//!   reports its status. The runtime silo goes on serving `silo:`.
//!
//! Chevron takes over the interactive part in a later issue.
#![no_std]
#![no_main]

// The shared runtime; init uses only part of it.
#[allow(dead_code)]
#[macro_use]
#[path = "rt.rs"]
mod rt;

use bedrock_abi::scheme::open;
use bedrock_abi::silo_service::status_tag;
use bedrock_abi::user::scheme;
use bedrock_abi::user::silo::{self, ExitStatus, Pass, SpawnArgs};
use bedrock_abi::{Errno, SiloInfo, Syscall};

fn main(args: &rt::Args) -> i32 {
    let mut info = SiloInfo::default();
    // SAFETY: `info` is a valid, writable SiloInfo.
    if unsafe { rt::call(Syscall::SiloInfo, &[&mut info as *mut SiloInfo as usize]) }.is_err() {
        return 1;
    }
    say!(
        "init: Bedrock user space is up (silo {}, {} CPUs online, {} args)",
        info.silo_id,
        info.online_cpus,
        args.len()
    );
    // The platform authority, source of the device capabilities that
    // drivers will get from init.
    let platform = bedrock_abi::ipc::PLATFORM_HANDLE;
    match rt::ipc::info(platform) {
        Ok(i) if i >> 32 == bedrock_abi::ipc::ObjectType::Platform as usize => {
            say!("init: platform authority at handle {platform}");
        }
        _ => {
            say!("init: no platform authority at handle {platform}");
            return 1;
        }
    }
    demo()
}

/// The runtime silo's boot manifest: the wasm apps of the demo.
const DEMO_MANIFEST: &str = "/demo.toml";
/// How long the runtime silo may take to serve `silo:` (TCG, busy host).
const SERVICE_WAIT_NS: u64 = 60_000_000_000;

/// Starts the runtime silo and `std-hello`, then waits for the wasm demo.
fn demo() -> i32 {
    let Ok(archive) = silo::boot_archive() else {
        say!("init: no boot archive at handle {}", silo::BOOT_ARCHIVE_HANDLE);
        return 1;
    };
    let Ok(archive) = bedrock_initrd::Archive::parse(archive) else {
        say!("init: the boot archive is corrupt");
        return 1;
    };
    let runtime = archive.find("runtime-silo").map(|runtime| {
        silo::spawn(&SpawnArgs {
            image: runtime.data,
            name: "runtime-silo",
            argv: &["runtime-silo", "service", DEMO_MANIFEST],
            // It reads the apps and the manifest from the boot archive.
            handles: &[Pass::Copy(silo::BOOT_ARCHIVE_HANDLE)],
            // It serves `silo:` (and may register nothing else).
            namespace: &["+silo"],
            ..SpawnArgs::default()
        })
    });
    match runtime {
        None => say!("init: no runtime-silo in the boot archive; no wasm silos"),
        Some(Err(e)) => {
            say!("init: cannot start the runtime silo: {e:?}");
            return 1;
        }
        Some(Ok(_)) => say!("init: runtime silo started (deploys {DEMO_MANIFEST}, serves silo:)"),
    }
    let mut code = native_demo(&archive);
    if matches!(runtime, Some(Ok(_))) && wasm_demo().is_err() {
        code = 1;
    }
    code
}

/// Runs `std-hello` and waits for it.
fn native_demo(archive: &bedrock_initrd::Archive<'_>) -> i32 {
    let Some(hello) = archive.find("std-hello") else {
        say!("init: no std-hello in the boot archive; no demo");
        return 0;
    };
    let spawned = silo::spawn(&SpawnArgs {
        image: hello.data,
        name: "std-hello",
        argv: &["std-hello", "started by init"],
        envp: &["GREETING=hello from init"],
        ..SpawnArgs::default()
    });
    let status = spawned.and_then(|h| silo::wait(h, u64::MAX));
    match status {
        Ok(ExitStatus::Code(0)) => {
            say!("init: demo std-hello ended: exit code 0");
            0
        }
        Ok(other) => {
            say!("init: demo std-hello ended: {other:?}");
            1
        }
        Err(e) => {
            say!("init: cannot run std-hello: {e:?}");
            1
        }
    }
}

/// Waits through `silo:` for the manifest's first app (silo 1) to end.
fn wasm_demo() -> Result<(), ()> {
    let path = "silo:/1/wait";
    let mut waited = 0;
    let resource = loop {
        match scheme::open(path, open::READ) {
            Ok(r) => break r,
            Err(Errno::NoEnt) if waited < SERVICE_WAIT_NS => {
                rt::sleep_ns(10_000_000);
                waited += 10_000_000;
            }
            Err(e) => {
                say!("init: cannot open {path}: {e:?}");
                return Err(());
            }
        }
    };
    let mut status = [0u8; 256];
    let status = read_text(resource, &mut status).map_err(|e| say!("init: reading {path}: {e:?}"))?;
    say!("init: wasm demo (silo 1 of silo:) ended: {status}");
    let mut stdout = [0u8; 256];
    let first_line = scheme::open("silo:/1/stdout", open::READ)
        .and_then(|r| read_text(r, &mut stdout))
        .map_err(|e| say!("init: reading silo:/1/stdout: {e:?}"))?
        .lines()
        .next()
        .unwrap_or("");
    say!("init: wasm demo printed: {first_line}");
    if status_tag(status) == "exited" { Ok(()) } else { Err(()) }
}

/// Reads the start of `resource` (then closes it) as text.
fn read_text(resource: u32, buf: &mut [u8]) -> Result<&str, Errno> {
    let read = scheme::read(resource, 0, buf);
    let _ = scheme::close_resource(resource);
    let n = read?;
    Ok(core::str::from_utf8(&buf[..n]).unwrap_or("?").trim_end())
}
