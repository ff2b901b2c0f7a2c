//! CPU-bound kernels with deterministic checksums.
//!
//! The `compute` example runs them as wasm; the runtime-silo tests run the
//! same code natively and compare checksums, so each kernel must compute
//! bit-identical results on wasm32 and x86_64: integer arithmetic is
//! explicitly wrapping, floating point uses only `+ - * /` and `sqrt` (all
//! correctly rounded by IEEE 754, in wasm and in SSE2; Rust never fuses them
//! into FMA nor reorders them), and nothing depends on `usize`'s width.
//!
//! `scale` multiplies the work linearly: 1 is a few milliseconds of
//! optimised code (what tests use), benchmarks pass more.

#![forbid(unsafe_code)]

use core::fmt::Write;

pub mod fib;
pub mod matmul;
pub mod nbody;
pub mod rng;
pub mod sha256;

/// One of the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// SHA-256 of a generated buffer of `scale` MiB.
    Sha256,
    /// The 5-body planetary simulation, `100_000 * scale` steps.
    Nbody,
    /// `4 * scale` rounds of a 128 x 128 `f64` matrix product.
    Matmul,
    /// Naive recursive Fibonacci of 27, `scale` times.
    Fib,
}

impl Kernel {
    /// Every kernel, in the order `compute all` runs them.
    pub const ALL: [Kernel; 4] = [Kernel::Sha256, Kernel::Nbody, Kernel::Matmul, Kernel::Fib];

    /// The name used on command lines and in output lines.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Sha256 => "sha256",
            Kernel::Nbody => "nbody",
            Kernel::Matmul => "matmul",
            Kernel::Fib => "fib",
        }
    }

    /// The kernel called `name`.
    pub fn from_name(name: &str) -> Option<Kernel> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Runs the kernel and returns its checksum as one word (hex or decimal).
    pub fn run(self, scale: u32) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match self {
            Kernel::Sha256 => write_hex(&mut out, &sha256::generated_buffer_digest(scale)),
            Kernel::Nbody => write!(out, "{:016x}", nbody::energy_after(scale).to_bits()),
            Kernel::Matmul => write!(out, "{:016x}", matmul::checksum(scale).to_bits()),
            Kernel::Fib => write!(out, "{}", fib::repeated(scale)),
        };
        out
    }

    /// The line `compute` prints for this kernel: `NAME CHECKSUM`.
    pub fn line(self, scale: u32) -> String {
        let mut line = String::from(self.name());
        line.push(' ');
        line.push_str(&self.run(scale));
        line
    }
}

fn write_hex(out: &mut String, bytes: &[u8]) -> core::fmt::Result {
    bytes.iter().try_for_each(|b| write!(out, "{b:02x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kernel in Kernel::ALL {
            assert_eq!(Kernel::from_name(kernel.name()), Some(kernel));
        }
        assert_eq!(Kernel::from_name("nope"), None);
    }
}
