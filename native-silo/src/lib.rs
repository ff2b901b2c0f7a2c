//! The native-silo libOS: what Rust's std needs from an OS on
//! `x86_64-unknown-hermit`, implemented over Bedrock.
//!
//! std's hermit backend calls the C functions declared by the `hermit-abi`
//! crate (`sys_malloc`, `sys_spawn2`, `sys_futex_wait`, `sys_open`, ...).
//! This crate defines them (every definition is checked against
//! `hermit-abi`'s declaration by [`hermit_fn!`], so a changed signature is a
//! compile error and a missing one a link error) plus `_start`, which sets
//! up relocation, TLS and the arguments and then calls std's
//! `runtime_entry`.
//!
//! Conventions of the hermit ABI kept throughout: errors come back as
//! negative errno values (Bedrock's [`Errno`](bedrock_abi::Errno) numbers
//! are Linux's, as are hermit's); `sys_get_errno` reads the calling
//! thread's last error from its thread control block.
//!
//! Portable logic (TLS layout, relocation, directory records, the
//! descriptor table, flag and time conversions) builds on the host and is
//! unit-tested there; the rest exists only for the hermit target.
#![no_std]
#![cfg_attr(not(target_os = "hermit"), allow(dead_code))]

extern crate alloc;

#[cfg(test)]
extern crate std;

#[cfg_attr(not(target_os = "hermit"), allow(unused_macros))]
/// Defines `sys_*` symbol `$name` and checks at compile time that its
/// signature is exactly that of `hermit-abi`'s declaration `$abi`:
/// `hermit_fn! { fn sys_yield() as yield_now { ... } }`.
macro_rules! hermit_fn {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? as $abi:ident $body:block) => {
        $(#[$m])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? $body
        const _: () = {
            let _: unsafe extern "C" fn($($ty),*) $(-> $ret)? = hermit_abi::$abi;
            let _: unsafe extern "C" fn($($ty),*) $(-> $ret)? = $name;
        };
    };
}

pub mod dirent;
pub mod errno;
pub mod fdtable;
pub mod flags;
pub mod reloc;
pub mod timespec;
pub mod tls;

#[cfg(target_os = "hermit")]
mod entropy;
#[cfg(target_os = "hermit")]
mod fs;
#[cfg(target_os = "hermit")]
mod futex;
#[cfg(target_os = "hermit")]
mod heap;
#[cfg(target_os = "hermit")]
mod lock;
#[cfg(target_os = "hermit")]
mod net;
#[cfg(target_os = "hermit")]
mod process;
#[cfg(target_os = "hermit")]
mod start;
#[cfg(target_os = "hermit")]
mod stdio;
#[cfg(target_os = "hermit")]
mod thread;
#[cfg(target_os = "hermit")]
mod time;
#[cfg(target_os = "hermit")]
mod vm;
