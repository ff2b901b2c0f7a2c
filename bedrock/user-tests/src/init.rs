//! `init`: the first ring-3 program the kernel starts at a normal boot.
//! For now it reports that user space is up and which silo it is; the
//! runtime silo and Chevron take over this role in later issues.
#![no_std]
#![no_main]

// The shared runtime; init uses only part of it.
#[allow(dead_code)]
#[macro_use]
#[path = "rt.rs"]
mod rt;

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
            0
        }
        _ => {
            say!("init: no platform authority at handle {platform}");
            1
        }
    }
}
