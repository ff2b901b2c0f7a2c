//! The n-body simulation of the Computer Language Benchmarks Game: the Sun
//! and the four giant planets, symplectic Euler steps, energy at the end.

const PI: f64 = core::f64::consts::PI;
const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;
const STEP: f64 = 0.01;

/// Steps per unit of `scale`.
const STEPS: u32 = 100_000;

#[derive(Clone, Copy)]
struct Body {
    position: [f64; 3],
    velocity: [f64; 3],
    mass: f64,
}

const fn body(position: [f64; 3], velocity: [f64; 3], mass: f64) -> Body {
    Body {
        position,
        velocity: [
            velocity[0] * DAYS_PER_YEAR,
            velocity[1] * DAYS_PER_YEAR,
            velocity[2] * DAYS_PER_YEAR,
        ],
        mass: mass * SOLAR_MASS,
    }
}

const BODIES: [Body; 5] = [
    // Sun
    body([0.0; 3], [0.0; 3], 1.0),
    // Jupiter
    body(
        [
            4.841_431_442_464_72,
            -1.160_320_044_027_428_4,
            -0.103_622_044_471_123_1,
        ],
        [
            0.001_660_076_642_744_037,
            0.007_699_011_184_197_404,
            -6.904_600_169_720_63e-5,
        ],
        9.547_919_384_243_266e-4,
    ),
    // Saturn
    body(
        [
            8.343_366_718_244_58,
            4.124_798_564_124_305,
            -0.403_523_417_114_321_4,
        ],
        [
            -0.002_767_425_107_268_624,
            0.004_998_528_012_349_172,
            2.304_172_975_737_639_3e-5,
        ],
        2.858_859_806_661_308e-4,
    ),
    // Uranus
    body(
        [
            12.894_369_562_139_131,
            -15.111_151_401_698_631,
            -0.223_307_578_892_655_73,
        ],
        [
            0.002_964_601_375_647_616,
            0.002_378_471_739_594_809_5,
            -2.965_895_685_402_375_6e-5,
        ],
        4.366_244_043_351_563e-5,
    ),
    // Neptune
    body(
        [
            15.379_697_114_850_917,
            -25.919_314_609_987_964,
            0.179_258_772_950_371_18,
        ],
        [
            0.002_680_677_724_903_893_2,
            0.001_628_241_700_382_423,
            -9.515_922_545_197_159e-5,
        ],
        5.151_389_020_466_114_5e-5,
    ),
];

/// Gives the Sun the momentum that makes the system's total zero.
fn offset_momentum(bodies: &mut [Body; 5]) {
    let mut momentum = [0.0; 3];
    for b in bodies.iter() {
        for (m, v) in momentum.iter_mut().zip(b.velocity) {
            *m += v * b.mass;
        }
    }
    for (v, m) in bodies[0].velocity.iter_mut().zip(momentum) {
        *v = -m / SOLAR_MASS;
    }
}

fn advance(bodies: &mut [Body; 5]) {
    for i in 0..bodies.len() {
        let (left, right) = bodies.split_at_mut(i + 1);
        let a = &mut left[i];
        for b in right.iter_mut() {
            let d = [
                a.position[0] - b.position[0],
                a.position[1] - b.position[1],
                a.position[2] - b.position[2],
            ];
            let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let magnitude = STEP / (d2 * d2.sqrt());
            let (mass_a, mass_b) = (a.mass, b.mass);
            for ((va, vb), dk) in a.velocity.iter_mut().zip(&mut b.velocity).zip(d) {
                *va -= dk * mass_b * magnitude;
                *vb += dk * mass_a * magnitude;
            }
        }
    }
    for b in bodies.iter_mut() {
        for (p, v) in b.position.iter_mut().zip(b.velocity) {
            *p += STEP * v;
        }
    }
}

fn energy(bodies: &[Body; 5]) -> f64 {
    let mut e = 0.0;
    for (i, a) in bodies.iter().enumerate() {
        let v = a.velocity;
        e += 0.5 * a.mass * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for b in &bodies[i + 1..] {
            let d = [
                a.position[0] - b.position[0],
                a.position[1] - b.position[1],
                a.position[2] - b.position[2],
            ];
            e -= a.mass * b.mass / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    e
}

/// The system's energy after `100_000 * scale` steps.
pub fn energy_after(scale: u32) -> f64 {
    simulate(STEPS.saturating_mul(scale))
}

fn simulate(steps: u32) -> f64 {
    let mut bodies = BODIES;
    offset_momentum(&mut bodies);
    for _ in 0..steps {
        advance(&mut bodies);
    }
    energy(&bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_energy_matches_the_benchmarks_game() {
        let mut bodies = BODIES;
        offset_momentum(&mut bodies);
        // The benchmark's published output: -0.169075164 before any step,
        // -0.169087605 after 1000.
        let e = energy(&bodies);
        assert!((e - -0.169_075_164).abs() < 1e-9, "{e}");
        let e = simulate(1000);
        assert!((e - -0.169_087_605).abs() < 1e-9, "{e}");
    }
}
