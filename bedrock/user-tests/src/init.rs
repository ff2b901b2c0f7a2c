//! `init`: the first ring-3 program the kernel starts at a normal boot.
//! It reports that user space is up, checks its initial handles (the boot
//! archive, the platform authority) and starts the demo: the native std
//! program `std-hello` from the boot archive, as a silo of its own. The
//! runtime silo (with wasm apps from a boot manifest) and Chevron take
//! over this role in later issues.
#![no_std]
#![no_main]

// The shared runtime; init uses only part of it.
#[allow(dead_code)]
#[macro_use]
#[path = "rt.rs"]
mod rt;

use bedrock_abi::user::silo::{self, ExitStatus, SpawnArgs};
use bedrock_abi::{SiloInfo, Syscall};

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

/// Starts `std-hello` from the boot archive and waits for it.
fn demo() -> i32 {
    let Ok(archive) = silo::boot_archive() else {
        say!("init: no boot archive at handle {}", silo::BOOT_ARCHIVE_HANDLE);
        return 1;
    };
    let Ok(archive) = bedrock_initrd::Archive::parse(archive) else {
        say!("init: the boot archive is corrupt");
        return 1;
    };
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
