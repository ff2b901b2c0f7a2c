//! The Bedrock kernel image. All code lives in the `bedrock` library; the PVH
//! entry point (`pvh_start32`, the linker script's ENTRY) pulls it in.
#![cfg_attr(kernel, no_std, no_main)]

#[cfg(kernel)]
use bedrock as _;

/// Built for the host, this binary has nothing to do: Bedrock is a kernel.
#[cfg(not(kernel))]
fn main() {
    eprintln!("bedrock is a kernel image for x86_64-unknown-none; boot it with `cargo xtask run`");
    std::process::exit(2);
}
