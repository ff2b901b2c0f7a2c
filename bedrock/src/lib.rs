//! Bedrock, a WASM-first microkernel for x86_64.
//!
//! The crate builds two ways:
//! - for `x86_64-unknown-none` it is the kernel (`no_std`), with the
//!   architecture code in [`arch`] and the boot path in [`boot`];
//! - for the host it is a plain library whose portable logic (memory map,
//!   frame allocator, page tables, command line, boot-info parsing) is unit
//!   tested with `cargo test`.
//!
//! Code that only makes sense in the kernel is gated on `cfg(kernel)`, at
//! module level. `build.rs` sets it for the bare-metal target, and for the
//! host when `BEDROCK_LINT_KERNEL=1` so that `cargo xtask lint` can run the
//! host's clippy over the kernel code too.
#![cfg_attr(kernel, no_std)]

// Both builds use `alloc` collections by the same path.
extern crate alloc;

pub mod acpi;
pub mod boot;
pub mod cap;
pub mod device;
pub mod elf;
pub use bedrock_initrd as initrd;
#[cfg(kernel)]
pub mod ipc;
pub mod mm;
#[cfg(any(kernel, test))]
pub mod random;
pub mod sched;
#[cfg(kernel)]
pub mod scheme;
#[cfg(kernel)]
pub mod silo;
#[cfg(kernel)]
mod syscall;
pub mod time;

#[cfg(kernel)]
pub(crate) mod kmain;

#[cfg(kernel)]
pub mod arch;
#[cfg(kernel)]
mod klog;
#[cfg(kernel)]
mod panic;
#[cfg(kernel)]
pub mod sync;
#[cfg(kernel)]
mod testing;

/// Kernel version, shown in the boot banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
