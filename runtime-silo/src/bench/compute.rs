//! Each compute kernel under each engine setup, and the ratios.

use anyhow::{Result, bail};

use super::Report;
use super::guest::{Guest, Setup};
use super::stats::{median, ms};

/// The kernels of `compute.wasm` and the scale each runs at by default:
/// a few hundred milliseconds of optimised code on a 2020s x86_64 core, so
/// that timer and instantiation noise stay far below 1 %.
const KERNELS: [(&str, u32); 4] = [("sha256", 24), ("nbody", 40), ("matmul", 36), ("fib", 200)];

/// Runs every kernel `runs` times under each of `setups`, interleaved (one
/// run of each setup in turn, all on this thread) so that a slow phase of
/// the host hits all setups alike, after one untimed warm-up round; reports
/// medians and, with all of [`Setup::ALL`], the ratios to the default setup
/// (per kernel: silo / default) and their geometric means (the figure issue
/// 3's goal applies to).
pub fn kernels(
    report: &mut Report,
    compute: &[u8],
    runs: usize,
    scale: Option<u32>,
    setups: &[Setup],
) -> Result<()> {
    let guests = setups
        .iter()
        .map(|&setup| Ok((setup, Guest::compile(setup, compute)?.0)))
        .collect::<Result<Vec<_>>>()?;
    let mut log_ratio_sum = 0.0;
    let mut log_ratio_no_epoch_sum = 0.0;
    for (kernel, default_scale) in KERNELS {
        let scale = scale.unwrap_or(default_scale).to_string();
        let args = ["compute", kernel, "--scale", scale.as_str()];
        let mut samples = vec![Vec::with_capacity(runs); guests.len()];
        let mut outputs = vec![Vec::new(); guests.len()];
        // One untimed round first: the first run of a setup also pays for
        // faulting in code and the allocator's memory.
        for (_, guest) in &guests {
            guest.run(&args)?;
        }
        for _ in 0..runs {
            for (i, (_, guest)) in guests.iter().enumerate() {
                let run = guest.run(&args)?;
                samples[i].push(run.elapsed);
                outputs[i] = run.stdout;
            }
        }
        // The same code must compute the same thing under every setup.
        if outputs.iter().any(|out| *out != outputs[0]) || outputs[0].is_empty() {
            bail!(
                "{kernel}: outputs differ between setups: {:?}",
                outputs
                    .iter()
                    .map(|o| String::from_utf8_lossy(o).into_owned())
                    .collect::<Vec<_>>()
            );
        }
        report.text(format!("compute.{kernel}.scale"), scale.clone());
        let mut times = Vec::with_capacity(guests.len());
        for (i, (setup, _)) in guests.iter().enumerate() {
            times.push(ms(median(&samples[i])));
            report.number(format!("compute.{kernel}.{}_ms", setup.name()), times[i], 2);
        }
        let [default, silo, no_epoch] = times[..] else {
            continue;
        };
        report.number(format!("compute.{kernel}.ratio"), silo / default, 3);
        report.number(
            format!("compute.{kernel}.ratio_no_epoch"),
            no_epoch / default,
            3,
        );
        log_ratio_sum += (silo / default).ln();
        log_ratio_no_epoch_sum += (no_epoch / default).ln();
    }
    if setups != Setup::ALL {
        return Ok(());
    }
    let n = KERNELS.len() as f64;
    report.number("compute_ratio_geomean", (log_ratio_sum / n).exp(), 3);
    report.number(
        "compute_ratio_no_epoch_geomean",
        (log_ratio_no_epoch_sum / n).exp(),
        3,
    );
    Ok(())
}
