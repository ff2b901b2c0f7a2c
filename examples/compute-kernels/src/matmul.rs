//! Dense matrix multiply: 128 x 128 `f64`, the textbook i-k-j loop order
//! (streams through rows, as a tuned scalar kernel would).

use crate::rng::SplitMix64;

const N: usize = 128;
/// Products per unit of `scale`.
const ROUNDS: u32 = 4;

/// `c = a * b` for row-major `N x N` matrices.
fn multiply(a: &[f64], b: &[f64], c: &mut [f64]) {
    c.fill(0.0);
    for i in 0..N {
        let row = &mut c[i * N..(i + 1) * N];
        for k in 0..N {
            let aik = a[i * N + k];
            let b_row = &b[k * N..(k + 1) * N];
            for (cij, bkj) in row.iter_mut().zip(b_row) {
                *cij += aik * bkj;
            }
        }
    }
}

/// `4 * scale` rounds of `a = (a * b) / N` from generated matrices (seed
/// 2), then the sum of `a`'s elements. Dividing by `N` keeps the values
/// near 1 however many rounds run.
pub fn checksum(scale: u32) -> f64 {
    let mut rng = SplitMix64::new(2);
    let mut a: Vec<f64> = (0..N * N).map(|_| rng.next_f64()).collect();
    let b: Vec<f64> = (0..N * N).map(|_| rng.next_f64()).collect();
    let mut c = vec![0.0; N * N];
    let inverse_n = 1.0 / N as f64;
    for _ in 0..ROUNDS.saturating_mul(scale) {
        multiply(&a, &b, &mut c);
        for (x, y) in a.iter_mut().zip(&c) {
            *x = y * inverse_n;
        }
    }
    a.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_leaves_a_matrix_unchanged() {
        let mut rng = SplitMix64::new(9);
        let a: Vec<f64> = (0..N * N).map(|_| rng.next_f64()).collect();
        let mut identity = vec![0.0; N * N];
        for i in 0..N {
            identity[i * N + i] = 1.0;
        }
        let mut c = vec![0.0; N * N];
        multiply(&a, &identity, &mut c);
        assert_eq!(a, c);
    }
}
