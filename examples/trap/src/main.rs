//! `trap VARIANT`: prints `trap: VARIANT`, then ends in that wasm trap.
//!
//! Each variant reaches the wasm instruction that traps, not a Rust check
//! that would turn it into a panic first (a panic is its own variant: with
//! `panic=abort` it ends in `unreachable` after printing its message). The
//! ways around Rust's checks are deliberate undefined behaviour at the Rust
//! level with one well-defined outcome in wasm, where every such access is
//! checked by the engine. On other targets the variants only compile.

#![cfg_attr(target_arch = "wasm32", feature(core_intrinsics))]
#![cfg_attr(target_arch = "wasm32", allow(internal_features))]

use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;

/// Variant names, in the order the usage lists them.
const VARIANTS: [&str; 6] = [
    "unreachable",
    "panic",
    "out-of-bounds",
    "divide-by-zero",
    "stack-overflow",
    "indirect-call-mismatch",
];

fn main() -> ExitCode {
    let Some(variant) = std::env::args()
        .nth(1)
        .filter(|v| VARIANTS.contains(&v.as_str()))
    else {
        eprintln!("usage: trap {}", VARIANTS.join("|"));
        return ExitCode::from(2);
    };
    println!("trap: {variant}");
    // The trap ends the program without flushing anything.
    let _ = std::io::stdout().flush();
    let value = match variant.as_str() {
        "unreachable" => unreachable_instruction(),
        "panic" => panic!("deliberate panic"),
        "out-of-bounds" => out_of_bounds(),
        "divide-by-zero" => divide(black_box(1), black_box(0)),
        "stack-overflow" => recurse(black_box(u64::MAX), 1),
        _ => indirect_call_mismatch(),
    };
    // Only reached if the trap did not happen.
    println!("no trap (got {value})");
    ExitCode::FAILURE
}

/// The wasm `unreachable` instruction itself.
fn unreachable_instruction() -> u64 {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// A load past the end of linear memory (wasm32 addresses are 32-bit, the
/// memory is far smaller than 4 GiB).
fn out_of_bounds() -> u64 {
    let address = black_box(u32::MAX as usize - 3);
    // SAFETY: none; this is the out-of-bounds access the variant is about.
    // In wasm it traps before reading anything.
    u64::from(unsafe { std::ptr::read_volatile(address as *const u32) })
}

/// `i32.div_u` with a zero divisor: Rust's own division checks for zero and
/// panics, so this uses the unchecked intrinsic (nightly-only; xtask builds
/// with `RUSTC_BOOTSTRAP=1`, which allows it).
#[inline(never)]
fn divide(dividend: u32, divisor: u32) -> u64 {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: none; dividing by zero is the point, and wasm traps on it.
    let quotient = unsafe { core::intrinsics::unchecked_div(dividend, divisor) };
    #[cfg(not(target_arch = "wasm32"))]
    let quotient = dividend / divisor;
    u64::from(quotient)
}

/// Recursion without end: each call does work after the recursive call
/// returns, which keeps the compiler from turning it into a loop, and has
/// no address-taken locals, so it uses the wasm stack (which traps with
/// "call stack exhausted") rather than Rust's shadow stack in linear memory.
#[inline(never)]
fn recurse(depth: u64, seed: u64) -> u64 {
    if depth == 0 {
        return seed;
    }
    let below = recurse(depth - 1, seed.wrapping_mul(31) ^ depth);
    below.rotate_left(7) ^ depth
}

fn two_arguments(a: u32, b: u32) -> u32 {
    a ^ b
}

/// `call_indirect` through a function pointer of the wrong type: wasm checks
/// the callee's signature at every indirect call.
fn indirect_call_mismatch() -> u64 {
    let f: fn(u32, u32) -> u32 = black_box(two_arguments);
    // SAFETY: none; calling a function through another function type is
    // exactly the mismatch wasm's `call_indirect` detects. `black_box` keeps
    // the call indirect (a direct call would be "fixed" by the linker).
    let g: fn() -> u64 =
        black_box(unsafe { std::mem::transmute::<fn(u32, u32) -> u32, fn() -> u64>(f) });
    g()
}
