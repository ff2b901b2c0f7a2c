//! Bedrock, a WASM-first microkernel for x86_64.
//!
//! The crate builds two ways:
//! - for `x86_64-unknown-none` it is the kernel (`no_std`), with the
//!   architecture code in [`arch`] and the boot path in [`boot`];
//! - for the host it is a plain library whose portable logic (memory map,
//!   frame allocator, page tables, command line, boot-info parsing) is unit
//!   tested with `cargo test`. Only code that touches hardware is gated on
//!   `target_os = "none"`, at module level.
#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_os = "none")]
extern crate alloc;

pub mod boot;
pub mod mm;

#[cfg(target_os = "none")]
mod kmain;

#[cfg(target_os = "none")]
pub mod arch;
#[cfg(target_os = "none")]
mod klog;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod testing;

/// Kernel version, shown in the boot banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
