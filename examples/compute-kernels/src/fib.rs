//! Naive recursive Fibonacci: a function-call benchmark.

use core::hint::black_box;

/// The argument of each run: ~300 000 calls.
const N: u32 = 27;

/// Fibonacci by double recursion, on purpose.
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1).wrapping_add(fib(n - 2))
    }
}

/// The sum of `scale` runs of `fib(27)`. `black_box` keeps the compiler
/// from computing one run and multiplying.
pub fn repeated(scale: u32) -> u64 {
    (0..scale).fold(0u64, |sum, _| sum.wrapping_add(fib(black_box(N))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_values() {
        assert_eq!(super::fib(10), 55);
        assert_eq!(super::repeated(2), 2 * 196_418);
    }
}
